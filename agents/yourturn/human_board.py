"""People's scores, per game: a table of its own in the Leaderboard's database, never mixed with the agents'.

A row is one finished game: who (the Hugging Face login, or "anonymous"), the seed, the score, the agent's
score on the same seed, and how many of the steps the agent played for them (a game the agent played
throughout is still recorded, and the board says so).
"""

import time

import sqlalchemy as sa

from agents.leaderboard.store import database_url, engine

MAX_NAME = 100
metadata = sa.MetaData()
human_scores = sa.Table(
    "yourturn_human_scores",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("game", sa.String(64), nullable=False),
    sa.Column("name", sa.String(MAX_NAME), nullable=False),
    sa.Column("seed", sa.Integer, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("steps", sa.Integer, nullable=False),
    sa.Column("agent_score", sa.Float, nullable=False),
    sa.Column("agent_steps_played", sa.Integer, nullable=False),
    sa.Column("finished_at", sa.Float, nullable=False),
)


def _engine(url: str | None) -> sa.Engine:
    created = engine(database_url(url))
    metadata.create_all(created)
    return created


def record(
    game: str,
    name: str,
    seed: int,
    score: float,
    steps: int,
    agent_score: float,
    agent_steps_played: int,
    url: str | None = None,
) -> None:
    with _engine(url).begin() as connection:
        connection.execute(
            sa.insert(human_scores).values(
                game=game,
                name=(name or "anonymous")[:MAX_NAME],
                seed=seed,
                score=score,
                steps=steps,
                agent_score=agent_score,
                agent_steps_played=agent_steps_played,
                finished_at=time.time(),
            )
        )


def board(game: str, limit: int = 20, url: str | None = None) -> list[dict]:
    """A game's best human scores, best first (earliest first among equals), ranked."""
    query = (
        sa.select(human_scores)
        .where(human_scores.c.game == game)
        .order_by(human_scores.c.score.desc(), human_scores.c.finished_at)
        .limit(limit)
    )
    with _engine(url).connect() as connection:
        rows = connection.execute(query).mappings().all()
    return [{"rank": rank, **dict(row)} for rank, row in enumerate(rows, start=1)]
