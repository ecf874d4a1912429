"""The RL Zoo's layout of one training run on disk, in one place.

``rl_zoo3``'s ``ExperimentManager`` writes a run as::

    <log folder>/dqn/<EnvId>_<n>/
        <EnvId>.zip                  the final model
        rl_model_<steps>_steps.zip   periodic checkpoints
        evaluations.npz, *.monitor.csv
        <EnvId>/config.yml, args.yml, env_kwargs.yml

which is what ``python -m rl_zoo3.enjoy --algo dqn --env <EnvId> -f <log folder>`` reads. Training,
the job manager, evaluation and publishing all find a run's files through :class:`RunFolder`.
"""

from dataclasses import dataclass
from pathlib import Path

from rl_zoo3.utils import get_latest_run_id

from agents.core.errors import AgentError
from agents.core.hub import AgentFiles

ALGO = "dqn"
CHECKPOINT_PREFIX = "rl_model"


@dataclass(frozen=True)
class RunFolder:
    """One RL Zoo run folder, ``<log folder>/dqn/<EnvId>_<n>``."""

    path: Path
    env_id: str

    @classmethod
    def latest(cls, log_folder: Path, env_id: str) -> "RunFolder":
        """The newest run for ``env_id`` under ``log_folder``, numbered as the RL Zoo numbers them."""
        run_id = get_latest_run_id(str(Path(log_folder) / ALGO), env_id)
        if run_id == 0:
            raise AgentError(f"No {ALGO} run for {env_id} in {log_folder}.")
        return cls(Path(log_folder) / ALGO / f"{env_id}_{run_id}", env_id)

    @staticmethod
    def runs_under(log_folder: Path) -> list["RunFolder"]:
        """Every run under ``log_folder``, whatever its game."""
        return [
            RunFolder(path, path.name.rsplit("_", 1)[0])
            for path in sorted((Path(log_folder) / ALGO).glob("*_[0-9]*"))
            if path.is_dir()
        ]

    @property
    def model_zip(self) -> Path:
        return self.path / f"{self.env_id}.zip"

    @property
    def params(self) -> Path:
        """The folder of the run's ``config.yml``, ``args.yml`` and ``env_kwargs.yml``."""
        return self.path / self.env_id

    @property
    def config(self) -> Path:
        return self.params / "config.yml"

    @property
    def env_kwargs(self) -> Path:
        return self.params / "env_kwargs.yml"

    @property
    def evaluations(self) -> Path:
        return self.path / "evaluations.npz"

    def monitor_logs(self) -> list[Path]:
        """The training episodes' logs in the order they were written: those kept from before each restart
        (``0.before-<steps>.monitor.csv``, by their step count), then ``0.monitor.csv``."""

        def written(path: Path) -> float:
            before = path.name.removeprefix("0.before-").removesuffix(".monitor.csv")
            return int(before) if before.isdigit() else float("inf")

        return sorted(self.path.glob("*.monitor.csv"), key=written)

    def checkpoints(self) -> list[tuple[int, Path]]:
        """The periodic checkpoints with their step counts, oldest first."""
        found = self.path.glob(f"{CHECKPOINT_PREFIX}_*_steps.zip")
        return sorted((int(path.stem.split("_")[-2]), path) for path in found)

    def agent_files(self, model_zip: Path | None = None) -> AgentFiles:
        """The run's agent (its final model, or ``model_zip``, e.g. one of its checkpoints) as the Play
        tab reads Hub agents."""
        return AgentFiles(
            repo_id=f"local run {self.path.name}",
            algo=ALGO,
            model_zip=Path(model_zip) if model_zip else self.model_zip,
            config=self.config,
            env_kwargs=self.env_kwargs,
            results=None,
        )
