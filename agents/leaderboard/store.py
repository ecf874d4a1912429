"""Where the Leaderboard keeps its submissions: one table, reached through one database URL.

SQLite in the data folder by default (``leaderboard.sqlite3``: embedded, nothing to run, kept across
restarts where the data folder is); any other SQLAlchemy URL through ``ARENA_LEADERBOARD_DATABASE`` or the
command line's ``--database``, e.g. ``postgresql://user@host/db``, shared by workers on other machines.
The same statements run on both: a worker takes the oldest waiting submission with ``SELECT ... FOR
UPDATE SKIP LOCKED`` (PostgreSQL; SQLite, which has no row locks, ignores the clause and serialises
writers) and then claims it with an ``UPDATE`` that only succeeds if it is still free, so two workers never
hold the same one. A worker holds its submission under a lease it renews while it plays; when a worker
dies its lease runs out and another worker takes the submission over.
"""

import functools
import os
import time
from dataclasses import dataclass, fields
from typing import Any

import sqlalchemy as sa

from agents.core.data_root import data_root
from agents.core.errors import AgentError

DATABASE_VARIABLE = "ARENA_LEADERBOARD_DATABASE"
QUEUED, RUNNING, DONE, FAILED, REMOVED = "queued", "running", "done", "failed", "removed"
WAITING = (QUEUED, RUNNING)

