"""The RL Zoo's published scores for its own Atari agents.

``data/rl-zoo-benchmark-atari-dqn.csv`` is the RL Zoo's ``benchmark.md`` table (MIT) for its DQN and QR-DQN
Atari agents. Evaluate shows it beside an agent's score; the default offline agent is the shipped one that
comes closest to it. It is read with ``csv``: a command line's summary should not wait for pandas to import.
"""

import csv
from pathlib import Path

BENCHMARK_CSV = Path(__file__).resolve().parent / "data" / "rl-zoo-benchmark-atari-dqn.csv"


def benchmark_row(algo: str, env_id: str) -> dict[str, str] | None:
    """The table's row for the RL Zoo's ``algo`` agent on ``env_id`` (``mean_reward``, ``std_reward``,
    ``eval_episodes``, ...), if it has one."""
    with BENCHMARK_CSV.open(newline="") as table:
        return next((row for row in csv.DictReader(table) if (row["algo"], row["env_id"]) == (algo, env_id)), None)
