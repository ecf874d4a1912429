"""What the app's Play tab and its ``/play`` API do: load the agent, play, and shape the results
for display. Gradio-free, so the UI file only wires components to these functions."""

import errno
import queue
import shutil
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pandas as pd

from agents.core.agent import Agent, load_agent
from agents.core.budget import check_play_cost
from agents.core.errors import AgentError
from agents.core.hub import bar_progress, revision_note
from agents.core.numbers import OwnerSetting
from agents.core.repo_game import page_game, repo_claims
from agents.play.episode import SALIENCY_EVERY, EpisodeResult, check_play_inputs, segments_folder, stream_episode

OUTPUT_ROOT = Path(tempfile.gettempdir()) / "atari-dqn-arena"
# How long a game's or an evaluation's files stay on disk (read once: Gradio's cache cleaner takes it at start-up).
KEEP_OUTPUTS_S = int(OwnerSetting("ARENA_KEEP_OUTPUTS_S", 3600, 1, 10**7, whole=True, unit="seconds").value())
MAX_PLOTTED_STEPS = 2000
STOP_TIMEOUT_S = 10

Progress = Callable[[float, str], None]


def new_output_folder(prefix: str = "episode-") -> Path:
    """A fresh folder for one game's (or evaluation's) files; folders older than ``KEEP_OUTPUTS_S`` go."""
    try:
        OUTPUT_ROOT.mkdir(parents=True, exist_ok=True)
        for old in OUTPUT_ROOT.iterdir():
            if time.time() - old.stat().st_mtime > KEEP_OUTPUTS_S:
                shutil.rmtree(old, ignore_errors=True)
        return Path(tempfile.mkdtemp(prefix=prefix, dir=OUTPUT_ROOT))
    except OSError as error:
        reason = "the disk is full" if error.errno in (errno.ENOSPC, errno.EDQUOT) else error.strerror
        raise AgentError(
            f"No folder for the files could be made here ({reason}). Try again in a while: old games' files are "
            f"deleted after {KEEP_OUTPUTS_S // 60} minutes; if it goes on, tell whoever runs the Arena."
        ) from None


def page_repo_game(shown: str, repo_id: str | None) -> tuple[str, str]:
    """The rule of a form with a game dropdown and a repo field (Play, Evaluate, Train): the game of the repo
    typed wins over the dropdown's ``shown``; the game to show, and a note saying why."""
    game, note = page_game(shown, repo_claims({"": repo_id}))
    return game.key, note


def load_with_progress(game: str, repo_id: str | None, progress: Progress | None = None) -> Agent:
    """Load an agent, saying what is going on: a download shows the model zip's bytes as they arrive."""
    if progress is None:
        return load_agent(game, repo_id)
    progress(0.05, f"Looking for {repo_id or 'the agent'} in the Hub cache…")

    agent = load_agent(game, repo_id, bar_progress(progress))
    progress(0.9, f"Loaded {agent.repo_id}; starting the game…")
    return agent


def published_score(agent: Agent) -> str:
    """The model card's evaluation (or, for a shipped agent, the one measured here), as one phrase."""
    result = agent.published_result
    if not result or "mean_reward" not in result:
        return "the model card reports no score"
    try:
        text = f"{float(result['mean_reward']):.1f} ± {float(result.get('std_reward', 0.0)):.1f}"
    except (TypeError, ValueError):
        return "the model card's score is unreadable"
    episodes = result.get("n_eval_episodes")
    over = f" over {episodes} games" if isinstance(episodes, int) else ""
    if agent.offline:
        return f"its measured score is {text}{over}"
    return f"the model card reports {text}{over}"


def agent_label(agent: Agent) -> str:
    """Who played, as the summary names it."""
    if agent.offline:
        return (
            f"the Arena's **offline agent** (the Hub is out of reach; trained with this Space's pipeline, "
            f"see `offline_agents/{agent.game.env_id}/TRAINING.md`)"
        )
    return f"`{agent.repo_id}`"


def summary_markdown(result: EpisodeResult) -> str:
    """A short report of the game for the page."""
    agent = result.agent
    ending = "game over" if result.terminated else "stopped at the step cap"
    news = revision_note(agent.repo_id)
    return (
        f"### Score {result.score:.0f} in {result.steps} steps ({ending})\n"
        f"{agent.game.title}, played by {agent_label(agent)} ({agent.algo.upper()}, SB3 {agent.sb3_version}); "
        f"{published_score(agent)}.  \n"
        f"Seed {result.seed}, ε = {result.epsilon:g}; "
        f"{sum(result.table['exploratory'])} random actions; played and encoded in {result.seconds:.1f} s."
        + (f"  \n{SALIENCY_NOTE}" if result.saliency else "")
        + (f"  \n{news}" if news else "")
    )


