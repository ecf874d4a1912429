"""Leaderboard workers on a real PostgreSQL server (started as in ``test_tune_distributed.py``), each a
separate ``python -m agents.leaderboard worker`` process: a worker killed mid-evaluation, then two more
draining the queue. Every submission is evaluated exactly once, the killed one's taken over when its
lease runs out."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agents.leaderboard import store
from tests.test_tune_distributed import postgres_url  # noqa: F401 (the fixture)

ROOT = Path(__file__).resolve().parents[1]
LEASE_S = 10


def cli_env(url: str) -> dict:
    settings = {"ARENA_LEADERBOARD_GAMES": "2", "ARENA_LEADERBOARD_MAX_STEPS": "300", "OMP_NUM_THREADS": "1"}
    return {**os.environ, **settings, "ARENA_LEADERBOARD_LEASE_S": str(LEASE_S), store.DATABASE_VARIABLE: url}


def submit(url: str, repo_id: str) -> dict:
    command = [sys.executable, "-m", "agents.leaderboard", "submit", "--repo-id", repo_id]
    done = subprocess.run(command, cwd=ROOT, env=cli_env(url), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def worker(url: str, *options: str) -> subprocess.Popen:
    """A worker in a process group of its own, so that killing it kills its evaluation's processes too."""
    command = [sys.executable, "-m", "agents.leaderboard", "worker", *options]
    return subprocess.Popen(
        command, cwd=ROOT, env=cli_env(url), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip


def log_of(process: subprocess.Popen) -> dict:
    stdout, stderr = process.communicate(timeout=400)
    assert process.returncode == 0, stderr[-3000:]
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_killed_workers_submission_is_taken_over_and_each_is_evaluated_once(postgres_url, hf_cache):  # noqa: F811
    url = store.database_url(postgres_url)
    submit(postgres_url, "tester/qrdqn-SpaceInvadersNoFrameskip-v4")  # and the board's two references
    submit(postgres_url, "sb3/dqn-PongNoFrameskip-v4")  # and Pong's random agent
    entries = [entry.id for entry in store.everything(url)]
    assert len(entries) == 5

    doomed = worker(postgres_url)
    deadline = time.monotonic() + 120
    while not (held := [e for e in store.waiting(url) if e.worker and f":{doomed.pid}:" in e.worker]):
        assert time.monotonic() < deadline and doomed.poll() is None, doomed.stderr.read()[-3000:]
        time.sleep(0.2)
    time.sleep(2)  # its evaluation under way
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait()
    assert store.get(url, held[0].id).state == store.RUNNING  # left held by a dead worker

    first, second = worker(postgres_url, "--drain"), worker(postgres_url, "--drain")
    logs = [log_of(first), log_of(second)]
    finished = [entry for log in logs for entry in log["finished"]]
    assert sorted(finished) == entries, logs  # each once, by one of the two
    assert all(log["finished"] for log in logs) and not any(log["lost"] or log["failed"] for log in logs), logs
    rows = {entry.id: entry for entry in store.everything(url)}
    assert all(entry.state == store.DONE and len(entry.scores) == 2 for entry in rows.values())
    assert rows[held[0].id].attempts == 2 and rows[held[0].id].worker != held[0].worker
    assert all(entry.attempts == 1 for entry in rows.values() if entry.id != held[0].id)
