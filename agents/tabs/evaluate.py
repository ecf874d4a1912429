"""What the app's Evaluate tab and its ``/evaluate`` API do: load the agent, score it over seeded games,
and say what the score means beside its card and the RL Zoo's benchmark. Gradio-free."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from agents.core.agent import Agent
from agents.core.budget import check_evaluation_cost
from agents.evaluate.benchmark import evaluation_summary, verdicts
from agents.evaluate.evaluation import Evaluation, check_evaluation_inputs, evaluate, write_evaluation
from agents.tabs.play import Progress, agent_label, load_with_progress, new_output_folder


@dataclass(frozen=True)
class EvaluationReport:
    """An evaluation, the agent it scored, and its files."""

    agent: Agent
    evaluation: Evaluation
    results_json: Path
    games_csv: Path

    def summary(self) -> dict:
        return evaluation_summary(self.agent.files, self.agent.game, self.evaluation)


def run_evaluation(
    game: str,
    repo_id: str | None,
    episodes: float,
    first_seed: float,
    epsilon: float,
    max_steps: float,
    progress: Progress | None = None,
) -> EvaluationReport:
    """Score the agent over ``episodes`` seeded games and write ``results.json`` and ``games.csv``."""
    episodes, first_seed, epsilon, max_steps = check_evaluation_inputs(episodes, first_seed, epsilon, max_steps)
    check_evaluation_cost("This evaluation", episodes, max_steps)
    agent = load_with_progress(game, repo_id, progress)

    def played(finished: int, total: int, rate: float) -> None:
        if progress is not None:
            progress(finished / total, f"{finished} of {total} games finished, {rate:.0f} steps/s")

    if progress is not None:
        progress(0.0, f"Starting {episodes} games on this machine's cores…")
    evaluation = evaluate(agent, episodes, epsilon, max_steps, first_seed, progress=played)
    results, games = write_evaluation(evaluation, new_output_folder("evaluation-"))
    return EvaluationReport(agent, evaluation, results, games)


def evaluation_markdown(report: EvaluationReport) -> str:
    """The page's account of an evaluation: the score with its protocol, and what it means."""
    evaluation, agent = report.evaluation, report.agent
    stats = evaluation.statistics()
    capped = len(evaluation.scores) - sum(evaluation.terminated)
    cap_note = f" {capped} stopped at the step cap." if capped else ""
    lines = [
        f"### {stats['mean']:.1f} ± {stats['std']:.1f} over {len(evaluation.scores)} games",
        f"{agent.game.title}, played by {agent_label(agent)}: seeds {evaluation.seeds[0]}–{evaluation.seeds[-1]}, "
        f"ε = {evaluation.epsilon:g}, at most {evaluation.max_steps:,} agent steps a game.{cap_note}  ",
        f"Median {stats['median']:.1f} · min {stats['min']:.1f} · max {stats['max']:.1f} · "
        f"**mean − std {stats['mean_minus_std']:.1f}** (what the Deep RL course grades on) · "
        f"played in {evaluation.seconds:.1f} s.",
        "",
        *(f"- {sentence}" for sentence in verdicts(agent.files, agent.game, evaluation)),
    ]
    return "\n".join(lines)


def histogram_data(evaluation: Evaluation, bins: int = 10) -> pd.DataFrame:
    """The scores' histogram as a bar plot draws it: one row per bin, its range as the label."""
    scores = np.array(evaluation.scores)
    counts, edges = np.histogram(scores, bins=min(bins, max(1, len(np.unique(scores)))))
    ranges = zip(edges[:-1], edges[1:], strict=True)
    labels = [f"{low:.0f}–{high:.0f}" if high > low else f"{low:.0f}" for low, high in ranges]
    return pd.DataFrame({"score": labels, "games": counts})
