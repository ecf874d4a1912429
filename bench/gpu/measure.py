"""Training steps/s on this machine, each for the same wall-clock slice, in one run: the RL Zoo's own
``python -m rl_zoo3.train``, the Arena's Train-tab job with the same hyperparameters, and the job with
the fast preset (``n_envs`` environments in processes of their own, ``gradient_steps`` as many times
larger, so the same replay ratio). Made for the GPU machine (``bench/gpu/run.sh``); runs anywhere.

    python bench/gpu/measure.py [--slice 120] [--learning-starts 2000] [--n-envs N]

All three use the RL Zoo's DQN Atari hyperparameters (its ``hyperparams/dqn.yml``) with one change,
``learning_starts`` (100,000 there: that much random play, no gradient step, would fill a short
slice), and no evaluation or checkpoints. Each starts, runs for ``--slice`` seconds of wall clock and
is stopped; its rate is taken between two (timesteps, time) readings, the first at least a third of
the slice in and past ``learning_starts``, the last just before the stop, so start-up, random play
and stopping count on none of them. The RL Zoo's readings are its own logger's ``total_timesteps``
lines (one per episode, ``--log-interval 1``), timed as they are printed; the job's are its
``progress.json`` (``timesteps`` and ``seconds``, saved every 2 s), read as the Train tab reads it.

The last line of stdout is one JSON summary, also written to ``$OUT/gpu.json`` when ``$OUT`` is set.
"""

import argparse
import importlib.metadata
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

# moviepy.config (agents.play.video imports it) asks imageio-ffmpeg for its ffmpeg binary at import time.
# That wheel is ~30 MB of ffmpeg and is not carried; nothing here encodes video, so without it moviepy
# is told to look for a system ffmpeg instead (and to say "unset" if there is none). The job's worker
# inherits this.
if importlib.util.find_spec("imageio_ffmpeg") is None:
    os.environ.setdefault("FFMPEG_BINARY", "auto-detect")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the GPU machine has no network; nothing here needs the Hub

import torch  # noqa: E402

from agents.core.catalog import get_game  # noqa: E402
from agents.jobs.manager import JobManager  # noqa: E402
from agents.train import hyperparams  # noqa: E402
from agents.train.training import TrainingSettings, training_device  # noqa: E402

GAME = "Pong"
POLL_S = 1.0
STOP_WAIT_S = 60
TARGETS = {"job": 1.0, "fast_preset": 4.0}  # least ratio to the RL Zoo's steps/s
PROGRESS_FIELDS = ("parameter_device", "cuda_max_memory_bytes")
VERSIONS = (
    "torch",
    "stable_baselines3",
    "sb3_contrib",
    "rl_zoo3",
    "gymnasium",
    "ale_py",
    "huggingface_hub",
    "numpy",
    "opencv-python-headless",
)
TIMESTEPS_LINE = re.compile(r"\|\s*total_timesteps\s*\|\s*(\d+)\s*\|")


