"""Bad luck, not bad input: a video encoder that is missing or dies, state files torn by a crash or a
full disk. Each ends in a message that says what to do, and nothing stops the app from starting."""

import contextlib
import dataclasses
import errno
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import gymnasium as gym
import pytest
from stable_baselines3 import DQN
from stable_baselines3.common.base_class import BaseAlgorithm

from agents.core.agent import load_agent
from agents.core.errors import AgentError
from agents.core.run_folder import RunFolder
from agents.jobs import manager as jobs_module
from agents.jobs.manager import JobManager, JobRecord
from agents.play import video
from agents.play.episode import play_to_folder
from agents.train.training import TrainingSettings, latest_readable_checkpoint
from tests.conftest import small_disk

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def agent(hf_cache):
    return load_agent("SpaceInvaders")


def no_encoder_thread_left() -> bool:
    return not [thread for thread in threading.enumerate() if thread.name == "overlay-encoder"]


def test_a_missing_ffmpeg_is_said_with_what_to_do(agent, tmp_path, monkeypatch):
    monkeypatch.setattr(video, "FFMPEG_BINARY", str(tmp_path / "no-such-ffmpeg"))
    with pytest.raises(AgentError, match=r"ffmpeg .* could not be started.*Install ffmpeg"):
        play_to_folder(agent, tmp_path / "out", seed=0, epsilon=0.0, max_steps=20)
    assert no_encoder_thread_left()


def test_an_ffmpeg_that_dies_is_said_in_its_own_words(agent, tmp_path, monkeypatch):
    dying = tmp_path / "ffmpeg"
    dying.write_text("#!/bin/sh\necho 'segment_00000.ts: No space left on device' >&2\nexit 1\n")
    dying.chmod(0o755)
    monkeypatch.setattr(video, "FFMPEG_BINARY", str(dying))
    full = r"the disk is full \(segment_00000.ts: No space left on device\); nothing of it was kept\. On a Space"
    with pytest.raises(AgentError, match=full):
        play_to_folder(agent, tmp_path / "out", seed=0, epsilon=0.0, max_steps=20)
    assert no_encoder_thread_left() and not (tmp_path / "out" / "episode.mp4").exists()
    dying.write_text("#!/bin/sh\necho '[out#0/tee @ 0x55cbff9058c0] Invalid argument' >&2\nexit 1\n")
    with pytest.raises(AgentError, match=r"ffmpeg stopped \(Invalid argument\)\. \d+ MB are free"):
        play_to_folder(agent, tmp_path / "out", seed=0, epsilon=0.0, max_steps=20)


def test_a_state_file_torn_by_a_crash_does_not_stop_the_app_from_starting(tmp_path):
    """What a kill or an OOM in the middle of a write left behind, before writes were atomic."""
    folder = tmp_path / "jobs" / "job-1"
    folder.mkdir(parents=True)
    (tmp_path / "current").write_text("job-1")
    (folder / "job.json").write_text("")
    jobs = JobManager(tmp_path)
    assert jobs.status() == {"status": "none"} and not jobs.resume_interrupted()
    assert len(list(folder.glob("job.json.unreadable-*"))) == 1  # set aside, not lost

    (folder / "job.json").write_text(json.dumps({"id": "job-1", "settings": {}, "status": "finished"}))
    assert JobManager(tmp_path).status() == {"status": "none"}  # a record with fields missing is set aside too
    assert len(list(folder.glob("job.json.unreadable-*"))) >= 1

    record = JobRecord("job-1", {}, "Pong", "PongNoFrameskip-v4", "cpu", 0, 0.0, None, status="finished")
    (folder / "job.json").write_text(json.dumps(dataclasses.asdict(record)))
    (folder / "progress.json").write_text('{"timesteps": 12')
    assert JobManager(tmp_path).status() == {**dataclasses.asdict(record), "progress": None}
    assert len(list(folder.glob("progress.json.unreadable-*"))) == 1


def test_a_write_that_fails_leaves_the_last_whole_state(tmp_path, monkeypatch):
    path = tmp_path / "progress.json"
    jobs_module._write_state(path, {"timesteps": 100})

    def disk_full(_):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(jobs_module.os, "fsync", disk_full)
    with pytest.raises(OSError):
        jobs_module._write_state(path, {"timesteps": 200})
    assert json.loads(path.read_text()) == {"timesteps": 100}


