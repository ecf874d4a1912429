"""Saliency Play on a real game of 10,000 agent steps (the step cap Play allows): its time and peak memory.

    python bench/saliency_long_game.py [--steps 10000]

The shipped Breakout agent's games end within about 800 steps, so this game is made long on purpose: the same
network with the bias of its NOOP output raised by 1,000, so that it always chooses NOOP, and its AtariWrapper
with ``terminal_on_life_loss: False`` (an argument an RL Zoo ``config.yml`` may give, and the Arena accepts).
Breakout's ball is served by FIRE. The wrapper fires once at reset; with a lost life ending no episode, nothing
fires again, so once the ball is lost the game waits for a FIRE that never comes, as the real game does, until
the step cap (with ``terminal_on_life_loss`` on, the reset after each lost life fires and the game ends in about
120 steps). ε is 0, so no random action fires either.

The game is played by Play's own pipeline (``agents.play.episode.play_to_folder``: the network on one thread,
the saliency map every 2nd step, the renderer and ffmpeg writing the video, the CSV and ``saliency.npz``). It
prints the steps played, the seconds, the peak resident memory of this process (``ru_maxrss``) and of ffmpeg,
the resident memory before the game, and the files' sizes. ``--no-trim`` plays it without the periodic
``malloc_trim`` of ``SaliencyTracker`` (``agents.core.memory``), to compare.
"""

import argparse
import dataclasses
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ["HF_HUB_CACHE"] = str(Path(tempfile.mkdtemp(prefix="arena-bench-")) / "hf-cache")  # empty
os.environ["HF_HUB_OFFLINE"] = "1"
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from agents.core.agent import agent_from_files  # noqa: E402
from agents.core.agent_files import offline_agent_files  # noqa: E402
from agents.core.catalog import get_game  # noqa: E402
from agents.core.environment import ATARI_WRAPPER  # noqa: E402
from agents.play import saliency  # noqa: E402
from agents.play.episode import MAX_STEPS_LIMIT, play_to_folder  # noqa: E402

NOOP = 0  # Breakout's actions: NOOP, FIRE, RIGHT, LEFT


def rss_mb() -> float:
    """This process's resident memory now, in MB (from /proc)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=MAX_STEPS_LIMIT)
    parser.add_argument("--no-trim", action="store_true", help="leave glibc's free memory in its heaps")
    args = parser.parse_args()
    if args.no_trim:
        saliency.TRIM_EVERY_MAPS = 0
    game = get_game("Breakout")
    agent = agent_from_files(offline_agent_files(game.env_id), game)
    wrapper = agent.settings.env_wrapper
    kwargs = wrapper[ATARI_WRAPPER] if isinstance(wrapper, dict) else {}
    no_fire = {ATARI_WRAPPER: {**kwargs, "terminal_on_life_loss": False}}
    agent = dataclasses.replace(agent, settings=dataclasses.replace(agent.settings, env_wrapper=no_fire))
    last = [module for module in agent.q_function.network.modules() if isinstance(module, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.bias[NOOP] += 1000.0  # every other output is far below: NOOP always
    samples: list[float] = []

    def sample() -> None:  # the resident memory every 10 s, to see whether it keeps growing or stays bounded
        while True:
            samples.append(rss_mb())
            time.sleep(10)

    threading.Thread(target=sample, daemon=True).start()
    before = rss_mb()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="arena-long-game-") as folder:
        result = play_to_folder(agent, Path(folder), seed=0, epsilon=0.0, max_steps=args.steps, saliency=True)
        seconds = time.perf_counter() - started
        sizes = {path.name: path.stat().st_size / 1e6 for path in Path(folder).iterdir() if path.is_file()}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # kB on Linux
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e3
    actions = result.table["action"].value_counts().to_dict()
    print(f"free memory given back every {saliency.TRIM_EVERY_MAPS or 'no'} maps")
    print(f"steps played: {result.steps:,} (ended by the step cap: {not result.terminated}), actions {actions}")
    print(f"time: {seconds:.0f} s ({result.steps / seconds:.1f} steps/s), torch threads in Play: 1")
    print(f"resident memory: {before:.0f} MB before the game, peak {peak:.0f} MB (ffmpeg's peak {children:.0f} MB)")
    print("resident memory every 10 s, MB: " + " ".join(f"{mb:.0f}" for mb in samples))
    print("files: " + ", ".join(f"{name} {size:.1f} MB" for name, size in sorted(sizes.items())))


if __name__ == "__main__":
    main()
