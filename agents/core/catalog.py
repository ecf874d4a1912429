"""The games the Arena offers, and the RL Zoo Hub repos that hold their DQN agents."""

from dataclasses import dataclass

from agents.core.errors import AgentError

ENV_SUFFIX = "NoFrameskip-v4"


@dataclass(frozen=True)
class Game:
    """An Atari game with a pretrained RL Zoo DQN agent on the Hub."""

    key: str
    title: str

    @property
    def env_id(self) -> str:
        return f"{self.key}{ENV_SUFFIX}"

    @property
    def repo_id(self) -> str:
        return f"sb3/dqn-{self.env_id}"


GAMES: dict[str, Game] = {
    game.key: game
    for game in (
        Game("SpaceInvaders", "Space Invaders"),
        Game("Breakout", "Breakout"),
        Game("Pong", "Pong"),
        Game("Qbert", "Q*bert"),
        Game("Seaquest", "Seaquest"),
        Game("MsPacman", "Ms. Pac-Man"),
        Game("Enduro", "Enduro"),
        Game("BeamRider", "Beam Rider"),
        Game("Asteroids", "Asteroids"),
        Game("RoadRunner", "Road Runner"),
    )
}


def get_game(name: str) -> Game:
    """Find a game by its key (``SpaceInvaders``), its title or its env id."""
    wanted = (name or "").strip().lower().replace(ENV_SUFFIX.lower(), "")
    for game in GAMES.values():
        if wanted in (game.key.lower(), game.title.lower()):
            return game
    raise AgentError(f"Unknown game {name!r}. Choose one of: {', '.join(GAMES)}.")


def env_game(env_id: str) -> Game | None:
    """The catalog game whose environment is ``env_id`` (in any case), if there is one."""
    return next((game for game in GAMES.values() if game.env_id.lower() == env_id.lower()), None)
