"""The Hub path that users meet first, run with the real ``huggingface_hub`` client against a local
server that answers like the Hub's file endpoints (``tests/fake_hub.py``): healthy, slow, dropping
connections, handing out a new revision, and saying no in each of the Hub's ways."""

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from huggingface_hub import constants, scan_cache_dir

from agents.core import hub as hub_module
from agents.core.catalog import get_game
from agents.core.errors import AgentError
from agents.core.hub import (
    CACHE_BUDGET_VARIABLE,
    METRICS_FILE,
    MODEL_CAP_VARIABLE,
    FileTooLarge,
    HubTooSlow,
    cached_agent_files,
    fetch_agent_files,
    fetch_extra_file,
    revision_note,
    size_cap,
)
from agents.core.stopping import Stopped, stop_on
from agents.curves.agent_curves import repo_curves
from agents.play.episode import play_to_folder
from agents.tabs.play import load_with_progress
from agents.train.training import _read_start_checkpoint
from tests import hub_cache
from tests.fake_hub import FakeHub, Generated

ROOT = Path(__file__).resolve().parents[1]
PONG = "PongNoFrameskip-v4"
REPO = f"sb3/dqn-{PONG}"
ZIP = f"dqn-{PONG}.zip"


def pong_files(folder: Path) -> dict[str, bytes]:
    """An RL Zoo Pong repo's files, its checkpoint made here with SB3."""
    model_zip = hub_cache.atari_checkpoint(PONG, folder / "model.zip")
    results = {"mean_reward": 20.0, "std_reward": 1.0, "is_deterministic": False, "n_eval_episodes": 10}
    return {
        ZIP: model_zip.read_bytes(),
        "config.yml": hub_cache.RL_ZOO_ATARI_CONFIG.encode(),
        "env_kwargs.yml": hub_cache.RL_ZOO_ENV_KWARGS.encode(),
        "results.json": json.dumps(results).encode(),
    }


@pytest.fixture(scope="module")
def pong_repo(tmp_path_factory) -> dict[str, bytes]:
    return pong_files(tmp_path_factory.mktemp("pong"))


def background_checks_done(timeout: float = 30) -> None:
    """Wait for the background checks for newer revisions that this test started."""
    for thread in threading.enumerate():
        if thread.name.startswith("revision-"):
            thread.join(timeout)
            assert not thread.is_alive(), "a background revision check did not finish"


@pytest.fixture
def hub(monkeypatch, tmp_path) -> Iterator[FakeHub]:
    """A running fake Hub that this process downloads from, into an empty cache of the test's own."""
    with FakeHub() as hub:
        for name, value in hub.client_constants().items():
            monkeypatch.setattr(constants, name, value)
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
        monkeypatch.setattr(hub_module, "_news", {})
        monkeypatch.setattr(hub_module, "_last_check", {})
        yield hub
        background_checks_done()


def test_an_empty_cache_downloads_the_files_together_and_plays(hub, pong_repo, tmp_path):
    hub.add_repo(REPO, pong_repo)
    hub.delay_s = 1.0  # each answer of the Hub and of its CDN takes a second
    messages = []
    started = time.monotonic()
    agent = load_with_progress("Pong", None, lambda share, text: messages.append((share, text)))
    seconds = time.monotonic() - started
    assert not agent.offline and agent.repo_id == REPO
    # Five files of two or three requests each: one after another would take 10 s at least.
    assert seconds < 7, f"{seconds:.1f} s: the files were not fetched together"
    size = len(pong_repo[ZIP]) / 1e6
    assert any(text == f"Downloading the model from the Hub: {size:.1f} of {size:.1f} MB" for _, text in messages)
    assert [share for share, _ in messages] == sorted(share for share, _ in messages), "progress went back"
    assert play_to_folder(agent, tmp_path / "game", seed=0, epsilon=0.0, max_steps=5).steps == 5


