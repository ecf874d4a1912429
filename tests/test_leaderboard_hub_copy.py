"""The board kept in a Hub dataset repo (a Space without persistent storage): read back from the local fake
Hub into an empty data folder, written only when it changed (the upload, the one call the tests cannot make,
is recorded), never written over when the dataset cannot be read. The uploads are checked with Python's own
``sqlite3``, not the Arena's store."""

import sqlite3
import types
from pathlib import Path

import huggingface_hub.utils._http
import pytest
from huggingface_hub import constants

from agents.core.errors import AgentError
from agents.leaderboard import hub_copy as hub_copy_module
from agents.leaderboard import store
from agents.leaderboard.hub_copy import FILENAME, hub_copy, restored_hub_copy
from tests.test_leaderboard import finished

DATASET = "owner/arena-board"


class Uploads:
    """Stands in for the Hub's write API, the one thing the tests cannot reach: keeps what was uploaded."""

    def __init__(self) -> None:
        self.files: list[bytes] = []
        self.created: list[dict] = []
        self.tokens: set[str] = set()

    def api(self, token: str | None = None) -> "Uploads":
        self.tokens.add(token)
        return self

    def create_repo(self, **kwargs) -> None:
        self.created.append(kwargs)

    def upload_file(self, path_or_fileobj: bytes, path_in_repo: str, repo_id: str, repo_type: str, **_) -> None:
        assert (path_in_repo, repo_id, repo_type) == (FILENAME, DATASET, "dataset")
        self.files.append(path_or_fileobj)


@pytest.fixture
def uploads(monkeypatch) -> Uploads:
    recorded = Uploads()
    monkeypatch.setattr(hub_copy_module, "HfApi", recorded.api)
    monkeypatch.setenv(hub_copy_module.DATASET_VARIABLE, DATASET)
    monkeypatch.setenv("HF_TOKEN", "hf_owner_token")
    monkeypatch.setenv("ARENA_LEADERBOARD_GAMES", "3")
    monkeypatch.delenv(store.DATABASE_VARIABLE, raising=False)
    return recorded


def in_data_folder(monkeypatch, folder: Path) -> str:
    monkeypatch.setenv("ARENA_DATA_DIR", str(folder))
    return store.database_url()


def rows_of(board: bytes, tmp_path: Path) -> list[tuple]:
    """The uploaded database's submissions, read by SQLite itself."""
    path = tmp_path / "uploaded.sqlite3"
    path.write_bytes(board)
    connection = sqlite3.connect(path)
    try:
        return connection.execute("SELECT repo_id, state, mean FROM leaderboard_submissions ORDER BY id").fetchall()
    finally:
        connection.close()


def test_the_board_goes_to_the_dataset_when_it_changes_and_comes_back_into_an_empty_data_folder(
    hub, uploads, monkeypatch, tmp_path
):
    url = in_data_folder(monkeypatch, tmp_path / "first-start")
    copy = restored_hub_copy()
    assert copy is not None and not copy.database.exists()  # the dataset holds no board yet
    finished(url, "a/steady", [50.0, 50.0, 50.0])
    assert copy.save_if_changed()
    assert uploads.created == [{"repo_id": DATASET, "repo_type": "dataset", "private": True, "exist_ok": True}]
    assert uploads.tokens == {"hf_owner_token"}
    assert rows_of(uploads.files[-1], tmp_path) == [("a/steady", "done", 50.0)]
    assert not copy.save_if_changed() and len(uploads.files) == 1  # nothing changed: nothing sent
    finished(url, "b/lucky", [0.0, 0.0, 165.0])
    assert copy.save_if_changed() and len(uploads.created) == 1
    assert rows_of(uploads.files[-1], tmp_path) == [("a/steady", "done", 50.0), ("b/lucky", "done", 55.0)]

    # The Space restarts without its disk: an empty data folder, the board read back from the dataset.
    hub.add_repo(f"datasets/{DATASET}", {FILENAME: uploads.files[-1]})
    again = in_data_folder(monkeypatch, tmp_path / "after-restart")
    restarted = restored_hub_copy()
    assert restarted is not None
    assert [entry.public() for entry in store.everything(again)] == [entry.public() for entry in store.everything(url)]
    assert not restarted.save_if_changed()  # what was read back is not sent again


def test_a_dataset_that_is_not_a_board_or_out_of_reach_is_never_written_over(
    hub, uploads, monkeypatch, tmp_path, capsys
):
    hub.add_repo(f"datasets/{DATASET}", {FILENAME: b"not a database"})
    in_data_folder(monkeypatch, tmp_path / "data")
    assert restored_hub_copy() is None
    assert f"{FILENAME} in the dataset {DATASET} is not the Arena's board" in capsys.readouterr().err
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert restored_hub_copy() is None
    assert f"The board in the dataset {DATASET} cannot be read" in capsys.readouterr().err
    assert not uploads.files and not (tmp_path / "data" / FILENAME).exists()


def test_a_hub_that_keeps_failing_is_not_taken_for_an_empty_dataset(hub, uploads, monkeypatch, tmp_path, capsys):
    """huggingface_hub's "not found" for a Hub that did not answer (``LocalEntryNotFoundError``) is an
    ``EntryNotFoundError`` too: taken for "no board yet", an empty board would overwrite the real one."""
    hub.add_repo(f"datasets/{DATASET}", {FILENAME: b"a board"})
    in_data_folder(monkeypatch, tmp_path / "data")
    hub.fail_next(500, times=10)  # more than the client's retries
    waits: list[float] = []  # the client's waits between its retries, kept rather than slept
    monkeypatch.setattr(huggingface_hub.utils._http, "time", types.SimpleNamespace(sleep=waits.append))
    assert restored_hub_copy() is None
    assert len(waits) >= 4 and sum(waits) > 20, waits  # it did retry, for about 25 s of waits, before giving up
    assert f"The board in the dataset {DATASET} cannot be read" in capsys.readouterr().err


def test_a_copy_without_a_token_or_of_another_database_is_refused_at_start(uploads, monkeypatch, tmp_path):
    in_data_folder(monkeypatch, tmp_path / "data")
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "no-login"))
    with pytest.raises(AgentError, match="add a write token as the secret HF_TOKEN"):
        hub_copy()
    monkeypatch.setenv("HF_TOKEN", "hf_owner_token")
    monkeypatch.setenv(store.DATABASE_VARIABLE, "postgresql://arena@db.example/arena")
    with pytest.raises(AgentError, match="keeps a SQLite board in a dataset; .*postgresql"):
        hub_copy()
    monkeypatch.delenv(hub_copy_module.DATASET_VARIABLE)
    assert hub_copy() is None  # not asked for: nothing