SALIENCY_NOTE = (
    f"**Where it looks**: how much the Q-values change when a blurred patch covers each part of the agent's "
    f"84×84 input (Greydanus et al., 2018), red where they change most; computed every {SALIENCY_EVERY} steps "
    "and held in between, as a map costs about 290 passes of the network."
)
Q_VALUE_MEANING = (
    "A **Q-value** is the agent's estimate of the discounted sum (γ = 0.99) of its future rewards, each clipped "
    "to ±1 as in training: a few units, not the game's score. The bars start from 0 on a scale stated above them."
)
PLOT_VIEWS = {
    "advantage": "Advantage: Q − mean Q over the actions (what sets the actions apart)",
    "q": "Q-values as they are",
}
PLOT_Y_TITLES = {"advantage": "Q − mean Q over the actions", "q": "Q-value"}


def q_value_plot_data(table: pd.DataFrame, view: str = "advantage") -> pd.DataFrame:
    """Each action's Q-value (or its advantage, Q minus the mean over actions) against the step, in long
    form for a line plot (long games thinned)."""
    every = max(1, len(table) // MAX_PLOTTED_STEPS)
    q_columns = [column for column in table.columns if column.startswith("q_")]
    thinned = table.iloc[::every]
    values = thinned[q_columns]
    if view == "advantage":
        values = values.sub(values.mean(axis=1), axis=0)
    long = pd.concat([thinned[["step"]], values], axis=1).melt(id_vars="step", var_name="action", value_name="value")
    long["action"] = long["action"].str.removeprefix("q_")
    return long


def failure_markdown(what: str, error: BaseException) -> str:
    """An error as the page shows it where the result would have been, saying what to do next."""
    if isinstance(error, AgentError):
        reason = str(error)
    else:  # a bug or an environment failure: said plainly, with its kind; its traceback goes to the log
        traceback.print_exception(error)
        reason = f"Something went wrong ({type(error).__name__}: {error}). Try again; if it happens again, report it."
    return f"### ⚠️ {what}\n{reason}"


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def _run_ahead(items: Generator) -> Iterator:
    """Run a generator in its own thread, so it keeps producing while the caller handles each item.

    The app streams video segments this way: the agent keeps playing while Gradio forwards a
    segment to the browser. Closing the returned iterator stops and closes the generator.
    """
    channel: queue.Queue = queue.Queue()
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in items:
                channel.put(item)
                if stop.is_set():
                    break
        except BaseException as error:  # re-raised in the consuming thread
            channel.put(_Failure(error))
        finally:
            items.close()
            channel.put(done)

    producer = threading.Thread(target=produce, name="episode", daemon=True)
    producer.start()
    try:
        while (item := channel.get()) is not done:
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        producer.join(timeout=STOP_TIMEOUT_S)


def play_stream(
    game: str,
    repo_id: str | None,
    seed: float,
    epsilon: float,
    max_steps: float,
    agent_view: bool,
    progress: Progress | None = None,
    stacked: bool = False,
    saliency: bool = False,
) -> Iterator[tuple[Path | None, EpisodeResult | None]]:
    """Yields ``(segment, None)`` for each video segment as it is encoded, then ``(None, result)``."""
    seed, epsilon, max_steps = check_play_inputs(seed, epsilon, max_steps)
    check_play_cost(max_steps, saliency)
    agent = load_with_progress(game, repo_id, progress)
    folder = new_output_folder()
    try:
        for item in _run_ahead(stream_episode(agent, folder, seed, epsilon, max_steps, agent_view, stacked, saliency)):
            yield (None, item) if isinstance(item, EpisodeResult) else (item, None)
    finally:  # the streamed segments have been sent by now, or will not be
        shutil.rmtree(segments_folder(folder), ignore_errors=True)


def play_once(
    game: str,
    repo_id: str | None,
    seed: float,
    epsilon: float,
    max_steps: float,
    agent_view: bool,
    saliency: bool = False,
) -> EpisodeResult:
    """Play a whole game and return its result, for the API and scripts."""
    for _, result in play_stream(game, repo_id, seed, epsilon, max_steps, agent_view, saliency=saliency):
        if result is not None:
            return result
    raise AgentError("The game produced no result.")
