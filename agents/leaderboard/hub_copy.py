"""The board kept in a Hub dataset repo, for a Space without persistent storage: the SQLite database read
back when the app starts, and written to the dataset again whenever it changed, at most once a minute.

Only for the default SQLite database in the data folder (a PostgreSQL server keeps its own data). The owner
names the dataset in ``ARENA_LEADERBOARD_DATASET`` and gives the Space a token that may write it
(``HF_TOKEN``, a Space secret); the dataset is made private if it does not exist, since the database also
holds who submitted what. A board that cannot be read back (the Hub out of reach, a file that is not the
board's) is never written over: the app then keeps its board locally and says so.
"""

import hashlib
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from contextlib import closing
from pathlib import Path

import sqlalchemy as sa
from huggingface_hub import HfApi, get_token, hf_hub_download
from huggingface_hub.errors import RemoteEntryNotFoundError, RepositoryNotFoundError

from agents.core.errors import AgentError
from agents.core.hub import check_repo_id
from agents.core.numbers import OwnerSetting
from agents.leaderboard import store

DATASET_VARIABLE = "ARENA_LEADERBOARD_DATASET"
FILENAME = "leaderboard.sqlite3"
SAVE_EVERY_S = OwnerSetting("ARENA_LEADERBOARD_SAVE_S", 60, 10, 86_400, whole=False, unit="seconds")
DOWNLOAD_TIMEOUT_S = 30


def sqlite_file(url: str) -> Path | None:
    """The database's file if ``url`` is a SQLite database in a file, else None."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def snapshot(database: Path) -> bytes:
    """The database as one consistent file (SQLite's online backup), whatever is being written meanwhile."""
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / FILENAME
        with closing(sqlite3.connect(database)) as source, closing(sqlite3.connect(copy)) as target:
            source.backup(target)
        return copy.read_bytes()


def _is_a_board(path: Path) -> bool:
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError:
        return False
    return store.submissions.name in tables


class HubCopy:
    """The board's database and its copy in a dataset repo: :meth:`restore` once, then :meth:`save_if_changed`
    as often as wanted (only a changed database is uploaded)."""

    def __init__(self, database: Path, repo_id: str, token: str) -> None:
        self.database, self.repo_id, self.token = database, repo_id, token
        self.saved_digest: str | None = None
        self.created = False

    def restore(self) -> str:
        """Put the dataset's board in place of a missing local one; say what was done. Raises
        :class:`AgentError` when the dataset cannot be read, so that nothing overwrites it."""
        if self.database.exists():
            self.saved_digest = hashlib.sha256(snapshot(self.database)).hexdigest()
            return f"the board in {self.database.name} is kept; it is copied to {self.repo_id} when it changes"
        with tempfile.TemporaryDirectory() as fresh_cache:  # the Hub's board, never an older cached one
            try:
                downloaded = Path(
                    hf_hub_download(
                        self.repo_id,
                        FILENAME,
                        repo_type="dataset",
                        token=self.token,
                        cache_dir=fresh_cache,
                        etag_timeout=DOWNLOAD_TIMEOUT_S,
                    )
                )
            except (RemoteEntryNotFoundError, RepositoryNotFoundError):  # the Hub said so (not: it did not answer)
                return f"{self.repo_id} holds no board yet: a new one starts, and is copied there when it changes"
            except Exception as error:
                raise AgentError(
                    f"The board in the dataset {self.repo_id} cannot be read ({type(error).__name__}: {error}). The "
                    "board is kept here only, so as not to write over it; start the app again once the Hub answers."
                ) from None
            if not _is_a_board(downloaded):
                raise AgentError(
                    f"{FILENAME} in the dataset {self.repo_id} is not the Arena's board: it is kept here only, so as "
                    f"not to write over it. Remove that file, or set {DATASET_VARIABLE} to another dataset."
                )
            self.database.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(downloaded, self.database)
            self.saved_digest = hashlib.sha256(downloaded.read_bytes()).hexdigest()
        return f"the board was read back from {self.repo_id}"

    def save_if_changed(self) -> bool:
        """Upload the database if it differs from what was last read or written; whether it did."""
        if not self.database.exists():
            return False
        content = snapshot(self.database)
        digest = hashlib.sha256(content).hexdigest()
        if digest == self.saved_digest:
            return False
        api = HfApi(token=self.token)
        if not self.created:
            api.create_repo(repo_id=self.repo_id, repo_type="dataset", private=True, exist_ok=True)
            self.created = True
        api.upload_file(
            path_or_fileobj=content,
            path_in_repo=FILENAME,
            repo_id=self.repo_id,
            repo_type="dataset",
            commit_message="The Arena's leaderboard",
        )
        self.saved_digest = digest
        return True

    def keep_saving(self) -> None:
        """Save whenever the board changed, every ``ARENA_LEADERBOARD_SAVE_S`` seconds."""
        while True:
            time.sleep(float(SAVE_EVERY_S.value()))
            try:
                self.save_if_changed()
            except Exception as error:  # the Hub out of reach a while: the next round tries again
                print(f"Leaderboard: the copy to {self.repo_id} failed ({error}); trying again", file=sys.stderr)


def hub_copy(url: str | None = None) -> HubCopy | None:
    """The copy the owner asked for (``ARENA_LEADERBOARD_DATASET``), or None; an :class:`AgentError` says why
    it cannot be (no token, a database that is not SQLite in a file)."""
    repo_id = os.getenv(DATASET_VARIABLE, "").strip()
    if not repo_id:
        return None
    repo_id = check_repo_id(repo_id)
    database = sqlite_file(store.database_url(url))
    if database is None:
        raise AgentError(
            f"{DATASET_VARIABLE} keeps a SQLite board in a dataset; the board's database here is another one "
            f"({store.describe_database(store.database_url(url))}), which keeps its own data: unset one of the two."
        )
    token = get_token()
    if not token:
        raise AgentError(
            f"{DATASET_VARIABLE} is set, but the Space has no token to write {repo_id} with: add a write token as "
            "the secret HF_TOKEN (Settings → Variables and secrets)."
        )
    return HubCopy(database, repo_id, token)


def restored_hub_copy(url: str | None = None) -> HubCopy | None:
    """At the app's start: the owner's copy with the board read back, or None when none was asked for, or when
    the dataset cannot be read (said on stderr: the board is then kept here only, not written over it)."""
    copy = hub_copy(url)
    if copy is None:
        return None
    try:
        print(f"Leaderboard: {copy.restore()}.", flush=True)
    except AgentError as error:
        print(f"Leaderboard: {error}", file=sys.stderr, flush=True)
        return None
    return copy


def start_hub_copy(copy: HubCopy) -> threading.Thread:
    """Keep saving ``copy`` in a thread that dies with the app (at most one interval's changes are lost)."""
    thread = threading.Thread(target=copy.keep_saving, name="leaderboard-hub-copy", daemon=True)
    thread.start()
    return thread
