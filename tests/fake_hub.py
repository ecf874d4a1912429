"""A local stand-in for the Hugging Face Hub's file endpoints, so tests can run the real download code.

The tests cannot reach the Hub, yet the Arena's behaviour when the Hub is slow, failing, half-way
through a download or hands out a new revision only shows through the real ``huggingface_hub``
client. ``FakeHub`` answers that client's requests the way the Hub does:

* ``HEAD``/``GET /{repo_id}/resolve/{revision}/{filename}`` with ``X-Repo-Commit`` and a quoted
  ``ETag`` (the file's git blob sha1). A file of 1 MB or more, or one named in ``lfs_files``, is
  an "LFS" file: the answer is a ``302`` to a CDN URL with ``X-Linked-Etag`` (its sha256) and
  ``X-Linked-Size``, exactly as the Hub redirects a model zip to its CDN.
* The CDN is a second listener on another port, ``GET /cdn/<sha256>``. It must be another
  origin: ``huggingface_hub`` follows a redirect that stays on the endpoint's origin (and would then
  miss ``X-Repo-Commit``), but stops at one that leaves it, takes the metadata from the ``302``
  itself, drops the ``Authorization`` header and downloads from the CDN URL directly.
* ``GET`` honours ``Range: bytes=N-`` with a ``206``: that is how the client resumes a body after
  a dropped connection.
* Errors carry ``X-Error-Code``/``X-Error-Message``, which ``hf_raise_for_status`` maps to
  exceptions: an unknown repo is a 404 ``RepoNotFound``, a private repo asked for without a token a
  401 ``RepoNotFound``, a gated one a 401 ``GatedRepo``, an unknown revision a 404
  ``RevisionNotFound``, an unknown file a 404 ``EntryNotFound`` (with ``X-Repo-Commit``, so the
  client caches the absence). Any ``Authorization: Bearer`` token opens private and gated repos.

* ``GET /api/models/{repo_id}/tree/{revision}`` lists the revision's files (``HfApi.list_repo_tree``), with
  the same answers for an unknown or private repo or revision; a gated repo's files are listed to anyone,
  as on the Hub.

No other ``/api/...`` endpoint (``HfApi``) exists: they answer a plain 404.

* A :class:`Generated` file is made on the fly as it is sent, so a test can serve gigabytes without holding
  them; with ``claimed_size`` its metadata lies (``X-Linked-Size``, the tree listing) and its body comes with
  no ``Content-Length``, running until the server closes, as a hostile server's may.

Pointing the client at it
-------------------------
``huggingface_hub`` reads ``HF_ENDPOINT`` and ``HF_HUB_OFFLINE`` once, when it is imported, into
``huggingface_hub.constants``, and ``hf_hub_download`` builds its URL from
``constants.HUGGINGFACE_CO_URL_TEMPLATE`` at each call. In-process, patch those attributes
(``tests/conftest.py`` sets ``HF_HUB_OFFLINE=1`` for the whole session, so offline mode must be
switched off too)::

    with FakeHub() as hub:
        for name, value in hub.client_constants().items():
            monkeypatch.setattr(huggingface_hub.constants, name, value)
        hub.add_repo("org/name", {"config.yml": b"..."})
        hf_hub_download("org/name", "config.yml", cache_dir=tmp_path)

(``hf_hub_download(..., endpoint=hub.url)`` works too, for code that passes the endpoint.) A
subprocess imports ``huggingface_hub`` afresh, so it takes the environment instead:
``subprocess.run(..., env={**os.environ, **hub.client_env()})``.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import unquote, urlsplit

LFS_THRESHOLD_BYTES = 1_000_000  # files this large are served the way the Hub serves LFS files
_COMMIT_SHA = re.compile(r"[0-9a-f]{40}")
_RANGE = re.compile(r"bytes=(\d+)-(\d*)")


@dataclass(frozen=True)
class Generated:
    """A file of ``size`` bytes made while it is sent (always served as LFS), a MiB at a time with ``pause_s``
    between MiBs; its metadata says ``claimed_size`` instead when that is given."""

    size: int
    claimed_size: int | None = None
    pause_s: float = 0.0

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, part: slice) -> Generated:
        start, stop, _ = part.indices(self.size)
        return Generated(max(0, stop - start), pause_s=self.pause_s)

    def chunks(self, chunk: int = 1 << 20) -> Iterator[bytes]:
        block = bytes(range(256)) * (chunk // 256)
        for start in range(0, self.size, chunk):
            yield block[: min(chunk, self.size - start)]
            time.sleep(self.pause_s)


@dataclass(frozen=True)
class _File:
    """One file of one revision, with the identifiers the Hub gives it."""

    content: bytes | Generated
    git_sha: str  # git blob sha1: the ETag of a regular file
    sha256: str | None  # set for LFS files: their X-Linked-Etag and CDN address

    @property
    def etag(self) -> str:
        return self.sha256 or self.git_sha

    @property
    def claimed_size(self) -> int:
        """The size the Hub's metadata gives (a lie for a :class:`Generated` file with ``claimed_size``)."""
        claimed = self.content.claimed_size if isinstance(self.content, Generated) else None
        return len(self.content) if claimed is None else claimed


