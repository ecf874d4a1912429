"""The RL Zoo's DQN hyperparameters for Atari, the ones a user may change, and what they cost in memory."""

import math
from importlib import resources
from typing import Any

import yaml

from agents.errors import AgentError

# Editable hyperparameters: RL Zoo name -> (type, smallest, largest, what it means).
EDITABLE: dict[str, tuple[type, float, float, str]] = {
    "n_timesteps": (int, 1_000, 50_000_000, "environment steps to train for"),
    "learning_rate": (float, 1e-7, 0.1, "Adam's step size"),
    "buffer_size": (int, 1_000, 10_000_000, "transitions the replay memory holds"),
    "learning_starts": (int, 0, 10_000_000, "steps of random play before learning starts"),
    "batch_size": (int, 1, 4096, "transitions per gradient step"),
    "exploration_fraction": (float, 0.0, 1.0, "share of training over which ε decays from 1"),
    "exploration_final_eps": (float, 0.0, 1.0, "ε after the decay"),
    "target_update_interval": (int, 1, 10_000_000, "steps between target-network updates"),
    "train_freq": (int, 1, 10_000, "environment steps between gradient updates"),
    "gradient_steps": (int, 1, 1_000, "gradient steps per update"),
}
OBSERVATION_BYTES = 4 * 84 * 84  # four stacked 84x84 uint8 frames


def rl_zoo_atari_defaults() -> dict[str, Any]:
    """The ``atari`` entry of the RL Zoo's own ``hyperparams/dqn.yml``, as ``rl_zoo3.train`` uses it."""
    text = resources.files("rl_zoo3").joinpath("hyperparams", "dqn.yml").read_text()
    return dict(yaml.safe_load(text)["atari"])


def check_hyperparameters(values: dict[str, Any]) -> dict[str, Any]:
    """Validate user-given hyperparameters; returns them converted to their types."""
    checked = {}
    for name, value in values.items():
        if name not in EDITABLE:
            raise AgentError(f"Unknown hyperparameter {name!r}. Editable: {', '.join(EDITABLE)}.")
        kind, low, high, _ = EDITABLE[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise AgentError(f"{name} must be a number, not {value!r}.")
        if kind is int and value != int(value):
            raise AgentError(f"{name} must be a whole number, not {value!r}.")
        if not low <= value <= high:
            raise AgentError(f"{name} must be between {low:g} and {high:g}, not {value:g}.")
        checked[name] = kind(value)
    return checked


def replay_memory_bytes(hyperparameters: dict[str, Any]) -> int:
    """Bytes SB3's replay buffer will take: observations and next observations, unless
    ``optimize_memory_usage`` shares them."""
    copies = 1 if hyperparameters.get("optimize_memory_usage") else 2
    return int(hyperparameters["buffer_size"]) * OBSERVATION_BYTES * copies


def available_memory_bytes() -> int:
    """Memory the system can still give (``MemAvailable``), or 0 if it does not say."""
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
