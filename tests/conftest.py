"""Shared fixtures: an offline Hugging Face cache holding agents made here with SB3.

``HF_HUB_OFFLINE`` and ``HF_HUB_CACHE`` are set before anything imports ``huggingface_hub``,
which reads them once, so every test runs the real download code against this cache.
"""

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

CACHE = Path(tempfile.mkdtemp(prefix="arena-hf-cache-"))
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_CACHE"] = str(CACHE)
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
# One torch thread in the test process and in every process it starts (apps, workers): they run beside one
# another (and, with -n 2, beside a second test process) on two cores, where torch's two threads each would take
# turns spinning on one core. Beside one busy process, test_train_presets.py's fine-tuning test took 165 s with two
# threads and 12 s with one (2026-12-06).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
from filelock import FileLock  # noqa: E402
from huggingface_hub import constants  # noqa: E402

from tests import hub_cache  # noqa: E402
from tests.fake_hub import FakeHub  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference"


@contextlib.contextmanager
def small_disk(folder: Path, size_kb: int, free_kb: int | None = None) -> Iterator[Path]:
    """A real disk of ``size_kb`` (a tmpfs mounted on ``folder``), filled but for ``free_kb`` when given: a
    full disk as a visitor's or a job's writes meet it. Mounting needs root; the test is skipped without it."""
    folder.mkdir(parents=True, exist_ok=True)
    mount = ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(folder)]
    if subprocess.run(mount, capture_output=True).returncode:
        pytest.skip("mounting a small tmpfs (a full disk) needs root")
    try:
        if free_kb is not None:
            with open(folder / "filler", "wb", buffering=0) as filler, contextlib.suppress(OSError):
                while True:
                    filler.write(b"x" * 1024)
            os.truncate(folder / "filler", os.path.getsize(folder / "filler") - free_kb * 1024)
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def built_once(tmp_path_factory, name: str, build: Callable[[Path], dict]) -> tuple[Path, dict]:
    """A folder that ``build`` fills, and the summary it returns, made once per test run even when
    pytest-xdist's workers all ask for it (the pattern xdist's documentation gives): the first to ask
    builds it in the folder they share, the others wait on the lock and read it. For results that cost a
    training run or a study, which tests only read: as a module fixture, each worker that met one of its
    tests built it again, and again when it came back to the module."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    folder, summary = root / name, root / f"{name}.json"
    with FileLock(str(root / f"{name}.lock")):
        if not summary.is_file():
            shutil.rmtree(folder, ignore_errors=True)  # what a failed build left
            folder.mkdir()
            summary.write_text(json.dumps(build(folder)))
    return folder, json.loads(summary.read_text())


def reference_path(*parts: str) -> Path:
    """A file of the reference data, or a skip saying why the test cannot run."""
    path = REFERENCE.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"needs ../{path.relative_to(ROOT.parent)}: genuine files from other projects (the RL Zoo's "
            "trained agents, DLR-RM/rl-trained-agents, and public Hub repos of course students) that the team "
            "keeps in a folder beside the clone, not in the repository; see the README's 'Tests'"
        )
    return path


@pytest.fixture(scope="session")
def hf_cache(tmp_path_factory) -> Path:
    """The offline Hub cache with the agents the tests play: made once per test session."""
    models = tmp_path_factory.mktemp("models")
    for game in ("SpaceInvaders", "Pong", "Breakout"):
        env_id = f"{game}NoFrameskip-v4"
        checkpoint = hub_cache.atari_checkpoint(env_id, models / f"{game}.zip")
        hub_cache.add_rl_zoo_repo(CACHE, f"sb3/dqn-{env_id}", env_id, checkpoint)
    qrdqn = hub_cache.atari_checkpoint("SpaceInvadersNoFrameskip-v4", models / "qrdqn.zip", algo="qrdqn")
    hub_cache.add_rl_zoo_repo(
        CACHE, "tester/qrdqn-SpaceInvadersNoFrameskip-v4", "SpaceInvadersNoFrameskip-v4", qrdqn, algo="qrdqn"
    )
    return CACHE


@pytest.fixture
def hub(monkeypatch, tmp_path) -> Iterator[FakeHub]:
    """A running fake Hub that this process downloads from, into an empty cache of the test's own
    (``tests/test_online.py`` adds its own resets of the Arena's revision checks)."""
    with FakeHub() as hub:
        for name, value in hub.client_constants().items():
            monkeypatch.setattr(constants, name, value)
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
        yield hub


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


SPACE_VARIABLES = {
    "SYSTEM": "spaces",
    "SPACE_ID": "tester/atari-dqn-arena",
    "SPACE_AUTHOR_NAME": "tester",
    "OAUTH_CLIENT_ID": "test-client",
    "OAUTH_CLIENT_SECRET": "test-secret",
    "OAUTH_SCOPES": "openid profile write-repos",
    "OPENID_PROVIDER_URL": "http://127.0.0.1:9",
}


def start_app(tmp_path_factory, **variables: str):
    """``python app.py`` running as on a Space, offline, against the test cache; yields its URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("app") / "app.log"
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"}
    env["ARENA_DATA_DIR"] = str(tmp_path_factory.mktemp("arena-data"))
    for name in ("ARENA_ALLOW_CPU_TRAINING", "SPACE_ID", "SPACE_AUTHOR_NAME", "HF_TOKEN"):
        env.pop(name, None)
    env["HF_HOME"] = str(tmp_path_factory.mktemp("hf-home"))  # no stored Hugging Face login
    env.update(variables)
    with open(log, "w") as output:
        process = subprocess.Popen(
            [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"the app did not start:\n{log.read_text()}")
            time.sleep(0.5)
    yield url
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="session")
def app_url(hf_cache, tmp_path_factory):
    """The app as on the free Space, with the variables a Space with ``hf_oauth: true`` sets (the OAuth
    provider is only reached when someone clicks Login): no GPU, so training is off."""
    yield from start_app(tmp_path_factory, **SPACE_VARIABLES)


@pytest.fixture(scope="session")
def space_training_app_url(hf_cache, tmp_path_factory):
    """The app as on a Space whose owner turned CPU training on: Train and Tune can start, for the owner only."""
    yield from start_app(tmp_path_factory, **SPACE_VARIABLES, ARENA_ALLOW_CPU_TRAINING="1")


@pytest.fixture(scope="session")
def training_app_url(hf_cache, tmp_path_factory):
    """The app run on this machine (not a Space), which trains on its CPU."""
    yield from start_app(tmp_path_factory)


@pytest.fixture(scope="session")
def first_run_app_url(tmp_path_factory):
    """The app as a newcomer first runs it here: on this machine, offline, with an empty Hub cache."""
    yield from start_app(tmp_path_factory, HF_HUB_CACHE=str(tmp_path_factory.mktemp("empty-hf-cache")))
