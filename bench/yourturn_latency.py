"""Your turn's live game as a visitor feels it: key press to a frame that shows the key, and frames shown a second.

Starts the app (offline, as ``python app.py``), lets five other visitors play at once (websocket clients that
take every frame and change their keys five times a second, as the page does, a new game when one is over),
then plays in Chromium at 1280 px, pressing ← and → in turn every 300 ms (again a new game when one is over).
The page itself measures (``window.arenaYourTurn.stats``): from the keydown handler sending the key to the
server, to the first frame drawn on the canvas that the server made with that key (the frame's header names
the last key message it answers); and frames drawn per second.

    python bench/yourturn_latency.py [--seconds 20] [--others 5]
"""

import argparse
import json
import os
import random
import statistics
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from local_app import start_app  # bench/, this script's folder
from playwright.sync_api import sync_playwright
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

CHROMIUM = "/usr/bin/chromium"


def other_visitor(url: str, seed: int, stop: threading.Event, counts: dict) -> None:
    """A visitor over the websocket alone: plays games (a new one when one is over) until ``stop``, counting the
    game frames it receives (not the panels) and the seconds its games were being played (not recorded)."""
    frames, playing_s = 0, 0.0
    while not stop.is_set():
        with connect(url.replace("http", "ws", 1) + "/yourturn/ws", max_size=None) as socket:
            socket.send(json.dumps({"type": "start", "game": "Breakout", "seed": seed}))
            key_id, next_keys, since = 0, time.monotonic(), None
            while not stop.is_set():
                try:
                    message = socket.recv(timeout=0.05)
                except TimeoutError:
                    message = None
                except ConnectionClosed:
                    break  # over: a new game
                if isinstance(message, bytes) and message[0] == 0:  # a game frame (1: the agent's panel)
                    frames += 1
                elif isinstance(message, str):
                    kind = json.loads(message)["type"]
                    if kind == "started":
                        since = time.monotonic()
                    elif kind == "finishing" and since is not None:
                        playing_s, since = playing_s + time.monotonic() - since, None
                if time.monotonic() >= next_keys:
                    key_id += 1
                    socket.send(json.dumps({"type": "keys", "bits": random.choice([0, 4, 8, 16]), "id": key_id}))
                    next_keys += 0.2
            if since is not None:
                playing_s += time.monotonic() - since
        counts[seed] = frames / playing_s if playing_s else 0.0


HARVEST = """() => {
    const stats = window.arenaYourTurn.stats;
    const found = {latencies: stats.latencies, frames: stats.frames, state: stats.state};
    stats.latencies = [];
    stats.frames = [];
    return found;
}"""


def status(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/yourturn/status", timeout=10) as answer:
        return json.load(answer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20, help="how long the measured visitor plays")
    parser.add_argument("--others", type=int, default=5, help="other visitors playing meanwhile")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="yourturn-bench-"))
    steps = int((args.seconds + 30) * 15)  # every game outlasts the measurement
    variables = {"ARENA_YOURTURN_GAMES": str(args.others + 1), "ARENA_YOURTURN_MAX_STEPS": str(steps)}
    load_before = os.getloadavg()
    app, url = start_app(work, variables)
    deadline = time.monotonic() + 120  # the app times training on start (this machine is not a Space): not measured
    while "Timed:" not in (work / "app.log").read_text() and time.monotonic() < deadline:
        time.sleep(0.5)
    stop = threading.Event()
    counts: dict[int, int] = {}
    visitors = [
        threading.Thread(target=other_visitor, args=(url, seed, stop, counts), daemon=True)
        for seed in range(100, 100 + args.others)
    ]
    try:
        for visitor in visitors:
            visitor.start()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            page.get_by_role("tab", name="Your turn").click(timeout=120_000)
            page.wait_for_function("window.arenaYourTurn !== undefined")
            page.locator("#yourturn-start").click()
            page.wait_for_function("window.arenaYourTurn?.stats.state === 'playing'", timeout=60_000)
            games = status(url)
            time.sleep(1)  # past the first frames
            page.evaluate(HARVEST)
            started, keys = time.monotonic(), ("ArrowLeft", "ArrowRight")
            latencies, spans, restarts, presses = [], [], 0, 0
            while time.monotonic() - started < args.seconds:
                if page.evaluate("window.arenaYourTurn.stats.state") != "playing":  # game over: the next one
                    found = page.evaluate(HARVEST)
                    latencies += found["latencies"]
                    spans.append(found["frames"])
                    page.locator("#yourturn-start").click()
                    page.wait_for_function("window.arenaYourTurn.stats.state === 'playing'", timeout=60_000)
                    restarts += 1
                key = keys[presses % 2]
                page.keyboard.down(key)
                time.sleep(0.15)
                page.keyboard.up(key)
                time.sleep(0.15)
                presses += 1
            found = page.evaluate(HARVEST)
            latencies += found["latencies"]
            spans.append(found["frames"])
            browser.close()
    finally:
        stop.set()
        for visitor in visitors:
            visitor.join(timeout=5)
        app.terminate()
        app.wait()
    latencies.sort()
    spans = [frames for frames in spans if len(frames) > 1]
    fps = sum(len(frames) - 1 for frames in spans) / sum((frames[-1] - frames[0]) / 1000 for frames in spans)
    others_fps = list(counts.values())
    print(
        json.dumps(
            {
                "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "cpus": os.cpu_count(),
                "load_average_before": [round(value, 2) for value in load_before],
                "load_average_after": [round(value, 2) for value in os.getloadavg()],
                "games_at_once": games["playing"],
                "key_messages": len(latencies),
                "latency_ms_median": round(statistics.median(latencies), 1) if latencies else None,
                "latency_ms_p90": round(latencies[int(0.9 * (len(latencies) - 1))], 1) if latencies else None,
                "frames_shown_per_s": round(fps, 1),
                "other_visitors_frames_received_per_s_while_playing": [round(value, 1) for value in others_fps],
                "measured_games_restarted": restarts,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
