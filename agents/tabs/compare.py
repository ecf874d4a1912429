"""What the app's Compare tab and its ``/compare`` API do: two agents on one game, a side-by-side video of
the first seed streamed as it is played, then a paired evaluation over the seeds. Gradio-free."""

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from agents.compare.duel import (
    PairedEvaluation,
    arena_claims,
    contender,
    paired_evaluation,
    refuse_the_same_agent,
    stream_duel,
)
from agents.core.agent import Agent
from agents.core.budget import check_evaluation_cost
from agents.core.errors import AgentError
from agents.core.repo_game import page_game, settle_game
from agents.evaluate.evaluation import check_evaluation_inputs
from agents.play.episode import MAX_STEPS_LIMIT, segments_folder
from agents.tabs.play import Progress, new_output_folder


@dataclass(frozen=True)
class Comparison:
    """A finished comparison: the two agents, their paired scores, and the video of the first seed."""

    a: Agent
    b: Agent
    paired: PairedEvaluation
    video: Path

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "seed": self.paired.a.seeds,
                "A": self.paired.a.scores,
                "B": self.paired.b.scores,
                "B − A": self.paired.differences,
            }
        )

    def plot_data(self) -> pd.DataFrame:
        """Both agents' scores seed by seed, a bar each, side by side (``game`` is "3 A": seed 3, agent A)."""
        long = self.table().melt(id_vars="seed", value_vars=["A", "B"], var_name="agent", value_name="score")
        long = long.sort_values(["seed", "agent"], kind="stable")
        long["game"] = [f"{seed} {agent}" for seed, agent in zip(long["seed"], long["agent"], strict=True)]
        return long[["game", "score", "agent"]]

    def score_range(self) -> list[float]:
        """The bar plot's score axis: from 0 (or the lowest score, if negative) to the highest."""
        scores = [*self.paired.a.scores, *self.paired.b.scores]
        return [min(0.0, min(scores)), max(1.0, max(scores))]

    def markdown(self) -> str:
        a, b = self.paired.a, self.paired.b
        return (
            f"### {self.paired.verdict()}\n"
            f"{self.a.game.title}, seeds {a.seeds[0]}–{a.seeds[-1]}, ε = {a.epsilon:g}, at most {a.max_steps:,} "
            f"steps a game.  \n**A** `{self.a.repo_id}`: {a.mean:.1f} ± {a.std:.1f} · "
            f"**B** `{self.b.repo_id}`: {b.mean:.1f} ± {b.std:.1f}. Each agent's scores are those **Evaluate** "
            "gives it alone on these seeds."
        )


def last_job_run(status: dict) -> str:
    """The run folder of the Train tab's last job, as an agent for the arena, once it has finished."""
    if status.get("status") != "finished" or not status.get("run_folder"):
        raise AgentError("There is no finished training job to compare yet: train one in the Train tab first.")
    return status["run_folder"]


def page_arena_game(
    shown: str, a_spec: str | None, b_spec: str | None, b_is_run_folder: bool = False
) -> tuple[str, str]:
    """The Compare form's rule: the game A and B are for wins over the dropdown's ``shown``; the game to
    show, and a note saying why."""
    game, note = page_game(shown, arena_claims(a_spec, b_spec, b_folders=b_is_run_folder))
    return game.key, note


def compare_stream(
    game: str,
    a_spec: str | None,
    b_spec: str | None,
    episodes: float,
    first_seed: float,
    epsilon: float,
    max_steps: float,
    progress: Progress | None = None,
    b_is_run_folder: bool = False,
) -> Iterator[tuple[Path | None, Comparison | None]]:
    """Yields ``(segment, None)`` for each segment of the side-by-side video of the first seed, then
    ``(None, comparison)`` once both agents have played every seed. A visitor's text is always a Hub repo
    id; ``b_is_run_folder`` is for the app's own last training job."""
    episodes, first_seed, epsilon, max_steps = check_evaluation_inputs(episodes, first_seed, epsilon, max_steps)
    shown = min(max_steps, MAX_STEPS_LIMIT)  # the first seed's game, played again for the video
    check_evaluation_cost("This comparison", episodes, max_steps, agents=2, shown_steps=shown)
    chosen = settle_game(game, arena_claims(a_spec, b_spec, b_folders=b_is_run_folder))
    if progress is not None:
        progress(0.0, "Loading both agents…")
    a, b = contender(chosen, a_spec), contender(chosen, b_spec, folders=b_is_run_folder)
    refuse_the_same_agent(a, b, also=", or, in the tab, the agent of your last training job")
    folder = new_output_folder("compare-")
    video = None
    try:
        for item in stream_duel(a, b, folder, first_seed, epsilon, shown):
            if isinstance(item, tuple):
                video = item[0]
            else:
                yield item, None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # a full disk or a cancel: nothing half-written stays
        raise
    finally:
        shutil.rmtree(segments_folder(folder), ignore_errors=True)

    def played(finished: int, total: int, rate: float) -> None:
        if progress is not None:
            progress(finished / total, f"{finished} of {total} games finished, {rate:.0f} steps/s")

    paired = paired_evaluation(a, b, episodes, first_seed, epsilon, max_steps, progress=played)
    yield None, Comparison(a, b, paired, video)


def compare_once(*args, **kwargs) -> Comparison:
    """The whole comparison without streaming, for the API."""
    for _, comparison in compare_stream(*args, **kwargs):
        if comparison is not None:
            return comparison
    raise AgentError("The comparison produced no result.")
