"""Compare two agents on the same game and the same seeds: a paired evaluation and a side-by-side video.

The paired evaluation is two ordinary evaluations (:func:`agents.evaluate.evaluation.evaluate`) on the same seeds,
so each agent's scores are exactly those Evaluate gives it alone; the difference B − A is taken seed by
seed, with a 95% paired bootstrap interval. The video plays one seed with both agents in step, each
game drawn with its own Q-value panel below it (the phone layout of Play), side by side; a game that
ends first holds its last frame, marked as over, until the other ends.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from agents.core.agent import Agent, agent_from_files, load_agent
from agents.core.catalog import Game, env_game
from agents.core.errors import AgentError
from agents.core.repo_game import AgentGame, repo_game
from agents.core.run_folder import RunFolder
from agents.core.stopping import check_stop
from agents.evaluate.evaluation import Evaluation, EvaluationProgress, evaluate
from agents.play.episode import ATARI_FPS, segments_folder
from agents.play.overlay import FONT, OverlayRenderer
from agents.play.rollout import Step, play_episode
from agents.play.video import StreamingEncoder

BOOTSTRAP_SAMPLES = 10_000
TITLE_HEIGHT = 28
OVER_SHADE = 0.45  # how much of a finished game's last frame stays visible under "GAME OVER"


@dataclass(frozen=True)
class PairedEvaluation:
    """Two agents' scores on the same seeds, and what their difference says."""

    a: Evaluation
    b: Evaluation
    a_name: str
    b_name: str

    @property
    def differences(self) -> np.ndarray:
        return np.array(self.b.scores) - np.array(self.a.scores)

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """The paired bootstrap interval of the mean difference: seeds drawn with replacement, the same
        draws every time (a fixed generator), so the same games give the same interval."""
        differences = self.differences
        draws = np.random.default_rng(0).integers(len(differences), size=(BOOTSTRAP_SAMPLES, len(differences)))
        means = differences[draws].mean(axis=1)
        low, high = np.percentile(means, [50 * (1 - level), 50 * (1 + level)])
        return float(low), float(high)

    def verdict(self) -> str:
        """In words: who scores higher on how many seeds, the mean difference and its interval."""
        differences = self.differences
        low, high = self.interval()
        b_wins, a_wins = int((differences > 0).sum()), int((differences < 0).sum())
        n = len(differences)
        if b_wins >= a_wins:
            lead = f"B scores higher on {b_wins} of {n} seeds" + (f", A on {a_wins}" if a_wins else "")
        else:
            lead = f"A scores higher on {a_wins} of {n} seeds" + (f", B on {b_wins}" if b_wins else "")
        clear = "no clear difference" if low <= 0 <= high else ("B is better" if low > 0 else "A is better")
        return (
            f"{lead}; mean difference B − A {differences.mean():+.1f}, 95% interval [{low:.1f}, {high:.1f}]: {clear}."
        )

    def summary(self) -> dict:
        low, high = self.interval()
        sides = {"a": (self.a, self.a_name), "b": (self.b, self.b_name)}
        return {
            **{
                side: {"repo": name, "scores": e.scores, "episode_steps": e.episode_steps, "mean": e.mean, "std": e.std}
                for side, (e, name) in sides.items()
            },
            "seeds": self.a.seeds,
            "epsilon": self.a.epsilon,
            "difference": {"mean": float(self.differences.mean()), "ci95": [low, high]},
            "verdict": self.verdict(),
        }


def _run_folder(spec: str, folders: bool) -> RunFolder | None:
    """The training run ``spec`` names, with ``folders`` (the command line, or the app's own last training job,
    never a visitor's text): a folder in the RL Zoo's layout, ``<log>/dqn/<EnvId>_<n>``."""
    folder = Path(spec) if spec and folders else None
    if folder is None or not folder.is_dir():
        return None
    return RunFolder(folder, folder.name.rsplit("_", 1)[0])


def contender_game(spec: str | None, folders: bool = False) -> AgentGame | None:
    """The game an agent for the arena is for: a run folder's environment, a repo's by its name or files
    (:func:`repo_game`); none for an empty spec, the game's own agent."""
    spec = (spec or "").strip()
    run = _run_folder(spec, folders)
    if run is None:
        return repo_game(spec) if spec else None
    game = env_game(run.env_id)
    if game is None:
        raise AgentError(f"{run.path} is a run on {run.env_id}, which is not one of the Arena's games.")
    return AgentGame(str(run.path), (game,), "its run folder says so")


def arena_claims(
    a: str | None, b: str | None, a_folders: bool = False, b_folders: bool = False
) -> dict[str, AgentGame]:
    """The games A and B say they are for (see :func:`contender_game`), for :func:`settle_game`: they must
    be one."""
    sides = (("A", a, a_folders), ("B", b, b_folders))
    return {label: found for label, spec, folders in sides if (found := contender_game(spec, folders))}


def contender(game: Game, spec: str | None, folders: bool = False) -> Agent:
    """The agent for the arena that plays ``game``, settled with :func:`arena_claims`: a Hub repo id (empty:
    the game's own agent), or, with ``folders``, a training run's folder."""
    spec = (spec or "").strip()
    run = _run_folder(spec, folders)
    if run is None:
        return load_agent(game.key, spec or None)
    if not run.model_zip.is_file():
        raise AgentError(f"{run.path} holds no {run.model_zip.name}: the run has not finished.")
    return agent_from_files(run.agent_files(), game)


