"""What the Leaderboard tab and its ``/submit`` and ``/leaderboard`` endpoints do: submit an agent, read a
game's board and the queue, open an entry (its games, its seeds, its card's claim) and replay its best
game through the Play pipeline. Gradio-free."""

import datetime

import numpy as np
import pandas as pd

from agents.core.agent import agent_from_files
from agents.core.catalog import get_game
from agents.core.errors import AgentError
from agents.evaluate.evaluation import Evaluation
from agents.leaderboard import store
from agents.leaderboard.board import (
    RANDOM_AGENT,
    RANDOM_REVISION,
    agent_files_at,
    claim_too_high,
    entry_details,
    queue_rows,
    ranking,
    reference_label,
)
from agents.leaderboard.protocol import current_protocol
from agents.play.episode import EpisodeResult, play_to_folder
from agents.tabs.play import new_output_folder

HUB = "https://huggingface.co/"
BOARD_COLUMNS = [
    "Rank", "Agent", "Commit", "Algorithm", "Mean ± std", "Mean − std", "Median", "Games", "Claimed", "Date", "Entry"
]  # fmt: skip
BOARD_WIDTHS = ["60px", "290px", "80px", "90px", "120px", "90px", "80px", "60px", "90px", "100px", "60px"]
BOARD_TYPES = ["number", "markdown", "str", "str", "str", "number", "number", "number", "str", "str", "number"]
QUEUE_COLUMNS = ["Place", "Entry", "Game", "Agent", "State"]
REFERENCE_NAMES = {"random": "reference", "sb3": "reference: the RL Zoo's", "offline": "reference: the Arena's"}


def _date(timestamp: float | None) -> str:
    return datetime.datetime.fromtimestamp(timestamp or 0, datetime.timezone.utc).strftime("%Y-%m-%d")


def agent_link(repo_id: str, revision: str, reference: str) -> str:
    """The repo as a link to its commit on the Hub (Markdown), with what reference row it is."""
    note = f" ({REFERENCE_NAMES[reference]})" if reference else ""
    if repo_id == RANDOM_AGENT or revision.startswith("sha256:"):
        return f"{repo_id}{note}"
    return f"[{repo_id}]({HUB}{repo_id}/tree/{revision}){note}"


def board_table(game: str, order: str = "mean") -> pd.DataFrame:
    """A game's board as the page shows it: a row per entry, ranked by ``order``."""
    rows = [
        {
            "Rank": row["rank"],
            "Agent": agent_link(row["repo_id"], row["revision"], row["reference"]),
            "Commit": row["revision"][:7] if row["revision"] != RANDOM_REVISION else "–",
            "Algorithm": {"dqn": "DQN", "qrdqn": "QR-DQN", "random": "random"}.get(row["algo"], row["algo"]),
            "Mean ± std": f"{row['mean']:.1f} ± {row['std']:.1f}",
            "Mean − std": round(row["mean_minus_std"], 1),
            "Median": round(row["median"], 1),
            "Games": row["games"],
            "Claimed": "–" if row["claimed"] is None else f"{row['claimed']:.1f}" + (" ⚠️" * row["claim_too_high"]),
            "Date": _date(row["finished_at"]),
            "Entry": row["entry"],
        }
        for row in ranking(game, order)
    ]
    return pd.DataFrame(rows, columns=BOARD_COLUMNS)


def queue_table() -> pd.DataFrame:
    rows = [
        [row["place"], row["entry"], get_game(row["game"]).title, row["repo_id"], row["state"]] for row in queue_rows()
    ]
    return pd.DataFrame(rows, columns=QUEUE_COLUMNS)


def board_heading(game: str) -> str:
    protocol = current_protocol()
    return (
        f"### {get_game(game).title}\nProtocol `{protocol.name}`: {protocol.describe()}. ⚠️ beside a claim: the "
        "model card claims more than 2 standard errors above the measured mean. Kept in "
        f"{store.describe_database(store.database_url())}."
    )


def entry_evaluation(entry: store.Submission) -> Evaluation:
    """An evaluated entry as the Evaluate capability's result, so that its tables and plots serve it too."""
    if entry.state != store.DONE:
        raise AgentError(
            f"Entry {entry.id} has not been evaluated ({entry.state}{': ' + entry.error if entry.error else ''})."
        )
    return Evaluation(
        scores=entry.scores,
        seeds=entry.seeds,
        epsilon=entry.epsilon,
        episode_steps=entry.episode_steps,
        terminated=entry.game_over,
        max_steps=entry.max_steps,
        seconds=entry.seconds or 0.0,
    )


def entry_markdown(entry: store.Submission) -> str:
    """One entry in full: what was measured, on which seeds, beside the card's claim, and how to rerun it."""
    evaluation = entry_evaluation(entry)
    game = get_game(entry.game)
    claim = "The model card claims no score."
    if entry.claimed is not None:
        gap = (entry.claimed - entry.mean) / entry.standard_error if entry.standard_error else float("inf")
        verdict = (
            "more than 2 standard errors above" if claim_too_high(entry) else "within 2 standard errors of, or below,"
        )
        claim = f"The model card claims {entry.claimed:.1f}: {verdict} the measured mean ({gap:+.1f} standard errors)."
    rerun = (
        f"python -m agents.evaluate --repo-id {entry.repo_id} --revision {entry.revision} "
        f"--first-seed {entry.seeds[0]} --episodes {len(entry.seeds)} --epsilon {entry.epsilon:g} "
        f"--max-steps {entry.max_steps}"
    )
    label = reference_label(entry, game)
    return "\n".join(
        [
            f"### Entry {entry.id}: {agent_link(entry.repo_id, entry.revision, label)}",
            f"{game.title} · commit `{entry.revision}` · protocol `{entry.protocol}` · Arena {entry.arena_version} · "
            f"evaluated {_date(entry.finished_at)} in {evaluation.seconds:.0f} s",
            f"**{evaluation.mean:.1f} ± {evaluation.std:.1f}** over {len(evaluation.scores)} games, median "
            f"{entry.median:.1f}, seeds {entry.seeds[0]}–{entry.seeds[-1]}, ε = {entry.epsilon:g}.",
            "",
            claim,
            "",
            f"Rerun it, game by game:\n```\n{rerun}\n```" if label in ("", "sb3") else "",
        ]
    )


def best_seed(entry: store.Submission) -> int:
    return entry.seeds[int(np.argmax(entry.scores))]


def replay_best_game(entry: store.Submission) -> EpisodeResult:
    """The entry's best game again, filmed by the Play pipeline: the same seed, ε and step cap, so the same game."""
    game = get_game(entry.game)
    agent = agent_from_files(agent_files_at(entry, game), game)
    return play_to_folder(
        agent, new_output_folder("replay-"), seed=best_seed(entry), epsilon=entry.epsilon, max_steps=entry.max_steps
    )


def open_entry(entry_id: float) -> store.Submission:
    """The entry a visitor typed, checked: a whole number, an entry there is."""
    if not isinstance(entry_id, (int, float)) or entry_id != int(entry_id):
        raise AgentError(f"Give an entry's number (the board's last column), not {entry_id!r}.")
    return entry_details(int(entry_id))
