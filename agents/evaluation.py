"""Score an agent over several seeded games with the Play pipeline's rollout."""

import datetime
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agents.agent import Agent, agent_from_files
from agents.catalog import get_game
from agents.environment import make_env
from agents.episode import EpisodeResult, play_to_folder
from agents.rollout import play_episode
from agents.run_folder import RunFolder

EVAL_EPSILON = 0.01  # as the RL Zoo evaluates Atari agents: stochastically, with the final ε


@dataclass(frozen=True)
class Evaluation:
    """Scores of whole games, one per seed."""

    scores: list[float]
    seeds: list[int]
    epsilon: float

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores))

    @property
    def std(self) -> float:
        return float(np.std(self.scores))

    def results_json(self) -> dict:
        """The ``results.json`` the RL Zoo writes beside a Hub model."""
        return {
            "mean_reward": self.mean,
            "std_reward": self.std,
            "is_deterministic": self.epsilon == 0.0,
            "n_eval_episodes": len(self.scores),
            "eval_datetime": datetime.datetime.now().isoformat(),
        }


def evaluate(
    agent: Agent, n_episodes: int = 10, epsilon: float = EVAL_EPSILON, max_steps: int = 27_000, first_seed: int = 0
) -> Evaluation:
    """Play ``n_episodes`` whole games (seeds ``first_seed``, ``first_seed + 1``, ...) and keep their scores."""
    scores, seeds = [], list(range(first_seed, first_seed + n_episodes))
    for seed in seeds:
        env = make_env(agent.settings, seed)
        try:
            score = 0.0
            for step in play_episode(agent.q_function, env, seed, epsilon, max_steps):
                score = step.score
        finally:
            env.close()
        scores.append(score)
    return Evaluation(scores, seeds, epsilon)


def run_agent(run: RunFolder, model_zip: Path | None = None) -> Agent:
    """The agent an RL Zoo run folder holds (its final model, or ``model_zip``, e.g. a checkpoint
    of the run), loaded as the Play tab loads Hub agents."""
    return agent_from_files(run.agent_files(model_zip), get_game(run.env_id))


def evaluate_run(
    run: RunFolder, replay_folder: Path, n_episodes: int = 5, replay_max_steps: int = 5000
) -> tuple[Evaluation, EpisodeResult]:
    """Score a finished run over ``n_episodes`` seeded games and render one replay with the Play pipeline."""
    agent = run_agent(run)
    evaluation = evaluate(agent, n_episodes=n_episodes)
    replay = play_to_folder(agent, replay_folder, seed=0, epsilon=EVAL_EPSILON, max_steps=replay_max_steps)
    return evaluation, replay
