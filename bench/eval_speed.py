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

Then the limit, for the same steps on the same cores: one process per core, each emulating its share of the
steps on a bare ALE (4 frames a step, nothing read from the screen) and calling stock SB3's Q-network once per
step of its games in play, on a batch of their observations (the Arena's ``SLOTS``), and nothing else: the ALE's
raw frame rate plus one batched forward pass per step. It is printed without start-up (what the games alone
could take: the limit the Arena's whole process is compared with) and with it (the same processes' whole wall
time: Python, torch and SB3's ``DQN.load``, which imports torch's compiler with the optimizer it builds).
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.evaluate.evaluation import SLOTS  # noqa: E402

ENV_ID = "BreakoutNoFrameskip-v4"
FRAME_SKIP = 4  # the AtariWrapper's, which the shipped agent plays with
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
LIMIT = """
import json, sys, time
import gymnasium as gym, numpy as np, torch
from ale_py import ALEInterface, LoggerMode, roms
from stable_baselines3 import DQN
torch.set_num_threads(1)  # one core per process, as the Arena's workers
model_zip, env_id, steps, batch, frame_skip = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
q_net = DQN.load(model_zip, device="cpu", buffer_size=1).q_net
ale = ALEInterface()
ale.setLoggerMode(LoggerMode.Error)
ale.loadROM(roms.get_rom_path(gym.spec(env_id).kwargs["game"]))
actions = ale.getMinimalActionSet()
observations = torch.zeros((batch, *q_net.observation_space.shape), dtype=torch.uint8)
emulating = forwarding = 0.0
for first in range(0, steps, batch):
    started = time.perf_counter()
    with torch.inference_mode():
        q_net(observations)
    forwarding += time.perf_counter() - started
    started = time.perf_counter()
    for step in range(first, min(first + batch, steps)):
        for _ in range(frame_skip):
            ale.act(actions[step // 8 % len(actions)])
        if ale.game_over():
            ale.reset_game()
    emulating += time.perf_counter() - started
print(json.dumps({"emulating": emulating, "forwarding": forwarding}))
"""


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    started = time.perf_counter()
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, run.stdout.strip().splitlines()[-1]


def limit(model_zip: Path, steps: int, episodes: int) -> tuple[dict, float]:
    """The limit's processes, one per core, started together: their reports and their whole wall time."""
    cores = os.cpu_count() or 1
    batch = min(SLOTS, math.ceil(episodes / cores))
    shares = [steps // cores + (i < steps % cores) for i in range(cores)]
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", LIMIT, str(model_zip), ENV_ID, str(share), str(batch), str(FRAME_SKIP)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # the ALE's banner
            text=True,
        )
        for share in shares
    ]
    reports = [json.loads(process.communicate()[0].strip().splitlines()[-1]) for process in processes]
    seconds = time.perf_counter() - started
    per_core = list(zip(shares, reports, strict=True))
    return {
        "batch": batch,
        "play_seconds": max(report["emulating"] + report["forwarding"] for report in reports),
        "frames_per_s": statistics.mean(n * FRAME_SKIP / report["emulating"] for n, report in per_core),
        "forward_ms": 1000 * statistics.mean(report["forwarding"] / math.ceil(n / batch) for n, report in per_core),
    }, seconds


def main() -> None:
    parser = argparse.ArgumentParser(prog="python bench/eval_speed.py", description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=8, help="seeded games each side plays (default: 8)")
    parser.add_argument(
        "--stock-threads",
        type=int,
        default=None,
        help="torch threads of stock SB3's process (default: torch's own, one a core; on a machine others share, "
        "its threads wait on each other and stock SB3 slows several-fold, so that 1 gives a steadier baseline)",
    )
    args = parser.parse_args()
    episodes = args.episodes
    model_zip = ROOT / "offline_agents" / ENV_ID / f"dqn-{ENV_ID}.zip"

    stock_env = {**os.environ, "OMP_NUM_THREADS": str(args.stock_threads)} if args.stock_threads else None
    stock_command = [sys.executable, "-c", STOCK_SB3, str(model_zip), str(episodes), ENV_ID]
    stock_seconds, stock_out = timed(stock_command, stock_env)
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
    threads = f", {args.stock_threads} torch thread(s)" if args.stock_threads else ""
    print(f"stock SB3, one by one (whole process{threads}):  {stock_rate:7.1f} steps/s  ({stock_seconds:.1f} s)")
    print(f"python -m agents.evaluate (whole process): {arena_rate:7.1f} steps/s  ({arena_seconds:.1f} s)")
    print(f"ratio (Arena / stock SB3):               {arena_rate / stock_rate:7.2f}x")

    bound, bound_seconds = limit(model_zip, steps, episodes)
    cores, play_rate = os.cpu_count() or 1, steps / bound["play_seconds"]
    print(
        f"the limit on {cores} cores: the ALE at {bound['frames_per_s']:.0f} frames/s per core, {FRAME_SKIP} frames a "
        f"step, + one forward pass of {bound['batch']} observations ({bound['forward_ms']:.2f} ms) a step of its games"
    )
    print(f"  the games alone:                         {play_rate:7.1f} steps/s  ({bound['play_seconds']:.1f} s)")
    print(f"  + start-up (Python, torch, DQN.load):    {steps / bound_seconds:7.1f} steps/s  ({bound_seconds:.1f} s)")
    print(f"the Arena (whole process) / the limit (the games alone): {arena_rate / play_rate:7.2f}")


if __name__ == "__main__":
    main()
