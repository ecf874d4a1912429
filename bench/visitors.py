"""Many visitors at once: the app served as on the free Space (2 cores), visitors pressing Play
through ``gradio_client`` from threads, staggered over a minute, while every open page polls the
training status every 2 s as the Train tab does.

    python bench/visitors.py [--visitors 20] [--over 60] [--max-steps 10000]

It prints each visitor's wait (request to whole game back), the places in the queue they were told,
the median and worst wait, how long a status poll took meanwhile, and whether anything errored.
The app runs offline with an empty Hub cache, so every visitor gets the shipped Breakout agent.
"""

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from gradio_client import Client
from local_app import start_app  # bench/, this script's folder


def visit(url: str, index: int, max_steps: int, results: list) -> None:
    """One visitor: press Play with a seed of their own and wait for the whole game."""
    started = time.perf_counter()
    places: list[int] = []
    try:
        job = Client(url, verbose=False).submit(seed=index, max_steps=max_steps, api_name="/play")
        while not job.done():
            status = job.status()
            if status.rank is not None:
                places.append(status.rank)
            time.sleep(0.2)
        summary = job.result()[2]
        results.append((index, time.perf_counter() - started, places, summary["steps"], None))
    except Exception as error:  # reported, not raised: the bench counts errors
        results.append((index, time.perf_counter() - started, places, 0, f"{type(error).__name__}: {error}"))


def poll_status(url: str, stop: threading.Event, times: list) -> None:
    """An open page's Train tab: the job status every 2 s."""
    client = Client(url, verbose=False)
    while not stop.wait(2):
        started = time.perf_counter()
        client.predict(api_name="/train_status")
        times.append(time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python bench/visitors.py",
        description="Visitors pressing Play at once on the app as on a 2-core Space; prints their waits.",
    )
    parser.add_argument("--visitors", type=int, default=20, help="how many visitors press Play (default: 20)")
    parser.add_argument("--over", type=float, default=60, help="seconds over which they arrive (default: 60)")
    parser.add_argument("--max-steps", type=int, default=10_000, help="each game's step cap (default: whole games)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="arena-visitors-"))
    app, url = start_app(work, {"HF_HUB_CACHE": str(work / "empty-cache")})
    results: list = []
    poll_times: list[float] = []
    stop = threading.Event()
    pollers = [threading.Thread(target=poll_status, args=(url, stop, poll_times)) for _ in range(args.visitors)]
    visitors = [
        threading.Thread(target=visit, args=(url, index, args.max_steps, results)) for index in range(args.visitors)
    ]
    try:
        for poller in pollers:
            poller.start()
        for visitor in visitors:
            visitor.start()
            time.sleep(args.over / args.visitors)
        for visitor in visitors:
            visitor.join()
    finally:
        stop.set()
        for poller in pollers:
            poller.join()
        app.terminate()
        app.wait(timeout=30)

    print(f"machine: {os.cpu_count()} CPU cores; {args.visitors} visitors over {args.over:.0f} s, whole games")
    for index, wait, places, steps, error in sorted(results):
        told = f"told places {max(places)}..{min(places)}" if places else "served at once"
        print(f"visitor {index:2d}: {wait:6.1f} s, {steps:5d} steps, {told}" + (f"  ERROR {error}" if error else ""))
    waits = [wait for _, wait, _, _, error in results if error is None]
    errors = [error for *_, error in results if error]
    print(f"served {len(waits)} of {len(results)}; errors: {len(errors)}")
    if waits:
        print(f"wait for a whole game: median {statistics.median(waits):.1f} s, worst {max(waits):.1f} s")
    if poll_times:
        median, worst = statistics.median(poll_times) * 1000, max(poll_times) * 1000
        print(
            f"/train_status from {len(pollers)} open pages every 2 s: median {median:.0f} ms, worst {worst:.0f} ms "
            f"over {len(poll_times)} polls"
        )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
