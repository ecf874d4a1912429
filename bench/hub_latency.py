"""Time from pressing Play to the first frame on screen, with the Hub healthy and with a Hub that takes
8 s to answer each request (as during a Hub incident), for an agent already cached and one that is not.

    python bench/hub_latency.py [--delay 8]

The Hub is a local server that answers like the Hub's file endpoints (``tests/fake_hub.py``, run as
a process of its own), serving the shipped Breakout agent's files as ``sb3/dqn-BreakoutNoFrameskip-v4``;
the app's code and the real ``huggingface_hub`` client download from it. Each measurement is a fresh
process (nothing in memory) timing ``agents.tabs.play.play_stream``, the function the Play button calls,
from the call to its first streamed video segment; interpreter start-up and imports are excluded. The
baseline is the same cached agent with no Hub at all (``HF_HUB_OFFLINE=1``).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV_ID = "BreakoutNoFrameskip-v4"
REPO = f"sb3/dqn-{ENV_ID}"
FIRST_FRAME = """
import json, time
from agents.tabs.play import play_stream
started = time.perf_counter()
try:
    stream = play_stream("Breakout", None, 0, 0.01, 10_000, False)
    segment, _ = next(stream)
    stream.close()
    print(json.dumps({"seconds": time.perf_counter() - started}))
except Exception as error:
    print(json.dumps({"seconds": time.perf_counter() - started, "error": str(error)}))
"""


def start_hub(files: Path, delay: float) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "tests.fake_hub", "--repo", f"{REPO}={files}", "--delay", str(delay)]
    hub = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return hub, json.loads(hub.stdout.readline())["url"]


def first_frame(cache: Path, endpoint: str | None) -> dict:
    """One Play in a fresh process; ``endpoint`` None: no Hub at all."""
    hub = {"HF_ENDPOINT": endpoint, "HF_HUB_OFFLINE": "0"} if endpoint else {"HF_HUB_OFFLINE": "1"}
    env = {**os.environ, **hub, "HF_HUB_CACHE": str(cache)}
    run = subprocess.run([sys.executable, "-c", FIRST_FRAME], cwd=ROOT, env=env, capture_output=True, text=True)
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python bench/hub_latency.py", description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=8.0, help="seconds the slow Hub takes per answer (default: 8)")
    delay = parser.parse_args().delay
    work = Path(tempfile.mkdtemp(prefix="arena-hub-bench-"))
    files = work / "repo"
    files.mkdir()
    shipped = ROOT / "offline_agents" / ENV_ID
    for name in (f"dqn-{ENV_ID}.zip", "config.yml", "env_kwargs.yml", "results.json"):
        shutil.copy(shipped / name, files / name)

    rows = []
    hubs = {"healthy": start_hub(files, 0.0), f"{delay:g} s per answer": start_hub(files, delay)}
    try:
        cached = work / "cached"
        first_frame(cached, hubs["healthy"][1])  # fills the cache
        rows.append(("cached", "no Hub at all (offline)", first_frame(cached, None)))
        for name, (_, url) in hubs.items():
            rows.append(("cached", f"Hub {name}", first_frame(cached, url)))
        for name, (_, url) in hubs.items():
            rows.append(("not cached", f"Hub {name}", first_frame(work / f"empty-{len(rows)}", url)))
    finally:
        for process, _ in hubs.values():
            process.terminate()
            process.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)

    baseline = rows[0][2]["seconds"]
    print(f"time from Play to the first frame, {os.cpu_count()} CPU cores, agent {REPO} ({ENV_ID}, shipped)")
    for cached_or_not, hub, result in rows:
        outcome = f"error: {result['error']}" if "error" in result else "first frame"
        extra = f"  ({result['seconds'] - baseline:+.2f} s against no Hub)" if cached_or_not == "cached" else ""
        print(f"{cached_or_not:>10} | {hub:<24} | {result['seconds']:6.2f} s | {outcome}{extra}")


if __name__ == "__main__":
    main()
