"""What the app's Train tab and its ``/train`` API do, Gradio-free: start, report, cancel and push
the one training job, with the checks of who may do so."""

import os
from typing import Any

import numpy as np
import pandas as pd

from agents.core.access import (
    SECRET_VARIABLE,
    control_refusal,
    may_control_training,
    push_note,
    push_token,
    training_available,
    where,
)
from agents.core.errors import AgentError
from agents.core.hub import ByteProgress
from agents.jobs.manager import JobManager, progress_line
from agents.train.hyperparams import (
    EDITABLE,
    FINE_TUNING,
    check_hyperparameters,
    fast_n_envs,
    fast_preset,
    memory_note,
    replay_ratio,
    start_values,
    target_update_transitions,
)
from agents.train.publish import hub_username
from agents.train.training import TrainingSettings, training_device
from agents.train.training_time import format_duration, step_costs

SMOOTHING_EPISODES = 20
DEFAULT_SAVE_FREQ = TrainingSettings.save_freq


# Minutes, not days, on a CPU: from scratch, and fine-tuning (the memory still filled by the agent's own play).
CPU_RUN = {"n_timesteps": 50_000, "buffer_size": 50_000, "learning_starts": 5_000}
CPU_FINE_TUNING = {"n_timesteps": 50_000, "buffer_size": 10_000, "learning_starts": 10_000}


def default_hyperparameters(start: str = "pretrained") -> dict[str, Any]:
    """The Train form's values for a start: the RL Zoo's DQN Atari values from scratch, fine-tuning
    values from a trained agent; shortened to a run of minutes when training runs on a CPU (10M steps
    take days there)."""
    values = start_values(start)
    if training_device() == "cpu":
        values.update(CPU_RUN if start == "scratch" else CPU_FINE_TUNING)
    return _editable(values)


def form_note(start: str = "pretrained") -> str:
    """Where the form's values come from, and why."""
    if start == "scratch":
        note = "Hyperparameters: the RL Zoo's DQN values for Atari (`rl_zoo3/hyperparams/dqn.yml`)"
        shortened = CPU_RUN
    else:
        fine = FINE_TUNING
        note = (
            "Hyperparameters: **fine-tuning values**. The RL Zoo's values (`rl_zoo3/hyperparams/dqn.yml`) are "
            "for a start from scratch: ε from 1.0 and 100,000 steps of random play would throw the agent's skill "
            f"away. Here ε starts at {fine['exploration_initial_eps']}, near the {fine['exploration_final_eps']} the "
            "agent ended its training with, learning starts once the agent's own play has filled the replay "
            "memory (learning_starts = buffer_size), and the budget is hundreds of thousands of steps, not 10M"
        )
        shortened = CPU_FINE_TUNING
    if training_device() != "cpu":
        return note + "."
    shortened_text = ", ".join(f"{name} {value:,}" for name, value in shortened.items())
    return f"{note}; {shortened_text} for a run of minutes on a CPU."


def fast_preset_values(hyperparameters: dict[str, Any], on: bool) -> dict[str, Any]:
    """The form's values with the fast preset on (environments in parallel,
    :func:`agents.train.hyperparams.fast_preset`) or off (one environment, as the RL Zoo trains)."""
    n_envs = fast_n_envs(hyperparameters, os.cpu_count() or 1) if on else 1
    return _editable(fast_preset(hyperparameters, n_envs))


def fast_preset_note(hyperparameters: dict[str, Any]) -> str:
    """Why the fast preset is faster, and that it learns as the RL Zoo's run does, in the form's numbers."""
    try:
        values = {**start_values("scratch"), **check_hyperparameters(hyperparameters)}
    except AgentError:
        return ""
    n_envs = int(values["n_envs"])
    if n_envs == 1:
        return (
            f"One environment, as the RL Zoo trains. The fast preset steps {fast_n_envs(values, os.cpu_count() or 1)} "
            f"at once, one per core ({os.cpu_count()} here), for a machine with a GPU and several cores."
        )
    return (
        f"**Fast preset**: {n_envs} environments step at once, each in a process of its own on its own core, and "
        "the network chooses all their actions in one batch; on a GPU, cuDNN autotuning and TF32 matrix products "
        f"speed up the gradient steps. The learning is the RL Zoo's: {replay_ratio(values):g} gradient steps per "
        f"transition (gradient_steps {values['gradient_steps']} every train_freq {values['train_freq']} steps of "
        f"{n_envs} environments), batches of {values['batch_size']}, the target network updated every "
        f"{target_update_transitions(values):,} transitions, ε and learning_starts counted in transitions."
    )