def log(message: str) -> None:
    print(f"[measure {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def windowed_rate(samples: list[tuple[float, int]], slice_s: float, learning_starts: int) -> dict[str, Any]:
    """Steps/s between the first reading at least a third of the slice in and past ``learning_starts``,
    and the last reading. ``samples`` are (seconds since the launch, timesteps)."""
    learning = [(t, steps) for t, steps in samples if steps > learning_starts]
    late = [(t, steps) for t, steps in learning if t >= slice_s / 3]
    window = late if len(late) >= 2 else learning  # a slow machine: all of the learning readings
    if len(window) < 2 or window[-1][0] <= window[0][0]:
        return {
            "steps_per_second": None,
            "error": f"fewer than two readings past learning_starts ({len(learning)} of {len(samples)})",
            "readings": len(samples),
        }
    (t0, s0), (t1, s1) = window[0], window[-1]
    return {
        "steps_per_second": round((s1 - s0) / (t1 - t0), 1),
        "window_s": [round(t0, 1), round(t1, 1)],
        "window_timesteps": [s0, s1],
        "readings": len(samples),
        "readings_in_window": len(window),
        "whole_window_after_a_third": window is late,
    }


def measure_rl_zoo(env_id: str, overrides: dict[str, Any], slice_s: float, folder: Path) -> dict[str, Any]:
    """``python -m rl_zoo3.train`` for ``slice_s`` seconds, its logger's timesteps timed as printed."""
    command = [sys.executable, "-m", "rl_zoo3.train", "--algo", "dqn", "--env", env_id, "-f", str(folder)]
    command += ["--eval-freq", "-1", "--save-freq", "-1", "--seed", "0", "--device", training_device()]
    command += ["--log-interval", "1", "--verbose", "1"]
    command += ["-params", *(f"{name}:{value}" for name, value in overrides.items())]
    log(f"RL Zoo: {' '.join(command[1:])}")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    samples: list[tuple[float, int]] = []
    tail: list[str] = []
    started = time.monotonic()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True
    )

    def read() -> None:
        for line in process.stdout:
            match = TIMESTEPS_LINE.search(line)
            if match:
                samples.append((time.monotonic() - started, int(match.group(1))))
            tail.append(line.rstrip())
            del tail[:-40]

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    while time.monotonic() - started < slice_s and process.poll() is None:
        time.sleep(0.2)
    early_exit = process.poll()
    if early_exit is None:
        os.killpg(process.pid, signal.SIGKILL)  # no model saving: nothing of it is measured
    process.wait()
    reader.join(10)
    result = {
        "command": " ".join(["python", *command[1:]]),
        **windowed_rate(samples, slice_s, overrides["learning_starts"]),
    }
    result["timesteps_at_stop"] = samples[-1][1] if samples else 0
    if early_exit is not None:
        result["error"] = f"rl_zoo3.train exited early ({early_exit}): " + " / ".join(tail[-8:])
    log(f"RL Zoo: {result.get('steps_per_second')} steps/s ({result['readings']} readings)")
    return result


def measure_job(game: str, overrides: dict[str, Any], slice_s: float, folder: Path, label: str) -> dict[str, Any]:
    """The Arena's job (as the Train tab starts it) for ``slice_s`` seconds, its progress.json read
    every second; then cancelled, as the Cancel button does, and waited for."""
    jobs = JobManager(folder)
    settings = TrainingSettings(game=game, start="scratch", hyperparameters=overrides, eval_freq=-1, save_freq=-1)
    log(f"{label}: job with {overrides}")
    started = time.monotonic()
    jobs.start(settings)
    samples: list[tuple[float, int]] = []
    first_seconds: tuple[float, float] | None = None  # (launch-relative, progress "seconds") at the first reading
    progress: dict[str, Any] = {}
    while time.monotonic() - started < slice_s and jobs.running():
        status = jobs.status()
        progress = status.get("progress") or progress
        if status.get("progress"):
            now = time.monotonic() - started
            if first_seconds is None:
                first_seconds = (now, progress["seconds"])
            # The snapshot's own clock, put on the launch's: exact (time, steps) pairs, not our reading time.
            moment = first_seconds[0] + progress["seconds"] - first_seconds[1]
            if not samples or progress["timesteps"] != samples[-1][1]:
                samples.append((moment, progress["timesteps"]))
        time.sleep(POLL_S)
    if jobs.running():
        jobs.cancel()
    status = jobs.wait(STOP_WAIT_S)
    if jobs.running():  # not stopped in time: ended, so that the next run has the machine to itself
        os.killpg(jobs.process.pid, signal.SIGKILL)
        status = {**jobs.wait(STOP_WAIT_S), "error": f"did not stop within {STOP_WAIT_S} s of the cancel; killed"}
    stopped_s = time.monotonic() - started - slice_s
    progress = status.get("progress") or progress
    result = windowed_rate(samples, slice_s, overrides["learning_starts"])
    result["steps_per_second_reported"] = round(progress.get("steps_per_second") or 0.0, 1)
    result["timesteps_at_stop"] = progress.get("timesteps", 0)
    result["status"] = status.get("status")
    result["stop_seconds"] = round(stopped_s, 1)
    if status.get("error"):
        result["error"] = status["error"]
    for name in PROGRESS_FIELDS:
        result[name] = progress.get(name)
    missing = [name for name in PROGRESS_FIELDS if name not in progress]
    if missing:
        result["missing_progress_fields"] = missing
    log(f"{label}: {result.get('steps_per_second')} steps/s, {result['status']}, on {result['parameter_device']}")
    return result


