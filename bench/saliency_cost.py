"""What perturbation saliency (``agents.play.saliency``) costs a game played step by step, on this machine.

    python bench/saliency_cost.py [--steps 300]

The Arena's shipped Breakout agent (``offline_agents/``, an SB3 DQN CnnPolicy; the Hub is switched
off) plays ``--steps`` agent steps in each of these ways, one after the other in one run:

- environment + network only: observation, Q-values, action, ``env.step``, the screen read;
- the same with a saliency map (Greydanus et al.'s defaults: 289 perturbed inputs in one batched
  forward) blended over the screen at every step, every 2nd step, every 4th step
  (``SaliencyTracker``, which holds the last map between computed ones).

Each is timed with torch's default number of threads, then with one thread (as the Play pipeline
runs its network, ``agents.play.episode``). A game plays in real time at 60 frames/s, i.e. 15 agent
steps/s with the agent's frame skip of 4: the bench says which ways keep ahead of it, and, from the
measured cost of one map, the smallest ``every`` that would.
"""

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ["HF_HUB_CACHE"] = str(Path(tempfile.mkdtemp(prefix="arena-bench-")) / "hf-cache")  # empty
os.environ["HF_HUB_OFFLINE"] = "1"
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from agents.core.agent import Agent, agent_from_files  # noqa: E402
from agents.core.agent_files import offline_agent_files  # noqa: E402
from agents.core.catalog import get_game  # noqa: E402
from agents.core.environment import make_env  # noqa: E402
from agents.play.saliency import SaliencySettings, SaliencyTracker, grid_centres  # noqa: E402

GAME = "Breakout"
ATARI_FPS = 60
EVERY = (1, 2, 4)
WARM_UP_STEPS = 5


def steps_per_second(agent: Agent, steps: int, every: int | None) -> float:
    """Agent steps/s over ``steps`` steps (ε = 0.01, as the RL Zoo plays); ``every`` None: no saliency."""
    q_function = agent.q_function
    tracker = SaliencyTracker(q_function, SaliencySettings(every=every)) if every else None
    rng = np.random.default_rng(0)
    env = make_env(agent.settings, seed=0)
    try:
        ale = env.get_attr("ale")[0]
        observation = env.reset()
        for index in range(-WARM_UP_STEPS, steps):  # the first steps (allocations, caches) are not timed
            if index == 0:
                started = time.perf_counter()
            screen = ale.getScreenRGB()
            q_values = q_function(observation)[0]
            if tracker is not None:
                tracker.update(index, observation[0])
                tracker.blend(screen)
            action = int(rng.integers(q_function.n_actions)) if rng.random() < 0.01 else int(np.argmax(q_values))
            observation, _, _, _ = env.step(np.array([action]))  # a finished game restarts by itself
        return steps / (time.perf_counter() - started)
    finally:
        env.close()


def report(agent: Agent, steps: int, threads_label: str) -> None:
    real_time = ATARI_FPS / agent.settings.frame_skip
    plain = steps_per_second(agent, steps, None)
    rates = {every: steps_per_second(agent, steps, every) for every in EVERY}

    def line(label: str, rate: float) -> str:
        verdict = "ahead of real time" if rate >= real_time else "BEHIND real time"
        return f"  {label:<36} {rate:7.1f} steps/s  ({rate / real_time:4.2f}x real time: {verdict})"

    print(f"torch threads: {threads_label}")
    print(line("environment + network only", plain))
    for every, rate in rates.items():
        print(line(f"+ saliency map every {every} step{'s' if every > 1 else ''}", rate))
    step_cost, map_cost = 1 / plain, 1 / rates[1] - 1 / plain
    fastest_ok = [every for every, rate in rates.items() if rate >= real_time]
    print(f"  one saliency map + blend costs {map_cost * 1000:.1f} ms; a step without it {step_cost * 1000:.1f} ms")
    print(f"  smallest measured `every` ahead of real time: {fastest_ok[0] if fastest_ok else 'none of ' + str(EVERY)}")
    if step_cost < 1 / real_time:
        needed = max(1, math.ceil(map_cost / (1 / real_time - step_cost)))
        print(f"  smallest `every` ahead of real time, from these costs: {needed}")
    else:
        print("  even without saliency this is behind real time")


def load_average() -> str:
    """The system's 1, 5 and 15 minute load averages, to judge how busy the machine was."""
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python bench/saliency_cost.py",
        description="Agent steps/s with perturbation saliency every 1, 2 and 4 steps against none, "
        "on the shipped Breakout agent, with torch's default threads and with one.",
    )
    parser.add_argument("--steps", type=int, default=300, help="agent steps each way plays (default: 300)")
    steps = parser.parse_args().steps
    game = get_game(GAME)
    files = offline_agent_files(game.env_id)
    if files is None:
        sys.exit(f"offline_agents/ holds no {game.env_id} agent")
    agent = agent_from_files(files, game)
    settings = SaliencySettings()
    side = len(grid_centres(84, settings.stride))
    print(
        f"machine: {os.cpu_count()} CPU cores, torch {torch.__version__}; shipped DQN agent, {game.env_id}; "
        f"{steps} steps each; real time = {ATARI_FPS} frames/s / frame skip {agent.settings.frame_skip} = "
        f"{ATARI_FPS / agent.settings.frame_skip:.0f} steps/s"
    )
    print(
        f"saliency: radius {settings.radius:g} px, stride {settings.stride} px ({side}x{side} = {side * side} "
        f"perturbed inputs + 1, one batched forward), blur sigma {settings.blur_sigma:g}, "
        "all 4 stacked frames perturbed"
    )
    print(f"load average before: {load_average()} (other processes slow every line below)")
    default_threads = torch.get_num_threads()
    report(agent, steps, f"{default_threads} (torch's default)")
    torch.set_num_threads(1)
    try:
        report(agent, steps, "1 (as the Play pipeline runs its network)")
    finally:
        torch.set_num_threads(default_threads)
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
