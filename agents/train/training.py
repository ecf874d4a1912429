"""Train (or fine-tune) a DQN Atari agent with the RL Zoo's own experiment manager.

``rl_zoo3``'s ``ExperimentManager`` reads its DQN Atari hyperparameters, applies the overrides,
builds the environments and callbacks (evaluation, periodic checkpoints), and writes the run folder
``<out>/dqn/<EnvId>_<n>/`` that ``python -m rl_zoo3.enjoy --algo dqn --env <EnvId> -f <out>`` reads.
A Hub checkpoint to start from goes through the Arena's safe loader: only its weights are used.
The command line, ``python -m agents.train``, is :mod:`agents.train`.
"""

import argparse
import contextlib
import io
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from rl_zoo3.exp_manager import ExperimentManager
from stable_baselines3.common.callbacks import BaseCallback, EvalCallback

from agents.core.agent import Agent, agent_from_files
from agents.core.agent_files import find_agent_files
from agents.core.catalog import Game, get_game
from agents.core.checkpoint import Checkpoint, build_q_function, read_checkpoint
from agents.core.errors import AgentError
from agents.core.numbers import MAX_SEED, user_number
from agents.core.repo_game import resolve_game
from agents.core.run_folder import ALGO, RunFolder
from agents.evaluate.evaluation import EVAL_EPSILON, Evaluation, evaluate
from agents.play.episode import EpisodeResult, play_to_folder
from agents.train.hyperparams import check_hyperparameters, check_memory, rl_zoo_overrides, start_values
from agents.train.training_time import PhaseClock, format_duration

PRINT_EVERY_S = 10  # a progress line this often, when the command line's stderr is not a terminal


def start_repo_id(start: str) -> str | None:
    """The Hub repo a start names: none for "scratch" or "pretrained" (the game's own agent)."""
    return None if start in ("pretrained", "scratch") else start


@dataclass
class TrainingSettings:
    """What a training run is asked to do."""

    game: str
    start: str = "pretrained"  # "pretrained" (the game's sb3 agent), "scratch", or a Hub repo id
    hyperparameters: dict[str, Any] = field(default_factory=dict)  # overrides of the RL Zoo defaults
    seed: int = 0
    eval_freq: int = 25_000
    n_eval_episodes: int = 5
    save_freq: int = 50_000

    def __post_init__(self) -> None:
        """Numbers from the form, the API or the command line are checked here, where they enter."""
        self.seed = user_number("seed", self.seed, 0, MAX_SEED, whole=True)
        self.eval_freq = user_number("eval_freq", self.eval_freq, -1, 10**8, whole=True)
        self.n_eval_episodes = user_number("n_eval_episodes", self.n_eval_episodes, 1, 100, whole=True)
        if self.save_freq != -1:  # -1, as for the RL Zoo: no periodic checkpoints
            interval = "checkpoint interval (save_freq)"
            self.save_freq = user_number(interval, self.save_freq, 100, 10**8, whole=True, hint="Or -1: none.")

    def resolved_game(self) -> Game:
        """The game: the start agent's repo's when it names one (:func:`resolve_game`), else ``game`` or the default."""
        return resolve_game(self.game, start_repo_id(self.start))

    def resolved_hyperparameters(self) -> dict[str, Any]:
        """The run's values: the RL Zoo's from scratch or fine-tuning values from a trained agent
        (:func:`agents.train.hyperparams.start_values`), with this run's changes."""
        return {**start_values(self.start), **check_hyperparameters(self.hyperparameters)}


def training_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


@contextlib.contextmanager
def gpu_fast_paths(enabled: bool):
    """cuDNN's autotuning (it picks the fastest convolution kernels for the fixed 84×84 input) and TF32
    matrix products (tensor cores, 10-bit mantissa inputs with float32 accumulation) while the block runs.
    They are process-wide switches, so they are put back afterwards."""
    backends = torch.backends
    saved = (backends.cudnn.benchmark, backends.cuda.matmul.allow_tf32, backends.cudnn.allow_tf32)
    if enabled:
        backends.cudnn.benchmark = backends.cuda.matmul.allow_tf32 = backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        backends.cudnn.benchmark, backends.cuda.matmul.allow_tf32, backends.cudnn.allow_tf32 = saved


@contextlib.contextmanager
def flush_denormals():
    """Floats too small to be normal (below 1.2e-38) are read and written as zero on the CPU while the block runs.

    Adam's second moments decay into that range for the weights whose gradients stay near zero, and a CPU
    computes with such numbers many times slower than with others: a Pong run from scratch on one core fell from
    110 to 80 steps/s over its first 400,000 steps, with 60 % of its Adam state denormal. The values lost are far
    below Adam's ε. The switch is the process's (threads started later inherit it), so it is put back afterwards."""
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


