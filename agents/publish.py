"""Lay out a trained agent as ``rl_zoo3.push_to_hub`` does, and upload it with the user's token.

The folder holds ``dqn-<EnvId>.zip`` (and its unzipped copy), ``config.yml``, ``args.yml``,
``env_kwargs.yml``, ``results.json``, ``replay.mp4``, ``train_eval_metrics.zip`` and a model card
whose ``model-index`` carries the mean reward: the layout the Play tab (and the RL Zoo's
``load_from_hub``) reads back.
"""

import argparse
import json
import shutil
import sys
import zipfile
from pathlib import Path
from pprint import pformat

from huggingface_hub import HfApi
from huggingface_hub.repocard import metadata_eval_result, metadata_save

from agents.catalog import get_game
from agents.environment import read_rl_zoo_yaml
from agents.errors import AgentError
from agents.evaluation import Evaluation, evaluate, run_agent
from agents.offline import OFFLINE_AGENTS

ALGO = "dqn"


def hub_repo_id(username: str, env_id: str) -> str:
    """The RL Zoo's name for a user's agent: ``<user>/dqn-<EnvId>``."""
    return f"{username}/{ALGO}-{env_id}"


def model_card(env_id: str, organization: str, evaluation: Evaluation, hyperparameters: dict) -> tuple[str, dict]:
    """The RL Zoo's model card text and its metadata (tags and the mean reward in ``model-index``)."""
    metadata = {
        "library_name": "stable-baselines3",
        "tags": [env_id, "deep-reinforcement-learning", "reinforcement-learning", "stable-baselines3"],
        **metadata_eval_result(
            model_pretty_name=ALGO.upper(),
            task_pretty_name="reinforcement-learning",
            task_id="reinforcement-learning",
            metrics_pretty_name="mean_reward",
            metrics_id="mean_reward",
            metrics_value=f"{evaluation.mean:.2f} +/- {evaluation.std:.2f}",
            dataset_pretty_name=env_id,
            dataset_id=env_id,
        ),
    }
    text = f"""
# **DQN** Agent playing **{env_id}**
This is a trained model of a **DQN** agent playing **{env_id}**
using the [stable-baselines3 library](https://github.com/DLR-RM/stable-baselines3)
and the [RL Zoo](https://github.com/DLR-RM/rl-baselines3-zoo), trained in the Atari DQN Arena.

Mean reward {evaluation.mean:.2f} +/- {evaluation.std:.2f} over {len(evaluation.scores)} games
(ε = {evaluation.epsilon:g}).

## Usage (with SB3 RL Zoo)

```
python -m rl_zoo3.load_from_hub --algo {ALGO} --env {env_id} -orga {organization} -f logs/
python -m rl_zoo3.enjoy --algo {ALGO} --env {env_id} -f logs/
```

## Hyperparameters
```python
{pformat(hyperparameters)}
```
"""
    return text, metadata


def _train_eval_metrics(run_folder: Path, archive_path: Path) -> None:
    with zipfile.ZipFile(archive_path, "w") as archive:
        if (run_folder / "evaluations.npz").is_file():
            archive.write(run_folder / "evaluations.npz", arcname="evaluations.npz")
        for monitor in sorted(run_folder.glob("*.csv")):
            archive.write(monitor, arcname=monitor.name)


def stage_for_hub(
    run_folder: Path, env_id: str, organization: str, evaluation: Evaluation, replay: Path, out: Path
) -> Path:
    """Write the Hub repo's files for the run in ``run_folder`` into ``out``; returns ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model_name = f"{ALGO}-{env_id}"
    shutil.copy(run_folder / f"{env_id}.zip", out / f"{model_name}.zip")
    with zipfile.ZipFile(out / f"{model_name}.zip") as archive:
        archive.extractall(out / model_name)
    for name in ("config.yml", "args.yml", "env_kwargs.yml"):
        shutil.copy(run_folder / env_id / name, out / name)
    (out / "results.json").write_text(json.dumps(evaluation.results_json()))
    shutil.copy(replay, out / "replay.mp4")
    _train_eval_metrics(run_folder, out / "train_eval_metrics.zip")
    hyperparameters = read_rl_zoo_yaml(out / "config.yml")
    text, metadata = model_card(env_id, organization, evaluation, hyperparameters)
    (out / "README.md").write_text(text)
    metadata_save(out / "README.md", metadata)
    return out


def hub_username(token: str) -> str:
    """Whose token this is, asked of the Hub (the name agents are pushed under)."""
    try:
        return HfApi(token=token).whoami()["name"]
    except Exception as error:  # network or token trouble, worded for the user
        raise AgentError(
            f"Could not ask the Hub whose token this is ({type(error).__name__}); check the token and the network."
        ) from None


def push_to_hub(folder: Path, repo_id: str, token: str) -> str:
    """Create the model repo if needed and upload the staged folder; returns the repo's URL."""
    api = HfApi(token=token)
    try:
        url = api.create_repo(repo_id=repo_id, repo_type="model", exist_ok=True)
        api.upload_folder(
            repo_id=repo_id, folder_path=str(folder), commit_message="Upload DQN agent from the Atari DQN Arena"
        )
    except Exception as error:  # the Hub's and the network's errors, worded for the user
        raise AgentError(
            f"The upload to {repo_id} failed ({type(error).__name__}: {error}). Check your token and the network, "
            "then push again: the staged files are kept."
        ) from None
    return str(url)