metadata = sa.MetaData()
submissions = sa.Table(
    "leaderboard_submissions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("game", sa.String(64), nullable=False),
    sa.Column("repo_id", sa.String(200), nullable=False),
    sa.Column("revision", sa.String(80), nullable=False),  # the repo's commit
    sa.Column("protocol", sa.String(100), nullable=False),
    sa.Column("algo", sa.String(16), nullable=False),
    sa.Column("epsilon", sa.Float, nullable=False),
    sa.Column("max_steps", sa.Integer, nullable=False),
    sa.Column("seeds", sa.JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("visitor", sa.String(200)),
    sa.Column("submitted_at", sa.Float, nullable=False),
    sa.Column("arena_version", sa.String(64), nullable=False),
    sa.Column("claimed", sa.Float),  # the model card's mean score
    sa.Column("worker", sa.String(200)),
    sa.Column("lease_until", sa.Float),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("scores", sa.JSON),
    sa.Column("episode_steps", sa.JSON),
    sa.Column("game_over", sa.JSON),
    sa.Column("mean", sa.Float),
    sa.Column("std", sa.Float),
    sa.Column("median", sa.Float),
    sa.Column("standard_error", sa.Float),
    sa.Column("seconds", sa.Float),
    sa.Column("finished_at", sa.Float),
    sa.Column("error", sa.Text),
    # One entry per (repo, commit, protocol); the game too, for the random agent's rows, which have no repo.
    sa.UniqueConstraint("game", "repo_id", "revision", "protocol"),
)


@dataclass(frozen=True)
class Submission:
    """A row of the table: a submission waiting, being evaluated, or its result."""

    id: int
    game: str
    repo_id: str
    revision: str
    protocol: str
    algo: str
    epsilon: float
    max_steps: int
    seeds: list[int]
    state: str
    visitor: str | None
    submitted_at: float
    arena_version: str
    claimed: float | None
    worker: str | None
    lease_until: float | None
    attempts: int
    scores: list[float] | None
    episode_steps: list[int] | None
    game_over: list[bool] | None
    mean: float | None
    std: float | None
    median: float | None
    standard_error: float | None
    seconds: float | None
    finished_at: float | None
    error: str | None

    @classmethod
    def of(cls, row: Any) -> "Submission":
        return cls(**{field.name: getattr(row, field.name) for field in fields(cls)})

    def public(self) -> dict[str, Any]:
        """What anyone may see of it (not who submitted it)."""
        return {field.name: getattr(self, field.name) for field in fields(self) if field.name != "visitor"}


def database_url(url: str | None = None) -> str:
    """``url``, else ``$ARENA_LEADERBOARD_DATABASE``, else SQLite in the data folder (``postgresql://`` runs on
    psycopg 3, SQLAlchemy 2.1's default driver, which the Arena installs)."""
    url = url or os.getenv(DATABASE_VARIABLE)
    if not url:
        folder = data_root()
        folder.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{folder / 'leaderboard.sqlite3'}"
    return url


def describe_database(url: str) -> str:
    """The database's kind and name, not its password or path: for pages and answers."""
    parsed = sa.engine.make_url(url)
    return f"{parsed.get_backend_name()} ({parsed.database.rsplit('/', 1)[-1] if parsed.database else ''})"


@functools.lru_cache(maxsize=8)
def engine(url: str) -> sa.Engine:
    """The connection pool for ``url`` (see :func:`database_url`), its table created if missing."""
    options = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    try:
        created = sa.create_engine(url, **options)
        metadata.create_all(created)
    except sa.exc.SQLAlchemyError as error:
        raise AgentError(f"The leaderboard's database cannot be opened ({type(error).__name__}: {error}).") from None
    return created


def _select(url: str, *conditions: Any, order: Any = submissions.c.id) -> list[Submission]:
    with engine(url).connect() as connection:
        rows = connection.execute(sa.select(submissions).where(*conditions).order_by(order))
        return [Submission.of(row) for row in rows]


def find(url: str, game: str, repo_id: str, revision: str, protocol: str) -> Submission | None:
    found = _select(
        url,
        submissions.c.game == game,
        submissions.c.repo_id == repo_id,
        submissions.c.revision == revision,
        submissions.c.protocol == protocol,
    )
    return found[0] if found else None


def get(url: str, submission_id: int) -> Submission | None:
    found = _select(url, submissions.c.id == submission_id)
    return found[0] if found else None


def add(url: str, **values: Any) -> tuple[Submission, bool]:
    """The new queued submission, and True; or the existing one for the same (game, repo, commit, protocol),
    and False (two visitors submitting at once both get the one row)."""
    key = {name: values[name] for name in ("game", "repo_id", "revision", "protocol")}
    try:
        with engine(url).begin() as connection:
            connection.execute(sa.insert(submissions).values(**values, state=QUEUED, submitted_at=time.time()))
    except sa.exc.IntegrityError:
        return find(url, **key), False
    return find(url, **key), True


def waiting(url: str) -> list[Submission]:
    """The queue, oldest first: submissions waiting or being evaluated."""
    return _select(url, submissions.c.state.in_(WAITING))


def waiting_of(url: str, visitor: str) -> int:
    return len(_select(url, submissions.c.state.in_(WAITING), submissions.c.visitor == visitor))


def results(url: str, game: str, protocol: str) -> list[Submission]:
    """A game's evaluated submissions under one protocol, best mean first."""
    done = (submissions.c.game == game, submissions.c.protocol == protocol, submissions.c.state == DONE)
    return _select(url, *done, order=submissions.c.mean.desc())


def failures(url: str, game: str) -> list[Submission]:
    return _select(url, submissions.c.game == game, submissions.c.state == FAILED)


def _free(now: float) -> Any:
    """Waiting, or held by a worker whose lease has run out."""
    return (submissions.c.state == QUEUED) | ((submissions.c.state == RUNNING) & (submissions.c.lease_until < now))


def claim(url: str, worker: str, lease_s: float) -> Submission | None:
    """Take the oldest free submission for ``worker``, under a lease of ``lease_s`` seconds; None if none is free."""
    with engine(url).begin() as connection:
        now = time.time()
        query = sa.select(submissions.c.id).where(_free(now)).order_by(submissions.c.id).limit(1)
        found = connection.execute(query.with_for_update(skip_locked=True)).first()
        if found is None:
            return None
        taken = connection.execute(
            sa.update(submissions)
            .where(submissions.c.id == found.id, _free(now))
            .values(state=RUNNING, worker=worker, lease_until=now + lease_s, attempts=submissions.c.attempts + 1)
        )
    return get(url, found.id) if taken.rowcount == 1 else None


def _held(submission_id: int, worker: str) -> tuple:
    return submissions.c.id == submission_id, submissions.c.worker == worker, submissions.c.state == RUNNING


def _update_held(url: str, submission_id: int, worker: str, **values: Any) -> bool:
    """Update a submission only while ``worker`` still holds it; whether it did."""
    with engine(url).begin() as connection:
        changed = connection.execute(sa.update(submissions).where(*_held(submission_id, worker)).values(**values))
    return changed.rowcount == 1


def renew(url: str, submission_id: int, worker: str, lease_s: float) -> bool:
    """Extend ``worker``'s lease; False when the lease was lost (it ran out and another worker took over)."""
    return _update_held(url, submission_id, worker, lease_until=time.time() + lease_s)


def finish(url: str, submission_id: int, worker: str, **result: Any) -> bool:
    """Record the result, if ``worker`` still holds the submission (else another worker's result will be)."""
    return _update_held(url, submission_id, worker, state=DONE, finished_at=time.time(), **result)


def fail(url: str, submission_id: int, worker: str, error: str) -> bool:
    return _update_held(url, submission_id, worker, state=FAILED, finished_at=time.time(), error=error)


def remove(url: str, submission_id: int) -> bool:
    """Take an entry off the board for good: a repeat submission of it is refused."""
    with engine(url).begin() as connection:
        changed = connection.execute(
            sa.update(submissions).where(submissions.c.id == submission_id).values(state=REMOVED, lease_until=None)
        )
    return changed.rowcount == 1


def everything(url: str) -> list[Submission]:
    """Every submission, in the order they came, whatever their state."""
    return _select(url)