class LiveProgress(BaseCallback):
    """Records what a training run's page shows, and stops the run when asked to."""

    def __init__(self, total_timesteps: int, clock: PhaseClock, start_timesteps: int = 0) -> None:
        super().__init__()
        self.total_timesteps = total_timesteps
        self.clock = clock
        self.start_timesteps = start_timesteps
        self.started = time.monotonic()
        self.timesteps = start_timesteps
        self.episodes: list[tuple[int, float]] = []  # (timestep at the end, score)
        self.exploration_rate = 1.0
        self.loss: float | None = None
        self.cancel_requested = False
        self.ended: float | None = None

    def _on_step(self) -> bool:
        self.timesteps = self.start_timesteps + self.num_timesteps_this_run()
        self.clock.update(self.timesteps)
        for info in self.locals.get("infos", []):
            if "episode" in info:
                self.episodes.append((self.timesteps, float(info["episode"]["r"])))
        self.exploration_rate = float(getattr(self.model, "exploration_rate", self.exploration_rate))
        loss = self.model.logger.name_to_value.get("train/loss")
        if loss is not None:
            self.loss = float(loss)
        return not self.cancel_requested

    def _on_training_end(self) -> None:
        self.ended = time.monotonic()

    def num_timesteps_this_run(self) -> int:
        return self.model.num_timesteps - self.model._num_timesteps_at_start

    def snapshot(self) -> dict[str, Any]:
        """Progress as plain data: steps, steps/s, seconds left, ε, loss, episode scores."""
        elapsed = (self.ended or time.monotonic()) - self.started
        done_here = self.timesteps - self.start_timesteps
        rate = done_here / elapsed if elapsed > 0 and done_here > 0 else 0.0
        left = 0.0 if self.ended is not None else self.clock.seconds_left(self.timesteps)
        return {
            "seconds": elapsed,
            "timesteps": self.timesteps,
            "total_timesteps": self.total_timesteps,
            "steps_per_second": rate,
            "seconds_left": left,
            "exploration_rate": self.exploration_rate,
            "loss": self.loss,
            "episodes": list(self.episodes),
            **self.where_it_runs(),
        }

    def where_it_runs(self) -> dict[str, Any]:
        """The Q-network's device, the most GPU memory the run has taken and torch's threads in the training
        process: proof of where and how it learns."""
        model = getattr(self, "model", None)  # SB3 sets it when training starts
        if model is None:
            return {"parameter_device": None, "cuda_max_memory_bytes": None, "torch_threads": None}
        device = next(model.policy.q_net.parameters()).device
        memory = torch.cuda.max_memory_allocated() if device.type == "cuda" else 0
        threads = torch.get_num_threads()
        return {"parameter_device": str(device), "cuda_max_memory_bytes": memory, "torch_threads": threads}


def _read_start_checkpoint(start: str, game: Game) -> tuple[str, Checkpoint]:
    """The Hub checkpoint to fine-tune (the game's pretrained agent, its shipped offline agent when the
    Hub is out of reach, or a repo id), read through the Play tab's safe loader."""
    files = find_agent_files(game, start_repo_id(start))
    if files.algo != ALGO:
        raise AgentError(f"{files.repo_id} holds a {files.algo.upper()} agent; training fine-tunes DQN agents only.")
    try:
        return files.repo_id, read_checkpoint(files.model_zip)
    except AgentError as error:
        raise AgentError(f"{files.repo_id}: {error}") from None


def _load_start_weights(model, repo_id: str, checkpoint: Checkpoint) -> None:
    """Copy a checkpoint's Q-network weights into the new model (online and target networks), after the
    Play tab's checks of actions, observations and shapes."""
    try:
        q_function = build_q_function(checkpoint, model.observation_space, model.action_space)
    except AgentError as error:
        raise AgentError(f"{repo_id}: {error}") from None
    model.policy.q_net.load_state_dict(q_function.network.state_dict())
    model.policy.q_net_target.load_state_dict(q_function.network.state_dict())


