"""Play-pipeline speed against the RL Zoo's own video recorder, on the same checkpoint, in one run.

    python bench/play_speed.py [--steps 3000]

Both sides play the same checkpoint, the Arena's shipped Breakout agent (an SB3 DQN CnnPolicy
trained with the RL Zoo's layout, ``offline_agents/``): the Hub is switched off, so this pipeline
finds it as it does offline, and the RL Zoo reads it from a log folder made here.

- the RL Zoo: ``python -m rl_zoo3.record_video`` (environment, inference, rendering and
  moviepy encoding, no overlays), run for a few steps and for ``--steps`` steps; its steps/s is the
  difference between the two, so that interpreter start-up and model loading count on neither side;
- this pipeline: ``agents.play.episode.stream_episode`` (environment, inference, Q-value overlays and
  H.264 encoding), game after game until it has played ``--steps`` steps, the agent already loaded.

It also times the first streamed segment of a game: the request (``agents.tabs.play.play_stream``,
the function the Play button calls) to the first playable video segment, model cached in memory.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(tempfile.mkdtemp(prefix="arena-bench-"))
os.environ["HF_HUB_CACHE"] = str(WORK / "hf-cache")  # empty: the shipped agent is used
os.environ["HF_HUB_OFFLINE"] = "1"
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from agents.core.agent import load_agent  # noqa: E402
from agents.core.agent_files import OFFLINE_AGENTS  # noqa: E402
from agents.play.episode import EpisodeResult, stream_episode  # noqa: E402
from agents.play.rollout import play_episode  # noqa: E402
from agents.tabs.play import play_stream  # noqa: E402

GAME = "Breakout"
ENV_ID = "BreakoutNoFrameskip-v4"
FEW_STEPS = 100


def rl_zoo_log_folder() -> Path:
    """The shipped agent's files laid out as an RL Zoo log folder, which ``record_video`` reads."""
    shipped = OFFLINE_AGENTS / ENV_ID
    run = WORK / "zoo" / "dqn" / f"{ENV_ID}_1"
    (run / ENV_ID).mkdir(parents=True)
    (run / f"{ENV_ID}.zip").write_bytes((shipped / f"dqn-{ENV_ID}.zip").read_bytes())
    for name in ("config.yml", "env_kwargs.yml"):
        (run / ENV_ID / name).write_bytes((shipped / name).read_bytes())
    return WORK / "zoo"


def time_rl_zoo(folder: Path, steps: int) -> float:
    command = [sys.executable, "-m", "rl_zoo3.record_video", "--algo", "dqn", "--env", ENV_ID, "-f", str(folder)]
    command += ["--exp-id", "1", "-n", str(steps), "-o", str(WORK / f"zoo-video-{steps}")]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def time_pipeline(steps: int) -> tuple[int, float]:
    agent = load_agent(GAME)
    played, seed = 0, 0
    started = time.perf_counter()
    while played < steps:
        for item in stream_episode(agent, WORK / f"ours-{seed}", seed=seed, epsilon=0.01, max_steps=steps - played):
            if isinstance(item, EpisodeResult):
                played += item.steps
        seed += 1
    return played, time.perf_counter() - started


def time_rollout_alone(steps: int) -> float:
    """Steps/s of the environment and the network alone, no overlays or video: the floor under both."""
    agent = load_agent(GAME)
    torch.set_num_threads(1)  # as stream_episode sets it
    played, seed = 0, 0
    started = time.perf_counter()
    while played < steps:
        played += sum(1 for _ in play_episode(agent.q_function, agent.settings, seed, 0.01, steps - played))
        seed += 1
    return played / (time.perf_counter() - started)


def time_first_segment(repeats: int = 5) -> list[float]:
    times = []
    for seed in range(repeats):
        started = time.perf_counter()
        stream = play_stream(GAME, None, seed, 0.01, 10_000, False)
        segment, _ = next(stream)
        times.append(time.perf_counter() - started)
        assert segment is not None and segment.exists()
        stream.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python bench/play_speed.py",
        description="Steps/s of the Play pipeline against python -m rl_zoo3.record_video on the same checkpoint, "
        "in one run, and the time from a Play request to the first streamed video segment.",
    )
    parser.add_argument("--steps", type=int, default=3000, help="steps each side plays (default: 3000)")
    steps = parser.parse_args().steps
    folder = rl_zoo_log_folder()
    load_agent(GAME)  # load once, as the app keeps it in memory

    zoo_few = time_rl_zoo(folder, FEW_STEPS)
    zoo_many = time_rl_zoo(folder, steps)
    zoo_rate = (steps - FEW_STEPS) / (zoo_many - zoo_few)
    played, ours_seconds = time_pipeline(steps)
    ours_rate = played / ours_seconds
    floor_rate = time_rollout_alone(steps)
    first = time_first_segment()

    print(f"machine: {os.cpu_count()} CPU cores; shipped DQN agent, {ENV_ID}; {steps} steps each")
    print(f"rl_zoo3.record_video (no overlays):  {zoo_rate:7.1f} steps/s   ({zoo_many:.1f} s for the whole command)")
    print(f"this pipeline (overlays + H.264):    {ours_rate:7.1f} steps/s   ({ours_seconds:.1f} s, {played} steps)")
    print(f"environment + network alone:         {floor_rate:7.1f} steps/s   (no overlays, no video: the floor)")
    print(f"ratio (this pipeline / RL Zoo):      {ours_rate / zoo_rate:7.2f}x")
    print(f"ratio (floor / RL Zoo):              {floor_rate / zoo_rate:7.2f}x")
    print(
        f"first streamed segment after the request, model cached: median {statistics.median(first):.2f} s, "
        f"max {max(first):.2f} s over {len(first)} requests"
    )


if __name__ == "__main__":
    main()