def same_files(a: Agent, b: Agent) -> bool:
    """Whether two agents were loaded from the same files: the same Hub repo at the same revision (one
    snapshot of the cache), the same shipped offline agent, or the same run folder's model."""
    return Path(a.files.model_zip).resolve() == Path(b.files.model_zip).resolve()


def refuse_the_same_agent(a: Agent, b: Agent, b_field: str = "B", also: str = "") -> None:
    """Refuse to compare an agent with itself, which only says "no clear difference", interval [0.0, 0.0],
    saying what else to give as B (``b_field``: where B is given; ``also``: what else it can be there)."""
    if same_files(a, b):
        game = a.game
        raise AgentError(
            f"A and B are the same agent ({a.repo_id}, the same files): it would play every seed the same way "
            f"twice, and the comparison would say nothing. Give another agent as {b_field}: another Hub repo of a "
            f"{game.title} agent, e.g. sb3/qrdqn-{game.env_id} (needs the Hub or its cache){also}."
        )


def paired_evaluation(
    a: Agent,
    b: Agent,
    n_episodes: int,
    first_seed: int,
    epsilon: float,
    max_steps: int,
    progress: EvaluationProgress | None = None,
) -> PairedEvaluation:
    """Both agents on the same seeds, one after the other."""

    def half(offset: int) -> EvaluationProgress | None:
        if progress is None:
            return None
        return lambda done, total, rate: progress(offset + done, 2 * total, rate)

    first = evaluate(a, n_episodes, epsilon, max_steps, first_seed, progress=half(0))
    second = evaluate(b, n_episodes, epsilon, max_steps, first_seed, progress=half(n_episodes))
    return PairedEvaluation(first, second, a.repo_id, b.repo_id)


class _Side:
    """One agent's column of the video: its game and panel, under a title, held at its end."""

    def __init__(self, agent: Agent, label: str, steps: Iterator[Step]) -> None:
        self.agent, self.label, self.steps = agent, label, steps
        self.renderer: OverlayRenderer | None = None
        self.frame: np.ndarray | None = None
        self.last: Step | None = None
        self.over = False

    def advance(self) -> None:
        """Play one step, or, once the game is over, keep its last frame marked as such."""
        if self.over:
            return
        step = next(self.steps, None)
        if step is None:
            self.over = True
            self._mark_over()
            return
        if self.renderer is None:
            self.renderer = OverlayRenderer(self.agent.action_names, step.screen.shape, False, stacked=True)
        self.last = step
        self.frame = self.renderer.render(step).copy()

    def _mark_over(self) -> None:
        if self.frame is None or self.last is None:
            return
        self.frame = (self.frame * OVER_SHADE).astype(np.uint8)
        middle = self.frame.shape[0] // 3
        cv2.putText(self.frame, "GAME OVER", (60, middle), FONT, 1.2, (255, 255, 255), 3, cv2.LINE_AA)
        text = f"score {self.last.score:.0f} in {self.last.index + 1} steps"
        cv2.putText(self.frame, text, (60, middle + 40), FONT, 0.7, (255, 255, 255), 2, cv2.LINE_AA)

    def titled(self, width: int, height: int) -> np.ndarray:
        column = np.zeros((height, width, 3), np.uint8)
        scale = 0.55  # smaller for a long repo id, so that all of it shows
        while scale > 0.3 and cv2.getTextSize(self.label, FONT, scale, 1)[0][0] > width - 16:
            scale -= 0.05
        cv2.putText(column, self.label, (8, 20), FONT, scale, (235, 235, 235), 1, cv2.LINE_AA)
        if self.frame is not None:
            column[TITLE_HEIGHT : TITLE_HEIGHT + self.frame.shape[0], : self.frame.shape[1]] = self.frame
        return column


def stream_duel(
    a: Agent, b: Agent, out_dir: Path, seed: int, epsilon: float, max_steps: int
) -> Iterator[Path | tuple[Path, float, float]]:
    """Play ``seed`` with both agents in step and encode them side by side; yields each finished video
    segment as it is encoded, then ``(mp4, score_a, score_b)``. ``out_dir`` receives ``compare.mp4``."""
    out_dir = Path(out_dir)
    sides = [
        _Side(a, f"A · {a.repo_id}", play_episode(a.q_function, a.settings, seed, epsilon, max_steps)),
        _Side(b, f"B · {b.repo_id}", play_episode(b.q_function, b.settings, seed, epsilon, max_steps)),
    ]
    for side in sides:
        side.advance()
    if any(side.renderer is None for side in sides):
        raise AgentError("A game ended before its first step.")
    width = max(side.renderer.size[0] for side in sides)
    height = TITLE_HEIGHT + max(side.renderer.size[1] for side in sides)
    fps = ATARI_FPS / a.settings.frame_skip
    encoder = StreamingEncoder(segments_folder(out_dir), out_dir / "compare.mp4", (2 * width, height), fps, max_steps)
    try:
        while True:
            encoder.write(np.hstack([side.titled(width, height) for side in sides]))
            yield from encoder.new_segments()
            if all(side.over for side in sides):
                break
            check_stop()  # the request ended: ffmpeg is stopped below
            for side in sides:
                side.advance()
        video = encoder.finish()
        yield from encoder.new_segments()
    except BaseException:
        encoder.abort()
        raise
    yield video, sides[0].last.score, sides[1].last.score


def duel_to_folder(a: Agent, b: Agent, out_dir: Path, seed: int, epsilon: float, max_steps: int) -> Path:
    """Write the side-by-side video without streaming; returns the MP4's path."""
    for item in stream_duel(a, b, out_dir, seed, epsilon, max_steps):
        if isinstance(item, tuple):
            return item[0]
    raise AgentError("The duel produced no video.")
