"""The Leaderboard's queue and board on SQLite, through the code a front end calls: submissions checked by the
safe loader and queued once per (repo, commit, protocol), workers that never share one and take over a dead
worker's, the ranking, the bound per visitor and the owner's removal. Evaluations for real are in
``test_leaderboard_games.py`` (stock SB3) and ``test_leaderboard_distributed.py`` (PostgreSQL)."""

import time

import numpy as np
import pytest

from agents.core.errors import AgentError
from agents.leaderboard import store
from agents.leaderboard.board import RANDOM_AGENT, remove_entry, submit
from agents.leaderboard.protocol import current_protocol
from agents.tabs.leaderboard import board_table, entry_evaluation, entry_markdown
from tests import hub_cache
from tests.conftest import CACHE

SPACE_INVADERS = "SpaceInvadersNoFrameskip-v4"
QRDQN = f"tester/qrdqn-{SPACE_INVADERS}"


@pytest.fixture
def url(tmp_path, monkeypatch) -> str:
    """A board of its own: SQLite in a fresh data folder, on the tests' tiny protocol."""
    monkeypatch.setenv("ARENA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ARENA_LEADERBOARD_GAMES", "3")
    monkeypatch.setenv("ARENA_LEADERBOARD_MAX_STEPS", "100")
    monkeypatch.delenv(store.DATABASE_VARIABLE, raising=False)
    return store.database_url()


def test_a_submission_is_queued_once_per_commit_with_the_boards_references(hf_cache, url):
    first = submit(QRDQN)
    assert (first.new, first.position, first.entry.state) == (True, 1, store.QUEUED)
    assert first.entry.revision == (hf_cache / f"models--tester--qrdqn-{SPACE_INVADERS}" / "refs" / "main").read_text()
    assert first.entry.protocol == current_protocol().name == "arena-v1-3games-cap100-eps0.01"
    seeds = first.entry.seeds
    assert len(seeds) == 3 and seeds == list(range(seeds[0], seeds[0] + 3))
    queue = store.waiting(url)
    assert [(entry.repo_id, entry.epsilon) for entry in queue] == [
        (QRDQN, 0.01),
        (f"sb3/dqn-{SPACE_INVADERS}", 0.01),
        (RANDOM_AGENT, 1.0),
    ]
    assert len({tuple(entry.seeds) for entry in queue}) == 3  # fresh seeds for each

    again = submit(QRDQN, "SpaceInvaders")
    assert (again.new, again.entry.id, again.position) == (False, first.entry.id, 1)
    reference = submit(f"sb3/dqn-{SPACE_INVADERS}")
    assert (reference.new, reference.entry.id, reference.position) == (False, queue[1].id, 2)
    assert "already in the queue" in reference.sentence()
    assert len(store.waiting(url)) == 3


def test_a_broken_checkpoint_is_refused_with_the_loaders_reason_and_nothing_is_stored(hf_cache, url, tmp_path):
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip at all")
    hub_cache.add_rl_zoo_repo(CACHE, f"mallory/dqn-{SPACE_INVADERS}", SPACE_INVADERS, broken)
    with pytest.raises(AgentError, match=f"mallory/dqn-{SPACE_INVADERS} cannot be ranked: .*zip"):
        submit(f"mallory/dqn-{SPACE_INVADERS}")
    with pytest.raises(AgentError, match="is a Pong agent|Pong"):
        submit("sb3/dqn-PongNoFrameskip-v4", "SpaceInvaders")
    assert store.waiting(url) == []


def queued(url: str, repo_id: str, **values) -> store.Submission:
    row = dict(game="SpaceInvaders", revision="abc", protocol=current_protocol().name, algo="dqn", epsilon=0.01)
    row |= dict(max_steps=100, seeds=[1, 2, 3], arena_version="test") | values
    return store.add(url, repo_id=repo_id, **row)[0]


