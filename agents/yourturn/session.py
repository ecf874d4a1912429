"""One visitor's live game: the emulator stepped on the server at the agent's pace, with the agent's panel.

The game is Play's (:class:`agents.play.rollout.Game`: the RL Zoo's environment as
:class:`agents.core.fused_env.FusedAtariEnv` plays it, seeded with the visitor's seed), so the game with seed
``k`` starts exactly as the agent's does. It is stepped 15 times a second (60 / frame skip): the visitor
decides as often as the agent does, every action held for the same 4 emulator frames, and the saved action log
is a game the agent's own pipeline can replay step for step. Every emulator frame is shown, each the maximum of
itself and the frame before it (as the Atari wrapper pools frames, so that sprites the games draw every other frame
do not flicker): 60 frames a second reach the page, each the emulator's screen as a small PNG (about 1.5 kB), and
once a step the agent's panel as Play's renderer draws it, as a JPEG; the page lays them out as Play's video
frame.

A game runs in a thread of its own, which owns its environment; the page's connection
(:mod:`agents.yourturn.route`) hands it key presses through :class:`Controls` and gets frames and news
through ``send``. Nothing here knows about Gradio or the web.
"""

import dataclasses
import shutil
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from agents.core.agent import Agent
from agents.core.numbers import OwnerSetting
from agents.play.episode import ATARI_FPS, MAX_STEPS_LIMIT
from agents.play.overlay import STACKED_CONTROLS_BAND, OverlayRenderer
from agents.play.rollout import Game, Step
from agents.play.video import StreamingEncoder
from agents.yourturn.keys import key_map

DEFAULT_GAMES = 6  # bench/yourturn_latency.py: six games at once keep their pace on 2 cores (README)
DEFAULT_IDLE_S = 60
GAMES = OwnerSetting("ARENA_YOURTURN_GAMES", DEFAULT_GAMES, 1, 64, whole=True, unit="live games at once")
STEPS = OwnerSetting("ARENA_YOURTURN_MAX_STEPS", MAX_STEPS_LIMIT, 1, MAX_STEPS_LIMIT, whole=True, unit="agent steps")
IDLE_S = OwnerSetting("ARENA_YOURTURN_IDLE_S", DEFAULT_IDLE_S, 0.5, 3600, whole=False, unit="seconds")
JPEG_QUALITY = 85
# Before each image sent: its kind, its number, the last key message it answers, the step it belongs to.
HEADER = struct.Struct("<BIIi")
GAME_FRAME, PANEL = 0, 1  # a game frame: the emulator's screen as it is (PNG, the page doubles its pixels);
# the agent's panel for a step (JPEG), drawn once a step by Play's renderer


_open_envs = 0
_envs_lock = threading.Lock()


def _new_game(agent: Agent, seed: int) -> Game:
    game = Game(agent.settings, seed)
    _opened(1)
    return game


def open_envs() -> int:
    """Environments this module's games and replays hold open now (a closed page must leave none)."""
    return _open_envs


def _opened(change: int) -> None:
    global _open_envs
    with _envs_lock:
        _open_envs += change


def use_one_torch_thread() -> None:
    """Run this thread's network passes on one thread, leaving the rest of the process as it was.

    A batch of one runs fastest on one thread, and six games each spinning two OpenMP threads on two busy cores
    took 60 ms a pass instead of 1.5. PyTorch's thread count is per thread once a thread has run an operation,
    but ``set_num_threads`` also stores the count that threads starting later take: another thread puts that
    back at once, so nothing outside this thread changes (``tests/test_yourturn.py`` checks it)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    restore = threading.Thread(target=torch.set_num_threads, args=(previous,), name="yourturn-torch-threads")
    restore.start()
    restore.join()


@dataclasses.dataclass(frozen=True)
class Limits:
    """What bounds the live games on this server (each settable by an environment variable)."""

    games: int = DEFAULT_GAMES
    max_steps: int = MAX_STEPS_LIMIT
    idle_s: float = DEFAULT_IDLE_S

    @classmethod
    def from_environment(cls) -> "Limits":
        return cls(
            int(GAMES.value()),
            int(STEPS.value()),
            float(IDLE_S.value()),
        )


class Controls:
    """What the page last said: the keys held, keys pressed since the last step (a tap shorter than a step
    still counts), the last key message's number, and who plays. Written by the connection, read by the game."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.held = self.pressed = 0
        self.key_id = 0
        self.agent_plays = False
        self.last_input = time.monotonic()

    def keys(self, bits: int, key_id: int) -> None:
        with self._lock:
            self.held, self.pressed, self.key_id = bits, self.pressed | bits, key_id
            self.last_input = time.monotonic()

    def hand_over(self, agent_plays: bool) -> None:
        with self._lock:
            self.agent_plays, self.last_input = agent_plays, time.monotonic()

    def take(self) -> tuple[int, int, bool]:
        """The controls for the next step, the key message they answer, and whether the agent plays it."""
        with self._lock:
            bits, self.pressed = self.held | self.pressed, 0
            return bits, self.key_id, self.agent_plays