def test_a_cached_agent_starts_at_once_while_the_hub_is_slow(hub, pong_repo):
    hub.add_repo(REPO, pong_repo)
    fetch_agent_files(REPO, PONG)
    background_checks_done()
    hub_module._last_check.clear()
    hub.delay_s = 3.0
    asked_before = len(hub.requests)
    started = time.monotonic()
    files = fetch_agent_files(REPO, PONG)
    assert time.monotonic() - started < 0.5  # no request waited on
    assert files.model_zip.read_bytes() == pong_repo[ZIP]
    background_checks_done()  # the check for a newer revision: one question, and nothing downloaded
    assert [method for method, _ in hub.requests[asked_before:]] == ["HEAD"]
    assert revision_note(REPO) is None


def test_a_new_revision_is_fetched_in_the_background_and_used_next_time(hub, pong_repo):
    first = hub.add_repo(REPO, pong_repo)
    assert fetch_agent_files(REPO, PONG).published_result()["mean_reward"] == 20.0
    background_checks_done()
    newer = {**pong_repo, "results.json": json.dumps({"mean_reward": 21.0, "std_reward": 0.5}).encode()}
    second = hub.add_repo(REPO, newer)
    hub_module._last_check.clear()
    files = fetch_agent_files(REPO, PONG)
    assert files.model_zip.parent.name == first  # this game: the cached revision, at once
    background_checks_done()
    note = f"A newer revision of {REPO} ({second[:7]}) has been downloaded: the next game uses it."
    assert revision_note(REPO) == note
    files = fetch_agent_files(REPO, PONG)
    assert files.model_zip.parent.name == second and files.published_result()["mean_reward"] == 21.0


def test_an_uncached_agent_gets_a_clear_message_when_the_hub_is_too_slow(hub, pong_repo, monkeypatch):
    hub.add_repo(REPO, pong_repo)
    hub.delay_s = 2.0
    monkeypatch.setattr(hub_module, "DOWNLOAD_DEADLINE_S", 1.0)
    started = time.monotonic()
    with pytest.raises(HubTooSlow, match=rf"The Hub is too slow right now: {REPO}'s files did not all arrive within"):
        fetch_agent_files(REPO, PONG)
    assert time.monotonic() - started < 2.0
    assert cached_agent_files(REPO, PONG) is None  # nothing half-there is taken for the agent
    hub.delay_s = 0.0
    monkeypatch.setattr(hub_module, "DOWNLOAD_DEADLINE_S", 25.0)
    assert fetch_agent_files(REPO, PONG).model_zip.read_bytes() == pong_repo[ZIP]  # trying again works


def test_a_connection_dropped_mid_download_never_leaves_a_partial_model(hub, pong_repo):
    hub.add_repo(REPO, pong_repo)
    hub.drop_next_body(after_bytes=100_000)
    files = fetch_agent_files(REPO, PONG)  # the client starts the body again
    assert hashlib.sha256(files.model_zip.read_bytes()).digest() == hashlib.sha256(pong_repo[ZIP]).digest()


