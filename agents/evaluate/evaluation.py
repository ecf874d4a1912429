"""Score an agent over seeded games with the Play pipeline's rollout, in parallel over the machine's cores.

This module stays light (no torch): the command line starts the workers before anything heavy loads.
The games are shared out among worker processes (one per core, forked from a server that imported torch once:
:mod:`agents.evaluate.worker`),
each loading the agent from its files with the same safe loader and playing its games with
:func:`agents.play.rollout.play_games`, a few at a time with one forward pass for all of them, no screens
and no video. The game with seed ``k`` is the one Play shows for seed ``k``, whatever the number of
games or workers. Progress (games finished, steps/s) is read from the workers as they play.
"""

import argparse
import datetime
import errno
import itertools
import json
import os
import queue
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from agents.core.catalog import Game
from agents.core.data_root import PROJECT_ROOT
from agents.core.errors import AgentError
from agents.core.hub import AgentFiles
from agents.core.numbers import MAX_SEED, user_number
from agents.core.stopping import check_stop

if TYPE_CHECKING:  # only types here: importing the loader (torch), or pandas, would slow the command line's start
    import pandas as pd

    from agents.core.agent import Agent

EVAL_EPSILON = 0.01  # as the RL Zoo evaluates Atari agents: stochastically, with the final ε
EVAL_MAX_STEPS = 27_000  # agent steps = 108,000 frames, the usual Atari limit
MAX_EPISODES = 100
SLOTS = 4  # games each worker keeps in play at once, their observations in one batch
STOP_POLL_S = 0.2  # how often the evaluation looks whether its request has ended (agents.core.stopping)

EvaluationProgress = Callable[[int, int, float], None]  # games finished, games in all, steps/s


@dataclass(frozen=True)
class Evaluation:
    """Whole games, one per seed, in seed order."""

    scores: list[float]
    seeds: list[int]
    epsilon: float
    episode_steps: list[int] = field(default_factory=list)
    terminated: list[bool] = field(default_factory=list)  # game over, rather than stopped at the step cap
    max_steps: int = EVAL_MAX_STEPS
    seconds: float = 0.0

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores))

    @property
    def std(self) -> float:
        return float(np.std(self.scores))

    @property
    def standard_error(self) -> float:
        """Of the mean: how far it could be from the agent's true mean score, by chance of the seeds."""
        return float(np.std(self.scores, ddof=1) / np.sqrt(len(self.scores))) if len(self.scores) > 1 else 0.0

    def statistics(self) -> dict[str, float]:
        """Mean ± std, median, min, max, and mean − std, the number the Deep RL course grades on."""
        return {
            "mean": self.mean,
            "std": self.std,
            "median": float(statistics.median(self.scores)),
            "min": float(min(self.scores)),
            "max": float(max(self.scores)),
            "mean_minus_std": self.mean - self.std,
        }

    def results_json(self) -> dict:
        """The ``results.json`` the RL Zoo writes beside a Hub model."""
        return {
            "mean_reward": self.mean,
            "std_reward": self.std,
            "is_deterministic": self.epsilon == 0.0,
            "n_eval_episodes": len(self.scores),
            "eval_datetime": datetime.datetime.now().isoformat(),
        }

    def table(self) -> "pd.DataFrame":
        """One row per game: seed, score, length in agent steps, and whether it ended in game over."""
        import pandas as pd

        return pd.DataFrame(
            {"seed": self.seeds, "score": self.scores, "steps": self.episode_steps, "game_over": self.terminated}
        )


def write_evaluation(evaluation: Evaluation, folder: Path) -> tuple[Path, Path]:
    """Write what the RL Zoo writes (``results.json``) and a CSV with a row per game; returns their paths."""
    folder = Path(folder)
    results, games = folder / "results.json", folder / "games.csv"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        results.write_text(json.dumps(evaluation.results_json()))
        evaluation.table().to_csv(games, index=False)
    except OSError as error:
        for written in (results, games):  # half a file is worse than none
            written.unlink(missing_ok=True)
        stats = evaluation.statistics()
        full = error.errno in (errno.ENOSPC, errno.EDQUOT)
        reason = "the disk is full" if full else error.strerror or type(error).__name__
        raise AgentError(
            f"The {len(evaluation.scores)} games were played (mean {stats['mean']:.1f} ± {stats['std']:.1f}), but "
            f"their files (results.json, games.csv) could not be written: {reason}. "
            + (
                "Free some disk space, or on a Space try again in a while (old results are deleted after a time)."
                if full
                else "Check that the output folder can be written, then run it again."
            )
        ) from None
    return results, games


