"""Agents shipped with the Arena, so that the Play tab works with no network and an empty Hub cache.

Each lives in ``offline_agents/<EnvId>/`` in the RL Zoo's Hub layout (``dqn-<EnvId>.zip`` with its
weights, ``config.yml``, ``env_kwargs.yml``, and ``results.json`` with the score measured here),
beside ``TRAINING.md``, which records how it was trained and evaluated.
"""

from pathlib import Path

from huggingface_hub import try_to_load_from_cache

from agents.catalog import DEFAULT_GAME, GAMES
from agents.hub import AgentFiles, hub_reachable

OFFLINE_AGENTS = Path(__file__).resolve().parent.parent / "offline_agents"


def offline_agent_files(env_id: str) -> AgentFiles | None:
    """The shipped agent for ``env_id``, if there is one."""
    folder = OFFLINE_AGENTS / env_id
    model_zip = folder / f"dqn-{env_id}.zip"
    if not model_zip.is_file():
        return None
    return AgentFiles(
        repo_id=f"offline agent dqn-{env_id}",
        algo="dqn",
        model_zip=model_zip,
        config=folder / "config.yml",
        env_kwargs=folder / "env_kwargs.yml",
        results=folder / "results.json",
        offline=True,
    )


def offline_games() -> list[str]:
    """Keys of the games that have a shipped agent."""
    return [key for key, game in GAMES.items() if offline_agent_files(game.env_id) is not None]


def first_playable_game() -> str:
    """The default game, unless its agent can be neither downloaded nor found in the cache while a
    shipped agent can play: then the first game with a shipped agent, so the first click works."""
    game = GAMES[DEFAULT_GAME]
    cached = try_to_load_from_cache(game.repo_id, f"dqn-{game.env_id}.zip")
    if isinstance(cached, str) or not offline_games() or hub_reachable():
        return DEFAULT_GAME
    return offline_games()[0]
