"""Agents shipped with the Arena, and which game's agent can play on this machine right now.

Each shipped agent lives in ``offline_agents/<EnvId>/`` in the RL Zoo's Hub layout (``dqn-<EnvId>.zip``
with its weights, ``config.yml``, ``env_kwargs.yml``, and ``results.json`` with the score measured
here and a random policy's on the same seeds), beside ``TRAINING.md``, which records how it was trained and
evaluated. One rule picks every default (the Play tab, ``/play``, the command lines, the Train tab): the first
game in the catalog whose Hub agent can play here; with none, the shipped agent that comes closest to the RL Zoo's.
"""

import math
from dataclasses import dataclass

from agents.core.catalog import GAMES, Game, get_game
from agents.core.data_root import PROJECT_ROOT
from agents.core.hub import (
    AgentFiles,
    ByteProgress,
    HubUnavailable,
    cached_agent_files,
    check_repo_id,
    fetch_agent_files,
    hub_reachable,
)
from agents.core.rl_zoo_benchmark import benchmark_row

OFFLINE_AGENTS = PROJECT_ROOT / "offline_agents"

CACHED = "cached"
DOWNLOADABLE = "from the Hub"
SHIPPED = "offline agent"
OUT_OF_REACH = "needs the Hub"


@dataclass(frozen=True)
class GameAvailability:
    """Whether a game's agent can play here, and where it would come from."""

    game: Game
    source: str  # CACHED, DOWNLOADABLE, SHIPPED or OUT_OF_REACH

    @property
    def playable(self) -> bool:
        return self.source != OUT_OF_REACH

    @property
    def label(self) -> str:
        """The game as the dropdown shows it, e.g. ``Pong · needs the Hub (not cached)``."""
        suffix = {OUT_OF_REACH: "needs the Hub (not cached)", SHIPPED: "offline agent"}.get(self.source, self.source)
        return f"{self.game.title} · {suffix}"


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


def shipped_strength(env_id: str) -> float:
    """How far the shipped agent for ``env_id`` goes from random play towards the RL Zoo's own DQN agent, by the
    scores measured when it was packed (its ``results.json``): 0 plays like chance, 1 like the RL Zoo's agent.
    Scores alone do not compare across games (Pong's run from −21 to 21, Breakout's from 0 to over 400).
    Minus infinity when there is no agent, or its file or the benchmark does not say."""
    files = offline_agent_files(env_id)
    row = benchmark_row("dqn", env_id)
    result = files.published_result() if files is not None else None
    try:
        mean, random_mean, rl_zoo_mean = result["mean_reward"], result["random_mean_reward"], row["mean_reward"]
        share = (float(mean) - float(random_mean)) / (float(rl_zoo_mean) - float(random_mean))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return -math.inf
    return share if math.isfinite(share) else -math.inf


def is_cached(repo_id: str, env_id: str) -> bool:
    """Whether the Hugging Face cache holds all of an RL Zoo agent's files (it then plays at once)."""
    return cached_agent_files(repo_id, env_id) is not None


def availability(online: bool | None = None) -> list[GameAvailability]:
    """Every catalog game with where its agent would come from now, in catalog order."""
    online = hub_reachable() if online is None else online
    found = []
    for game in GAMES.values():
        if is_cached(game.repo_id, game.env_id):
            source = CACHED
        elif online:
            source = DOWNLOADABLE
        elif offline_agent_files(game.env_id) is not None:
            source = SHIPPED
        else:
            source = OUT_OF_REACH
        found.append(GameAvailability(game, source))
    return found


def first_playable(entries: list[GameAvailability]) -> str:
    """The default game of ``entries`` (in catalog order): the first whose Hub agent can play (cached or
    downloadable); with none, the shipped agent that comes closest to the RL Zoo's (:func:`shipped_strength`,
    the first of equals); the catalog's first if no agent can play."""
    from_the_hub = [entry for entry in entries if entry.playable and entry.source != SHIPPED]
    if from_the_hub:
        return from_the_hub[0].game.key
    shipped = [entry.game for entry in entries if entry.source == SHIPPED]
    if not shipped:
        return next(iter(GAMES))
    return max(shipped, key=lambda game: shipped_strength(game.env_id)).key


def first_playable_game(online: bool | None = None) -> str:
    """The default game: the first in the catalog whose agent can play here from the Hub or its cache (Space
    Invaders); else the best shipped agent's game. Space Invaders if none can."""
    return first_playable(availability(online))


def playable_now_sentence(online: bool | None = None) -> str:
    """Names the agents that would play here now, for an error about one that cannot."""
    playable = [entry for entry in availability(online) if entry.playable]
    if not playable:
        return "No agent can play here now: connect to the Hub once to download one."
    names = ", ".join(f"{entry.game.title} ({entry.source})" for entry in playable[:4])
    return f"Agents that can play here now: {names}."


GAME_OPTION_HELP = (
    f"one of {', '.join(GAMES)} (default: the game of the repo given, by its name or files; with none, the first "
    "game whose Hub agent can play here, else the best offline agent's)"
)


def game_or_default(name: str | None) -> Game:
    """The game ``name`` names; none named, the default game (:func:`first_playable_game`). With a repo id, the
    game is :func:`agents.core.repo_game.resolve_game`'s."""
    return get_game(name) if name and name.strip() else get_game(first_playable_game())


def find_agent_files(
    game: Game, repo_id: str | None = None, progress: ByteProgress | None = None, revision: str | None = None
) -> AgentFiles:
    """The files of the agent that plays ``game``: ``repo_id``'s (at ``revision``, a commit, if given), else the
    game's sb3 agent's.

    When the game's own Hub agent is out of reach and the Arena ships one for the game, that one
    is used (Play, Train's start agent and evaluation alike), unless a revision was asked for. An agent that
    cannot be had here is refused with the names of those that can. ``progress`` hears the bytes of a model zip
    downloaded.
    """
    repo_id = check_repo_id(repo_id) if repo_id and repo_id.strip() else game.repo_id
    try:
        return fetch_agent_files(repo_id, game.env_id, progress, revision)
    except HubUnavailable as error:
        files = offline_agent_files(game.env_id) if repo_id == game.repo_id and revision is None else None
        if files is None:
            raise HubUnavailable(f"{error} {playable_now_sentence(online=False)}") from None
        return files
