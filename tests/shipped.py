"""The agents shipped in ``offline_agents/``, read here straight from their files: the tests' own view of which
one is the default offline, against the Arena's."""

import csv
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARK = ROOT / "agents" / "core" / "data" / "rl-zoo-benchmark-atari-dqn.csv"


def offline_default_game() -> str:
    """The game (catalog key) of the shipped agent that goes furthest from a random policy's score towards the RL
    Zoo's benchmark, by each agent's ``results.json``."""
    with BENCHMARK.open(newline="") as table:
        rl_zoo = {row["env_id"]: float(row["mean_reward"]) for row in csv.DictReader(table) if row["algo"] == "dqn"}

    def share(folder: Path) -> float:
        result = json.loads((folder / "results.json").read_text())
        random = result["random_mean_reward"]
        return (result["mean_reward"] - random) / (rl_zoo[folder.name] - random)

    best = max(sorted((ROOT / "offline_agents").glob("*NoFrameskip-v4")), key=share)
    return best.name.removesuffix("NoFrameskip-v4")
