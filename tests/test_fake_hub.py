"""The fake Hub must fool the real ``huggingface_hub`` client, or tests built on it prove nothing.

Each test downloads with the installed ``hf_hub_download`` into an empty cache of its own, with
offline mode off, and checks what the client made of the answers.
"""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import constants, get_hf_file_metadata, hf_hub_download, hf_hub_url
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from tests.fake_hub import FakeHub

REPO = "fake-org/dqn-PongNoFrameskip-v4"
SMALL = b"policy: CnnPolicy\n"
LARGE = bytes(range(256)) * 6_000  # 1.5 MB: served as an LFS file, through the CDN
HUGE = bytes(reversed(range(256))) * 44_000  # 11 MB: more than the client's 10 MiB read chunk
ETAG_TIMEOUT_S = 5


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """A running fake Hub that this process's ``huggingface_hub`` downloads from."""
    with FakeHub() as hub:
        for name, value in hub.client_constants().items():
            monkeypatch.setattr(constants, name, value)
        yield hub


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "hf-cache"


def download(cache: Path, filename: str, repo_id: str = REPO, **kwargs: object) -> Path:
    return Path(hf_hub_download(repo_id, filename, cache_dir=cache, etag_timeout=ETAG_TIMEOUT_S, **kwargs))


def repo_cache(cache: Path, repo_id: str = REPO) -> Path:
    return cache / f"models--{repo_id.replace('/', '--')}"


def gets(hub: FakeHub) -> list[str]:
    return [path for method, path in hub.requests if method == "GET"]


def test_small_and_lfs_files_download_into_the_cache(hub: FakeHub, cache: Path) -> None:
    sha = hub.add_repo(REPO, {"config.yml": SMALL, "dqn-PongNoFrameskip-v4.zip": LARGE})

    assert download(cache, "config.yml").read_bytes() == SMALL
    assert download(cache, "dqn-PongNoFrameskip-v4.zip").read_bytes() == LARGE

    assert (repo_cache(cache) / "refs" / "main").read_text() == sha
    assert hub.requests[:2] == [
        ("HEAD", f"/{REPO}/resolve/main/config.yml"),
        ("GET", f"/{REPO}/resolve/main/config.yml"),
    ]
    # The LFS file's HEAD stops at the CDN redirect and the body comes from the CDN, as on the real Hub.
    assert hub.requests[2] == ("HEAD", f"/{REPO}/resolve/main/dqn-PongNoFrameskip-v4.zip")
    assert hub.requests[3][0] == "GET" and hub.requests[3][1].startswith("/cdn/")
    assert len(hub.requests) == 4


def test_a_cached_file_is_revalidated_by_head_alone(hub: FakeHub, cache: Path) -> None:
    hub.add_repo(REPO, {"config.yml": SMALL, "model.zip": LARGE})
    for filename in ("config.yml", "model.zip"):
        first = download(cache, filename)
        asked = len(hub.requests)
        assert download(cache, filename) == first
        assert hub.requests[asked:] == [("HEAD", f"/{REPO}/resolve/main/{filename}")]


def test_a_new_revision_is_downloaded_and_the_old_one_still_resolves(hub: FakeHub, cache: Path, tmp_path: Path) -> None:
    old_sha = hub.add_repo(REPO, {"config.yml": SMALL, "model.zip": LARGE})
    download(cache, "config.yml")
    download(cache, "model.zip")

    new_sha = hub.add_repo(REPO, {"config.yml": b"policy: MlpPolicy\n", "model.zip": LARGE[::-1]})

    assert new_sha != old_sha
    assert download(cache, "config.yml").read_bytes() == b"policy: MlpPolicy\n"
    assert download(cache, "model.zip").read_bytes() == LARGE[::-1]
    assert (repo_cache(cache) / "refs" / "main").read_text() == new_sha
    # A fresh cache, so the answer comes from the hub and not from the snapshot already on disk.
    assert download(tmp_path / "other-cache", "model.zip", revision=old_sha).read_bytes() == LARGE


@pytest.mark.parametrize(
    ("repo_id", "filename", "revision", "error"),
    [
        ("nobody/nothing", "config.yml", None, RepositoryNotFoundError),
        (REPO, "missing.yml", None, EntryNotFoundError),
        (REPO, "config.yml", "f" * 40, RevisionNotFoundError),
        ("fake-org/gated", "config.yml", None, GatedRepoError),
        ("fake-org/private", "config.yml", None, RepositoryNotFoundError),
    ],
)
def test_errors_map_to_the_clients_exceptions(
    hub: FakeHub, cache: Path, repo_id: str, filename: str, revision: str | None, error: type[Exception]
) -> None:
    hub.add_repo(REPO, {"config.yml": SMALL})
    hub.add_repo("fake-org/gated", {"config.yml": SMALL}, gated=True)
    hub.add_repo("fake-org/private", {"config.yml": SMALL}, private=True)
    with pytest.raises(error):
        download(cache, filename, repo_id=repo_id, revision=revision, token=False)
    assert gets(hub) == []