def test_a_connection_that_keeps_dropping_gets_a_message_and_no_file(hub, pong_repo, tmp_path):
    hub.add_repo(REPO, pong_repo)
    hub.drop_next_body(after_bytes=100_000, times=100)
    with pytest.raises(AgentError, match=rf"Could not download {REPO} from the Hub .*nothing partial is kept"):
        fetch_agent_files(REPO, PONG)
    assert cached_agent_files(REPO, PONG) is None
    blobs = list((tmp_path / "hf-cache").glob("models--*/blobs/*"))
    assert all(blob.stat().st_size != len(pong_repo[ZIP]) for blob in blobs)
    assert not [blob for blob in blobs if blob.suffix == ".incomplete" and blob.stat().st_size > 0]


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("unknown", r"The Hub has no model repo {repo}, or it is private\. Check the spelling"),
        ("private", r"or it is private\. .*give the Arena a token that can read it \(set HF_TOKEN"),
        ("gated", r"{repo} is gated: accept its conditions on https://huggingface.co/{repo}, then give"),
        ("no config", r"{repo} has no config.yml: it is not in the RL Zoo layout"),
        ("no model", r"{repo} holds no dqn-PongNoFrameskip-v4.zip or qrdqn-PongNoFrameskip-v4.zip"),
        ("rate limit", r"The Hub is limiting requests right now \(rate limit\)\. Try again in a minute"),
        ("server error", r"The Hub answered with a server error \(503\)\. Try again in a moment"),
    ],
)
def test_every_no_from_the_hub_is_said_in_words(hub, pong_repo, case, message, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "")  # no token on this machine, whatever the developer's has
    repo = "someone/dqn-Pong"
    if case == "private":
        hub.add_repo(repo, pong_repo, private=True)
    elif case == "gated":
        hub.add_repo(repo, pong_repo, gated=True)
    elif case == "no config":
        hub.add_repo(repo, {ZIP: pong_repo[ZIP]})
    elif case == "no model":
        hub.add_repo(repo, {"config.yml": pong_repo["config.yml"]})
    elif case in ("rate limit", "server error"):
        hub.add_repo(repo, pong_repo)
        hub.fail_next(429 if case == "rate limit" else 503, times=1000, retry_after_s=0)
    started = time.monotonic()
    with pytest.raises(AgentError, match=message.format(repo=repo)):
        fetch_agent_files(repo, PONG)
    assert time.monotonic() - started < 5  # said at the Hub's first answer, not after retries


def test_trains_start_agent_comes_the_same_way(hub, pong_repo):
    hub.add_repo("someone/private-pong", pong_repo, private=True)
    with pytest.raises(AgentError, match="or it is private"):
        _read_start_checkpoint("someone/private-pong", get_game("Pong"))
    hub.add_repo(REPO, pong_repo)
    repo_id, checkpoint = _read_start_checkpoint("pretrained", get_game("Pong"))
    assert repo_id == REPO and checkpoint.n_actions == 6


def test_the_command_line_shows_the_download_and_plays(hub, pong_repo, tmp_path):
    hub.add_repo(REPO, pong_repo)
    command = [sys.executable, "-m", "agents.play", "--game", "Pong", "--max-steps", "5", "--out", str(tmp_path / "o")]
    env = {**os.environ, **hub.client_env(), "HF_HUB_CACHE": str(tmp_path / "cli-cache")}
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    size = len(pong_repo[ZIP]) / 1e6
    lines = [line for line in run.stderr.splitlines() if line.startswith("Downloading the model from the Hub: ")]
    assert lines and lines[-1].endswith(f"{size:.1f} of {size:.1f} MB"), run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1])["repo"] == REPO


def cache_view(cache: Path) -> dict[str, set[str]]:
    """The cache as ``huggingface_hub`` itself sees it: each repo and the files of its revisions."""
    if not cache.exists():
        return {}
    return {
        repo.repo_id: {file.file_name for revision in repo.revisions for file in revision.files}
        for repo in scan_cache_dir(cache).repos
    }


def blob_bytes(cache: Path) -> int:
    """Every byte of every blob on disk, finished or ``.incomplete``, as the file system counts them."""
    return sum(path.stat().st_size for path in cache.glob("models--*/blobs/*"))


def test_a_file_over_its_cap_is_refused_from_its_metadata_before_a_byte_comes(hub, pong_repo, tmp_path):
    hub.add_repo("someone/dqn-Pong", {**pong_repo, METRICS_FILE: Generated(6 * 10**9)})
    cap = size_cap(METRICS_FILE)
    message = rf"someone/dqn-Pong's {METRICS_FILE} is 6,000,000,000 bytes, over its cap of {cap:,} bytes: refused"
    with pytest.raises(FileTooLarge, match=message):
        fetch_extra_file("someone/dqn-Pong", METRICS_FILE)
    assert hub.generated_bytes_sent == 0 and not [path for method, path in hub.requests if "/cdn/" in path]
    cache = tmp_path / "hf-cache"
    assert METRICS_FILE not in cache_view(cache).get("someone/dqn-Pong", set()) and blob_bytes(cache) == 0
    curves, message = repo_curves(get_game("Pong"), "someone/dqn-Pong")
    assert curves is None and "over its cap" in message  # what the Curves tab says


