"""A playable agent: a Hub repo's files, checked and loaded once, then kept in memory."""

import functools
from dataclasses import dataclass

from agents.core.agent_files import find_agent_files
from agents.core.catalog import Game
from agents.core.checkpoint import QFunction, build_q_function, read_checkpoint
from agents.core.environment import EnvSettings, env_settings, read_rl_zoo_yaml
from agents.core.errors import AgentError
from agents.core.fused_env import FusedAtariEnv
from agents.core.hub import AgentFiles, ByteProgress
from agents.core.repo_game import resolve_game


@dataclass(frozen=True)
class Agent:
    """Everything needed to play: the network, how to build its environment, and where it came from."""

    game: Game
    repo_id: str
    algo: str
    sb3_version: str
    q_function: QFunction
    settings: EnvSettings
    action_names: tuple[str, ...]
    published_result: dict | None
    files: AgentFiles  # where it was loaded from: evaluation workers load it again from there
    offline: bool = False


@functools.lru_cache(maxsize=8)
def agent_from_files(files: AgentFiles, game: Game) -> Agent:
    """Check and load an agent's files (kept in memory: the same files are not loaded twice)."""
    settings = env_settings(game.env_id, read_rl_zoo_yaml(files.config), read_rl_zoo_yaml(files.env_kwargs))
    checkpoint = read_checkpoint(files.model_zip)
    env = FusedAtariEnv(settings)  # the environment the games are played in, for its spaces and actions
    q_function = build_q_function(checkpoint, env.observation_space, env.action_space)
    action_names = tuple(env.action_meanings)
    return Agent(
        game=game,
        repo_id=files.repo_id,
        algo=files.algo,
        sb3_version=checkpoint.sb3_version,
        q_function=q_function,
        settings=settings,
        action_names=action_names,
        published_result=files.published_result(),
        files=files,
        offline=files.offline,
    )


def load_agent(game_name: str | None, repo_id: str | None = None, progress: ByteProgress | None = None) -> Agent:
    """The agent in ``repo_id``, or the game's RL Zoo agent on the Hub; the game is the repo's when none is
    named, and a repo of another game than the one named is refused (:func:`resolve_game`).

    Files come through the Hub's disk cache; a loaded agent is kept in memory, keyed by the files'
    paths in the cache, which change when the repo gets a new revision.
    """
    game = resolve_game(game_name, repo_id)
    files = find_agent_files(game, repo_id, progress)
    try:
        return agent_from_files(files, game)
    except AgentError as error:
        raise AgentError(f"{files.repo_id}: {error}") from None
