"""One episode end to end: rollout -> overlay -> video segments, then the MP4, the CSV and a summary."""

import queue
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from agents.core.agent import Agent
from agents.core.errors import AgentError
from agents.core.numbers import MAX_SEED, user_number
from agents.core.stopping import check_stop
from agents.play.overlay import Heat, OverlayRenderer
from agents.play.rollout import Step, play_episode
from agents.play.saliency import SaliencySettings, SaliencyTracker, map_seconds
from agents.play.video import StreamingEncoder

MAX_STEPS_LIMIT = 10_000
ATARI_FPS = 60
QUEUED_FRAMES = 64
# A saliency map is 290 passes of the network (~60-90 ms on one core): every step would fall behind the
# game's real time on 2 cores (bench/saliency_cost.py), every 2nd stays ahead; the map is held in between.
SALIENCY_EVERY = 2
# What a game's time is made of, for the estimate said before a game with saliency starts: a step of the
# pipeline without a map (bench/play_speed.py: 2.4 ms on 2 idle cores, 5 ms on busy ones), and a map, timed
# alone on this machine (agents.play.saliency.map_seconds), times what sharing the cores with the overlay
# and the encoder in a game adds to it (1.3-1.5 measured here over 200-step games: 1.5 is taken).
PLAY_STEP_S = 0.004
MAP_IN_A_GAME = 1.5
HEAT_FLOOR = 0.25
STOP_TIMEOUT_S = 10


@dataclass(frozen=True)
class EpisodeResult:
    """What one played game produced."""

    agent: Agent
    seed: int
    epsilon: float
    steps: int
    score: float
    terminated: bool
    seconds: float
    video: Path
    csv: Path
    table: pd.DataFrame
    saliency: Path | None = None  # saliency.npz, when where the agent looks was shown

    def summary(self) -> dict:
        """The one-line summary the command line prints and the API returns."""
        return {
            "game": self.agent.game.key,
            "repo": self.agent.repo_id,
            "seed": self.seed,
            "epsilon": self.epsilon,
            "steps": self.steps,
            "score": self.score,
            "terminated": self.terminated,
            "seconds": round(self.seconds, 2),
            **({"saliency": str(self.saliency), "saliency_every": SALIENCY_EVERY} if self.saliency else {}),
        }


def segments_folder(out_dir: Path) -> Path:
    """Where :func:`stream_episode` puts the video segments it streams."""
    return Path(out_dir) / "segments"


def check_play_inputs(seed: float, epsilon: float, max_steps: float) -> tuple[int, float, int]:
    """Validate the numbers a user typed; return them as the types the rollout takes."""
    return (
        user_number("seed", seed, 0, MAX_SEED, whole=True),
        user_number("epsilon", epsilon, 0.0, 1.0, whole=False, hint="It is a probability: 0 is greedy, e.g. 0.01."),
        user_number("max steps", max_steps, 1, MAX_STEPS_LIMIT, whole=True),
    )


def saliency_estimate(max_steps: int) -> tuple[float, float]:
    """Seconds a game of ``max_steps`` steps takes here with the saliency map, and without it."""
    per_map = map_seconds() * MAP_IN_A_GAME
    return max_steps * (PLAY_STEP_S + per_map / SALIENCY_EVERY), max_steps * PLAY_STEP_S


def rough_duration(seconds: float) -> str:
    """``about 40 s``, ``about 12 min``."""
    if seconds < 1:
        return "under a second"
    return f"about {seconds:.0f} s" if seconds < 90 else f"about {seconds / 60:.0f} min"


def saliency_cost(max_steps: float) -> str:
    """What the saliency map costs a game of at most ``max_steps`` steps here, said before it starts."""
    steps = user_number("max steps", max_steps, 1, MAX_STEPS_LIMIT, whole=True)
    with_map, without = saliency_estimate(steps)
    return (
        f"Slow: a map takes {map_seconds() * 1000:.0f} ms on this machine now, and one is made every "
        f"{SALIENCY_EVERY} steps, so the game plays at about {steps / with_map:.0f} steps/s: up to "
        f"{rough_duration(with_map)} for its step cap of {steps:,} steps (without the map, {rough_duration(without)})."
    )


class _RenderThread(threading.Thread):
    """Draws the overlays and feeds the encoder on the second core while the main thread plays.

    Steps go in through :meth:`put`; ``None`` ends the video.
    """

    def __init__(self, renderer: OverlayRenderer, encoder: StreamingEncoder) -> None:
        super().__init__(name="overlay-encoder", daemon=True)
        self.renderer = renderer
        self.encoder = encoder
        self.steps: queue.Queue[tuple[Step, Heat | None] | None] = queue.Queue(maxsize=QUEUED_FRAMES)
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while (item := self.steps.get()) is not None:
                self.encoder.write(self.renderer.render(*item, every=SALIENCY_EVERY))
        except BaseException as error:  # handed to the main thread, which raises it
            self.error = error

    def put(self, step: tuple[Step, Heat | None] | None) -> None:
        """Queue a step (with its saliency, if shown), or raise the render thread's error if it has stopped."""
        while True:
            if self.error is not None or not self.is_alive():
                raise self.error or AgentError("The video encoder stopped unexpectedly; play again.")
            try:
                self.steps.put(step, timeout=0.5)
                return
            except queue.Full:
                continue

    def abandon(self) -> None:
        """Stop now, dropping the queued steps (the game was stopped, or failed): no thread outlives it."""
        while True:
            try:
                self.steps.get_nowait()
            except queue.Empty:
                break
        self.steps.put(None)
        self.join(timeout=STOP_TIMEOUT_S)

    def close(self) -> None:
        """Let the queued steps be drawn, then stop; raises the thread's error, if any."""
        self.put(None)
        self.join()
        if self.error is not None:
            raise self.error