def fast_preset_overrides(base: dict[str, Any], cores: int, n_envs: int | None) -> tuple[dict[str, Any], int] | None:
    """The fast preset's changes to the RL Zoo's values, and its n_envs; None before agents.train.hyperparams has it."""
    if not hasattr(hyperparams, "fast_preset"):
        return None
    values = {**hyperparams.rl_zoo_atari_defaults(), **base}
    if n_envs is None:  # as the Train tab picks it when it has fast_n_envs, else one per core
        n_envs = hyperparams.fast_n_envs(values, cores) if hasattr(hyperparams, "fast_n_envs") else cores
    preset = hyperparams.fast_preset(values, n_envs)
    rl_zoo = hyperparams.rl_zoo_atari_defaults()
    changes = {name: value for name, value in preset.items() if rl_zoo.get(name) != value}
    return changes, n_envs


def versions() -> dict[str, str | None]:
    found = {}
    for name in VERSIONS:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def ratio(rate: float | None, reference: float | None) -> float | None:
    return round(rate / reference, 2) if rate and reference else None


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python bench/gpu/measure.py",
        description="Training steps/s of python -m rl_zoo3.train, the Arena's job and its fast preset, each "
        "for the same wall-clock slice, on this machine; one JSON summary as the last line.",
    )
    parser.add_argument("--slice", type=float, default=120, help="seconds each of the three runs (default: 120)")
    parser.add_argument("--learning-starts", type=int, default=2000, help="for all three (default: 2000)")
    parser.add_argument("--n-envs", type=int, help="the fast preset's environments (default: as the Train tab picks)")
    parser.add_argument("--game", default=GAME, help=f"the Atari game (default: {GAME})")
    args = parser.parse_args()
    began = time.monotonic()
    cuda = torch.cuda.is_available()
    cores = os.cpu_count() or 1
    env_id = get_game(args.game).env_id
    base = {"learning_starts": args.learning_starts}
    work = Path(tempfile.mkdtemp(prefix="arena-gpu-bench-"))
    log(f"device {training_device()}, {cores} cores, slice {args.slice:g} s, work folder {work}")

    summary: dict[str, Any] = {
        "what": "training steps/s, each run for the same wall-clock slice; rate over its later part",
        "cuda": cuda,
        "figures_are": "GPU (CUDA) figures" if cuda else "CPU figures: CUDA is not available here",
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "torch": torch.__version__,
        "cores": cores,
        "slice_s": args.slice,
        "rate_window": "from the first reading >= slice/3 in and past learning_starts, to the last before the stop",
        "game": env_id,
        "hyperparameters": "the RL Zoo's dqn.yml 'atari' entry with the overrides below",
        "overrides": base,
        "overrides_note": (
            f"learning_starts {args.learning_starts:,} instead of the RL Zoo's 100,000 for all three, so that "
            "each slice measures learning (gradient steps), not random play; no evaluation, no checkpoints"
        ),
        "versions": versions(),
        "ffmpeg_binary": os.environ.get("FFMPEG_BINARY"),
    }
    zoo = measure_rl_zoo(env_id, base, args.slice, work / "zoo")
    summary["rl_zoo"] = zoo
    job = measure_job(args.game, base, args.slice, work / "job", "Arena job")
    job["ratio_to_rl_zoo"] = ratio(job["steps_per_second"], zoo["steps_per_second"])
    summary["job"] = job
    preset = fast_preset_overrides(base, cores, args.n_envs)
    if preset is None:
        summary["fast_preset"] = {"skipped": "agents.train.hyperparams.fast_preset is not there yet"}
    else:
        changes, n_envs = preset
        fast = measure_job(args.game, changes, args.slice, work / "fast", f"Fast preset ({n_envs} envs)")
        fast = {"n_envs": n_envs, "overrides": changes, **fast}
        fast["ratio_to_rl_zoo"] = ratio(fast["steps_per_second"], zoo["steps_per_second"])
        summary["fast_preset"] = fast
    summary["targets"] = {f"{name}_ratio_at_least": least for name, least in TARGETS.items()}
    summary["targets_met"] = {
        name: (summary[name].get("ratio_to_rl_zoo") or 0) >= least
        for name, least in TARGETS.items()
        if "skipped" not in summary[name]
    }
    summary["total_s"] = round(time.monotonic() - began, 1)
    line = json.dumps(summary)
    if os.environ.get("OUT"):
        try:
            Path(os.environ["OUT"]).mkdir(parents=True, exist_ok=True)
            Path(os.environ["OUT"], "gpu.json").write_text(json.dumps(summary, indent=1) + "\n")
        except OSError as error:
            log(f"could not write $OUT/gpu.json: {error}")
    print(line, flush=True)


if __name__ == "__main__":
    main()
