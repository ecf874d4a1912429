"""An evaluation worker: takes submissions from the queue one at a time and measures them on their protocol.

The app runs one in a thread (unless ``ARENA_LEADERBOARD_WORKER=0``); more run anywhere the database is
reachable, as ``python -m agents.leaderboard worker --database postgresql://...``. Each submission's games are
played by :func:`agents.evaluate.evaluation.evaluate_files` over this machine's cores, on the seeds drawn when
it was submitted. The lease is renewed from a thread while the games run; a worker that loses it (it stalled past
the lease and another worker took over) drops its result.
"""

import os
import socket
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa

from agents.core.catalog import get_game
from agents.core.errors import AgentError
from agents.core.numbers import OwnerSetting
from agents.evaluate.evaluation import evaluate_files
from agents.leaderboard import store
from agents.leaderboard.board import agent_files_at

# A dead worker's submission waits this long at most before another worker takes it over.
LEASE = OwnerSetting("ARENA_LEADERBOARD_LEASE_S", 120, 4, 86_400, whole=False, unit="seconds")
POLL_S = 2.0


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class WorkerLog:
    """What a worker did: the entries it finished, failed, and lost to another worker."""

    name: str
    finished: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)


def _keep_lease(url: str, entry: store.Submission, worker: str, lease_s: float, done: threading.Event) -> None:
    """Renew the lease a few times per lease until ``done``: a live worker keeps its submission however slowly
    its games start; a dead one stops renewing."""
    while not done.wait(lease_s / 4):
        store.renew(url, entry.id, worker, lease_s)


def evaluate_entry(url: str, entry: store.Submission, log: WorkerLog, lease_s: float) -> None:
    """Play the entry's games and record them, while this worker still holds it (renewing its lease)."""
    game = get_game(entry.game)
    done = threading.Event()
    threading.Thread(target=_keep_lease, args=(url, entry, log.name, lease_s, done), daemon=True).start()
    try:
        files = agent_files_at(entry, game)
        evaluation = evaluate_files(files, game, len(entry.seeds), entry.epsilon, entry.max_steps, entry.seeds[0])
    except Exception as error:  # the entry fails with the reason shown; the worker goes on with the next
        if not isinstance(error, AgentError):
            traceback.print_exception(error)
        reason = str(error) if isinstance(error, AgentError) else f"{type(error).__name__}: {error}"
        if store.fail(url, entry.id, log.name, reason):
            log.failed.append(entry.id)
        return
    finally:
        done.set()
    recorded = store.finish(
        url,
        entry.id,
        log.name,
        scores=evaluation.scores,
        episode_steps=evaluation.episode_steps,
        game_over=evaluation.terminated,
        mean=evaluation.mean,
        std=evaluation.std,
        median=evaluation.statistics()["median"],
        standard_error=evaluation.standard_error,
        seconds=evaluation.seconds,
    )
    (log.finished if recorded else log.lost).append(entry.id)


def run_worker(url: str, drain: bool = False) -> WorkerLog:
    """Evaluate submissions as they come; with ``drain``, return once nothing is waiting or held by any worker
    (a dead worker's submission is waited for until its lease runs out, then taken over)."""
    log, lease_s = WorkerLog(worker_name()), LEASE.value()
    while True:
        try:
            entry = store.claim(url, log.name, lease_s)
            if entry is not None:
                evaluate_entry(url, entry, log, lease_s)
                continue
            if drain and not store.waiting(url):
                return log
        except sa.exc.OperationalError as error:  # the database out of reach a moment: a lease outlasts it
            print(f"Leaderboard worker {log.name}: the database did not answer ({error})", file=sys.stderr, flush=True)
        time.sleep(POLL_S)


def start_background_worker(url: str) -> threading.Thread:
    """The app's own worker, in a thread that dies with the app (its submission is then taken over by the next)."""
    thread = threading.Thread(target=run_worker, args=(url,), name="leaderboard-worker", daemon=True)
    thread.start()
    return thread