@dataclass
class _Repo:
    private: bool
    gated: bool
    main: str  # commit sha that ``main`` points to
    revisions: dict[str, dict[str, _File]]  # commit sha -> filename -> file


@dataclass
class _Failure:
    status: int
    error_code: str | None
    message: str
    method: str | None  # None: any method
    retry_after_s: int


def _git_blob_sha(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def _make_file(content: bytes | Generated, lfs: bool) -> _File:
    if isinstance(content, Generated):
        sha256 = hashlib.sha256(repr(content).encode()).hexdigest()  # no real content to hash
        return _File(content, _git_blob_sha(sha256.encode()), sha256)
    if not lfs:
        return _File(content, _git_blob_sha(content), None)
    sha256 = hashlib.sha256(content).hexdigest()
    # The ETag of an LFS file's resolve answer is that of its git pointer; the client must prefer X-Linked-Etag.
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {len(content)}\n"
    return _File(content, _git_blob_sha(pointer.encode()), sha256)


class FakeHub:
    """A Hub (and its CDN) on ephemeral ports of 127.0.0.1, served from background threads.

    Use it as a context manager; ``url`` is the endpoint to give the client. Every knob can be
    turned while the servers run: ``delay_s`` and ``delay_s_by_method`` slow the answers,
    ``fail_next`` answers with an error status, ``drop_next_body`` cuts a body short.
    ``requests`` and ``request_headers`` record what the client asked, in order.
    """

    def __init__(self) -> None:
        self.delay_s: float = 0.0  # waited before answering any request
        self.delay_s_by_method: dict[str, float] = {}  # e.g. {"HEAD": 2.0}: replaces delay_s for that method
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._repos: dict[str, _Repo] = {}
        self._blobs: dict[str, bytes | Generated] = {}  # sha256 -> content, what the CDN serves
        self._failures: list[_Failure] = []
        self._drops: list[int] = []
        self._requests: list[tuple[str, str]] = []
        self._generated_sent = 0
        self._request_headers: list[dict[str, str]] = []
        self._connections: set[socket.socket] = set()
        self._hub = _Server(self, cdn=False)
        self._cdn = _Server(self, cdn=True)
        self._threads = [
            # A short poll interval: shutting down waits for the serving loop to notice, once per server.
            threading.Thread(target=server.serve_forever, args=(0.02,), name=f"fake-hub-{name}", daemon=True)
            for name, server in (("hub", self._hub), ("cdn", self._cdn))
        ]

    @property
    def url(self) -> str:
        """The endpoint, e.g. ``http://127.0.0.1:41234``: what ``HF_ENDPOINT`` would be."""
        return self._hub.url

    @property
    def cdn_url(self) -> str:
        """Where LFS files are redirected to: another origin, like the Hub's CDN."""
        return self._cdn.url

    def __enter__(self) -> FakeHub:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._closed.set()  # ends any delay being waited
        for server in (self._hub, self._cdn):
            server.shutdown()
            server.server_close()
        # The client keeps connections alive; their handler threads would otherwise wait for a next request.
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the client
        for thread in self._threads:
            thread.join(timeout=5)

    def client_constants(self) -> dict[str, object]:
        """The ``huggingface_hub.constants`` attributes to patch so that this process downloads from here."""
        return {
            "ENDPOINT": self.url,
            "HUGGINGFACE_CO_URL_TEMPLATE": self.url + "/{repo_id}/resolve/{revision}/{filename}",
            "HF_HUB_OFFLINE": False,
        }

    def client_env(self) -> dict[str, str]:
        """The environment variables that make a new Python process download from here."""
        return {"HF_ENDPOINT": self.url, "HF_HUB_OFFLINE": "0"}

    def add_repo(
        self,
        repo_id: str,
        files: dict[str, bytes | Generated],
        revision_sha: str | None = None,
        private: bool = False,
        gated: bool = False,
        lfs_files: Collection[str] = (),
    ) -> str:
        """Publish ``files`` as a new commit of ``repo_id`` and point ``main`` at it; return the commit sha.

        Adding to a known repo makes a new revision (with a new sha, even for the same content, as
        a new commit would); earlier shas keep resolving to their own files. ``private`` and
        ``gated`` apply to the repo from now on. Files of ``LFS_THRESHOLD_BYTES`` or more, and
        those named in ``lfs_files``, are served as LFS files through the CDN.
        """
        made = {
            name: _make_file(content, len(content) >= LFS_THRESHOLD_BYTES or name in lfs_files)
            for name, content in files.items()
        }
        with self._lock:
            repo = self._repos.get(repo_id)
            if revision_sha is None:
                parent = repo.main if repo else ""
                tree = "".join(f"{name}\0{file.etag}\n" for name, file in sorted(made.items()))
                revision_sha = hashlib.sha1(f"{repo_id}\n{parent}\n{tree}".encode()).hexdigest()
            elif not _COMMIT_SHA.fullmatch(revision_sha):
                raise ValueError(f"a commit sha is 40 lowercase hex digits, not {revision_sha!r}")
            if repo is None:
                repo = self._repos[repo_id] = _Repo(private, gated, revision_sha, {})
            repo.private, repo.gated, repo.main = private, gated, revision_sha
            repo.revisions[revision_sha] = made
            self._blobs.update((file.sha256, file.content) for file in made.values() if file.sha256)
        return revision_sha

    def fail_next(
        self,
        status: int,
        error_code: str | None = None,
        message: str = "Injected failure",
        times: int = 1,
        method: str | None = None,
        retry_after_s: int = 1,
    ) -> None:
        """Answer the next ``times`` requests (of ``method`` only, if given; Hub or CDN) with ``status``.

        The answer carries ``X-Error-Code`` (when given) and ``X-Error-Message``; a 429 also carries
        ``Retry-After: retry_after_s``, which the client sleeps for, plus one second, before retrying.
        """
        with self._lock:
            self._failures.extend(_Failure(status, error_code, message, method, retry_after_s) for _ in range(times))

    def drop_next_body(self, after_bytes: int, times: int = 1) -> None:
        """Cut the next ``times`` file bodies (GETs on Hub or CDN) after ``after_bytes`` bytes.

        The headers announce the full ``Content-Length``; the connection is then closed mid-body, as
        a network failure would.
        """
        with self._lock:
            self._drops.extend([after_bytes] * times)

    @property
    def requests(self) -> list[tuple[str, str]]:
        """``(method, path)`` of every request received so far, Hub and CDN, in order (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def generated_bytes_sent(self) -> int:
        """How many bytes of :class:`Generated` files the client has taken so far."""
        with self._lock:
            return self._generated_sent

    @property
    def request_headers(self) -> list[dict[str, str]]:
        """The headers of every request, in the order of ``requests`` (a copy; names lower-case)."""
        with self._lock:
            return [dict(headers) for headers in self._request_headers]

    def _record(self, method: str, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self._requests.append((method, path))
            self._request_headers.append(headers)

    def _wait(self, method: str) -> None:
        self._closed.wait(self.delay_s_by_method.get(method, self.delay_s))

    def _take_failure(self, method: str) -> _Failure | None:
        with self._lock:
            for index, failure in enumerate(self._failures):
                if failure.method in (None, method):
                    return self._failures.pop(index)
        return None

    def _take_drop(self) -> int | None:
        with self._lock:
            return self._drops.pop(0) if self._drops else None


class _Server(ThreadingHTTPServer):
    """One listener, the Hub's or the CDN's, handing each connection to a daemon thread."""

    daemon_threads = True
    block_on_close = False  # FakeHub.__exit__ closes the connections itself

    def __init__(self, hub: FakeHub, cdn: bool) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hub = hub
        self.cdn = cdn
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    """Answers one connection's requests, keeping it alive between them as the Hub does."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.hub._lock:
            self.server.hub._connections.add(self.connection)

    def finish(self) -> None:
        with self.server.hub._lock:
            self.server.hub._connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: tests read ``FakeHub.requests`` instead of a log on stderr."""

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def _answer(self, send_body: bool) -> None:
        hub = self.server.hub
        hub._record(self.command, self.path, {name.lower(): value for name, value in self.headers.items()})
        hub._wait(self.command)
        failure = hub._take_failure(self.command)
        if failure is not None:
            extra = {"Retry-After": str(failure.retry_after_s)} if failure.status == 429 else {}
            self._error(failure.status, failure.error_code, failure.message, send_body, extra)
        elif self.server.cdn:
            self._answer_cdn(send_body)
        elif urlsplit(self.path).path.startswith("/api/models/") and "/tree/" in self.path:
            self._answer_tree(send_body)
        else:
            self._answer_resolve(send_body)

    def _answer_cdn(self, send_body: bool) -> None:
        sha256 = urlsplit(self.path).path.removeprefix("/cdn/")
        with self.server.hub._lock:
            content = self.server.hub._blobs.get(sha256)
        if content is None:
            self._error(404, None, "No such blob", send_body)
        else:
            self._content(content, {"ETag": f'"{sha256}"'}, send_body)

    def _answer_resolve(self, send_body: bool) -> None:
        """Resolve ``/{repo_id}/resolve/{revision}/{filename}``, checking what the Hub checks, in its order."""
        raw_repo, found, raw_rest = urlsplit(self.path).path.lstrip("/").partition("/resolve/")
        raw_revision, _, raw_filename = raw_rest.partition("/")
        if not found or not raw_filename:
            self._error(404, None, "FakeHub serves only /{repo_id}/resolve/{revision}/{filename}", send_body)
            return
        # The client quotes the revision with no safe characters ("refs/pr/1" -> "refs%2Fpr%2F1").
        repo_id, revision, filename = unquote(raw_repo), unquote(raw_revision), unquote(raw_filename)
        found_files = self._revision(repo_id, revision, send_body, gated_open=False)
        if found_files is None:
            return
        commit, files = found_files
        if filename not in files:
            self._error(404, "EntryNotFound", "Entry not found", send_body, {"X-Repo-Commit": commit})
        else:
            file = files[filename]
            headers = {"X-Repo-Commit": commit, "ETag": f'"{file.git_sha}"'}
            if file.sha256 is None:
                self._content(file.content, headers, send_body)
            else:
                headers |= {
                    "X-Linked-Etag": f'"{file.sha256}"',
                    "X-Linked-Size": str(file.claimed_size),
                    "Location": f"{self.server.hub.cdn_url}/cdn/{file.sha256}",
                }
                self._send(302, headers, b"", send_body)

    def _answer_tree(self, send_body: bool) -> None:
        """List ``/api/models/{repo_id}/tree/{revision}``: every file, as the Hub lists a folder's entries."""
        raw_repo, _, raw_revision = urlsplit(self.path).path.removeprefix("/api/models/").partition("/tree/")
        found_files = self._revision(unquote(raw_repo), unquote(raw_revision), send_body, gated_open=True)
        if found_files is None:
            return
        entries = [
            {"type": "file", "oid": file.git_sha, "size": file.claimed_size, "path": name}
            | ({"lfs": {"oid": file.sha256, "size": file.claimed_size, "pointerSize": 134}} if file.sha256 else {})
            for name, file in sorted(found_files[1].items())
        ]
        self._send(200, {"Content-Type": "application/json"}, json.dumps(entries).encode(), send_body)

    def _revision(
        self, repo_id: str, revision: str, send_body: bool, gated_open: bool
    ) -> tuple[str, dict[str, _File]] | None:
        """A revision's commit and files, or ``None`` once the Hub's refusal is sent (an unknown repo, a private
        or gated one without a token, an unknown revision), checked in the Hub's order."""
        authorized = self.headers.get("Authorization", "").startswith("Bearer ")
        hub = self.server.hub
        with hub._lock:
            repo = hub._repos.get(repo_id)
            commit = repo.main if repo and revision == "main" else revision
            files = repo.revisions.get(commit) if repo else None
        if repo is None:
            self._error(404, "RepoNotFound", "Repository not found", send_body)
        elif repo.private and not authorized:
            self._error(401, "RepoNotFound", "Invalid username or password.", send_body)
        elif repo.gated and not authorized and not gated_open:
            message = f"Access to model {repo_id} is restricted. You must be authenticated to access it."
            self._error(401, "GatedRepo", message, send_body)
        elif files is None:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}", send_body)
        else:
            return commit, files
        return None

    def _content(self, content: bytes | Generated, headers: dict[str, str], send_body: bool) -> None:
        """Send a file, or the part of it that ``Range: bytes=N-[M]`` asks for."""
        headers = headers | {"Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        match = _RANGE.fullmatch(self.headers.get("Range", "").strip())
        if match is None:
            self._send(200, headers, content, send_body, may_drop=True)
            return
        start = int(match[1])
        end = min(int(match[2]) if match[2] else len(content) - 1, len(content) - 1)
        if start > end:
            self._send(416, headers | {"Content-Range": f"bytes */{len(content)}"}, b"", send_body)
            return
        headers["Content-Range"] = f"bytes {start}-{end}/{len(content)}"
        self._send(206, headers, content[start : end + 1], send_body, may_drop=True)

    def _error(
        self, status: int, code: str | None, message: str, send_body: bool, extra: dict[str, str] | None = None
    ) -> None:
        headers = {"X-Error-Message": message, "Content-Type": "application/json", **(extra or {})}
        if code is not None:
            headers["X-Error-Code"] = code
        self._send(status, headers, json.dumps({"error": message}).encode(), send_body)

    def _send(
        self, status: int, headers: dict[str, str], body: bytes | Generated, send_body: bool, may_drop: bool = False
    ) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if isinstance(body, Generated) and body.claimed_size is not None:
            self.close_connection = True  # no length: the body runs until the server closes, as a liar's may
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not send_body:
            return
        drop_after = self.server.hub._take_drop() if may_drop else None
        if isinstance(body, Generated):
            try:
                for chunk in body.chunks():
                    self.wfile.write(chunk)
                    with self.server.hub._lock:
                        self.server.hub._generated_sent += len(chunk)
            except OSError:  # the client stopped reading: what a capped download does
                self.close_connection = True
        elif drop_after is None:
            self.wfile.write(body)
        else:
            self.wfile.write(body[:drop_after])
            self.close_connection = True  # the socket is shut after the handler returns: the body stays short


def main(argv: list[str] | None = None) -> None:
    """``python -m tests.fake_hub --repo OWNER/NAME=FOLDER [--delay S]``: serve folders as Hub repos until
    stopped, for a benchmark in another process; the first stdout line is ``{"url": ...}``."""
    import argparse
    import signal
    import sys
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m tests.fake_hub", description=main.__doc__.splitlines()[0])
    parser.add_argument("--repo", action="append", required=True, help="OWNER/NAME=FOLDER, the repo's files")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer (default: 0)")
    args = parser.parse_args(argv)
    with FakeHub() as hub:
        hub.delay_s = args.delay
        for entry in args.repo:
            repo_id, folder = entry.split("=", 1)
            hub.add_repo(repo_id, {path.name: path.read_bytes() for path in Path(folder).iterdir() if path.is_file()})
        print(json.dumps({"url": hub.url}), flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        stop.wait()
    sys.exit(0)


if __name__ == "__main__":
    main()
