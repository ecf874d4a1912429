"""Draw what the agent thinks beside the game: one bar per action with its Q-value, the chosen
action, score, lives and step, a running trace of the agent's value estimate (max Q), and,
optionally, the stacked 84x84 frames the network actually receives.

The bars start from a shared zero on a scale that only widens during a game (and is written above
them), so their lengths compare honestly, within a frame and from frame to frame. The panel sits
beside the game, or below it (``stacked``) for a phone, where a wide frame would shrink its text.

Frames are drawn with OpenCV into a preallocated canvas over a background drawn once, so the
overlay costs well under a millisecond a step.
"""

from collections import deque

import cv2
import numpy as np

from agents.play.rollout import Step
from agents.play.saliency import blend

Heat = tuple[np.ndarray, float]  # a saliency map (84x84, the agent's input) and the scale its colours run to

SCALE = 2
PANEL_WIDTH = 372
STACKED_MARGIN = 8  # each side of the game when the panel is below it: 336 px, four 84 px agent frames
STACKED_ROW_HEIGHT = 26
# A phone's video player (Gradio's, or the phone's own for the MP4) lays its control bar over the bottom of
# the frame while it plays: a stacked frame ends with this much empty band, so the bars stay in sight.
STACKED_CONTROLS_BAND = 56
VIEW_HEIGHT = 112
TRACE_LENGTH = 240
FONT = cv2.FONT_HERSHEY_SIMPLEX
BACKGROUND = (18, 18, 28)
TEXT = (235, 235, 235)
MUTED = (150, 150, 165)
BAR = (70, 110, 170)
GREEDY = (80, 180, 100)
CHOSEN = (250, 200, 40)
RANDOM = (240, 120, 40)
TRACE = (120, 200, 255)
LEGEND_GRADIENT = cv2.cvtColor(
    cv2.applyColorMap(np.tile(np.linspace(0, 255, 64).astype(np.uint8), (8, 1)), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB
)


class OverlayRenderer:
    """Turns each :class:`Step` into one RGB video frame: the game upscaled crisply, and a panel."""

    def __init__(
        self, action_names: tuple[str, ...], screen_shape: tuple[int, ...], agent_view: bool, stacked: bool = False
    ) -> None:
        self.action_names = action_names
        self.agent_view = agent_view
        self.game_height, self.game_width = screen_shape[0] * SCALE, screen_shape[1] * SCALE
        self.max_q_history: deque[float] = deque(maxlen=TRACE_LENGTH)
        self.scale_low, self.scale_high = 0.0, 0.0  # the bars' scale: it always holds 0 and only widens
        self.trace_height = 60
        if stacked:
            self.game_left, self.panel_x, self.panel_top = STACKED_MARGIN, 12, self.game_height + 4
            self.width = self.game_width + 2 * STACKED_MARGIN
            self.row_height = min(STACKED_ROW_HEIGHT, max(16, 300 // len(action_names)))
            panel_bottom = self.panel_top + 184 + len(action_names) * self.row_height + 6
        else:
            self.game_left, self.panel_x, self.panel_top = 0, self.game_width + 12, 0
            self.width = self.game_width + PANEL_WIDTH
            panel_bottom = self.game_height
        self.trace_top = self.panel_top + 88
        self.bars_top = self.trace_top + self.trace_height + 36
        if not stacked:
            self.row_height = int(min(32, (panel_bottom - self.bars_top - 6) / len(action_names)))
        self.view_top = max(self.game_height, panel_bottom) + 24
        content_height = self.view_top - 24 + (VIEW_HEIGHT if agent_view else 0)
        content_height += STACKED_CONTROLS_BAND if stacked else 0
        self.height = content_height + content_height % 2
        self.background = self._draw_background()
        self.canvas = np.empty_like(self.background)

    @property
    def size(self) -> tuple[int, int]:
        """Frame width and height in pixels (both even, as H.264 needs)."""
        return self.width, self.height

    def _draw_background(self) -> np.ndarray:
        image = np.full((self.height, self.width, 3), BACKGROUND, dtype=np.uint8)
        x = self.panel_x
        cv2.putText(image, "value estimate (max Q)", (x, self.trace_top - 8), FONT, 0.5, MUTED, 1, cv2.LINE_AA)
        cv2.rectangle(
            image, (x, self.trace_top), (self.width - 16, self.trace_top + self.trace_height), (45, 45, 60), 1
        )
        font_scale = self._row_font_scale()
        for row, name in enumerate(self.action_names):
            y = self.bars_top + row * self.row_height + int(self.row_height * 0.7)
            cv2.putText(image, name, (x, y), FONT, font_scale, TEXT, 1, cv2.LINE_AA)
        if self.agent_view:
            label = "agent's view: the 4 stacked 84x84 frames it receives"
            cv2.putText(image, label, (12, self.view_top - 8), FONT, 0.45, MUTED, 1, cv2.LINE_AA)
        return image

    def _row_font_scale(self) -> float:
        return min(0.55, self.row_height / 34)

    def _draw_bars(self, step: Step) -> None:
        q = step.q_values
        self.scale_low = min(self.scale_low, float(q.min()))
        self.scale_high = max(self.scale_high, float(q.max()))
        span = self.scale_high - self.scale_low or 1.0
        bar_left, bar_right = self.panel_x + 120, self.width - 76

        def x_of(value: float) -> int:
            return bar_left + int(round((value - self.scale_low) / span * (bar_right - bar_left)))

        if self.scale_low == 0:
            title = f"Q-values (bars from 0 to {self.scale_high:.2f})"
        else:
            title = f"Q-values (bars from the 0 line; {self.scale_low:.2f} to {self.scale_high:.2f})"
        cv2.putText(self.canvas, title, (self.panel_x, self.bars_top - 14), FONT, 0.45, MUTED, 1, cv2.LINE_AA)
        font_scale = self._row_font_scale()
        greedy = int(np.argmax(q))
        zero = x_of(0.0)
        for row, value in enumerate(q):
            top = self.bars_top + row * self.row_height + 3
            bottom = top + self.row_height - 6
            end = x_of(float(value))
            colour = RANDOM if (row == step.action and step.exploratory) else GREEDY if row == greedy else BAR
            cv2.rectangle(self.canvas, (min(zero, end), top), (max(zero, end), bottom), colour, -1)
            if row == step.action:
                cv2.rectangle(self.canvas, (bar_left - 3, top - 2), (self.width - 8, bottom + 2), CHOSEN, 2)
            text_y = top + int(self.row_height * 0.55)
            cv2.putText(self.canvas, f"{value:.2f}", (self.width - 68, text_y), FONT, font_scale, TEXT, 1, cv2.LINE_AA)
        bars_bottom = self.bars_top + len(q) * self.row_height
        cv2.line(self.canvas, (zero, self.bars_top), (zero, bars_bottom), MUTED, 1)
        if step.exploratory and self.row_height >= 20:  # on thinner rows the bar's colour says it
            y = self.bars_top + step.action * self.row_height + int(self.row_height * 0.6)
            cv2.putText(self.canvas, "RANDOM", (zero + 4, y), FONT, font_scale, (20, 20, 20), 1, cv2.LINE_AA)

    def _draw_trace(self) -> None:
        values = np.fromiter(self.max_q_history, dtype=np.float32)
        low, high = float(values.min()), float(values.max())
        spread = high - low if high > low else 1.0
        left, right = self.panel_x + 2, self.width - 18
        xs = left + np.arange(len(values)) * (right - left) / (TRACE_LENGTH - 1)
        ys = self.trace_top + self.trace_height - 4 - (values - low) / spread * (self.trace_height - 8)
        points = np.stack([xs, ys], axis=1).astype(np.int32)
        cv2.polylines(self.canvas, [points], False, TRACE, 1, cv2.LINE_AA)
        # The number goes on the label's line, above the box, never on the trace itself.
        cv2.putText(
            self.canvas, f"{values[-1]:.2f}", (right - 44, self.trace_top - 8), FONT, 0.5, TRACE, 1, cv2.LINE_AA
        )

    def _draw_agent_view(self, observation: np.ndarray, heat: Heat | None) -> None:
        for i, frame in enumerate(observation[-4:]):
            if frame.shape != (84, 84):
                frame = cv2.resize(frame, (84, 84), interpolation=cv2.INTER_AREA)
            x = 12 + i * 96 if self.width >= 12 + 4 * 96 else i * 84  # side by side in a stacked frame
            view = np.repeat(frame[..., None], 3, axis=2)
            self.canvas[self.view_top : self.view_top + 84, x : x + 84] = view if heat is None else blend(view, *heat)

    def _draw_heat_legend(self, every: int) -> None:
        """What the colours over the game mean, at the panel's top right."""
        x, y = self.width - 150, self.panel_top + 40
        label = "where it looks" + (f", every {every} steps" if every > 1 else "")
        cv2.putText(self.canvas, label, (x, y - 6), FONT, 0.35, MUTED, 1, cv2.LINE_AA)
        self.canvas[y : y + 8, x : x + 64] = LEGEND_GRADIENT
        cv2.putText(self.canvas, "low", (x, y + 20), FONT, 0.35, MUTED, 1, cv2.LINE_AA)
        cv2.putText(self.canvas, "high", (x + 42, y + 20), FONT, 0.35, MUTED, 1, cv2.LINE_AA)

    def render(self, step: Step, heat: Heat | None = None, every: int = 1) -> np.ndarray:
        """The frame for one step; with ``heat`` (a saliency map in the agent's 84x84 input and its colour
        scale), where the agent looks is laid over the game (and its view), computed every ``every``
        steps. The returned array is reused by the next call."""
        np.copyto(self.canvas, self.background)
        screen = step.screen if heat is None else blend(step.screen, *heat)
        game = cv2.resize(screen, (self.game_width, self.game_height), interpolation=cv2.INTER_NEAREST)
        self.canvas[: self.game_height, self.game_left : self.game_left + self.game_width] = game
        self.max_q_history.append(float(step.q_values.max()))
        x, top = self.panel_x, self.panel_top
        score = f"SCORE {step.score - step.reward:.0f}"
        cv2.putText(self.canvas, score, (x, top + 32), FONT, 0.9, TEXT, 2, cv2.LINE_AA)
        status = f"lives {step.lives}   step {step.index}" if step.lives else f"step {step.index}"
        cv2.putText(self.canvas, status, (x, top + 60), FONT, 0.6, MUTED, 1, cv2.LINE_AA)
        self._draw_trace()
        self._draw_bars(step)
        if heat is not None:
            self._draw_heat_legend(every)
        if self.agent_view:
            self._draw_agent_view(step.observation, heat)
        return self.canvas