def _editable(values: dict[str, Any]) -> dict[str, Any]:
    """The editable hyperparameters of ``values``, as their types."""
    return {name: rule.kind(values[name]) for name, rule in EDITABLE.items()}


def plan_note(hyperparameters: dict[str, Any], wait: bool = True, start: str = "scratch") -> str:
    """What the run on the form will take here, said before it starts: replay memory and time (with
    ``wait`` False, a note that this machine is being timed, while it is)."""
    try:
        checked = {**start_values("scratch"), **check_hyperparameters(hyperparameters)}
    except AgentError as error:
        return f"**Check the form**: {error}"
    memory = memory_note(checked)
    available, _ = training_available()
    if not available:
        return memory
    device = training_device()
    costs = step_costs(device, wait)
    if costs is None:
        return f"{memory}  \nTime: timing this machine's training speed (a few seconds after the app starts)…"
    own_play = start != "scratch"
    seconds = costs.estimate_seconds(checked, own_play=own_play)
    learning_rate = 1 / costs.learning_step(checked)
    parallel = int(checked["n_envs"]) > 1
    time_note = (
        f"Time: **{format_duration(seconds)}** on {where()}'s {device.upper()} "
        f"(measured here: {1 / costs.first_phase_step(checked, own_play):,.0f} steps/s of "
        f"{'the agent acting' if own_play else 'random play'} until learning_starts, "
        f"then {learning_rate:,.0f} steps/s while learning"
        + ("; the gain of the parallel environments is estimated, not measured" if parallel else "")
        + "), then a minute or so to score it and render a replay."
    )
    return f"{memory}  \n{time_note}"


def start_training(
    jobs: JobManager,
    game: str,
    start: str,
    seed: float,
    hyperparameters: dict[str, Any],
    username: str | None = None,
    secret: str | None = None,
    save_freq: float = DEFAULT_SAVE_FREQ,
    progress: ByteProgress | None = None,
) -> dict[str, Any]:
    """Start the job if this machine trains and the caller may; returns the job's status. ``save_freq``:
    steps between checkpoints, the points a restarted job resumes from; ``progress`` hears the start
    agent's download, if it is not cached."""
    available, reason = training_available()
    if not available:
        raise AgentError(reason)
    if not may_control_training(username, secret):
        raise AgentError(control_refusal())
    start = (start or "pretrained").strip()
    settings = TrainingSettings(game=game, start=start, hyperparameters=hyperparameters, seed=seed, save_freq=save_freq)
    return jobs.public_status(jobs.start(settings, progress))


def cancel_training(jobs: JobManager, username: str | None = None, secret: str | None = None) -> dict[str, Any]:
    if not may_control_training(username, secret):
        raise AgentError(control_refusal())
    return jobs.public_status(jobs.cancel())


def push_training(jobs: JobManager, username: str | None, oauth_token: str | None, secret: str | None = None) -> str:
    """Push the finished job as ``<username>/dqn-<EnvId>`` with the user's own token: the one they
    logged in with on a Space, else this machine's (``HF_TOKEN`` or ``hf auth login``). On a Space the job's
    model is the owner's (their machine and time made it), so pushing it is gated like start and cancel: the
    owner, or whoever has the training secret."""
    if not may_control_training(username, secret):
        raise AgentError(control_refusal("push this Space's training job to the Hub"))
    token = push_token(oauth_token)
    if not token:
        raise AgentError(push_note(None))
    if not username:
        username = hub_username(token)
    url = jobs.push(username, token)
    return f"Pushed to {url}. Play it in the Play tab by typing its repo id."


