"""Submitting an agent to a game's board, the queue, and the ranking, as every front end shows them.

A submission is checked before it is queued: its repo id and game, its files (downloaded, or the cache's),
and the safe loader's verdict on its checkpoint. A broken or hostile repo is refused with the loader's
reason and nothing is stored. What is queued is the repo's commit, so the entry stays that commit's even
when the repo moves on; a repeat of the same (repo, commit, protocol) points to the existing entry.
"""

import hashlib
import statistics
from dataclasses import dataclass
from typing import Any

from agents.core.access import control_refusal, may_control_training, on_a_space
from agents.core.agent import agent_from_files
from agents.core.agent_files import find_agent_files, offline_agent_files
from agents.core.catalog import Game, get_game
from agents.core.errors import AgentError
from agents.core.hub import AgentFiles, check_repo_id
from agents.core.repo_game import resolve_game
from agents.leaderboard import store
from agents.leaderboard.protocol import RANDOM_EPSILON, Protocol, arena_version, current_protocol

RANDOM_AGENT = "uniformly random agent"
RANDOM_REVISION = "-"
MAX_WAITING_PER_VISITOR = 3  # on a Space: a few waiting submissions per visitor, so nobody fills the queue
CLAIM_MARGIN = 2.0  # a card's claim this many standard errors above the measured mean is flagged
ORDERS = {"mean": "mean", "mean − std": "mean_minus_std", "median": "median"}


def agent_revision(files: AgentFiles) -> str:
    """The commit of the Hub snapshot the files are in; for the Arena's shipped agent, its zip's hash."""
    if files.offline:
        return "sha256:" + hashlib.sha256(files.model_zip.read_bytes()).hexdigest()[:12]
    return files.model_zip.parent.name


@dataclass(frozen=True)
class Receipt:
    """What a submitter is told: the entry, whether it was already there, and where it stands."""

    entry: store.Submission
    new: bool
    position: int | None  # 1 = being evaluated or next; None once evaluated
    estimate_s: float | None

    def sentence(self) -> str:
        entry = self.entry
        what = f"{entry.repo_id} at {entry.revision[:12]}"
        if entry.state == store.DONE:
            return f"{what} is already on the board (entry {entry.id}): {entry.mean:.1f} ± {entry.std:.1f}."
        if entry.state == store.FAILED:
            return f"{what} was evaluated and failed (entry {entry.id}): {entry.error}"
        if entry.state == store.REMOVED:
            return f"{what} was removed from the board by the Space's owner (entry {entry.id})."
        already = "" if self.new else "already "
        estimate = f", about {self.estimate_s / 60:.0f} min" if self.estimate_s else ""
        return f"{what} is {already}in the queue (entry {entry.id}): place {self.position}{estimate}."

    def answer(self) -> dict[str, Any]:
        return {
            "entry": self.entry.id,
            "state": self.entry.state,
            "new": self.new,
            "position": self.position,
            "estimate_s": self.estimate_s,
            "message": self.sentence(),
        }


def receipt(url: str, entry: store.Submission, new: bool) -> Receipt:
    """Where ``entry`` stands in the queue, and how long until it is evaluated, from the last evaluations' times."""
    queue = [waiting.id for waiting in store.waiting(url)]
    if entry.id not in queue:
        return Receipt(entry, new, None, None)
    position = queue.index(entry.id) + 1
    recent = [done.seconds for done in store.results(url, entry.game, entry.protocol) if done.seconds]
    return Receipt(entry, new, position, position * statistics.median(recent) if recent else None)


def _queue(
    url: str, game: Game, files: AgentFiles, protocol: Protocol, visitor: str | None, **row: Any
) -> tuple[store.Submission, bool]:
    """Queue ``files``' agent on the protocol's board (``row``: what a reference row sets otherwise)."""
    return store.add(
        url,
        game=game.key,
        repo_id=row.pop("repo_id", files.repo_id),
        revision=row.pop("revision", agent_revision(files)),
        protocol=protocol.name,
        algo=row.pop("algo", files.algo),
        epsilon=row.pop("epsilon", protocol.epsilon),
        max_steps=protocol.max_steps,
        seeds=protocol.fresh_seeds(),
        visitor=visitor,
        arena_version=arena_version(),
        claimed=row.pop("claimed", (files.published_result() or {}).get("mean_reward")),
    )


def queue_references(url: str, game: Game, protocol: Protocol) -> None:
    """The rows that give a board its scale, measured by the Arena like any entry: a uniformly random agent,
    and the game's agent (its ``sb3`` repo, or the Arena's shipped agent when the Hub is out of reach)."""
    try:
        files = find_agent_files(game)
    except AgentError:
        return  # no agent of the game here: its board starts without the references
    _queue(url, game, files, protocol, None)
    # The random agent plays on the game's agent's environment settings; its network is never asked.
    _queue(
        url,
        game,
        files,
        protocol,
        None,
        repo_id=RANDOM_AGENT,
        revision=RANDOM_REVISION,
        algo="random",
        epsilon=RANDOM_EPSILON,
        claimed=None,
    )