def test_a_file_whose_size_lies_is_stopped_on_the_stream_and_nothing_stays(hub, pong_repo, tmp_path, monkeypatch):
    monkeypatch.setenv(MODEL_CAP_VARIABLE, "5")  # the owner's setting, in MB
    hub.add_repo(REPO, {**pong_repo, ZIP: Generated(2 * 10**9, claimed_size=3 * 10**6)})
    started = time.monotonic()
    with pytest.raises(
        FileTooLarge,
        match=rf"{REPO}'s {ZIP} sent more than [\d,]+ bytes although the Hub "
        rf"said 3,000,000 bytes, over its cap of 5,000,000 bytes: refused, and nothing of it was kept\. "
        rf".*change the cap with the variable {MODEL_CAP_VARIABLE} \(in MB\)",
    ):
        fetch_agent_files(REPO, PONG)
    assert time.monotonic() - started < 10
    time.sleep(0.5)
    assert hub.generated_bytes_sent < 100 * 10**6, "the stream went on past the cap"
    cache = tmp_path / "hf-cache"
    assert ZIP not in cache_view(cache).get(REPO, set()) and blob_bytes(cache) < 64_000  # only the small files


@pytest.mark.parametrize(
    ("filename", "variable", "size", "setting", "refused_by_default"),
    [
        ("results.json", "ARENA_HUB_MAX_SMALL_KB", 100_000, "200", True),  # raised past 64 kB
        (METRICS_FILE, "ARENA_HUB_MAX_CURVES_MIB", 2 * 2**20, "1", False),  # lowered under 32 MiB
        ("replay.mp4", "ARENA_HUB_MAX_OTHER_MB", 2 * 10**6, "3", True),  # raised past 1 MB
    ],
)
def test_each_kind_of_file_has_its_cap_set_by_an_owner_setting_that_its_refusal_names(
    hub, pong_repo, monkeypatch, filename, variable, size, setting, refused_by_default
):
    hub.add_repo("someone/dqn-Pong", {**pong_repo, filename: Generated(size)})

    def fetch() -> Path | None:
        hub_module._handed_out.clear()
        for blob in (Path(constants.HF_HUB_CACHE) / "models--someone--dqn-Pong").glob("snapshots/*/" + filename):
            blob.unlink()  # not from the cache: each fetch asks the Hub
        return fetch_extra_file("someone/dqn-Pong", filename)

    refusal = rf"{filename} is {size:,} bytes, over its cap of [\d,]+ bytes: refused.* variable {variable} \(in "
    for value in (None, setting):
        if value is None:
            monkeypatch.delenv(variable, raising=False)
        else:
            monkeypatch.setenv(variable, value)
        if (value is None) == refused_by_default:
            with pytest.raises(FileTooLarge, match=refusal):
                fetch()
        else:
            fetched = fetch()
            assert fetched is not None and fetched.stat().st_size == size


@pytest.mark.parametrize("variable", ["ARENA_HUB_MAX_SMALL_KB", "ARENA_HUB_MAX_CURVES_MIB", "ARENA_HUB_CACHE_MB"])
def test_a_bad_cap_setting_is_refused_naming_it_before_any_request(hub, pong_repo, monkeypatch, variable):
    hub.add_repo("someone/dqn-Pong", {**pong_repo, METRICS_FILE: Generated(1000)})
    monkeypatch.setenv(variable, "33" if variable == "ARENA_HUB_MAX_CURVES_MIB" else "lots")
    message = rf"{variable} must be a number from [\d.,]+ to [\d,]+, not .*Fix the Space's variable \(in "
    with pytest.raises(AgentError, match=message):
        if variable == "ARENA_HUB_CACHE_MB":
            fetch_agent_files("someone/dqn-Pong", PONG)  # the cache is trimmed after the download
        else:
            fetch_extra_file("someone/dqn-Pong", METRICS_FILE if "CURVES" in variable else "results.json")


