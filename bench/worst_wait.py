"""The worst wait of a short game while three other visitors hold the heavy requests at their budgets.

    python bench/worst_wait.py [--plays 3] [--steps 150] [--budget N]

The app runs as on a Space (its variables set, offline): three ``gradio_client`` visitors submit, at the
Space's budget (``ARENA_REQUEST_STEPS``, 600,000 agent steps by default), an evaluation (6 games × 100,000
steps), a comparison (2 seeds × 100,000 steps, plus its video) and a 10,000-step game with the saliency
map (× 32). Once they run, a fourth visitor plays ``--plays`` games of ``--steps`` steps one after another;
the bench prints each game's wait (request to whole game back), the queue places each visitor was told,
and the worst wait. The hogs are then cancelled. Breakout: the shipped agent, and for Compare a second,
untrained agent put in the bench's own Hub cache.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from gradio_client import Client

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import local_app  # noqa: E402 (bench/, this script's folder)

from tests import hub_cache  # noqa: E402 (the project's own test helpers, from its root)

ENV_ID = "BreakoutNoFrameskip-v4"
OTHER = f"bench/dqn-{ENV_ID}"
SPACE = {  # what a Space with ``hf_oauth: true`` sets (the OAuth provider is only reached on a login)
    "SYSTEM": "spaces",
    "SPACE_ID": "bench/atari-dqn-arena",
    "SPACE_AUTHOR_NAME": "bench",
    "OAUTH_CLIENT_ID": "bench-client",
    "OAUTH_CLIENT_SECRET": "bench-secret",
    "OAUTH_SCOPES": "openid profile",
    "OPENID_PROVIDER_URL": "http://127.0.0.1:9",
}


def start_app(work: Path, budget: int | None) -> tuple[subprocess.Popen, str]:
    """The app as on a Space, with a second Breakout agent in its Hub cache for Compare."""
    cache = work / "hf-cache"
    hub_cache.add_rl_zoo_repo(cache, OTHER, ENV_ID, hub_cache.atari_checkpoint(ENV_ID, work / "other.zip"))
    variables = {**SPACE, "HF_HUB_CACHE": str(cache)}
    if budget is not None:
        variables["ARENA_REQUEST_STEPS"] = str(budget)
    return local_app.start_app(work, variables)


def watch(job, places: list[int], stop: threading.Event) -> None:
    """Note each queue place a visitor is told, until its request ends."""
    while not stop.is_set() and not job.done():
        status = job.status()
        if status.rank is not None:
            places.append(status.rank)
        time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python bench/worst_wait.py", description=__doc__.splitlines()[0])
    parser.add_argument("--plays", type=int, default=3, help="short games played one after another (default: 3)")
    parser.add_argument("--steps", type=int, default=150, help="each short game's step cap (default: 150)")
    parser.add_argument("--budget", type=int, help="ARENA_REQUEST_STEPS for the run (default: the Space's)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="arena-worst-wait-"))
    app, url = start_app(work, args.budget)
    budget = args.budget or 600_000
    cap = min(100_000, budget)
    hogs = {
        "Evaluate": dict(game="Breakout", episodes=max(1, budget // cap), max_steps=cap, api_name="/evaluate"),
        "Compare": dict(
            game="Breakout", b=OTHER, episodes=max(1, (budget // 2 - min(cap, 10_000)) // cap), max_steps=cap,
            api_name="/compare",
        ),
        "saliency Play": dict(game="Breakout", max_steps=min(10_000, budget // 32), saliency=True, api_name="/play"),
    }  # fmt: skip
    stop = threading.Event()
    jobs, places, watchers = {}, {}, []
    try:
        for name, request in hogs.items():
            jobs[name] = Client(url, verbose=False).submit(**request)
            places[name] = []
            watchers.append(threading.Thread(target=watch, args=(jobs[name], places[name], stop), daemon=True))
            watchers[-1].start()
        time.sleep(10)  # the hogs under way: workers started, the saliency game playing
        running = {name: job.status().code.value for name, job in jobs.items()}
        waits = []
        visitor = Client(url, verbose=False)
        for index in range(args.plays):
            started = time.perf_counter()
            told: list[int] = []
            job = visitor.submit(game="Breakout", seed=index, max_steps=args.steps, api_name="/play")
            watch(job, told, threading.Event())
            summary = job.result()[2]
            waits.append(time.perf_counter() - started)
            where = f"told places {sorted(set(told))}" if told else "served at once"
            print(f"{args.steps}-step /play {index + 1}: {waits[-1]:.1f} s, {summary['steps']} steps, {where}")
        print(f"machine: {os.cpu_count()} CPU cores; budget {budget:,} agent steps a request")
        for name, request in hogs.items():
            shown = {key: value for key, value in request.items() if key not in ("game", "api_name")}
            told = f", told places {sorted(set(places[name]))}" if places[name] else ""
            print(f"  {name} {shown}: {running[name]} when the short games began{told}")
        print(f"worst wait of a {args.steps}-step /play: {max(waits):.1f} s (median of {len(waits)}: "
              f"{sorted(waits)[len(waits) // 2]:.1f} s)")  # fmt: skip
    finally:
        stop.set()
        for job in jobs.values():
            job.cancel()
        app.terminate()
        app.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
