"""Evaluation speed against stock SB3 playing the same games one by one, both whole processes, in one run.

    python bench/eval_speed.py [--episodes 8]

Both sides play the shipped Breakout agent greedily (ε = 0, so both play exactly the same games) on
seeds 0..N-1, each game in the environment the RL Zoo's ``create_test_env`` builds:

- stock SB3: one process that runs ``DQN.load``, then for each seed ``create_test_env`` and
  ``model.predict(deterministic=True)`` until the game ends;
- the Arena: ``python -m agents.evaluate --episodes N --epsilon 0``, whose workers share the games
  over the machine's cores with batched inference.

Each side's steps/s is the games' total agent steps over the whole process's wall time (start-up,
imports and model loading included on both sides).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV_ID = "BreakoutNoFrameskip-v4"
STOCK_SB3 = """
import json, sys
import rl_zoo3.import_envs  # as rl_zoo3.enjoy does: registers the Atari environments
from rl_zoo3.utils import create_test_env
from stable_baselines3 import DQN
model = DQN.load(sys.argv[1], device="cpu", buffer_size=1)
wrapper = "stable_baselines3.common.atari_wrappers.AtariWrapper"
hyperparams = {"env_wrapper": wrapper, "frame_stack": 4, "normalize": False}
games = []
for seed in range(int(sys.argv[2])):
    env = create_test_env(sys.argv[3], n_envs=1, stats_path=".", seed=seed, hyperparams=dict(hyperparams),
                          env_kwargs={"render_mode": "rgb_array"})
    observation, steps = env.reset(), 0
    while True:
        action, _ = model.predict(observation, deterministic=True)
        observation, _, _, infos = env.step(action)
        steps += 1
        if "episode" in infos[0]:
            games.append((float(infos[0]["episode"]["r"]), steps))
            break
    env.close()
print(json.dumps(games))
"""


def timed(command: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, run.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python bench/eval_speed.py", description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=8, help="seeded games each side plays (default: 8)")
    episodes = parser.parse_args().episodes
    model_zip = ROOT / "offline_agents" / ENV_ID / f"dqn-{ENV_ID}.zip"

    stock_seconds, stock_out = timed([sys.executable, "-c", STOCK_SB3, str(model_zip), str(episodes), ENV_ID])
    stock = json.loads(stock_out)
    arena_command = [sys.executable, "-m", "agents.evaluate", "--game", "Breakout", "--episodes", str(episodes)]
    arena_seconds, arena_out = timed([*arena_command, "--epsilon", "0"])
    arena = json.loads(arena_out)

    same = [score for score, _ in stock] == arena["scores"] and [n for _, n in stock] == arena["episode_steps"]
    steps = sum(arena["episode_steps"])
    stock_rate, arena_rate = sum(n for _, n in stock) / stock_seconds, steps / arena_seconds
    games = f"{episodes} greedy games, seeds 0-{episodes - 1}"
    print(f"machine: {os.cpu_count()} CPU cores; the shipped {ENV_ID} agent, {games}")
    print(f"the same games on both sides: {same} ({steps} agent steps; scores {arena['scores']})")
    print(f"stock SB3, one by one (whole process):  {stock_rate:7.1f} steps/s  ({stock_seconds:.1f} s)")
    print(f"python -m agents.evaluate (whole process): {arena_rate:7.1f} steps/s  ({arena_seconds:.1f} s)")
    print(f"ratio (Arena / stock SB3):               {arena_rate / stock_rate:7.2f}x")


if __name__ == "__main__":
    main()