def test_workers_never_share_a_submission_and_a_dead_workers_is_taken_over(url):
    first, second = queued(url, "a/one"), queued(url, "b/two")
    assert store.claim(url, "worker-a", lease_s=0.05).id == first.id
    assert store.claim(url, "worker-b", lease_s=60).id == second.id
    time.sleep(0.1)  # worker-a died: its lease runs out
    taken = store.claim(url, "worker-c", lease_s=60)
    assert (taken.id, taken.attempts, taken.worker) == (first.id, 2, "worker-c")
    assert store.claim(url, "worker-d", lease_s=60) is None
    assert not store.renew(url, first.id, "worker-a", 60)  # it lost the lease, its result is dropped
    assert not store.finish(url, first.id, "worker-a", mean=1.0)
    assert store.finish(url, first.id, "worker-c", mean=2.0)
    assert store.get(url, first.id).mean == 2.0 and store.get(url, first.id).state == store.DONE


def finished(url: str, repo_id: str, scores: list[float], claimed: float | None = None) -> store.Submission:
    entry = queued(url, repo_id, claimed=claimed)
    store.claim(url, "worker", 60)
    statistics = dict(mean=float(np.mean(scores)), std=float(np.std(scores)), median=float(np.median(scores)))
    sem = float(np.std(scores, ddof=1) / np.sqrt(len(scores)))
    assert store.finish(url, entry.id, "worker", scores=scores, standard_error=sem, **statistics)
    return entry


def test_the_board_ranks_by_the_order_asked_and_flags_a_claim_too_high(url):
    finished(url, "a/steady", [50.0, 50.0, 50.0], claimed=50.0)
    finished(url, "b/lucky", [0.0, 0.0, 165.0], claimed=300.0)
    finished(url, "c/good", [55.0, 65.0, 60.0])
    by_mean = board_table("SpaceInvaders")
    assert [agent.split("]")[0].strip("[") for agent in by_mean["Agent"]] == ["c/good", "b/lucky", "a/steady"]
    assert list(by_mean["Rank"]) == [1, 2, 3]
    assert list(by_mean["Claimed"]) == ["–", "300.0 ⚠️", "50.0"]  # 300 > 55 + 2 standard errors (2 × 55)
    by_median = board_table("SpaceInvaders", "median")
    assert [agent.split("]")[0].strip("[") for agent in by_median["Agent"]] == ["c/good", "a/steady", "b/lucky"]
    by_mean_minus_std = board_table("SpaceInvaders", "mean − std")
    assert list(by_mean_minus_std["Mean − std"]) == sorted(by_mean_minus_std["Mean − std"], reverse=True)
    with pytest.raises(AgentError, match="order must be one of"):
        board_table("SpaceInvaders", "max")


def test_an_entry_shows_its_games_its_seeds_its_claim_and_how_to_rerun_it(url):
    entry = store.get(url, finished(url, "b/lucky", [0.0, 0.0, 165.0], claimed=300.0).id)
    assert entry_evaluation(entry).table()[["seed", "score"]].values.tolist() == [[1, 0.0], [2, 0.0], [3, 165.0]]
    text = entry_markdown(entry)
    assert "**55.0 ± 77.8** over 3 games, median 0.0, seeds 1–3, ε = 0.01" in text
    assert "claims 300.0: more than 2 standard errors above the measured mean (+4.5 standard errors)" in text
    assert "python -m agents.evaluate --repo-id b/lucky --revision abc --first-seed 1 --episodes 3" in text
    with pytest.raises(AgentError, match="has not been evaluated"):
        entry_evaluation(queued(url, "c/waiting"))


def test_on_a_space_the_queue_is_bounded_per_visitor_and_only_the_owner_removes(hf_cache, url, monkeypatch):
    monkeypatch.setenv("SPACE_ID", "tester/atari-dqn-arena")
    monkeypatch.setenv("SPACE_AUTHOR_NAME", "tester")
    monkeypatch.setenv("ARENA_TRAIN_SECRET", "s3cret")
    for repo in ("a/one", "a/two", "a/three"):
        queued(url, repo, visitor="1.2.3.4")
    with pytest.raises(AgentError, match="already have 3 submissions waiting"):
        submit(QRDQN, visitor="1.2.3.4")
    entry = submit(QRDQN, visitor="5.6.7.8").entry
    with pytest.raises(AgentError, match="Only the owner of this Space may remove a leaderboard entry"):
        remove_entry(entry.id, "mallory", "guess")
    assert "removed" in remove_entry(entry.id, None, "s3cret")
    assert "was removed from the board by the Space's owner" in submit(QRDQN, visitor="5.6.7.8").sentence()