def test_a_token_opens_a_private_repo_and_stays_off_the_cdn(hub: FakeHub, cache: Path) -> None:
    hub.add_repo("fake-org/private", {"config.yml": SMALL, "model.zip": LARGE}, private=True)

    assert download(cache, "config.yml", repo_id="fake-org/private", token="hf_x").read_bytes() == SMALL
    assert download(cache, "model.zip", repo_id="fake-org/private", token="hf_x").read_bytes() == LARGE

    sent = dict(zip(hub.requests, hub.request_headers, strict=True))
    assert sent[("HEAD", "/fake-org/private/resolve/main/model.zip")]["authorization"] == "Bearer hf_x"
    cdn_get = next(request for request in hub.requests if request[1].startswith("/cdn/"))
    assert "authorization" not in sent[cdn_get]


def test_a_dropped_body_is_downloaded_again_whole(hub: FakeHub, cache: Path) -> None:
    hub.add_repo(REPO, {"model.zip": LARGE})
    hub.drop_next_body(after_bytes=100_000)

    assert download(cache, "model.zip").read_bytes() == LARGE
    # The short body never reached the file: the client reads 10 MiB chunks, so it starts over without a Range.
    assert len(gets(hub)) == 2
    assert "range" not in hub.request_headers[-1]


def test_a_dropped_body_resumes_with_a_range_after_a_whole_chunk(hub: FakeHub, cache: Path) -> None:
    hub.add_repo(REPO, {"model.zip": HUGE})
    chunk = 10 * 1024 * 1024
    hub.drop_next_body(after_bytes=chunk + 1_000)

    assert download(cache, "model.zip").read_bytes() == HUGE
    assert len(gets(hub)) == 2
    assert hub.request_headers[-1]["range"] == f"bytes={chunk}-"


def test_a_body_that_keeps_dropping_fails_without_leaving_a_file(hub: FakeHub, cache: Path) -> None:
    hub.add_repo(REPO, {"model.zip": LARGE})
    hub.drop_next_body(after_bytes=0, times=10)

    with pytest.raises(httpx2.RemoteProtocolError):
        download(cache, "model.zip")  # five retries, a second apart
    assert len(gets(hub)) == 6
    leftovers = [path.name for path in repo_cache(cache).rglob("*") if path.is_file() and "refs" not in path.parts]
    assert leftovers == []


def test_server_errors_are_retried_until_the_file_comes(hub: FakeHub, tmp_path: Path) -> None:
    hub.add_repo(REPO, {"config.yml": SMALL})
    # A failed HEAD is retried (with backoff) only when the file is not cached.
    hub.fail_next(503, message="Service Unavailable", method="HEAD")
    assert download(tmp_path / "first", "config.yml").read_bytes() == SMALL
    assert [method for method, _ in hub.requests] == ["HEAD", "HEAD", "GET"]

    hub.fail_next(429, message="Too many requests", times=2, retry_after_s=0)
    start = time.monotonic()
    assert download(tmp_path / "second", "config.yml").read_bytes() == SMALL
    assert time.monotonic() - start >= 1  # the second 429's Retry-After: 0, plus the client's own second
    assert [method for method, _ in hub.requests[3:]] == ["HEAD", "HEAD", "HEAD", "GET"]


def test_delay_slows_the_head(hub: FakeHub) -> None:
    hub.add_repo(REPO, {"config.yml": SMALL})
    hub.delay_s = 0.5
    start = time.monotonic()
    metadata = get_hf_file_metadata(hf_hub_url(REPO, "config.yml"), timeout=ETAG_TIMEOUT_S)
    assert time.monotonic() - start >= 0.5
    assert metadata.size == len(SMALL)


def test_a_head_slower_than_etag_timeout_falls_back_to_the_cache(hub: FakeHub, cache: Path) -> None:
    hub.add_repo(REPO, {"config.yml": SMALL})
    cached = download(cache, "config.yml")
    hub.delay_s_by_method = {"HEAD": 3.0}
    start = time.monotonic()
    assert Path(hf_hub_download(REPO, "config.yml", cache_dir=cache, etag_timeout=0.3)) == cached
    assert time.monotonic() - start < 2


def test_a_subprocess_downloads_through_hf_endpoint(hub: FakeHub, cache: Path) -> None:
    sha = hub.add_repo(REPO, {"config.yml": SMALL, "model.zip": LARGE})
    script = (
        "import sys; from huggingface_hub import hf_hub_download\n"
        "for name in ('config.yml', 'model.zip'): print(hf_hub_download(sys.argv[1], name, etag_timeout=5))"
    )
    env = {**os.environ, **hub.client_env(), "HF_HUB_CACHE": str(cache)}
    result = subprocess.run(
        [sys.executable, "-c", script, REPO], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    config, model = (Path(line) for line in result.stdout.split())
    assert config.read_bytes() == SMALL and model.read_bytes() == LARGE
    assert config.parent.name == sha
    assert len(gets(hub)) == 2
