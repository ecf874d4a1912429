"""The app as ``python app.py`` on a free local port, offline, for the benches that visit it with
``gradio_client``: its output goes to ``<work>/app.log``, its data to ``<work>/data``."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_app(work: Path, variables: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """Start the app with ``variables`` added to this environment and return it and its URL once it answers
    (exit with where its log is if it does not within 3 minutes)."""
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    env |= {"ARENA_DATA_DIR": str(work / "data"), **variables}
    log = open(work / "app.log", "w")  # noqa: SIM115 (the app's output, for the whole run)
    app = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return app, url
        except OSError:
            if app.poll() is not None or time.monotonic() > deadline:
                app.kill()
                sys.exit(f"the app did not start; see {work / 'app.log'}")
            time.sleep(0.5)
