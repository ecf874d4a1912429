"""Find an RL Zoo agent's files in the local Hugging Face cache, or download them from the Hub.

The files are those ``rl_zoo3.push_to_hub`` uploads: ``<algo>-<EnvId>.zip``, ``config.yml``,
``env_kwargs.yml`` and ``results.json``, kept in the Hub's own disk cache. What happens:

- **Cached**: the cache's snapshot is used at once, with no request, whatever the Hub is doing.
  In the background the Hub is asked whether the repo has a newer revision; if it has, that
  revision's files are downloaded, and once they have all arrived the cache's ``main`` moves to it,
  so the next game uses it (:func:`revision_note` says so on the page).
- **Not cached**: the files are downloaded together, with the model zip's bytes reported as they
  arrive, within a total deadline; every answer of the Hub (no such repo, private, gated, missing
  file, rate limit, server error, too slow) becomes a message that says what to do. A file that did
  not arrive whole is never used.
- **Hub out of reach** (``HF_HUB_OFFLINE=1``, or no connection within a few seconds): a missing file
  fails at once with a message that names the repo.

A repo's file names (which say its game) come the same way: the cache's snapshot with no request, else
the Hub's listing, within one request's deadline.

Every byte from the Hub is bounded: each kind of file has a size cap (:func:`size_cap`), checked against the
Hub's metadata before a download starts and again on the stream as it arrives (a server may lie about the
size). A file over its cap is refused and nothing of it is kept; a download whose caller stopped waiting
(its deadline passed, or another file failed) stops at its next chunk. Downloads go over plain HTTP, never
Xet, so that every chunk passes through those checks. The cache as a whole keeps within a budget
(:func:`trim_cache`), giving back the least recently used repos but never one in use.
"""

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, wait
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from huggingface_hub import (
    _CACHED_NO_EXIST,
    HfApi,
    RepoFile,
    constants,
    get_hf_file_metadata,
    hf_hub_download,
    hf_hub_url,
    scan_cache_dir,
    try_to_load_from_cache,
)
from huggingface_hub.errors import (
    CacheNotFound,
    GatedRepoError,
    HfHubHTTPError,
    HFValidationError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.file_download import repo_folder_name
from huggingface_hub.utils import tqdm as hf_tqdm
from huggingface_hub.utils import validate_repo_id

from agents.core.errors import AgentError
from agents.core.numbers import OwnerSetting
from agents.core.stopping import Stopped, check_stop

ALGOS = ("dqn", "qrdqn")
OTHER_FILES = ("config.yml", "env_kwargs.yml", "results.json")
ETAG_TIMEOUT_S = 10  # one request's wait for the Hub's answer about a file
REACH_TIMEOUT_S = 3
DOWNLOAD_DEADLINE_S = 25  # all of an uncached agent's files, together
PROGRESS_EVERY_S = 0.25
RECHECK_EVERY_S = 600  # how often a cached agent's repo is asked for a newer revision
TOKEN_HOW = "set HF_TOKEN, run `hf auth login`, or on a Space add a secret named HF_TOKEN"
_ABSENT = object()  # the Hub said the repo has no such file
MAX_LISTED = 1000  # entries of a repo's listing read; an RL Zoo repo has about 15

MB = 1_000_000
KB = 1_000
MiB = 1024 * 1024
# The owner's settings (Space variables): the largest file of each kind downloaded, and the cache's total.
MODEL_CAP = OwnerSetting("ARENA_HUB_MAX_MODEL_MB", 100, 1, 10**5, whole=False, unit="MB")  # RL Zoo's: 13 to 30 MB
SMALL_FILE_CAP = OwnerSetting("ARENA_HUB_MAX_SMALL_KB", 64, 1, 10**4, whole=False, unit="kB")  # RL Zoo's: under 2 kB
SMALL_FILES = ("config.yml", "env_kwargs.yml", "results.json")
METRICS_FILE = "train_eval_metrics.zip"  # the curves
# At most what agents.curves reads (its MAX_ZIP_BYTES, 32 MiB): a larger archive would be downloaded for nothing.
CURVES_CAP = OwnerSetting("ARENA_HUB_MAX_CURVES_MIB", 32, 0.1, 32, whole=False, unit="MiB")
OTHER_FILE_CAP = OwnerSetting("ARENA_HUB_MAX_OTHER_MB", 1, 0.01, 10**4, whole=False, unit="MB")
CACHE_BUDGET = OwnerSetting("ARENA_HUB_CACHE_MB", 2000, 1, 10**7, whole=False, unit="MB")  # ~60 agents with curves
MODEL_CAP_VARIABLE = MODEL_CAP.variable
CACHE_BUDGET_VARIABLE = CACHE_BUDGET.variable
IN_USE_S = 1800  # a repo handed out this recently may still be read by a request: never given back
_handed_out: dict[str, float] = {}  # repo id -> when its files were last handed out (monotonic)
_downloading: dict[str, int] = {}  # repo id -> downloads of its files running now
_cache_lock = threading.Lock()
constants.HF_HUB_DISABLE_XET = True  # Xet downloads in Rust, past the byte checks: plain HTTP instead

ByteProgress = Callable[[int, int | None], None]  # bytes of the model zip so far, and its size if known


@dataclass(frozen=True)
class AgentFiles:
    """Local paths of one agent's files, all in one snapshot of the Hub cache."""

    repo_id: str
    algo: str
    model_zip: Path
    config: Path
    env_kwargs: Path | None
    results: Path | None
    offline: bool = False  # shipped with the Arena rather than fetched from the Hub

    def published_result(self) -> dict | None:
        """The evaluation the model card reports (``results.json``), if the repo has one."""
        if self.results is None:
            return None
        try:
            result = json.loads(self.results.read_text())
        except (OSError, ValueError):
            return None
        return result if isinstance(result, dict) else None


class HubUnavailable(AgentError):
    """The files are not in the local cache and the Hub cannot be reached."""


class HubTooSlow(AgentError):
    """The files did not all arrive within the deadline."""


class FileTooLarge(AgentError):
    """A file of the repo is larger than its kind's cap: refused, nothing of it kept."""


class _Abandoned(Exception):
    """Raised inside a download that no caller waits for any more, to stop it at its next chunk."""


def _cap_of(filename: str) -> tuple[OwnerSetting, int]:
    """The setting that caps a file with this name, and its size there in bytes."""
    if filename.endswith(".zip") and filename.split("-", 1)[0] in ALGOS:
        return MODEL_CAP, MB
    if filename in SMALL_FILES:
        return SMALL_FILE_CAP, KB
    if filename == METRICS_FILE:
        return CURVES_CAP, MiB
    return OTHER_FILE_CAP, MB


def size_cap(filename: str) -> int:
    """The most bytes the Arena downloads of a file with this name."""
    setting, unit = _cap_of(filename)
    return int(setting.value() * unit)


def _too_large(repo_id: str, filename: str, size: int, cap: int, claimed: int | None = None) -> FileTooLarge:
    said = f" although the Hub said {claimed:,} bytes" if claimed is not None else ""
    how_much = f"sent more than {size:,} bytes{said}" if claimed is not None else f"is {size:,} bytes"
    setting, _ = _cap_of(filename)
    if setting is MODEL_CAP:
        todo = "An RL Zoo Atari agent's zip is 13 to 30 MB: check the repo"
    else:
        todo = "An RL Zoo repo's file of this kind is far smaller: check that the repo is an RL Zoo agent's"
    return FileTooLarge(
        f"{repo_id}'s {filename} {how_much}, over its cap of {cap:,} bytes: refused, and nothing of it was kept. "
        f"{todo}, or (the Space's owner) change the cap with the variable {setting.variable} (in {setting.unit})."
    )


def check_repo_id(repo_id: str) -> str:
    """Return the repo id stripped, or explain why it is not one."""
    repo_id = (repo_id or "").strip()
    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise AgentError(f"{repo_id!r} is not a Hub repo id ({error}). Write it as OWNER/NAME.") from None
    if "/" not in repo_id:
        raise AgentError(f"{repo_id!r} is not a Hub repo id: write it as OWNER/NAME, e.g. sb3/dqn-PongNoFrameskip-v4.")
    return repo_id


def _connect(host: str, port: int) -> None:
    socket.create_connection((host, port), timeout=REACH_TIMEOUT_S).close()


def hub_reachable() -> bool:
    """Whether a connection to the Hub opens, found out in a few seconds: an agent that is not cached
    then fails at once when it does not, rather than after ``hf_hub_download``'s retries."""
    if constants.HF_HUB_OFFLINE:
        return False
    endpoint = urlparse(constants.ENDPOINT)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    # Name resolution has no timeout of its own, so the whole attempt runs under one.
    try:
        _in_thread(_connect, endpoint.hostname or "", port).result(timeout=REACH_TIMEOUT_S + 1)
        return True
    except (OSError, FutureTimeout):
        return False


def _in_cache(repo_id: str, filename: str, revision: str | None) -> Path | object | None:
    """A file of the cache's snapshot of ``revision`` (main by default): its path, ``_ABSENT`` when the
    Hub said the repo lacks it, ``None`` when the cache does not know."""
    found = try_to_load_from_cache(repo_id, filename, revision=revision)
    if isinstance(found, str):
        return Path(found)
    return _ABSENT if found is _CACHED_NO_EXIST else None


def cached_agent_files(repo_id: str, env_id: str, revision: str | None = None) -> AgentFiles | None:
    """The agent's files from the local cache alone, with no request, if the cache's snapshot holds all
    of them (a file the Hub said the repo lacks counts as known); ``None`` otherwise."""
    for algo in ALGOS:
        model_zip = _in_cache(repo_id, f"{algo}-{env_id}.zip", revision)
        if not isinstance(model_zip, Path):
            continue
        config, env_kwargs, results = (_in_cache(repo_id, name, revision) for name in OTHER_FILES)
        if not isinstance(config, Path) or env_kwargs is None or results is None:
            return None
        return AgentFiles(
            repo_id=repo_id,
            algo=algo,
            model_zip=model_zip,
            config=config,
            env_kwargs=env_kwargs if isinstance(env_kwargs, Path) else None,
            results=results if isinstance(results, Path) else None,
        )
    return None


def not_cached(what: str) -> HubUnavailable:
    """The refusal when the files of ``what`` (a repo, and its game if known) are needed and neither the
    cache nor the Hub has them."""
    return HubUnavailable(
        f"The files of {what} are not in the local Hugging Face cache, and the Hub cannot be reached (offline "
        "mode or no network). Connect to the Hub once to download them, or pick an agent that is already cached."
    )


def cached_file_names(repo_id: str) -> list[str]:
    """The files of the cache's snapshot of the repo's main revision, with no request: none if it has none."""
    folder = Path(constants.HF_HUB_CACHE) / repo_folder_name(repo_id=repo_id, repo_type="model")
    try:
        snapshot = folder / "snapshots" / (folder / "refs" / "main").read_text().strip()
        return sorted(path.name for path in snapshot.iterdir() if path.is_file())
    except OSError:
        return []


def _guarded_bar(
    repo_id: str, filename: str, cap: int, stop: threading.Event, report: ByteProgress | None
) -> type[hf_tqdm]:
    """``huggingface_hub``'s progress bar, not drawn, which the download calls at each chunk: it stops the
    download (``huggingface_hub`` then deletes the partial file) once more than ``cap`` bytes came or ``stop``
    is set, and hands the bytes to ``report``, whose caller shows them its own way."""

    class GuardedBar(hf_tqdm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **{**kwargs, "disable": True})
            self.received = int(kwargs.get("initial") or 0)
            self.size = kwargs.get("total")
            if self.size is not None and self.size > cap:
                raise _too_large(repo_id, filename, self.size, cap)
            if stop.is_set():
                raise _Abandoned(filename)
            if report:
                report(self.received, self.size)

        def update(self, n: float | None = 1) -> bool | None:
            self.received += int(n or 0)
            if self.received > cap:
                raise _too_large(repo_id, filename, self.received, cap, claimed=self.size)
            if stop.is_set():
                raise _Abandoned(filename)
            if report:
                report(self.received, self.size)
            return super().update(n)

    return GuardedBar


def _fetch(
    repo_id: str, filename: str, revision: str | None, report: ByteProgress | None, stop: threading.Event
) -> Path | object:
    """One file from the Hub (through its cache), or ``_ABSENT`` if the repo lacks it; refused before a byte
    comes if the Hub's metadata says it is over its cap, and stopped on the way if more than that arrives."""
    cap = size_cap(filename)
    try:
        size = get_hf_file_metadata(hf_hub_url(repo_id, filename, revision=revision), timeout=ETAG_TIMEOUT_S).size
    except RemoteEntryNotFoundError:
        size = None  # the download below says so, and the cache records the absence
    if size is not None and size > cap:
        raise _too_large(repo_id, filename, size, cap)
    try:
        path = hf_hub_download(
            repo_id,
            filename,
            revision=revision,
            etag_timeout=ETAG_TIMEOUT_S,
            tqdm_class=_guarded_bar(repo_id, filename, cap, stop, report),
        )
    except RemoteEntryNotFoundError:
        return _ABSENT
    return Path(path)


def _ask_once(repo_id: str, filename: str, revision: str | None) -> None:
    """One request for a file's metadata, with no retry; raises what the Hub answered if it was a no.
    Silence (a slow or dropped answer) and a missing ``config.yml`` are left to the downloads to say."""
    try:
        get_hf_file_metadata(hf_hub_url(repo_id, filename, revision=revision), timeout=ETAG_TIMEOUT_S)
    except HfHubHTTPError as error:
        if not isinstance(error, RemoteEntryNotFoundError):
            raise
    except Exception:  # no answer: not a "no"
        return


def _in_thread(function: Callable[..., Any], *args: Any) -> Future:
    """Run ``function`` in a daemon thread: a download left behind by a deadline never holds up the
    process's exit (a thread pool's workers would)."""
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(function(*args))
        except BaseException as error:  # handed to whoever waits on the future
            future.set_exception(error)

    threading.Thread(target=run, name=f"hub-{function.__name__}", daemon=True).start()
    return future


def hub_error(repo_id: str, error: BaseException) -> AgentError:
    """What the user reads for each way the Hub (or the way to it) can say no."""
    if isinstance(error, FileTooLarge):
        return error
    if isinstance(error, GatedRepoError):
        return AgentError(
            f"{repo_id} is gated: accept its conditions on https://huggingface.co/{repo_id}, then give the Arena "
            f"your token ({TOKEN_HOW})."
        )
    if isinstance(error, RepositoryNotFoundError):
        return AgentError(
            f"The Hub has no model repo {repo_id}, or it is private. Check the spelling of the repo id; for a "
            f"private repo, give the Arena a token that can read it ({TOKEN_HOW})."
        )
    if isinstance(error, RevisionNotFoundError):
        return AgentError(f"{repo_id} has no main revision on the Hub. Check the repo id.")
    if isinstance(error, HfHubHTTPError) and error.response is not None:
        status = error.response.status_code
        if status == 429:
            return AgentError("The Hub is limiting requests right now (rate limit). Try again in a minute.")
        if status >= 500:
            return AgentError(f"The Hub answered with a server error ({status}). Try again in a moment.")
        return AgentError(f"The Hub refused the download of {repo_id} ({status}: {error}).")
    return AgentError(
        f"Could not download {repo_id} from the Hub ({type(error).__name__}: {error}). "
        "Check the network and try again in a moment: nothing partial is kept."
    )


def _megabytes(done: int, size: int | None) -> str:
    return f"{done / 1e6:.1f} of {size / 1e6:.1f} MB" if size else f"{done / 1e6:.1f} MB"


def download_text(done: int, size: int | None) -> str:
    """The model download as the page and the command line say it."""
    if not done and not size:
        return "Downloading the model from the Hub: waiting for its first answer…"
    return f"Downloading the model from the Hub: {_megabytes(done, size)}"


def bar_progress(progress: Callable[[float, str], None], low: float = 0.05, high: float = 0.85) -> ByteProgress:
    """A ``progress`` for a progress bar that takes a share and a text (Gradio's): the download fills it
    from ``low`` to ``high``."""
    return lambda done, size: progress(low + (high - low) * (done / size if size else 0.0), download_text(done, size))


def printed_progress(every: float = 0.1) -> ByteProgress:
    """A ``progress`` for command lines: a line on stderr at each further tenth of the model zip."""
    shown = [-1.0]

    def show(done: int, size: int | None) -> None:
        share = done / size if size else 0.0
        if share >= shown[0] + every or (size and done == size and shown[0] < 1.0):
            shown[0] = share
            print(download_text(done, size), file=sys.stderr, flush=True)

    return show


def download_agent_files(
    repo_id: str,
    env_id: str,
    progress: ByteProgress | None = None,
    revision: str | None = None,
    deadline_s: float | None = None,
) -> AgentFiles:
    """Download the agent's files together, in parallel, and return them once all have arrived.

    ``progress`` hears the bytes of the model zip (the one large file). After ``deadline_s`` seconds
    (``DOWNLOAD_DEADLINE_S`` by default) without all of them, the user is told to try again: what has
    arrived whole stays in the cache for the next try, and the downloads still running stop and leave
    nothing. One file refused (too large, or a no from the Hub) stops the others the same way.
    """
    stop = threading.Event()
    with _downloads_of(repo_id):
        try:
            return _download_agent_files(repo_id, env_id, progress, revision, deadline_s, stop)
        finally:
            stop.set()  # whatever is still downloading has no one waiting for it


def _download_agent_files(
    repo_id: str,
    env_id: str,
    progress: ByteProgress | None,
    revision: str | None,
    deadline_s: float | None,
    stop: threading.Event,
) -> AgentFiles:
    limit = DOWNLOAD_DEADLINE_S if deadline_s is None else deadline_s
    deadline = time.monotonic() + limit
    zips = {algo: f"{algo}-{env_id}.zip" for algo in ALGOS}
    zip_bytes: dict[str, tuple[int, int | None]] = {}  # written by the download threads

    def reporter(filename: str) -> ByteProgress:
        return lambda done, size: zip_bytes.__setitem__(filename, (done, size))

    # One plain question beside the downloads, not retried: a "no" from the Hub (no such repo, gated,
    # rate limit, server error) is said at its first answer, not after the downloads' retries.
    probe = _in_thread(_ask_once, repo_id, "config.yml", revision)
    futures = {name: _in_thread(_fetch, repo_id, name, revision, reporter(name), stop) for name in zips.values()}
    futures |= {name: _in_thread(_fetch, repo_id, name, revision, None, stop) for name in OTHER_FILES}
    waiting, reported = set(futures.values()) | {probe}, (0, None)
    if progress is not None:
        progress(*reported)
    while waiting and time.monotonic() < deadline:
        check_stop()  # the visitor left: the downloads stop with this request (``finally`` above)
        # Progress is reported from this (the caller's) thread: Gradio's progress bar only hears its own.
        timeout = min(PROGRESS_EVERY_S, max(0.0, deadline - time.monotonic()))
        done, waiting = wait(waiting, timeout=timeout, return_when=FIRST_EXCEPTION)
        failed = [future for future in (probe, *futures.values()) if future in done and future.exception()]
        if failed:
            raise hub_error(repo_id, failed[0].exception())
        latest = max(zip_bytes.values(), default=None)
        if progress is not None and latest is not None and latest != reported:
            progress(*latest)
            reported = latest
    if waiting:
        arrived = "".join(f" ({name}: {_megabytes(*got)} arrived)" for name, got in zip_bytes.items() if got[0])
        raise HubTooSlow(
            f"The Hub is too slow right now: {repo_id}'s files did not all arrive within the {limit:.0f} s "
            f"allowed{arrived}. Try again in a moment: files that arrived whole are kept, partial ones deleted."
        )
    found = {name: future.result() for name, future in futures.items()}
    algo = next((algo for algo, name in zips.items() if isinstance(found[name], Path)), None)
    if algo is None:
        names = " or ".join(zips.values())
        raise AgentError(
            f"{repo_id} holds no {names}: it is not an RL Zoo DQN or QR-DQN agent for {env_id}. "
            "Check that the repo and the game match."
        )
    if not isinstance(found["config.yml"], Path):
        raise AgentError(f"{repo_id} has no config.yml: it is not in the RL Zoo layout.")
    env_kwargs, results = found["env_kwargs.yml"], found["results.json"]
    return AgentFiles(
        repo_id=repo_id,
        algo=algo,
        model_zip=found[zips[algo]],
        config=found["config.yml"],
        env_kwargs=env_kwargs if isinstance(env_kwargs, Path) else None,
        results=results if isinstance(results, Path) else None,
    )


@dataclass(frozen=True)
class RevisionNews:
    """A newer revision of a cached repo, found in the background."""

    commit: str
    ready: bool  # its files have all arrived and the cache's main points at it


_news: dict[str, RevisionNews] = {}
_last_check: dict[str, float] = {}
_news_lock = threading.Lock()


def revision_note(repo_id: str) -> str | None:
    """One sentence for the page when a newer revision of ``repo_id`` was found, else ``None``."""
    news = _news.get(repo_id)
    if news is None:
        return None
    if news.ready:
        return f"A newer revision of {repo_id} ({news.commit[:7]}) has been downloaded: the next game uses it."
    return (
        f"A newer revision of {repo_id} ({news.commit[:7]}) was found on the Hub and is being downloaded for next time."
    )


def _update_to_newest_revision(repo_id: str, env_id: str, cached: AgentFiles) -> None:
    """Ask the Hub for main's commit; if the cache has an older one, download the new commit's files by
    their commit (which leaves the cache's main alone), then move main to it with one more request."""
    url = hf_hub_url(repo_id, cached.model_zip.name)
    newest = get_hf_file_metadata(url, timeout=ETAG_TIMEOUT_S * 6).commit_hash
    if not newest or newest == cached.model_zip.parent.name:
        return
    _news[repo_id] = RevisionNews(newest, ready=False)
    download_agent_files(repo_id, env_id, revision=newest, deadline_s=RECHECK_EVERY_S)
    hf_hub_download(repo_id, "config.yml", etag_timeout=ETAG_TIMEOUT_S * 6)  # writes refs/main = newest
    if cached_agent_files(repo_id, env_id) is not None:
        _news[repo_id] = RevisionNews(newest, ready=True)
    trim_cache(keep=repo_id)


def check_for_newer_revision(repo_id: str, env_id: str, cached: AgentFiles) -> None:
    """In the background (at most every ``RECHECK_EVERY_S`` per repo), look for a newer revision of a
    cached agent and fetch it for next time; any trouble on the way is only logged."""
    with _news_lock:
        if constants.HF_HUB_OFFLINE or time.monotonic() - _last_check.get(repo_id, -RECHECK_EVERY_S) < RECHECK_EVERY_S:
            return
        _last_check[repo_id] = time.monotonic()

    def check() -> None:
        try:
            _update_to_newest_revision(repo_id, env_id, cached)
        except Exception as error:  # the cached revision plays meanwhile; the next check tries again
            print(f"Checking {repo_id} for a newer revision failed: {type(error).__name__}: {error}")

    threading.Thread(target=check, name=f"revision-{repo_id}", daemon=True).start()


def fetch_agent_files(
    repo_id: str, env_id: str, progress: ByteProgress | None = None, revision: str | None = None
) -> AgentFiles:
    """The files of the agent that ``repo_id`` holds for ``env_id`` (DQN or QR-DQN, by the RL Zoo's file
    names) at ``revision`` (a commit; main by default): the cache's at once if it has them all, else downloaded
    (see the module's docstring)."""
    repo_id = check_repo_id(repo_id)
    cached = cached_agent_files(repo_id, env_id, revision)
    if cached is not None:
        _mark_used(repo_id, cached.model_zip)
        if revision is None:
            check_for_newer_revision(repo_id, env_id, cached)
        return cached
    if not hub_reachable():
        raise not_cached(f"{repo_id} for {env_id}" + (f" at {revision}" if revision else ""))
    files = download_agent_files(repo_id, env_id, progress, revision=revision)
    _mark_used(repo_id, files.model_zip)
    trim_cache(keep=repo_id)
    return files


def fetch_extra_file(repo_id: str, filename: str, revision: str | None = None) -> Path | None:
    """One more file of a repo (e.g. ``train_eval_metrics.zip``) at ``revision``: from the cache at once,
    else downloaded within the deadline; ``None`` when the repo has no such file or the Hub cannot be
    reached. Errors of the Hub are worded as for the agent's own files."""
    found = _in_cache(repo_id, filename, revision)
    if found is not None:
        if isinstance(found, Path):
            _mark_used(repo_id, found)
        return found if isinstance(found, Path) else None
    if not hub_reachable():
        return None
    stop = threading.Event()
    with _downloads_of(repo_id):
        try:
            fetched = _wait_for(_in_thread(_fetch, repo_id, filename, revision, None, stop), DOWNLOAD_DEADLINE_S)
        except FutureTimeout:
            raise HubTooSlow(
                f"The Hub is too slow right now: {repo_id}'s {filename} did not arrive within {DOWNLOAD_DEADLINE_S} s. "
                "Try again in a moment: the part that arrived was deleted."
            ) from None
        except Stopped:
            raise
        except Exception as error:
            raise hub_error(repo_id, error) from None
        finally:
            stop.set()  # a download that outlived its deadline or its request stops at its next chunk
    if not isinstance(fetched, Path):
        return None
    _mark_used(repo_id, fetched)
    trim_cache(keep=repo_id)
    return fetched


def _wait_for(future: Future, timeout_s: float) -> Any:
    """``future``'s result within ``timeout_s``, looking every ``PROGRESS_EVERY_S`` whether the request ended."""
    deadline = time.monotonic() + timeout_s
    while True:
        check_stop()
        try:
            return future.result(timeout=min(PROGRESS_EVERY_S, max(0.0, deadline - time.monotonic())))
        except FutureTimeout:
            if time.monotonic() >= deadline:
                raise


def _list_files(repo_id: str) -> list[str]:
    """The repo's top-level files, at most ``MAX_LISTED`` entries read: the listing comes page by page."""
    entries = islice(HfApi(endpoint=constants.ENDPOINT).list_repo_tree(repo_id), MAX_LISTED)
    return [entry.path for entry in entries if isinstance(entry, RepoFile)]


def hub_file_names(repo_id: str) -> list[str]:
    """The files at the top of the repo's main revision, as the Hub lists them, within one request's deadline;
    every way the Hub (or the way to it) can say no is worded."""
    if not hub_reachable():
        raise not_cached(repo_id)
    try:
        return _wait_for(_in_thread(_list_files, repo_id), ETAG_TIMEOUT_S)
    except FutureTimeout:
        raise HubTooSlow(
            f"The Hub is too slow right now: it did not list {repo_id}'s files within {ETAG_TIMEOUT_S} s. "
            "Try again in a moment."
        ) from None
    except Stopped:
        raise
    except Exception as error:
        raise hub_error(repo_id, error) from None


@contextmanager
def _downloads_of(repo_id: str) -> Iterator[None]:
    """Counts a repo's running downloads, so that :func:`trim_cache` leaves the repo alone meanwhile."""
    with _cache_lock:
        _downloading[repo_id] = _downloading.get(repo_id, 0) + 1
    try:
        yield
    finally:
        with _cache_lock:
            _downloading[repo_id] -= 1
            if not _downloading[repo_id]:
                del _downloading[repo_id]


def _mark_used(repo_id: str, path: Path) -> None:
    """Note that a request now uses the repo: kept from :func:`trim_cache` for ``IN_USE_S``, and its blob's
    access time set to now, which ``scan_cache_dir`` reports as the repo's last access (mounts with
    ``noatime`` or ``relatime`` would not update it on a read)."""
    _handed_out[repo_id] = time.monotonic()
    try:
        blob = path.resolve()
        os.utime(blob, (time.time(), blob.stat().st_mtime))
    except OSError:
        pass  # a read-only cache: the repo is still kept while in use


def cache_budget() -> int:
    """The Hub cache's budget in bytes: the owner's ``ARENA_HUB_CACHE_MB``."""
    return int(CACHE_BUDGET.value() * MB)


def trim_cache(keep: str) -> list[str]:
    """Give back whole repos, least recently used first, through ``huggingface_hub``'s own cache API, until the
    cache fits :func:`cache_budget`; never ``keep``, a repo being downloaded, or one handed out in the last
    ``IN_USE_S``. Returns the repo ids given back."""
    with _cache_lock:
        try:
            cache = scan_cache_dir(constants.HF_HUB_CACHE)
        except CacheNotFound:
            return []
        total, budget = cache.size_on_disk, cache_budget()
        recent = time.monotonic() - IN_USE_S
        in_use = {keep, *_downloading, *(repo for repo, when in _handed_out.items() if when > recent)}
        freed = []
        for repo in sorted(cache.repos, key=lambda repo: repo.last_accessed):
            if total <= budget:
                break
            if repo.repo_id in in_use:
                continue
            cache.delete_revisions(*(revision.commit_hash for revision in repo.revisions)).execute()
            total -= repo.size_on_disk
            freed.append(repo.repo_id)
        return freed