def status_markdown(status: dict[str, Any]) -> str:
    """The job's state in a few lines: phase, steps, speed, time left, ε, loss, result."""
    if status.get("status") == "none":
        return "No training job yet."
    if status.get("kind") == "tune":
        return f"The job is a tuning job: **{status['status']}**, {progress_line(status)}. See the Tune tab."
    progress = status.get("progress") or {}
    lines = [f"**{status['status'].capitalize()}** · {progress_line(status)} · on {status.get('device', '?')}"]
    lines.append(f"This job: {job_settings_line(status)}.")
    if progress.get("loss") is not None:
        lines.append(f"ε = {progress['exploration_rate']:.3f} · loss = {progress['loss']:.4f}")
    if status.get("results"):
        results = status["results"]
        lines.append(
            f"Evaluation: **{results['mean_reward']:.1f} ± {results['std_reward']:.1f}** "
            f"over {results['n_eval_episodes']} games (ε = 0.01)."
        )
    if status.get("error"):
        lines.append(f"Error: {status['error']}")
    if status.get("pushed_url"):
        lines.append(f"Pushed to {status['pushed_url']}")
    return "  \n".join(lines)


def training_curve(status: dict[str, Any]) -> pd.DataFrame | None:
    """Episode scores against steps, with a moving average, in long form for a line plot."""
    episodes = (status.get("progress") or {}).get("episodes") or []
    if not episodes:
        return None
    steps, scores = np.array(episodes, dtype=float).T
    smoothed = pd.Series(scores).rolling(SMOOTHING_EPISODES, min_periods=1).mean().to_numpy()
    return pd.DataFrame(
        {
            "step": np.concatenate([steps, steps]),
            "score": np.concatenate([scores, smoothed]),
            "series": ["episode score"] * len(steps) + [f"mean of the last {SMOOTHING_EPISODES}"] * len(steps),
        }
    )


def job_settings_line(status: dict[str, Any]) -> str:
    """What the job on screen was asked to do, in one line."""
    settings = status.get("settings") or {}
    start = settings.get("start", "pretrained")
    start_text = {"pretrained": "the pretrained agent", "scratch": "scratch"}.get(start, start)
    base = _editable(start_values(start))
    changed = [
        f"{name} {value:,}" if isinstance(value, int) else f"{name} {value:g}"
        for name, value in (settings.get("hyperparameters") or {}).items()
        if name in base and value != base[name]
    ]
    values = "the RL Zoo's values" if start == "scratch" else "fine-tuning values"
    hyperparameters = f"{values} but {', '.join(changed)}" if changed else values
    return f"{status.get('game', '?')} from {start_text}, seed {settings.get('seed', 0)}, {hyperparameters}"


def job_form_values(status: dict[str, Any]) -> dict[str, Any] | None:
    """The Train form's values for the job on screen (so a reloaded page shows what it runs), or None."""
    settings = status.get("settings")
    if not settings or status.get("kind") == "tune":
        return None
    start = settings["start"]
    values = _editable({**start_values(start), **settings["hyperparameters"]})
    return {
        "game": status["game"],
        "start": start if start in ("pretrained", "scratch") else "repo",
        "start_repo": "" if start in ("pretrained", "scratch") else start,
        "seed": settings.get("seed", 0),
        "save_freq": settings.get("save_freq", DEFAULT_SAVE_FREQ),
        "hyperparameters": {name: values[name] for name in EDITABLE},
    }


def controls(status: dict[str, Any], oauth_token: str | None, username: str | None = None) -> dict[str, bool]:
    """Which Train buttons can act now: start when no job runs, cancel while one does (both only for
    someone who may control training: on a Space its owner, or whoever has the secret if one is set),
    push when a finished run exists and someone who may control training has a token to push it with."""
    running = status.get("status") == "running"
    available, _ = training_available()
    may_control = may_control_training(username, None) or bool(os.getenv(SECRET_VARIABLE))
    return {
        "start": available and may_control and not running,
        "cancel": may_control and running and status.get("kind", "train") == "train",
        "push": may_control
        and status.get("status") == "finished"
        and status.get("kind", "train") == "train"
        and push_token(oauth_token) is not None,
    }