WEIGHTS_ONLY_MEMBERS = ("data", "policy.pth", "pytorch_variables.pth", "_stable_baselines3_version", "system_info.txt")


def stage_offline_agent(
    run_folder: Path,
    model_zip: Path,
    env_id: str,
    evaluation: Evaluation,
    baseline: Evaluation,
    command: str,
    out: Path,
) -> Path:
    """Write a run's agent into ``out`` (``offline_agents/<EnvId>``) in the Hub layout, weights only
    (no optimizer state), with ``results.json`` and a ``TRAINING.md`` that records how it was made."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with (
        zipfile.ZipFile(model_zip) as source,
        zipfile.ZipFile(out / f"{ALGO}-{env_id}.zip", "w", compression=zipfile.ZIP_DEFLATED) as target,
    ):
        for name in WEIGHTS_ONLY_MEMBERS:
            if name in source.namelist():
                target.writestr(name, source.read(name))
    shutil.copy(run_folder / env_id / "config.yml", out / "config.yml")
    shutil.copy(run_folder / env_id / "env_kwargs.yml", out / "env_kwargs.yml")
    (out / "results.json").write_text(json.dumps(evaluation.results_json()))
    (out / "TRAINING.md").write_text(
        f"# The offline {env_id} agent\n\n"
        "Trained on this project's 2-core CPU machine with the Arena's own pipeline:\n\n"
        f"```bash\n{command}\n```\n\n"
        f"Evaluated with the Play pipeline over {len(evaluation.scores)} games (seeds "
        f"{evaluation.seeds[0]}-{evaluation.seeds[-1]}, ε = {evaluation.epsilon:g}): "
        f"**{evaluation.mean:.1f} ± {evaluation.std:.1f}** (scores {evaluation.scores}).\n\n"
        f"A uniformly random policy on the same seeds: {baseline.mean:.1f} ± {baseline.std:.1f} "
        f"(scores {baseline.scores}).\n\n"
        "Only the weights are kept (SB3's `data` and `policy.pth`; no optimizer state).\n"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m agents.publish RUN_FOLDER --game G --episodes N --command "..."``: ship a run's
    agent as the game's offline agent, scored against a random policy on the same seeds."""
    parser = argparse.ArgumentParser(prog="python -m agents.publish", description=main.__doc__.splitlines()[0])
    parser.add_argument("run_folder", type=Path, help="an RL Zoo run folder, dqn/<EnvId>_<n>")
    parser.add_argument("--game", required=True)
    parser.add_argument("--checkpoint", type=Path, help="one of the run's checkpoints instead of its final model")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--command", required=True, help="the command that trained it, for TRAINING.md")
    args = parser.parse_args(argv)
    game = get_game(args.game)
    model_zip = args.checkpoint or args.run_folder / f"{game.env_id}.zip"
    agent = run_agent(args.run_folder, game, model_zip)
    evaluation = evaluate(agent, n_episodes=args.episodes)
    baseline = evaluate(agent, n_episodes=args.episodes, epsilon=1.0)
    out = stage_offline_agent(
        args.run_folder, model_zip, game.env_id, evaluation, baseline, args.command, OFFLINE_AGENTS / game.env_id
    )
    print(json.dumps({"offline_agent": str(out), "mean": evaluation.mean, "random_mean": baseline.mean}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
