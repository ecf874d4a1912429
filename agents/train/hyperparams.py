"""The RL Zoo's DQN hyperparameters for Atari, the ones a user may change, the values a run starts
from (the RL Zoo's from scratch, fine-tuning values from a trained agent, the fast preset), and what
they cost in memory."""

import inspect
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml
from stable_baselines3 import DQN

from agents.core.errors import AgentError
from agents.core.numbers import user_number


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
    "learning_starts": Hyperparameter(
        int, 0, 10_000_000, "steps before learning: random play from scratch, the agent's own from a trained start"
    ),
    "batch_size": Hyperparameter(int, 1, 4096, "transitions per gradient step"),
    "exploration_fraction": Hyperparameter(float, 0.0, 1.0, "share of training over which ε decays to its final value"),
    "exploration_final_eps": Hyperparameter(float, 0.0, 1.0, "ε after the decay"),
    "target_update_interval": Hyperparameter(int, 1, 10_000_000, "steps between target-network updates"),
    "train_freq": Hyperparameter(int, 1, 10_000, "environment steps between gradient updates"),
    "gradient_steps": Hyperparameter(int, 1, 1_000, "gradient steps per update"),
    "exploration_initial_eps": Hyperparameter(float, 0.0, 1.0, "ε at the start of training"),
    "gamma": Hyperparameter(float, 0.8, 0.99999, "discount factor of future rewards"),
    "n_envs": Hyperparameter(int, 1, 64, "environments stepped at once, each in a process of its own"),
}
OBSERVATION_BYTES = 4 * 84 * 84  # four stacked 84x84 uint8 frames


def rl_zoo_atari_defaults() -> dict[str, Any]:
    """The ``atari`` entry of the RL Zoo's own ``hyperparams/dqn.yml``, as ``rl_zoo3.train`` uses it, with
    the editable values it leaves to others filled in as they are then: SB3's ``DQN`` defaults (γ, the
    starting ε) and the RL Zoo's one environment."""
    text = resources.files("rl_zoo3").joinpath("hyperparams", "dqn.yml").read_text()
    entry = dict(yaml.safe_load(text)["atari"])
    sb3_defaults = inspect.signature(DQN.__init__).parameters
    left_to_sb3 = {name: sb3_defaults[name].default for name in ("gamma", "exploration_initial_eps")}
    return {**left_to_sb3, "n_envs": 1, **entry}


def rl_zoo_overrides(hyperparameters: dict[str, Any]) -> dict[str, Any]:
    """What ``hyperparameters`` change in the RL Zoo's values: the ``--hyperparams`` of ``rl_zoo3.train``."""
    rl_zoo = rl_zoo_atari_defaults()
    return {name: value for name, value in hyperparameters.items() if rl_zoo.get(name) != value}


# Fine-tuning a trained agent. The RL Zoo's values are for a start from scratch: ε from 1.0 and 100,000
# steps of random play before learning, over 10M steps. From a trained agent they would throw its skill
# away. Instead: ε starts at 0.05, near the 0.01 the RL Zoo's agents ended training with (their
# config.yml), so the agent keeps playing its own game; learning starts once the agent's own play has
# filled the replay memory (learning_starts = buffer_size), so the first gradient steps do not overfit
# a few thousand transitions; and the budget is hundreds of thousands of steps, not millions.
FINE_TUNING = {
    "n_timesteps": 500_000,
    "buffer_size": 100_000,
    "learning_starts": 100_000,
    "exploration_initial_eps": 0.05,
    "exploration_final_eps": 0.01,
}


def start_values(start: str) -> dict[str, Any]:
    """A run's values before the user's changes: the RL Zoo's from scratch, fine-tuning values from a
    trained agent (``start`` "pretrained" or a Hub repo id)."""
    values = rl_zoo_atari_defaults()
    return values if start == "scratch" else {**values, **FINE_TUNING}


def target_update_transitions(hyperparameters: dict[str, Any]) -> int:
    """Transitions between target-network updates as SB3 counts them: every
    ``target_update_interval // n_envs`` steps of ``n_envs`` environments."""
    n_envs = int(hyperparameters.get("n_envs", 1))
    return max(int(hyperparameters["target_update_interval"]) // n_envs, 1) * n_envs


def replay_ratio(hyperparameters: dict[str, Any]) -> float:
    """Gradient steps per transition: ``gradient_steps`` every ``train_freq`` steps of ``n_envs`` environments."""
    n_envs = int(hyperparameters.get("n_envs", 1))
    return int(hyperparameters["gradient_steps"]) / (int(hyperparameters["train_freq"]) * n_envs)


def fast_n_envs(hyperparameters: dict[str, Any], cores: int) -> int:
    """The fast preset's environments: as many as the cores, but a divisor of ``target_update_interval``
    so the target network is still updated every ``target_update_interval`` transitions."""
    interval = int(hyperparameters["target_update_interval"])
    return max(n for n in range(1, max(cores, 1) + 1) if interval % n == 0)


def fast_preset(hyperparameters: dict[str, Any], n_envs: int) -> dict[str, Any]:
    """The same learning with ``n_envs`` environments stepped in parallel processes.

    SB3 counts ``train_freq`` in steps of all environments at once, so with ``n_envs`` environments
    each update follows ``n_envs`` times as many transitions: ``gradient_steps`` grows as much, which
    keeps the gradient steps per transition (the replay ratio) the RL Zoo's. The batch size, the
    target-network period (SB3 divides it by ``n_envs``), the exploration schedule, ``learning_starts``
    and the replay memory are counted in transitions and stay as they are.
    """
    base = int(hyperparameters["gradient_steps"]) // int(hyperparameters.get("n_envs", 1)) or 1
    return {**hyperparameters, "n_envs": n_envs, "gradient_steps": base * n_envs}


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