@pytest.mark.slow  # waits out a deadline and watches the stream
def test_a_download_that_no_request_waits_for_stops_and_leaves_nothing(hub, pong_repo, tmp_path, monkeypatch):
    hub.add_repo("someone/dqn-Pong", {**pong_repo, METRICS_FILE: Generated(30 * 2**20, pause_s=0.1)})  # 3 s
    monkeypatch.setattr(hub_module, "DOWNLOAD_DEADLINE_S", 1)
    with pytest.raises(HubTooSlow, match=rf"someone/dqn-Pong's {METRICS_FILE} did not arrive within 1 s\. Try again"):
        fetch_extra_file("someone/dqn-Pong", METRICS_FILE)
    time.sleep(1.5)  # a 10 MB chunk of the client, then its next look at the stop
    sent = hub.generated_bytes_sent
    time.sleep(1.0)
    assert hub.generated_bytes_sent == sent < 30 * 2**20, "the download went on after the request gave up"
    assert not [thread for thread in threading.enumerate() if thread.name == "hub-_fetch"]
    assert blob_bytes(tmp_path / "hf-cache") == 0


def test_the_cache_keeps_its_budget_giving_back_the_least_recently_used_repo(hub, pong_repo, tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_BUDGET_VARIABLE, "5")  # MB: two of these repos fit, three do not
    monkeypatch.setattr(hub_module, "_handed_out", {})
    monkeypatch.setattr(hub_module, "IN_USE_S", 0)  # no request holds them: only LRU order counts
    repos = {name: f"someone/{name}" for name in ("a", "b", "c", "d")}
    for repo in repos.values():
        hub.add_repo(repo, {**pong_repo, ZIP: Generated(2 * 10**6)})
    cache = tmp_path / "hf-cache"
    for name in ("a", "b"):
        fetch_agent_files(repos[name], PONG)
        time.sleep(0.05)  # distinct access times
    fetch_agent_files(repos["a"], PONG)  # a, from the cache: now more recent than b
    fetch_agent_files(repos["c"], PONG)
    assert set(cache_view(cache)) == {repos["a"], repos["c"]}
    assert not (cache / "models--someone--b").exists()
    assert scan_cache_dir(cache).size_on_disk <= 5 * 10**6 < blob_bytes(cache) + 2 * 10**6
    monkeypatch.setattr(hub_module, "IN_USE_S", 3600)  # a still playing, c handed out long ago
    hub_module._handed_out[repos["c"]] -= 7200
    fetch_agent_files(repos["d"], PONG)
    assert set(cache_view(cache)) == {repos["a"], repos["d"]}, "the repo in use, or the new one, was given back"


def test_a_download_whose_request_ended_stops_at_once_and_leaves_nothing(hub, pong_repo, tmp_path):
    """The visitor cancels or closes the page while the model comes (the app sets the request's stop): the
    download stops at its next chunk, not at the deadline, and nothing of it stays."""
    hub.add_repo(REPO, {**pong_repo, ZIP: Generated(60 * 2**20, pause_s=0.02)})  # 1.2 s of stream at least
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    with stop_on(stop), pytest.raises(Stopped):
        fetch_agent_files(REPO, PONG)
    assert time.monotonic() - started < 1.0
    time.sleep(0.5)  # the client's 10 MiB chunk, then its look at the stop
    sent = hub.generated_bytes_sent
    time.sleep(0.5)
    assert hub.generated_bytes_sent == sent < 60 * 2**20, "the download went on after its request ended"
    assert ZIP not in cache_view(tmp_path / "hf-cache").get(REPO, set())
    assert not list((tmp_path / "hf-cache").glob("models--*/blobs/*.incomplete"))