def submit(repo_id: str, game_name: str | None = None, visitor: str | None = None, url: str | None = None) -> Receipt:
    """Check the agent in ``repo_id`` and queue it on its game's board (``visitor``: whom the bound applies to)."""
    url = store.database_url(url)
    repo_id = check_repo_id(repo_id)
    game = resolve_game(game_name, repo_id)
    files = find_agent_files(game, repo_id)
    protocol = current_protocol()
    existing = store.find(url, game.key, files.repo_id, agent_revision(files), protocol.name)
    if existing is not None:
        return receipt(url, existing, new=False)
    if visitor and on_a_space() and store.waiting_of(url, visitor) >= MAX_WAITING_PER_VISITOR:
        raise AgentError(
            f"You already have {MAX_WAITING_PER_VISITOR} submissions waiting: submit more once they are evaluated."
        )
    try:
        agent_from_files(files, game)  # the safe loader's verdict before anything is stored
    except AgentError as error:
        raise AgentError(f"{files.repo_id} cannot be ranked: {error}") from None
    first_of_board = not store.results(url, game.key, protocol.name) and not any(
        waiting.game == game.key for waiting in store.waiting(url)
    )
    entry, new = _queue(url, game, files, protocol, visitor)
    if first_of_board:
        queue_references(url, game, protocol)
    return receipt(url, entry, new)


def agent_files_at(entry: store.Submission, game: Game) -> AgentFiles:
    """The files an entry is evaluated on: its repo at its commit; the random agent plays on the game's agent's
    environment settings."""
    if entry.repo_id == RANDOM_AGENT:
        return find_agent_files(game)
    shipped = offline_agent_files(game.env_id)
    if shipped is not None and entry.repo_id == shipped.repo_id:
        return shipped
    return find_agent_files(game, entry.repo_id, revision=entry.revision)


def minus_std(entry: store.Submission) -> float:
    return entry.mean - entry.std


def claim_too_high(entry: store.Submission) -> bool:
    """Whether the card claims more than ``CLAIM_MARGIN`` standard errors above the measured mean."""
    return entry.claimed is not None and entry.claimed > entry.mean + CLAIM_MARGIN * entry.standard_error


def ranking(game_name: str, order: str = "mean", url: str | None = None) -> list[dict[str, Any]]:
    """A game's board under the current protocol, ranked by ``order`` (a key or a label of ``ORDERS``)."""
    key = ORDERS.get(order, order)
    if key not in ORDERS.values():
        raise AgentError(f"order must be one of {', '.join(ORDERS)}, not {order!r}.")
    game = get_game(game_name)
    rows = []
    for entry in store.results(store.database_url(url), game.key, current_protocol().name):
        rows.append(
            {
                "entry": entry.id,
                "repo_id": entry.repo_id,
                "reference": reference_label(entry, game),
                "revision": entry.revision,
                "algo": entry.algo,
                "mean": entry.mean,
                "std": entry.std,
                "mean_minus_std": minus_std(entry),
                "median": entry.median,
                "games": len(entry.scores or []),
                "claimed": entry.claimed,
                "claim_too_high": claim_too_high(entry),
                "finished_at": entry.finished_at,
                "protocol": entry.protocol,
                "arena_version": entry.arena_version,
                "epsilon": entry.epsilon,
                "max_steps": entry.max_steps,
                "seeds": entry.seeds,
                "scores": entry.scores,
                "episode_steps": entry.episode_steps,
            }
        )
    rows.sort(key=lambda row: (-row[key], row["entry"]))  # a tie: the earlier entry first
    return [{"rank": place, **row} for place, row in enumerate(rows, start=1)]


def reference_label(entry: store.Submission, game: Game) -> str:
    """Which reference row an entry is, if any: the random agent, the game's sb3 agent, the shipped agent."""
    if entry.repo_id == RANDOM_AGENT:
        return "random"
    if entry.repo_id == game.repo_id:
        return "sb3"
    shipped = offline_agent_files(game.env_id)
    return "offline" if shipped is not None and entry.repo_id == shipped.repo_id else ""


def queue_rows(url: str | None = None) -> list[dict[str, Any]]:
    """The queue as anyone may see it, oldest first."""
    return [
        {
            "place": place,
            "entry": entry.id,
            "game": entry.game,
            "repo_id": entry.repo_id,
            "state": entry.state,
            "submitted_at": entry.submitted_at,
        }
        for place, entry in enumerate(store.waiting(store.database_url(url)), start=1)
    ]


def entry_details(submission_id: int, url: str | None = None) -> store.Submission:
    entry = store.get(store.database_url(url), submission_id)
    if entry is None:
        raise AgentError(f"There is no entry {submission_id}.")
    return entry


def remove_entry(submission_id: int, username: str | None, secret: str | None, url: str | None = None) -> str:
    """Take an entry off its board: on a Space, its owner only (logged in, or with the training secret)."""
    if not may_control_training(username, secret):
        raise AgentError(control_refusal().replace("start or cancel training", "remove a leaderboard entry"))
    entry = entry_details(submission_id, url)
    store.remove(store.database_url(url), entry.id)
    return f"Entry {entry.id} ({entry.repo_id}) removed: a repeat submission of it is refused."
