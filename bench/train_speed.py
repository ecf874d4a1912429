"""Training speed of the Arena's job (with its live progress, as the Train tab polls it) against
``python -m rl_zoo3.train`` with identical hyperparameters, on this machine, in one run.

    python bench/train_speed.py [--steps 6000] [--game Pong]

Both train SB3's DQN from scratch with the RL Zoo's Atari settings and the same overrides
(a short ``learning_starts`` so most steps learn; no evaluation, no checkpoints). Each side runs at
two lengths and its steps/s is the difference, so start-up counts on neither side. The Arena's
side is a :class:`agents.jobs.manager.JobManager` job whose status is read every 2 s, as the page does.

It also checks the time the Train tab announces before a run: the estimate from this machine's
step costs (``agents.train.training_time``, timed as the app times them when an estimate is needed)
against the time both sides took, for the whole longer run (the job) and for the steps between the two
lengths (both); and the job's "time left", read as the page reads it, against the time that was really
left. ``--load N`` runs N busy processes (one core each) beside everything, timing included, for the
same checks on a loaded machine.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from agents.core.catalog import get_game  # noqa: E402
from agents.jobs.manager import JobManager  # noqa: E402
from agents.tabs.train import status_markdown, training_curve  # noqa: E402
from agents.train.hyperparams import rl_zoo_atari_defaults  # noqa: E402
from agents.train.training import TrainingSettings, training_device  # noqa: E402
from agents.train.training_time import format_duration, measure_step_costs_apart  # noqa: E402

OVERRIDES = {"learning_starts": 1000, "buffer_size": 20_000}
WARM_UP_STEPS = 2000


def time_rl_zoo(env_id: str, steps: int, folder: Path) -> float:
    command = [sys.executable, "-m", "rl_zoo3.train", "--algo", "dqn", "--env", env_id, "-f", str(folder)]
    command += [
        "-n",
        str(steps),
        "--eval-freq",
        "-1",
        "--save-freq",
        "-1",
        "--seed",
        "0",
        "--device",
        training_device(),
    ]
    command += ["-params", *(f"{key}:{value}" for key, value in OVERRIDES.items())]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def estimate(costs, steps: int) -> float:
    return costs.estimate_seconds({**rl_zoo_atari_defaults(), **OVERRIDES, "n_timesteps": steps})


def time_job(game: str, steps: int, folder: Path) -> tuple[float, list[tuple[float, float]]]:
    """Seconds of the job's training phase, its status polled every 2 s as the Train tab does, and the
    time left it announced: (seconds into the run, seconds left) at each poll."""
    jobs = JobManager(folder)
    settings = TrainingSettings(
        game=game, start="scratch", hyperparameters={**OVERRIDES, "n_timesteps": steps}, eval_freq=-1, save_freq=-1
    )
    jobs.start(settings)
    announced = []
    while jobs.status()["phase"] == "training":
        status = jobs.status()
        status_markdown(status), training_curve(status)
        progress = status.get("progress") or {}
        if progress.get("seconds_left") is not None:
            announced.append((progress["seconds"], progress["seconds_left"]))
        time.sleep(2)
    status = jobs.wait()
    assert status["status"] == "finished", status.get("error")
    return status["progress"]["seconds"], announced


def time_left_ratios(announced: list[tuple[float, float]], took: float) -> list[float]:
    """Announced / real time left, from a tenth of the run on, while at least 10 s were left."""
    return [left / (took - at) for at, left in announced if at >= took / 10 and took - at >= 10]


def busy_processes(count: int) -> list[subprocess.Popen]:
    """``count`` processes that each keep a core busy: a loaded machine."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python bench/train_speed.py",
        description="Training steps/s of the Train tab's job against python -m rl_zoo3.train with identical "
        "hyperparameters, on this machine, in one run.",
    )
    parser.add_argument("--steps", type=int, default=6000, help="steps of the longer run of each side (default: 6000)")
    parser.add_argument("--game", default="Pong", help="the Atari game to train on (default: Pong)")
    parser.add_argument("--load", type=int, default=0, help="busy processes beside the runs (default: 0, idle)")
    args = parser.parse_args()
    env_id = get_game(args.game).env_id
    work = Path(tempfile.mkdtemp(prefix="arena-train-bench-"))
    extra = args.steps - WARM_UP_STEPS

    load = busy_processes(args.load)
    try:
        costs = measure_step_costs_apart(training_device())
        zoo = (time_rl_zoo(env_id, WARM_UP_STEPS, work / "zoo-a"), time_rl_zoo(env_id, args.steps, work / "zoo-b"))
        (short, _), (long, announced) = (
            time_job(args.game, WARM_UP_STEPS, work / "job-a"),
            time_job(args.game, args.steps, work / "job-b"),
        )
    finally:
        for process in load:
            process.kill()
    ours = (short, long)
    zoo_rate = extra / (zoo[1] - zoo[0])
    ours_rate = extra / (ours[1] - ours[0])
    device = training_device()
    name = torch.cuda.get_device_name(0) if device == "cuda" else f"{os.cpu_count()} CPU cores"
    print(
        f"device: {device} ({name}), {args.load} busy processes beside; {env_id}; overrides {OVERRIDES}; "
        f"steps/s over steps {WARM_UP_STEPS}-{args.steps}"
    )
    print(f"python -m rl_zoo3.train:            {zoo_rate:7.1f} steps/s")
    print(f"Arena job (live progress, polled):  {ours_rate:7.1f} steps/s")
    print(f"ratio (Arena / RL Zoo):             {ours_rate / zoo_rate:7.2f}x")
    whole, between = estimate(costs, args.steps), estimate(costs, args.steps) - estimate(costs, WARM_UP_STEPS)
    print(
        f"announced estimate, whole {args.steps}-step run: {format_duration(whole)} ({whole:.0f} s); the job took "
        f"{ours[1]:.0f} s (estimate / measured {whole / ours[1]:.2f})"
    )
    print(
        f"estimate for steps {WARM_UP_STEPS}-{args.steps}: {between:.0f} s; RL Zoo {zoo[1] - zoo[0]:.0f} s "
        f"({between / (zoo[1] - zoo[0]):.2f}), job {ours[1] - ours[0]:.0f} s ({between / (ours[1] - ours[0]):.2f})"
    )

    ratios = sorted(time_left_ratios(announced, ours[1]))
    if ratios:
        print(
            f"time left announced / really left, {len(ratios)} polls from a tenth of the run on: median "
            f"{ratios[len(ratios) // 2]:.2f}, range {ratios[0]:.2f}-{ratios[-1]:.2f}"
        )


if __name__ == "__main__":
    main()