def add_protocol_arguments(parser: argparse.ArgumentParser) -> None:
    """The evaluation protocol's options, the same for every command line that scores games."""
    parser.add_argument("--episodes", type=int, default=10, help=f"games to play, 1 to {MAX_EPISODES} (default: 10)")
    parser.add_argument("--first-seed", type=int, default=0, help="seed of the first game; then +1 (default: 0)")
    parser.add_argument(
        "--epsilon", type=float, default=EVAL_EPSILON, help="exploration rate, 0 = greedy (default: 0.01, the RL Zoo's)"
    )
    parser.add_argument(
        "--max-steps",
        type=int,
        default=EVAL_MAX_STEPS,
        help=f"step cap per game in agent steps (default: {EVAL_MAX_STEPS} = 108,000 frames)",
    )


def printed_games() -> EvaluationProgress:
    """A ``progress`` for command lines: games finished and steps/s, a line on stderr each report."""
    return lambda finished, total, rate: print(
        f"{finished}/{total} games finished, {rate:.0f} steps/s", file=sys.stderr, flush=True
    )


def check_evaluation_inputs(
    n_episodes: float, first_seed: float, epsilon: float, max_steps: float
) -> tuple[int, int, float, int]:
    """The numbers a user typed for an evaluation, checked once, as the rollout takes them."""
    return (
        user_number("number of games", n_episodes, 1, MAX_EPISODES, whole=True),
        user_number("first seed", first_seed, 0, MAX_SEED - MAX_EPISODES, whole=True),
        user_number("epsilon", epsilon, 0.0, 1.0, whole=False, hint="It is a probability: 0 is greedy, e.g. 0.01."),
        user_number("step cap", max_steps, 1, 100_000, whole=True),
    )


class _WorkerServer:
    """The server the workers are forked from (:mod:`agents.evaluate.worker` says why), started by this process's
    first evaluation and kept for the next ones; a thread hands each line it writes to its worker's queue."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "agents.evaluate.worker"],
            cwd=PROJECT_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # the ALE's banners; a worker's failure comes as a message
        )
        self.lock = threading.Lock()
        self.inboxes: dict[int, queue.Queue] = {}
        self.ids = itertools.count()
        threading.Thread(target=self._hand_out, daemon=True, name="evaluation-workers").start()

    def _hand_out(self) -> None:
        for line in self.process.stdout:
            if line.startswith(b"{"):
                message = json.loads(line)
                with self.lock:
                    inbox = self.inboxes.get(message.pop("id"))
                if inbox is not None:
                    inbox.put(message)
        status = self.process.wait()  # the server is gone (killed, out of memory): its workers with it
        with self.lock:
            inboxes, self.inboxes = list(self.inboxes.values()), {}
        for inbox in inboxes:
            inbox.put({"ended": status})

    def request(self, message: dict) -> None:
        with self.lock:
            self.process.stdin.write((json.dumps(message) + "\n").encode())
            self.process.stdin.flush()

    def start(self, spec: dict) -> tuple[int, queue.Queue]:
        """A new worker's id and the queue its lines come to."""
        inbox: queue.Queue = queue.Queue()
        with self.lock:
            worker_id = next(self.ids)
            self.inboxes[worker_id] = inbox
        try:
            self.request({"id": worker_id, "spec": spec})
        except OSError:  # the server ended since it was looked at: the next evaluation starts a new one
            self.forget(worker_id)
            raise AgentError("The evaluation workers' server stopped just now: run the evaluation again.") from None
        return worker_id, inbox

    def forget(self, worker_id: int) -> None:
        with self.lock:
            self.inboxes.pop(worker_id, None)


_server: _WorkerServer | None = None
_server_lock = threading.Lock()


def _worker_server() -> _WorkerServer:
    """This process's worker server, started again if it has ended."""
    global _server
    with _server_lock:
        if _server is None or _server.process.poll() is not None:
            _server = _WorkerServer()
        return _server


