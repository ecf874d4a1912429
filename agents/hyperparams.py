"""The RL Zoo's DQN hyperparameters for Atari, the ones a user may change, and what they cost in memory."""

from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from agents.errors import AgentError
from agents.numbers import user_number


@dataclass(frozen=True)
class Hyperparameter:
    """An RL Zoo hyperparameter a user may change: its type, its bounds and what it means."""

    kind: type
    low: float
    high: float
    meaning: str


EDITABLE: dict[str, Hyperparameter] = {
    "n_timesteps": Hyperparameter(int, 1_000, 50_000_000, "environment steps to train for"),
    "learning_rate": Hyperparameter(float, 1e-7, 0.1, "Adam's step size"),
    "buffer_size": Hyperparameter(int, 1_000, 10_000_000, "transitions the replay memory holds"),
    "learning_starts": Hyperparameter(int, 0, 10_000_000, "steps of random play before learning starts"),
    "batch_size": Hyperparameter(int, 1, 4096, "transitions per gradient step"),
    "exploration_fraction": Hyperparameter(float, 0.0, 1.0, "share of training over which ε decays from 1"),
    "exploration_final_eps": Hyperparameter(float, 0.0, 1.0, "ε after the decay"),
    "target_update_interval": Hyperparameter(int, 1, 10_000_000, "steps between target-network updates"),
    "train_freq": Hyperparameter(int, 1, 10_000, "environment steps between gradient updates"),
    "gradient_steps": Hyperparameter(int, 1, 1_000, "gradient steps per update"),
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
        rule = EDITABLE[name]
        checked[name] = user_number(name, value, rule.low, rule.high, whole=rule.kind is int)
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


MEMORY_HEADROOM_BYTES = 1_500_000_000  # the app, the network and the environments besides the replay memory


def _memory(hyperparameters: dict[str, Any]) -> tuple[int, int, bool]:
    """Bytes the run's replay memory needs, bytes free here (0 if unknown), and whether it fits."""
    needed, available = replay_memory_bytes(hyperparameters), available_memory_bytes()
    return needed, available, not available or needed + MEMORY_HEADROOM_BYTES <= available


def memory_note(hyperparameters: dict[str, Any]) -> str:
    """What the run's replay memory takes, and whether it fits here, said before it starts."""
    needed, available, fits = _memory(hyperparameters)
    return (
        f"Replay memory: {int(hyperparameters['buffer_size']):,} transitions × 2 × 4×84×84 bytes = "
        f"**{needed / 1e9:.2f} GB**; {available / 1e9:.1f} GB free here, so it "
        + ("fits." if fits else "**does not fit**: lower buffer_size.")
    )


def check_memory(hyperparameters: dict[str, Any]) -> int:
    """The replay memory the run needs, in bytes; refuses a run that would not fit."""
    needed, available, fits = _memory(hyperparameters)
    if not fits:
        raise AgentError(
            f"The replay memory of {hyperparameters['buffer_size']:,} transitions needs {needed / 1e9:.1f} GB, "
            f"and only {available / 1e9:.1f} GB are free (with {MEMORY_HEADROOM_BYTES / 1e9:.1f} GB kept for the "
            "rest). Lower buffer_size."
        )
    return needed
