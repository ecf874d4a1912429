"""Play whole games with an agent and record, step by step, what it saw, valued and did.

One rollout serves Play, Evaluate, Compare and the Leaderboard: :func:`play_games` plays a batch of games in
step, each in its own environment (:class:`agents.core.fused_env.FusedAtariEnv`, the RL Zoo's
``create_test_env`` in one object, seeded with the game's seed) with its own random stream for exploration,
and passes the observations of all the games in play through the network as one batch. A game in Play is a
batch of one.

The game with seed ``k`` is therefore the same game (same actions, same length, same score) whatever
else is played beside it. Batching changes a Q-value in its last bits (about 1e-6), which could only
change an action when two actions are that close: such a step's Q-values are computed again for its
game alone, as a batch of one computes them.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from agents.core.checkpoint import QFunction
from agents.core.environment import EnvSettings
from agents.core.fused_env import FusedAtariEnv

NEAR_TIE = 1e-4  # Q-values closer than this are recomputed alone before an action is chosen between them


@dataclass(frozen=True)
class Step:
    """One agent step: the screen and observation it acted on, its Q-values, its action, the outcome."""

    index: int
    screen: np.ndarray | None  # the emulator's RGB screen (None when screens are not asked for)
    observation: np.ndarray
    q_values: np.ndarray
    action: int
    exploratory: bool
    reward: float
    score: float
    lives: int
    game_over: bool


class Game:
    """One game in play: its environment, its own random stream, and where it stands."""

    def __init__(self, settings: EnvSettings, seed: int) -> None:
        self.seed = seed
        self.env = FusedAtariEnv(settings)
        self.rng = np.random.default_rng(seed)
        self.ale = self.env.ale
        self.observation = self.env.reset(seed)
        self.score = 0.0
        self.rewards_seen = len(self.env.rewards)
        self.index = 0

    def step(
        self, q_values: np.ndarray, n_actions: int, epsilon: float, screens: bool, action: int | None = None
    ) -> Step:
        """Act on ``q_values`` (ε-greedy, as SB3's DQN acts), or take ``action`` as given (a person's, in Your
        turn: no random draw is made), step the environment, and say what happened."""
        screen = self.ale.getScreenRGB() if screens else None
        lives = self.ale.lives()
        if action is None:
            exploratory = bool(self.rng.random() < epsilon)
            action = int(self.rng.integers(n_actions)) if exploratory else int(np.argmax(q_values))
        else:
            exploratory = False
        next_observation, episode_return = self.env.step(action)
        game_over = episode_return is not None
        if game_over:
            new_score = episode_return
        else:
            # The rewards as SB3's Monitor keeps them, real, unclipped (a new list when the game resets)
            rewards = self.env.rewards
            new_score = self.score + float(np.sum(rewards[self.rewards_seen :]))
            self.rewards_seen = len(rewards)
        step = Step(
            self.index,
            screen,
            self.observation,
            q_values,
            action,
            exploratory,
            new_score - self.score,
            new_score,
            lives,
            game_over,
        )
        self.score, self.observation, self.index = new_score, next_observation, self.index + 1
        return step


def _near_tie(q_values: np.ndarray) -> bool:
    top_two = np.sort(q_values)[-2:]
    return len(top_two) == 2 and top_two[1] - top_two[0] < NEAR_TIE


def play_games(
    q_function: QFunction,
    settings: EnvSettings,
    seeds: Iterable[int],
    epsilon: float,
    max_steps: int,
    slots: int = 1,
    screens: bool = True,
) -> Iterator[tuple[int, Step]]:
    """Play the games of ``seeds``, ``slots`` at a time, each until game over (all lives) or ``max_steps``
    agent steps; yields ``(seed, step)`` for every step of every game, the last one with
    ``game_over`` set or at the cap. A finished game's slot takes the next seed.

    With probability ``epsilon`` a game takes a uniformly random action instead of the greedy one, as
    SB3's DQN does; the random draws come from the game's own seed, as does its environment.
    """
    pending = iter(seeds)
    playing: list[Game] = []
    while True:
        while len(playing) < slots and (seed := next(pending, None)) is not None:
            playing.append(Game(settings, seed))
        if not playing:
            return
        batch = q_function(np.stack([game.observation for game in playing]))
        for row, game in enumerate(playing):
            if len(playing) > 1 and _near_tie(batch[row]):
                batch[row] = q_function(game.observation[None])[0]
        finished = []
        for row, game in enumerate(playing):
            step = game.step(batch[row], q_function.n_actions, epsilon, screens)
            yield game.seed, step
            if step.game_over or game.index >= max_steps:
                finished.append(game)
        for game in finished:
            playing.remove(game)


def play_episode(
    q_function: QFunction, settings: EnvSettings, seed: int, epsilon: float, max_steps: int
) -> Iterator[Step]:
    """One game, as Play shows it: a batch of one, with the emulator's screens."""
    for _, step in play_games(q_function, settings, [seed], epsilon, max_steps):
        yield step
