"""What the app's Train tab and its ``/train`` API do, Gradio-free: start, report, cancel and push
the one training job, with the checks of who may do so."""

import math
from typing import Any

import numpy as np
import pandas as pd
from huggingface_hub import HfApi, get_token

from agents.access import control_refusal, may_control_training, training_available
from agents.errors import AgentError
from agents.hyperparams import EDITABLE, available_memory_bytes, replay_memory_bytes, rl_zoo_atari_defaults
from agents.jobs import JobManager, progress_line
from agents.train import MEMORY_HEADROOM_BYTES, TrainingSettings, training_device

SMOOTHING_EPISODES = 20


def default_hyperparameters() -> dict[str, Any]:
    """The RL Zoo's DQN Atari values of the editable hyperparameters."""
    defaults = rl_zoo_atari_defaults()
    return {name: EDITABLE[name][0](defaults[name]) for name in EDITABLE}


def memory_note(buffer_size: float | None) -> str:
    """What the replay memory of ``buffer_size`` transitions will take, said before a run starts."""
    if not buffer_size or buffer_size < 1:
        return "Set a buffer size to see the replay memory it needs."
    needed = replay_memory_bytes({"buffer_size": int(buffer_size)})
    available = available_memory_bytes()
    verdict = (
        "fits"
        if not available or needed + MEMORY_HEADROOM_BYTES <= available
        else "**does not fit**: lower the buffer size"
    )
    return (
        f"Replay memory: {int(buffer_size):,} transitions × 2 × 4×84×84 bytes = **{needed / 1e9:.2f} GB**; "
        f"{available / 1e9:.1f} GB free here, so it {verdict}. Device: {training_device()}."
    )


def start_training(
    jobs: JobManager,
    game: str,
    start: str,
    seed: float,
    hyperparameters: dict[str, Any],
    username: str | None = None,
    secret: str | None = None,
) -> dict[str, Any]:
    """Start the job if this machine trains and the caller may; returns the job's status."""
    available, reason = training_available()
    if not available:
        raise AgentError(reason)
    if not may_control_training(username, secret):
        raise AgentError(control_refusal())
    if not isinstance(seed, (int, float)) or not math.isfinite(seed) or seed != int(seed) or seed < 0:
        raise AgentError("The seed must be a whole number from 0.")
    start = (start or "pretrained").strip()
    settings = TrainingSettings(game=game, start=start, hyperparameters=hyperparameters, seed=int(seed))
    return jobs.start(settings)


def cancel_training(jobs: JobManager, username: str | None = None, secret: str | None = None) -> dict[str, Any]:
    if not may_control_training(username, secret):
        raise AgentError(control_refusal())
    return jobs.cancel()


def push_training(jobs: JobManager, username: str | None, token: str | None) -> str:
    """Push the finished job as ``<username>/dqn-<EnvId>`` with the user's own token: the one they
    logged in with on a Space, else this machine's (``HF_TOKEN`` or ``hf auth login``)."""
    if not token:
        token = get_token()
    if not token:
        raise AgentError("Log in with Hugging Face first: the agent is pushed to your account with your token.")
    if not username:
        try:
            username = HfApi(token=token).whoami()["name"]
        except Exception as error:  # network or token trouble, worded for the user
            raise AgentError(
                f"Could not ask the Hub who you are ({type(error).__name__}); check the network."
            ) from None
    url = jobs.push(username, token)
    return f"Pushed to {url}. Play it in the Play tab by typing its repo id."


def status_markdown(status: dict[str, Any]) -> str:
    """The job's state in a few lines: phase, steps, speed, time left, ε, loss, result."""
    if status.get("status") == "none":
        return "No training job yet."
    progress = status.get("progress") or {}
    lines = [f"**{status['status'].capitalize()}** · {progress_line(status)} · on {status.get('device', '?')}"]
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