class _FrameTap:
    """Keeps the screen of each emulator frame the frame skip steps through (the environment's ``on_frame``)."""

    def __init__(self, game: Game) -> None:
        self.frames: list[np.ndarray] = []
        self.before: np.ndarray | None = None  # the last frame of the step before
        game.env.on_frame = lambda: self.frames.append(game.ale.getScreenRGB())

    def shown(self) -> list[np.ndarray]:
        """The step's frames to show: every one, pooled with the frame before it (the first of a game alone)."""
        frames, self.frames = self.frames, []
        if not frames:
            return []
        befores, self.before = [self.before, *frames[:-1]], frames[-1]
        pairs = zip(befores, frames, strict=True)
        return [frame if before is None else np.maximum(before, frame) for before, frame in pairs]


def screen_crc(screen: np.ndarray) -> int:
    """A frame's fingerprint, for the CSV: a replay of the actions must give the same ones."""
    return zlib.crc32(np.ascontiguousarray(screen).data)


class LiveGame:
    """A visitor's game, played by :meth:`play` until game over, the step cap, idleness, or :meth:`stop`.

    ``send`` gets bytes (an image behind a :data:`HEADER`) and dicts (news for the page); it must not
    block. The visitor's steps are in :attr:`rows` (one per step: action, who chose it, reward, score,
    lives, the frame's fingerprint, the agent's Q-values)."""

    def __init__(
        self,
        agent: Agent,
        seed: int,
        limits: Limits,
        send: Callable[[bytes | dict], None],
        stacked: bool = False,
        hello: dict | None = None,
    ) -> None:
        self.agent, self.seed, self.limits, self.send, self.stacked = agent, seed, limits, send, stacked
        self.hello = hello  # sent once the game is ready, just before its first frame
        self.controls = Controls()
        self.stopping = threading.Event()
        self.rows: list[dict] = []
        self.steps = 0
        self.score = 0.0
        self.ended = ""  # why it ended: "game over", "step cap", "idle", "stopped" or "failed: ..."
        self.error: BaseException | None = None

    @property
    def seconds_left(self) -> float:
        """At most how long this game can still run (to its step cap)."""
        return max(0, self.limits.max_steps - self.steps) / self.decisions_per_s

    @property
    def decisions_per_s(self) -> float:
        return ATARI_FPS / self.agent.settings.frame_skip

    def stop(self) -> None:
        self.stopping.set()

    def play(self) -> None:
        """Play to the end, in the caller's thread (one of its own: this takes the whole game)."""
        use_one_torch_thread()
        try:
            self.ended = self._play()
        except BaseException as error:  # said to the page by the connection
            self.error, self.ended = error, f"failed: {error}"

    def _play(self) -> str:
        agent = self.agent
        to_action = key_map(agent.action_names)
        game = _new_game(agent, self.seed)
        try:
            tap = _FrameTap(game)
            tap.frames.clear()
            renderer = OverlayRenderer(agent.action_names, game.ale.getScreenRGB().shape, False, self.stacked)
            layout = self._layout(renderer)
            if self.hello is not None:
                self.send(self.hello | {"layout": layout})
            self.controls.hand_over(False)  # idleness counts from the first frame, not from the wait for it
            panel_x, panel_y, panel_width, panel_height = layout["panel"]
            frame_number, tick = 0, time.monotonic()
            paused = False
            while not self.stopping.is_set():
                idle = time.monotonic() - self.controls.last_input
                if not self.controls.agent_plays and idle > self.limits.idle_s:
                    if idle > 2 * self.limits.idle_s:
                        return "idle"
                    if not paused:
                        paused = True
                        self.send({"type": "paused", "ends_in_s": round(2 * self.limits.idle_s - idle)})
                    self.stopping.wait(0.05)
                    tick = time.monotonic()
                    continue
                if paused:
                    paused = False
                    self.send({"type": "resumed"})
                bits, key_id, agent_plays = self.controls.take()
                q_values = agent.q_function(game.observation[None])[0]
                action = int(np.argmax(q_values)) if agent_plays else to_action[bits]
                step = game.step(q_values, agent.q_function.n_actions, 0.0, True, action)
                self.steps, self.score = step.index + 1, step.score
                self._record(step, agent_plays, screen_crc(game.ale.getScreenRGB()))
                self.send(
                    {
                        "type": "step",
                        "step": self.steps,
                        "score": step.score,
                        "lives": int(game.ale.lives()),
                        "action": agent.action_names[action],
                        "agent_would": agent.action_names[int(np.argmax(q_values))],
                        "who": "agent" if agent_plays else "you",
                    }
                )
                canvas = renderer.render(step)
                panel = cv2.cvtColor(
                    canvas[panel_y : panel_y + panel_height, panel_x : panel_x + panel_width], cv2.COLOR_RGB2BGR
                )
                _, jpeg = cv2.imencode(".jpg", panel, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
                self.send(HEADER.pack(PANEL, 0, key_id, step.index) + jpeg.tobytes())
                shown = tap.shown()
                frame_s = 1 / (self.decisions_per_s * max(1, len(shown)))  # the step's frames spread over its time
                for screen in shown:
                    bgr = cv2.cvtColor(screen, cv2.COLOR_RGB2BGR)
                    _, png = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1])
                    frame_number += 1
                    self.send(HEADER.pack(GAME_FRAME, frame_number, key_id, step.index) + png.tobytes())
                    tick += frame_s
                    delay = tick - time.monotonic()
                    if delay > 0:
                        self.stopping.wait(delay)
                    elif delay < -1:  # far behind (a busy machine): keep the pace from now, do not rush
                        tick = time.monotonic()
                if step.game_over:
                    return "game over"
                if self.steps >= self.limits.max_steps:
                    return "step cap"
            return "stopped"
        finally:
            game.env.on_frame = None  # the tap's closure holds the game: let both go
            _opened(-1)

    def _layout(self, renderer: OverlayRenderer) -> dict:
        """Where the page draws what: Play's frame (game and panel beside it, or below it on a phone), in which
        the game is the emulator's screen with its pixels doubled, and the panel's rectangle (x, y, w, h)."""
        height = renderer.height - (STACKED_CONTROLS_BAND if self.stacked else 0)
        game = [renderer.game_left, 0, renderer.game_width, renderer.game_height]
        if self.stacked:
            panel = [0, renderer.game_height, renderer.width, height - renderer.game_height]
        else:
            panel = [renderer.game_width, 0, renderer.width - renderer.game_width, height]
        return {"size": [renderer.width, height], "game": game, "panel": panel}

    def _record(self, step: Step, agent_plays: bool, crc: int) -> None:
        q = {f"q_{name}": float(value) for name, value in zip(self.agent.action_names, step.q_values, strict=True)}
        self.rows.append(
            {
                "step": step.index,
                "action": step.action,
                "action_name": self.agent.action_names[step.action],
                "chosen_by": "agent" if agent_plays else "visitor",
                "reward": step.reward,
                "score": step.score,
                "lives": step.lives,
                "screen_crc32": crc,
                **q,
            }
        )

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)