class _Worker:
    """One forked worker, as the evaluation sees it: it can be killed (by the server, which alone knows whether
    the pid is still its worker's) and waited for."""

    def __init__(self, server: _WorkerServer, worker_id: int) -> None:
        self.server, self.id = server, worker_id
        self.ended = threading.Event()

    def kill(self) -> None:
        with suppress(OSError):  # the server is gone, and its workers with it
            self.server.request({"id": self.id, "kill": True})

    def wait(self) -> None:
        self.ended.wait()


def _run_worker(
    files: AgentFiles, game: str, seeds: list[int], epsilon: float, max_steps: int, messages: queue.Queue
) -> _Worker:
    """Start a worker on its share of the seeds; a thread hands its reports to ``messages``, then says it has
    ended, with its last words if it failed."""
    # Absolute paths: the server runs in the project's folder, not necessarily the caller's.
    paths = {k: str(Path(v).resolve()) if isinstance(v, Path) else v for k, v in asdict(files).items()}
    spec = {"files": paths, "game": game}
    spec |= {"seeds": seeds, "epsilon": epsilon, "max_steps": max_steps, "slots": SLOTS}
    server = _worker_server()
    worker_id, inbox = server.start(spec)
    worker = _Worker(server, worker_id)

    def forward() -> None:
        last_words = ""
        while "ended" not in (message := inbox.get()):
            if "crash" in message:
                last_words = message["crash"]
            else:
                messages.put(message)
        server.forget(worker_id)
        worker.ended.set()
        messages.put({"ended": worker_id, "code": message["ended"], "stderr": last_words})

    threading.Thread(target=forward, daemon=True).start()
    return worker


def evaluate(agent: "Agent", *args, **kwargs) -> Evaluation:
    """:func:`evaluate_files` for an agent already loaded (an :class:`agents.core.agent.Agent`)."""
    return evaluate_files(agent.files, agent.game, *args, **kwargs)


def evaluate_files(
    files: AgentFiles,
    game: Game,
    n_episodes: int = 10,
    epsilon: float = EVAL_EPSILON,
    max_steps: int = EVAL_MAX_STEPS,
    first_seed: int = 0,
    progress: EvaluationProgress | None = None,
    workers: int | None = None,
) -> Evaluation:
    """Play ``n_episodes`` whole games (seeds ``first_seed``, ``first_seed + 1``, ...) with the agent in
    ``files`` over the machine's cores and keep their scores and lengths. Each worker loads the agent with
    the safe loader; this process need not have loaded it (the command line starts the workers at once)."""
    n_episodes, first_seed, epsilon, max_steps = check_evaluation_inputs(n_episodes, first_seed, epsilon, max_steps)
    started = time.perf_counter()
    seeds = list(range(first_seed, first_seed + n_episodes))
    n_workers = max(1, min(len(seeds), workers or os.cpu_count() or 1))
    messages: queue.Queue = queue.Queue()
    processes = [
        _run_worker(files, game.key, seeds[i::n_workers], epsilon, max_steps, messages) for i in range(n_workers)
    ]
    games: dict[int, dict] = {}
    steps, ended = 0, 0
    try:
        while ended < n_workers and len(games) < len(seeds):  # a worker's own exit (torch's teardown) is not waited for
            check_stop()  # the request ended: the workers are killed below
            try:
                message = messages.get(timeout=STOP_POLL_S)
            except queue.Empty:
                continue
            if "ended" in message:
                ended += 1
                if message["code"] != 0:
                    last_words = f": {message['stderr']}" if message["stderr"] else ""
                    raise AgentError(f"An evaluation worker stopped (status {message['code']}){last_words}")
            elif "error" in message:
                raise AgentError(message["error"])
            else:
                steps += message["steps"]
                if "seed" in message:
                    games[message["seed"]] = message
                if progress is not None:
                    progress(len(games), len(seeds), steps / (time.perf_counter() - started))
    finally:
        for process in processes:
            if not process.ended.is_set():
                process.kill()
        for process in processes:
            process.wait()  # reaped at once: no worker outlives its evaluation
    return Evaluation(
        scores=[games[seed]["score"] for seed in seeds],
        seeds=seeds,
        epsilon=epsilon,
        episode_steps=[games[seed]["length"] for seed in seeds],
        terminated=[games[seed]["game_over"] for seed in seeds],
        max_steps=max_steps,
        seconds=time.perf_counter() - started,
    )