def test_a_resume_passes_over_a_torn_newest_checkpoint(tmp_path):
    """A checkpoint cut short by a crash or a full disk while it was written: the one before it is used."""
    model = DQN("MlpPolicy", gym.make("CartPole-v1"), buffer_size=1, device="cpu")
    model.save(tmp_path / "rl_model_500_steps.zip")
    model.save(tmp_path / "rl_model_1000_steps.zip")
    whole = (tmp_path / "rl_model_1000_steps.zip").read_bytes()
    (tmp_path / "rl_model_1000_steps.zip").write_bytes(whole[: len(whole) // 2])
    checkpoint, steps = latest_readable_checkpoint(RunFolder(tmp_path, "CartPole-v1"))
    assert steps == 500 and checkpoint.n_actions == 2


def test_a_full_disk_at_a_checkpoint_ends_the_job_with_how_much_is_free(tmp_path, monkeypatch):
    """The job's own process (here, this one) meets ENOSPC when the RL Zoo saves a checkpoint: the job ends
    failed, saying so, and the next job can start."""

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    jobs = JobManager(tmp_path)
    settings = TrainingSettings(
        game="Breakout",
        start="scratch",
        save_freq=300,
        eval_freq=-1,
        hyperparameters={"n_timesteps": 1000, "learning_starts": 500, "buffer_size": 1000},
    )
    record = JobRecord("job-1", dataclasses.asdict(settings), "Breakout", "BreakoutNoFrameskip-v4", "cpu", 0, 0.0, None)
    jobs_module._write_state(tmp_path / "jobs" / "job-1" / "job.json", dataclasses.asdict(record))
    (tmp_path / "current").write_text("job-1")
    monkeypatch.setattr(BaseAlgorithm, "save", disk_full)
    jobs.run_job("job-1", resume=False)
    status = jobs.status()
    assert status["status"] == "failed"
    assert re.fullmatch(r"The disk is full: \d+ MB free, and a checkpoint needs about 30 MB .*", status["error"])
    assert 290 <= status["progress"]["timesteps"] <= 300  # it stopped at the first checkpoint


def _breakout_job(root: Path) -> tuple[JobManager, JobRecord]:
    """A 1,000-step Breakout job with a checkpoint every 300 steps, saved as the app saves a new job."""
    settings = TrainingSettings(
        game="Breakout",
        start="scratch",
        save_freq=300,
        eval_freq=-1,
        hyperparameters={"n_timesteps": 1000, "learning_starts": 500, "buffer_size": 1000},
    )
    record = JobRecord("job-1", dataclasses.asdict(settings), "Breakout", "BreakoutNoFrameskip-v4", "cpu", 0, 0.0, None)
    jobs_module._write_state(root / "jobs" / "job-1" / "job.json", dataclasses.asdict(record))
    (root / "current").write_text("job-1")
    return JobManager(root), record


def _finished_worker(jobs: JobManager, record: JobRecord) -> int:
    """Start the job's worker as the app does, and wait for it and the app's supervisor."""
    jobs._launch(record, resume=False)
    code = jobs.process.wait(timeout=300)
    jobs.supervisor.join(timeout=30)
    return code


@pytest.mark.slow  # two real workers, each loading torch and the ALE: about 25 s
def test_a_real_full_disk_at_a_checkpoint_ends_the_job_saying_so_and_leaves_no_torn_file(tmp_path):
    """A 6 MB disk: the first checkpoint (about 30 MB) fills it while it is written. The torn checkpoint is
    deleted, which frees the room to say why the job ended; no half-written file stays; the next job may start.
    Then a disk full of other files, where not even the failure can be written: the app says it from memory."""
    with small_disk(tmp_path / "disk", 6 * 1024) as disk:
        jobs, record = _breakout_job(disk)
        assert _finished_worker(jobs, record) == 0
        status = jobs.status()
        assert status["status"] == "failed" and not jobs.running()
        assert re.fullmatch(r"The disk is full: \d+ MB free, and a checkpoint needs about 30 MB .*", status["error"])
        left = sorted(path.name for path in disk.rglob("*") if path.is_file())
        assert not [name for name in left if name.endswith((".zip", ".tmp"))], left
        assert shutil.disk_usage(disk).used < 100_000

    with small_disk(tmp_path / "full", 1024, free_kb=0) as disk:
        (disk / "filler").unlink()  # room for the job's record, then full again
        jobs, record = _breakout_job(disk)
        with open(disk / "filler", "wb", buffering=0) as filler, contextlib.suppress(OSError):
            while True:
                filler.write(b"x" * 1024)
        assert _finished_worker(jobs, record) == jobs_module.DISK_FULL_STATUS
        status = jobs.status()
        assert status["status"] == "failed" and status["error"].startswith("The disk is full: 0 MB free")
        assert not [path for path in disk.rglob("*.tmp")]


def _small_disk_command(folder: Path, size_kb: int, inner: list[str]) -> list[str] | None:
    """``inner`` run with a real ``size_kb`` tmpfs mounted on ``folder``: as root directly, else in a user
    and mount namespace of its own (``unshare -rm``); ``None`` where neither is allowed."""
    mount = f"mount -t tmpfs -o size={size_kb}k tmpfs {shlex.quote(str(folder))}"
    script = f"{mount} && exec {shlex.join(inner)}"
    for prefix in (["unshare", "-m"], ["unshare", "-rm"]):
        trial = subprocess.run([*prefix, "sh", "-c", mount], capture_output=True) if shutil.which("unshare") else None
        if trial is not None and trial.returncode == 0:
            return [*prefix, "sh", "-c", script]
    return None


@pytest.mark.slow
def test_a_full_disk_during_play_is_said_in_words(hf_cache, tmp_path):
    """A real disk that fills up while a game's video is written (a 1 MB tmpfs as the temporary folder
    and the output): the command line ends with a message, not a traceback."""
    small = tmp_path / "small-disk"
    small.mkdir()
    play = [sys.executable, "-m", "agents.play", "--game", "SpaceInvaders", "--max-steps", "3000", "--out"]
    command = _small_disk_command(small, 1024, [*play, str(small / "out")])
    if command is None:
        pytest.skip("this machine allows no tmpfs mount, even in a namespace of its own")
    env = {**os.environ, "TMPDIR": str(small)}
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stderr[-2000:]
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    last = run.stderr.strip().splitlines()[-1]
    assert re.fullmatch(r"error: .*No space left on device.*(free some space|disk full).*", last), last
