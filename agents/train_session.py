"""What the app's Train tab and its ``/train`` API do, Gradio-free: start, report, cancel and push
the one training job, with the checks of who may do so."""

import os
from typing import Any

import numpy as np
import pandas as pd

from agents.access import (
    SECRET_VARIABLE,
    control_refusal,
    may_control_training,
    push_note,
    push_token,
    training_available,
    where,
)
from agents.errors import AgentError
from agents.hub import ByteProgress
from agents.hyperparams import EDITABLE, check_hyperparameters, memory_note, rl_zoo_atari_defaults
from agents.jobs import JobManager, progress_line
from agents.publish import hub_username
from agents.training import TrainingSettings, training_device
from agents.training_time import format_duration, step_costs

SMOOTHING_EPISODES = 20
DEFAULT_SAVE_FREQ = TrainingSettings.save_freq


CPU_RUN = {"n_timesteps": 50_000, "buffer_size": 50_000, "learning_starts": 5_000}  # minutes, not days, on a CPU


def default_hyperparameters() -> dict[str, Any]:
    """The Train form's values: the RL Zoo's DQN Atari values, shortened to a fine-tuning run of a few
    minutes when training runs on a CPU (10M steps take days there)."""
    defaults = rl_zoo_atari_defaults()
    if training_device() == "cpu":
        defaults.update(CPU_RUN)
    return _editable(defaults)


def form_note() -> str:
    """Where the form's values come from."""
    note = "Hyperparameters: the RL Zoo's DQN values for Atari (`rl_zoo3/hyperparams/dqn.yml`)"
    if training_device() != "cpu":
        return note + "."
    shortened = ", ".join(f"{name} {value:,}" for name, value in CPU_RUN.items())
    return f"{note}, but {shortened} for a run of minutes on a CPU."


def _editable(values: dict[str, Any]) -> dict[str, Any]:
    """The editable hyperparameters of ``values``, as their types."""
    return {name: rule.kind(values[name]) for name, rule in EDITABLE.items()}


def plan_note(hyperparameters: dict[str, Any], wait: bool = True) -> str:
    """What the run on the form will take here, said before it starts: replay memory and time (with
    ``wait`` False, a note that this machine is being timed, while it is)."""
    try:
        checked = {**rl_zoo_atari_defaults(), **check_hyperparameters(hyperparameters)}
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
    seconds = costs.estimate_seconds(checked)
    learning_rate = 1 / costs.learning_step(checked)
    time_note = (
        f"Time: **{format_duration(seconds)}** on {where()}'s {device.upper()} "
        f"(measured here: {1 / costs.random_step:,.0f} steps/s of random play until learning_starts, then "
        f"{learning_rate:,.0f} steps/s while learning), then a minute or so to score it and render a replay."
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
    return jobs.start(settings, progress)


def cancel_training(jobs: JobManager, username: str | None = None, secret: str | None = None) -> dict[str, Any]:
    if not may_control_training(username, secret):
        raise AgentError(control_refusal())
    return jobs.cancel()


def push_training(jobs: JobManager, username: str | None, oauth_token: str | None) -> str:
    """Push the finished job as ``<username>/dqn-<EnvId>`` with the user's own token: the one they
    logged in with on a Space, else this machine's (``HF_TOKEN`` or ``hf auth login``)."""
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
    rl_zoo = _editable(rl_zoo_atari_defaults())
    changed = [
        f"{name} {value:,}" if isinstance(value, int) else f"{name} {value:g}"
        for name, value in (settings.get("hyperparameters") or {}).items()
        if name in rl_zoo and value != rl_zoo[name]
    ]
    hyperparameters = f"the RL Zoo's values but {', '.join(changed)}" if changed else "the RL Zoo's values"
    return f"{status.get('game', '?')} from {start_text}, seed {settings.get('seed', 0)}, {hyperparameters}"


def job_form_values(status: dict[str, Any]) -> dict[str, Any] | None:
    """The Train form's values for the job on screen (so a reloaded page shows what it runs), or None."""
    settings = status.get("settings")
    if not settings:
        return None
    start = settings["start"]
    values = _editable({**rl_zoo_atari_defaults(), **settings["hyperparameters"]})
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
    push when a finished run exists and someone may push it."""
    running = status.get("status") == "running"
    available, _ = training_available()
    may_control = may_control_training(username, None) or bool(os.getenv(SECRET_VARIABLE))
    return {
        "start": available and may_control and not running,
        "cancel": may_control and running,
        "push": status.get("status") == "finished" and push_token(oauth_token) is not None,
    }
