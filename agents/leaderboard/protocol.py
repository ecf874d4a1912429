"""The Leaderboard's protocol: what one measured entry is, fixed and named, so that boards never mix numbers.

Whole games (all lives), the unclipped game score, ε = 0.01 as the RL Zoo scores Atari agents, at most
27,000 agent steps (108,000 frames) a game, and 30 games a submission, each with a seed drawn fresh for
that submission and published with it. 30 games, as the DQN Nature paper's evaluation: the standard error
of the mean is then under a fifth of the scores' spread, so two agents half a spread apart are told apart
at about two standard errors, while a submission costs minutes on a 2-core Space: Evaluate plays about
900 agent steps/s there (``bench/eval_speed.py``), and 30 games of 2,000 to 5,000 agent steps, typical at
ε = 0.01, are 60,000 to 150,000 steps; 30 games all stopped at the cap would be about 15 minutes.
``ARENA_LEADERBOARD_GAMES`` and ``ARENA_LEADERBOARD_MAX_STEPS`` change it (the tests' tiny boards):
the protocol's name then changes too, and a new board starts.
"""

import random
import re
import subprocess
from dataclasses import dataclass

from agents.core.data_root import PROJECT_ROOT
from agents.core.numbers import MAX_SEED, OwnerSetting
from agents.evaluate.evaluation import EVAL_EPSILON, EVAL_MAX_STEPS, MAX_EPISODES

PROTOCOL_GAMES = 30
GAMES = OwnerSetting("ARENA_LEADERBOARD_GAMES", PROTOCOL_GAMES, 1, MAX_EPISODES, whole=True, unit="games a submission")
MAX_STEPS = OwnerSetting("ARENA_LEADERBOARD_MAX_STEPS", EVAL_MAX_STEPS, 1, 100_000, whole=True, unit="agent steps")
RANDOM_EPSILON = 1.0  # the reference row of a uniformly random agent: every action a random one


@dataclass(frozen=True)
class Protocol:
    games: int
    max_steps: int
    epsilon: float = EVAL_EPSILON

    @property
    def name(self) -> str:
        return f"arena-v1-{self.games}games-cap{self.max_steps}-eps{self.epsilon:g}"

    def describe(self) -> str:
        return (
            f"{self.games} whole games (all lives), unclipped score, ε = {self.epsilon:g}, at most "
            f"{self.max_steps:,} agent steps a game, seeds drawn fresh for each submission"
        )

    def fresh_seeds(self) -> list[int]:
        """Consecutive seeds from a random first one: published with the entry, so anyone can rerun it with
        ``python -m agents.evaluate --first-seed S --episodes N``."""
        first = random.SystemRandom().randrange(0, MAX_SEED - self.games)
        return list(range(first, first + self.games))


def current_protocol() -> Protocol:
    """The protocol new submissions are measured on: the Arena's, or the one the settings name."""
    return Protocol(int(GAMES.value()), int(MAX_STEPS.value()))


def arena_version() -> str:
    """The package's version, and its git commit when run from a clone."""
    version = re.search(r'^version = "([^"]+)"', (PROJECT_ROOT / "pyproject.toml").read_text(), re.M)
    number = version.group(1) if version else "unknown"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except OSError:
        commit = ""
    return f"{number}+{commit}" if commit else number