def _heat(tracker: SaliencyTracker, step: Step) -> Heat:
    """The step's saliency map and the scale its colours run to: the map's own maximum, so that where the
    agent looks shows in every frame, but no less than a quarter of the game's largest so far, so that a
    frame where nothing matters much stays faint rather than showing its noise at full strength."""
    saliency = tracker.update(step.index, step.observation)
    return saliency, max(float(saliency.max()), HEAT_FLOOR * tracker.scale)


def stream_episode(
    agent: Agent,
    out_dir: Path,
    seed: int = 0,
    epsilon: float = 0.01,
    max_steps: int = MAX_STEPS_LIMIT,
    agent_view: bool = False,
    stacked: bool = False,
    saliency: bool = False,
) -> Iterator[Path | EpisodeResult]:
    """Play one game, yielding each finished video segment as soon as it is encoded, then the result.
    ``stacked`` draws the panel below the game instead of beside it (for phones); ``saliency`` lays where
    the agent looks over the game (perturbation saliency, every ``SALIENCY_EVERY`` steps) and writes
    ``saliency.npz``.

    ``out_dir`` receives ``episode.mp4``, ``steps.csv`` and the ``.ts`` segments in
    ``segments_folder(out_dir)``, which the caller removes once it has used them.
    """
    seed, epsilon, max_steps = check_play_inputs(seed, epsilon, max_steps)
    started = time.perf_counter()
    out_dir = Path(out_dir)
    encoder: StreamingEncoder | None = None
    render_thread: _RenderThread | None = None
    rows: list[tuple] = []
    q_values: list[np.ndarray] = []
    tracker = SaliencyTracker(agent.q_function, SaliencySettings(every=SALIENCY_EVERY)) if saliency else None
    # One sample at a time runs fastest on one thread, and leaves the other core to the encoder.
    # The setting is the whole process's, so training (or anything else) gets its threads back after.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for step in play_episode(agent.q_function, agent.settings, seed, epsilon, max_steps):
            if encoder is None:
                renderer = OverlayRenderer(agent.action_names, step.screen.shape, agent_view, stacked)
                fps = ATARI_FPS / agent.settings.frame_skip
                encoder = StreamingEncoder(
                    segments_folder(out_dir), out_dir / "episode.mp4", renderer.size, fps, max_steps
                )
                render_thread = _RenderThread(renderer, encoder)
                render_thread.start()
            check_stop()  # the request ended: ffmpeg and the render thread are stopped below
            heat = _heat(tracker, step) if tracker else None
            render_thread.put((step, heat))
            name = agent.action_names[step.action]
            rows.append((step.index, step.action, name, step.exploratory, step.reward, step.score, step.lives))
            q_values.append(step.q_values)
            yield from encoder.new_segments()
        render_thread.close()
        video = encoder.finish()
        yield from encoder.new_segments()
    except BaseException:
        if encoder is not None:
            encoder.abort()  # first: a render thread blocked writing to ffmpeg is freed
        if render_thread is not None:
            render_thread.abandon()
        raise
    finally:
        torch.set_num_threads(threads)

    table = pd.DataFrame(rows, columns=["step", "action", "action_name", "exploratory", "reward", "score", "lives"])
    q_table = pd.DataFrame(np.array(q_values), columns=[f"q_{name}" for name in agent.action_names])
    table = pd.concat([table, q_table], axis=1)
    csv = out_dir / "steps.csv"
    try:
        table.to_csv(csv, index=False)
        saliency_file = tracker.save_npz(out_dir / "saliency.npz") if tracker else None
    except OSError as error:
        raise AgentError(f"The game's CSV could not be written ({error.strerror}): is the disk full?") from None
    yield EpisodeResult(
        agent=agent,
        seed=seed,
        epsilon=epsilon,
        steps=len(table),
        score=float(table["score"].iloc[-1]),
        terminated=bool(step.game_over),
        seconds=time.perf_counter() - started,
        video=video,
        csv=csv,
        table=table,
        saliency=saliency_file,
    )


def play_to_folder(agent: Agent, out_dir: Path, **settings) -> EpisodeResult:
    """Play one game without streaming and return its result."""
    for item in stream_episode(agent, out_dir, **settings):
        if isinstance(item, EpisodeResult):
            shutil.rmtree(segments_folder(out_dir))
            return item
    raise AssertionError("stream_episode ended without a result")