def replay_steps(
    agent: Agent, seed: int, actions: list[int], stop: threading.Event | None = None
) -> Iterator[tuple[Step, int]]:
    """The visitor's game again, from its saved actions, through Play's rollout (the same environment and
    score keeping): yields each :class:`Step` (with its screen) and the fingerprint of the frame after it."""
    game = _new_game(agent, seed)
    try:
        for action in actions:
            if stop is not None and stop.is_set():
                return
            q_values = agent.q_function(game.observation[None])[0]
            step = game.step(q_values, agent.q_function.n_actions, 0.0, True, int(action))
            yield step, screen_crc(game.ale.getScreenRGB())
    finally:
        _opened(-1)


def write_video(
    agent: Agent, steps: Iterator[Step], folder: Path, name: str, max_frames: int, stop: threading.Event | None = None
) -> Path:
    """Steps drawn with Play's panel into ``folder/name`` (an MP4 at the game's 15 steps a second), by Play's
    encoder. ``steps`` (a generator) is closed here, stopped or not, so that the environment behind it is
    closed at once rather than whenever the garbage collector gets to it."""
    folder = Path(folder)
    encoder = renderer = None
    try:
        for step in steps:
            if stop is not None and stop.is_set():
                raise InterruptedError("stopped")
            if encoder is None:
                renderer = OverlayRenderer(agent.action_names, step.screen.shape, False)
                fps = ATARI_FPS / agent.settings.frame_skip
                encoder = StreamingEncoder(folder / f"{name}-segments", folder / name, renderer.size, fps, max_frames)
            encoder.write(renderer.render(step))
        if encoder is None:
            raise ValueError("no steps to draw")
        return encoder.finish()
    except BaseException:
        if encoder is not None:
            encoder.abort()
        raise
    finally:
        getattr(steps, "close", lambda: None)()
        shutil.rmtree(folder / f"{name}-segments", ignore_errors=True)
