"""What an evaluation's score means beside the model card's and the RL Zoo's published one.

The RL Zoo's benchmark table (:mod:`agents.core.rl_zoo_benchmark`) gives each DQN and QR-DQN Atari agent's
mean and std over its evaluation episodes; a model card's ``results.json`` gives its own, with its protocol.
A score is *consistent* with one of them when the two means are within two standard errors of their difference.
"""

import math
from dataclasses import dataclass

from agents.core.catalog import Game
from agents.core.hub import AgentFiles
from agents.core.rl_zoo_benchmark import benchmark_row
from agents.evaluate.evaluation import Evaluation

CONSISTENT_WITHIN = 2.0  # standard errors


@dataclass(frozen=True)
class PublishedScore:
    """A score published for an agent, with the protocol it was measured with."""

    source: str  # "the model card" or "the RL Zoo benchmark"
    mean: float
    std: float | None
    episodes: int | None
    deterministic: bool | None  # greedy (ε = 0) rather than the stochastic ε = 0.01

    def protocol(self) -> str:
        played = {True: "greedy", False: "ε-greedy", None: "protocol not given"}[self.deterministic]
        over = f" over {self.episodes} games" if self.episodes else ""
        spread = f" ± {self.std:.1f}" if self.std is not None else ""
        return f"{self.mean:.1f}{spread}{over}, {played}"


def benchmark_score(algo: str, env_id: str) -> PublishedScore | None:
    """The RL Zoo's published score for its ``algo`` agent on ``env_id``, if it has one."""
    row = benchmark_row(algo, env_id)
    if row is None:
        return None
    return PublishedScore(
        source=f"the RL Zoo's benchmark for its own {algo.upper()} agent (10M steps)",
        mean=float(row["mean_reward"]),
        std=float(row["std_reward"]),
        episodes=int(row["eval_episodes"]),
        deterministic=False,
    )


def card_score(result: dict | None, source: str = "the model card") -> PublishedScore | None:
    """A ``results.json`` (the model card's, or the score measured here for a shipped agent) as a
    published score; ``None`` if it has no readable mean."""
    if not result:
        return None
    try:
        mean = float(result["mean_reward"])
    except (KeyError, TypeError, ValueError):
        return None
    std = result.get("std_reward")
    episodes = result.get("n_eval_episodes")
    deterministic = result.get("is_deterministic")
    return PublishedScore(
        source,
        mean,
        float(std) if isinstance(std, (int, float)) and not isinstance(std, bool) else None,
        episodes if isinstance(episodes, int) and not isinstance(episodes, bool) and episodes > 0 else None,
        deterministic if isinstance(deterministic, bool) else None,
    )


def standard_errors_apart(evaluation: Evaluation, published: PublishedScore) -> float | None:
    """(evaluation mean − published mean) in standard errors of the difference; ``None`` when neither
    side gives a spread."""
    variance = evaluation.standard_error**2
    if published.std is not None and published.episodes:
        variance += published.std**2 / published.episodes
    if variance == 0:
        return None
    return (evaluation.mean - published.mean) / math.sqrt(variance)


def verdict(evaluation: Evaluation, published: PublishedScore) -> str:
    """One plain sentence: consistent with the published score, or how many standard errors below/above."""
    here = f"{evaluation.mean:.1f} ± {evaluation.std:.1f} over {len(evaluation.scores)} games"
    apart = standard_errors_apart(evaluation, published)
    if apart is None:
        comparison, distance = ("equal to" if evaluation.mean == published.mean else "different from"), ""
    elif abs(apart) <= CONSISTENT_WITHIN:
        comparison, distance = "consistent with", f" ({apart:+.1f} standard errors)"
    else:
        comparison, distance = f"{abs(apart):.1f} standard errors {'below' if apart < 0 else 'above'}", ""
    protocols = ""
    greedy_here = evaluation.epsilon == 0.0
    if published.deterministic is not None and published.deterministic != greedy_here:
        protocols = f"; it played {'greedily' if published.deterministic else 'ε-greedily'}, this evaluation "
        protocols += "greedily" if greedy_here else f"with ε = {evaluation.epsilon:g}"
    return f"{here} is {comparison} {published.source}, {published.protocol()}{distance}{protocols}."


def evaluation_summary(files: AgentFiles, game: Game, evaluation: Evaluation) -> dict:
    """As the API and the command line give it: the game, the protocol, every game, the statistics and
    the verdicts."""
    return {
        "game": game.key,
        "repo": files.repo_id,
        "epsilon": evaluation.epsilon,
        "max_steps": evaluation.max_steps,
        "seeds": evaluation.seeds,
        "scores": evaluation.scores,
        "episode_steps": evaluation.episode_steps,
        "game_over": evaluation.terminated,
        **evaluation.statistics(),
        "seconds": round(evaluation.seconds, 2),
        "verdicts": verdicts(files, game, evaluation),
    }


def verdicts(files: AgentFiles, game: Game, evaluation: Evaluation) -> list[str]:
    """The evaluation beside the model card's score (for a shipped agent: the one measured here) and the
    RL Zoo's benchmark for the game, a sentence each."""
    card = card_score(files.published_result(), "its measured score" if files.offline else "the model card")
    published = (card, benchmark_score(files.algo, game.env_id))
    return [verdict(evaluation, score) for score in published if score is not None]