# rl_zoo3.train's command-line names for the ExperimentManager keywords that it names otherwise.
def progress_text(snapshot: dict[str, Any]) -> str:
    """One line on a run: steps, steps/s, ε, loss, episodes and time left, from :meth:`LiveProgress.snapshot`."""
    done, total = snapshot["timesteps"], snapshot["total_timesteps"]
    text = f"{done:,}/{total:,} steps ({100 * done / max(total, 1):.0f}%), {snapshot['steps_per_second']:.0f} steps/s"
    text += f", ε {snapshot['exploration_rate']:.3f}"
    if snapshot["loss"] is not None:
        text += f", loss {snapshot['loss']:.4f}"
    scores = [score for _, score in snapshot["episodes"]]
    if scores:
        last = scores[-10:]
        text += f", {len(scores)} episodes (last {len(last)}: mean score {sum(last) / len(last):.1f})"
    if snapshot["seconds_left"] is not None and done < total:
        text += f", {format_duration(snapshot['seconds_left'])} left"
    return text


class PrintedProgress(LiveProgress):
    """Progress for a command line whose stderr is not a terminal (piped, or written to a log), where a
    progress bar would only show once, at its end: a line at the first step, then every ``every`` seconds,
    and one at the end."""

    def __init__(self, total_timesteps: int, clock: PhaseClock, every: float = PRINT_EVERY_S, stream=None) -> None:
        super().__init__(total_timesteps, clock)
        self.every = every
        self.stream = stream
        self.printed_at: float | None = None

    def _on_training_start(self) -> None:
        self.started = time.monotonic()  # steps/s from the first step, not from the set-up before it

    def _on_step(self) -> bool:
        going = super()._on_step()
        self.print_if_due()
        return going

    def _on_training_end(self) -> None:
        super()._on_training_end()
        self.print_line()

    def print_if_due(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if self.printed_at is None or now - self.printed_at >= self.every:
            self.printed_at = now
            self.print_line()

    def print_line(self) -> None:
        print(progress_text(self.snapshot()), file=self.stream or sys.stderr, flush=True)


ARGS_YML_NAMES = {"n_eval_episodes": "eval_episodes", "vec_env_type": "vec_env", "show_progress": "progress"}


def rl_zoo_experiment(env_id: str, log_folder: Path, start: str, **keywords: Any) -> ExperimentManager:
    """The RL Zoo's ``ExperimentManager`` for training and tuning alike, its options given once: as its
    keywords, and as the namespace ``rl_zoo3.train`` would have parsed, which it saves as the run's
    ``args.yml`` (``rl_zoo3.enjoy`` reads ``env_kwargs`` there). ``start`` is recorded as
    ``trained_agent``; its weights are loaded by the Arena's safe loader, never by the RL Zoo."""
    keywords = {"env_kwargs": None, "device": training_device(), "verbose": 0, **keywords}
    names = {ARGS_YML_NAMES.get(name, name): value for name, value in keywords.items()}
    args = argparse.Namespace(algo=ALGO, env=env_id, log_folder=str(log_folder), trained_agent=start, **names)
    return ExperimentManager(args, ALGO, env_id, str(log_folder), **keywords)


def latest_readable_checkpoint(run: RunFolder) -> tuple[Checkpoint, int] | None:
    """The newest periodic checkpoint of a run that reads whole, with its step count: one torn by a
    crash or a full disk while it was written is passed over for the one before."""
    for steps, path in reversed(run.checkpoints()):
        try:
            return read_checkpoint(path), steps
        except AgentError as error:
            print(f"{path.name} is unreadable ({error}); resuming from an earlier checkpoint", file=sys.stderr)
    return None


class PlayBeforeLearning(BaseCallback):
    """The replay memory is filled by the agent's own play before its gradient steps begin.

    SB3 plays uniformly random actions until ``learning_starts``, whatever ε says, and learns from the
    first transitions of an empty memory. With ``own_play`` (a trained start: fine-tuning, or a tuning
    trial from a trained agent) the agent acts with its own network from the first step; in every case
    its gradient steps wait until ``learning_starts`` transitions (at most the memory's size) are in the
    memory, as after a restart, whose memory starts empty. Training and tuning trials both use it."""

    def __init__(self, own_play: bool) -> None:
        super().__init__()
        self.own_play = own_play
        self.transitions = 0
        self.gradient_steps = 0

    def _on_training_start(self) -> None:
        self.transitions = min(int(self.model.learning_starts), int(self.model.buffer_size))
        if self.own_play:
            self.model.learning_starts = 0
        self.gradient_steps, self.model.gradient_steps = self.model.gradient_steps, 0

    def _on_step(self) -> bool:
        memory = self.model.replay_buffer
        if self.model.gradient_steps == 0 and memory.size() * memory.n_envs >= self.transitions:
            self.model.gradient_steps = self.gradient_steps
        return True


def train(
    settings: TrainingSettings,
    out: Path,
    progress: LiveProgress | None = None,
    resume_run: RunFolder | None = None,
    show_progress_bar: bool = False,
) -> RunFolder:
    """Train as the RL Zoo does and return the run folder, which holds ``<EnvId>.zip``.

    With ``resume_run``, the run continues from its last periodic checkpoint: its weights, its step
    count and its exploration schedule (the replay memory is refilled, not restored).
    """
    game = settings.resolved_game()
    env_id = game.env_id
    hyperparameters = settings.resolved_hyperparameters()
    overrides = rl_zoo_overrides(hyperparameters)
    check_memory(hyperparameters)
    total = int(hyperparameters["n_timesteps"])
    out = Path(out)
    checkpoint = latest_readable_checkpoint(resume_run) if resume_run is not None else None
    done = checkpoint[1] if checkpoint else 0
    # The start agent is found and read before any folder is made: a failed start leaves nothing behind.
    fresh_start = resume_run is None and settings.start != "scratch"
    start = _read_start_checkpoint(settings.start, game) if fresh_start else None
    new_out = not out.exists()

    manager = rl_zoo_experiment(
        env_id,
        out,
        settings.start,
        n_timesteps=total,
        eval_freq=settings.eval_freq,
        n_eval_episodes=settings.n_eval_episodes,
        save_freq=settings.save_freq,
        hyperparams=overrides,
        seed=settings.seed,
        show_progress=show_progress_bar,
        vec_env_type=vec_env_type(hyperparameters),
    )
    if resume_run is not None:
        manager.save_path = str(resume_run.path)
        manager.params_path = str(resume_run.params)
        for monitor in resume_run.path.glob("0.monitor.csv"):
            monitor.rename(resume_run.path / f"0.before-{done}.monitor.csv")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            model, _ = manager.setup_experiment()
        if start is not None:
            _load_start_weights(model, *start)
    except BaseException:
        if resume_run is None:  # the folders made for this run
            shutil.rmtree(out if new_out else manager.save_path, ignore_errors=True)
        raise
    run = RunFolder(Path(manager.save_path), env_id)
    run.env_kwargs.write_text(yaml.safe_dump({}))

    callbacks = [*manager.callbacks]
    if settings.start != "scratch" or checkpoint is not None:  # a trained start, or a restart's empty memory
        callbacks.append(PlayBeforeLearning(own_play=settings.start != "scratch"))
    if checkpoint is not None:
        model.policy.load_state_dict(checkpoint[0].state_dict)
        model.num_timesteps = done
        _restore_evaluations(manager, resume_run)
    if progress is not None:
        progress.start_timesteps = done
        callbacks.append(progress)
    fast = training_device() == "cuda" and int(hyperparameters["n_envs"]) > 1  # the fast preset
    try:
        with gpu_fast_paths(fast), flush_denormals():
            model.learn(total - done, callback=callbacks, reset_num_timesteps=checkpoint is None, log_interval=None)
    finally:
        model.env.close()
    model.save(run.model_zip)
    return run


def vec_env_type(hyperparameters: dict[str, Any]) -> str:
    """The RL Zoo's ``--vec-env``: several environments step in processes of their own, on several cores."""
    return "subproc" if int(hyperparameters.get("n_envs", 1)) > 1 else "dummy"


def _restore_evaluations(manager: ExperimentManager, run: RunFolder) -> None:
    """Give the new evaluation callback the evaluations made before the restart."""
    path = run.evaluations
    evaluation = next((c for c in manager.callbacks if isinstance(c, EvalCallback)), None)
    if evaluation is None or not path.exists():
        return
    with np.load(path) as saved:
        evaluation.evaluations_timesteps = list(saved["timesteps"])
        evaluation.evaluations_results = list(saved["results"])
        evaluation.evaluations_length = list(saved["ep_lengths"])


def run_agent(run: RunFolder, model_zip: Path | None = None) -> Agent:
    """The agent an RL Zoo run folder holds (its final model, or ``model_zip``, e.g. a checkpoint
    of the run), loaded as the Play tab loads Hub agents."""
    return agent_from_files(run.agent_files(model_zip), get_game(run.env_id))


def evaluate_run(
    run: RunFolder, replay_folder: Path, n_episodes: int = 5, replay_max_steps: int = 5000
) -> tuple[Evaluation, EpisodeResult]:
    """Score a finished run over ``n_episodes`` seeded games and render one replay with the Play pipeline."""
    agent = run_agent(run)
    evaluation = evaluate(agent, n_episodes=n_episodes)
    replay = play_to_folder(agent, replay_folder, seed=0, epsilon=EVAL_EPSILON, max_steps=replay_max_steps)
    return evaluation, replay
