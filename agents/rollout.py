"""Play one whole game with an agent and record, step by step, what it saw, valued and did."""

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from stable_baselines3.common.vec_env import VecEnv

from agents.checkpoint import QFunction


@dataclass(frozen=True)
class Step:
    """One agent step: the screen and observation it acted on, its Q-values, its action, the outcome."""

    index: int
    screen: np.ndarray
    observation: np.ndarray
    q_values: np.ndarray
    action: int
    exploratory: bool
    reward: float
    score: float
    lives: int
    game_over: bool


def _monitor_rewards(env: VecEnv) -> list[float]:
    """The rewards of this game so far as SB3's Monitor, inside the Atari wrappers, keeps them: real,
    unclipped (read at each step: the Monitor starts a new list when the game resets)."""
    return env.get_attr("rewards")[0]


def play_episode(q_function: QFunction, env: VecEnv, seed: int, epsilon: float, max_steps: int) -> Iterator[Step]:
    """Play until game over (all lives) or ``max_steps`` agent steps, yielding each step.

    With probability ``epsilon`` the agent takes a uniformly random action instead of the
    greedy one, as SB3's DQN does; the random draws come from ``seed``, as does the environment.
    """
    rng = np.random.default_rng(seed)
    ale = env.get_attr("ale")[0]
    observation = env.reset()
    score = 0.0
    rewards_seen = len(_monitor_rewards(env))
    for index in range(max_steps):
        screen = ale.getScreenRGB()
        lives = ale.lives()
        q_values = q_function(observation)[0]
        exploratory = bool(rng.random() < epsilon)
        action = int(rng.integers(q_function.n_actions)) if exploratory else int(np.argmax(q_values))
        next_observation, _, dones, infos = env.step(np.array([action]))
        game_over = "episode" in infos[0]
        if game_over:
            new_score = float(infos[0]["episode"]["r"])
        else:
            rewards = _monitor_rewards(env)
            new_score = score + float(np.sum(rewards[rewards_seen:]))
            rewards_seen = len(rewards)
        yield Step(
            index, screen, observation[0], q_values, action, exploratory, new_score - score, new_score, lives, game_over
        )
        score = new_score
        observation = next_observation
        if game_over:
            return
