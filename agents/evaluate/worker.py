"""Evaluation workers, forked from a server that :mod:`agents.evaluate.evaluation` starts (not meant to be run by
hand).

    python -m agents.evaluate.worker   # the server: requests on its stdin, reports on its stdout

Why a server: a fresh Python takes about two CPU-seconds to import torch, SB3 and the ALE, which was most of a short
evaluation's cost, paid again by every worker of every evaluation, on the same two cores as the visitors' games.
The server imports them once, when the first evaluation of a process starts it, and forks each worker from itself.
It is a Python of its own, not a fork of the app: the app's threads make forking it unsafe, and multiprocessing's
fork server imports the parent's main module (``app.py``, which builds the whole page) into every worker.

A worker loads the agent from its files with the Arena's safe loader, plays its share of the seeds with the Play
pipeline's rollout on one thread, and exits. One JSON object a line, each to or about one worker, named by its
``id``:

- to the server: ``{"id", "spec"}`` starts a worker on ``spec``; ``{"id", "kill": true}`` kills it;
- from the server: ``{"id", "ended": status}`` once the worker exited (negative: killed by that signal);
- from the worker: ``{"id", "steps": n}`` now and then, ``{"id", "steps", "seed", "score", "length",
  "game_over"}`` when a game ends, ``{"id", "error": message}`` for a refused agent, ``{"id", "crash":
  traceback}`` before it exits with status 1.

Every line is written whole in one ``write`` of at most ``PIPE_BUF`` bytes, so the workers' lines never mix. The
server kills its workers and ends when its stdin closes: the process that started it has ended.
"""

import json
import os
import select
import signal
import traceback
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any, NoReturn

import torch

from agents.core.agent import agent_from_files
from agents.core.catalog import get_game
from agents.core.errors import AgentError
from agents.core.hub import AgentFiles
from agents.play.rollout import play_games

REPORT_EVERY = 500  # steps between progress reports
PROCESS_NAME = "arena-eval"  # what ps, top and /proc/<pid>/comm show for a worker; the server keeps its command line
REAP_EVERY_S = 0.05  # how often the server looks for workers that exited, between requests
CRASH_CHARS = 600  # of a traceback: its line stays within PIPE_BUF (4,096 bytes), even with every character escaped


def _send(out: int, message: dict[str, Any]) -> None:
    os.write(out, (json.dumps(message) + "\n").encode())


def play_share(spec: dict[str, Any], report: Callable[[dict[str, Any]], None]) -> None:
    """Play ``spec``'s seeds, handing each report (a dict) to ``report``."""
    files = AgentFiles(
        **{
            k: Path(v) if k in ("model_zip", "config", "env_kwargs", "results") and v else v
            for k, v in spec["files"].items()
        }
    )
    torch.set_num_threads(1)  # one core per worker: this process's own setting
    try:
        agent = agent_from_files(files, get_game(spec["game"]))
        steps = 0
        games = play_games(
            agent.q_function, agent.settings, spec["seeds"], spec["epsilon"], spec["max_steps"], spec["slots"], False
        )
        for seed, step in games:
            steps += 1
            if step.game_over or step.index + 1 >= spec["max_steps"]:
                report(
                    {
                        "steps": steps,
                        "seed": seed,
                        "score": step.score,
                        "length": step.index + 1,
                        "game_over": step.game_over,
                    }
                )
                steps = 0
            elif steps >= REPORT_EVERY:
                report({"steps": steps})
                steps = 0
    except AgentError as error:
        report({"error": f"{files.repo_id}: {error}"})


def _worker(request: dict[str, Any], out: int) -> NoReturn:
    """The forked worker's whole life: its reports go to ``out``; what the C libraries print (the ALE's banner),
    to /dev/null, never into the reports."""
    code = 1
    try:
        quiet = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(quiet, fd)
        with suppress(OSError):
            Path("/proc/self/comm").write_text(PROCESS_NAME)
        play_share(request["spec"], lambda message: _send(out, {"id": request["id"], **message}))
        code = 0
    except BaseException:
        with suppress(OSError):
            _send(out, {"id": request["id"], "crash": traceback.format_exc()[-CRASH_CHARS:]})
    finally:
        os._exit(code)


def _reap(workers: dict[int, int], out: int, block: bool = False) -> None:
    """Report each worker that exited, once: ``workers`` maps pid to id."""
    while workers:
        try:
            pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if pid in workers:
            _send(out, {"id": workers.pop(pid), "ended": os.waitstatus_to_exitcode(status)})


def serve() -> None:
    """Fork a worker per request read on stdin until it closes, then kill the workers left and end."""
    out = os.dup(1)  # the reports' channel; fd 1 goes to stderr, so that nothing printed can get into it
    os.dup2(2, 1)
    workers: dict[int, int] = {}  # pid -> id
    pending = b""
    try:
        while True:
            readable, _, _ = select.select([0], [], [], REAP_EVERY_S)
            if readable:
                chunk = os.read(0, 65536)
                if not chunk:
                    return
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    request = json.loads(line)
                    if request.get("kill"):
                        pid = next((pid for pid, id_ in workers.items() if id_ == request["id"]), None)
                        if pid is not None:
                            os.kill(pid, signal.SIGKILL)  # not reaped yet, so still this worker, not another process
                        continue
                    pid = os.fork()
                    if pid == 0:
                        _worker(request, out)
                    workers[pid] = request["id"]
            _reap(workers, out)
    except BrokenPipeError:  # the process that started this one is gone: no one reads on
        pass
    finally:
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        with suppress(BrokenPipeError):
            _reap(workers, out, block=True)


if __name__ == "__main__":
    serve()
