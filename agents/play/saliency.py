"""Perturbation saliency: which parts of the screen the agent's Q-values depend on.

This is the method of Greydanus et al. 2018, "Visualizing and Understanding Atari Agents" (ICML),
as their reference code (github.com/greydanus/visualize_atari, ``saliency.py``) computes it:

1. Around a centre ``c``, a Gaussian mask ``M_c`` (standard deviation ``radius``, peak 1) picks a
   soft patch of the input ``I``.
2. The patch is blurred away: ``I'_c = I * (1 - M_c) + blur(I) * M_c``, where ``blur`` is a Gaussian
   blur of standard deviation ``blur_sigma`` (3 px). Blurring rather than blacking out removes the
   patch's information (an object, an edge) without adding a new one (a black hole).
3. The saliency of ``c`` is how much that changes the agent's output:
   ``S(c) = 0.5 * || Q(I) - Q(I'_c) ||^2``, summed over the actions.
4. Centres are taken every ``stride`` pixels (every 5: a 17x17 grid on an 84x84 input), and the grid
   of scores is interpolated back to the input's size.

What this module does differently from the reference, and why:

- The agent is an SB3 DQN whose input is 4 stacked 84x84 grayscale frames. Greydanus's A3C agent saw
  one 80x80 frame (its memory was an LSTM), so he perturbed that one frame. Here the decision is made
  from the whole stack, so by default the same patch is blurred in all 4 frames together: the score
  then measures how much the agent relies on that part of the screen, including the motion the stack
  encodes. ``SaliencySettings.frames`` can restrict the blur to some frames (e.g. only the newest).
- All perturbed inputs of a step (one per centre) and the unperturbed input go through the network
  as ONE batch, instead of one forward pass per centre: a step costs one batched forward.
- The masks are ``exp(-|x - c|^2 / (2 radius^2))`` in closed form, cut to zero beyond 4 radii along
  each axis, computed once per input size and settings. The reference blurs a 5-pixel dot with
  scipy's Gaussian filter (standard deviation ``radius``, also cut at 4 of them) and divides by the
  maximum: the same bell, peak 1, up to that dot's width.
- The perturbed inputs are float32 on the 0-255 scale, not rounded to uint8: SB3's policy casts its
  input to float and divides by 255 either way, so the network computes exactly what it would on a
  uint8 observation, and the mask's faint tails are not rounded away.
- The reference resized the grid of scores with ``imresize``, which stretches the grid over the whole
  frame and so places each score up to half a stride away from where it was measured. Here each
  score sits at its own centre and the map is bilinear between centres (held constant beyond the
  last one), so the map's maximum is the largest score measured.

The agent's 84x84 input is the whole 210x160 screen resized (SB3's ``WarpFrame``: grayscale, then
``cv2.resize`` with no crop), so :func:`blend` only resizes a map back to the screen to overlay it.
"""

import functools
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from agents.core.checkpoint import QFunction
from agents.core.kept_measurement import KeptMeasurement
from agents.core.memory import give_back_free_memory

MAX_ALPHA = 0.6  # the overlay's opacity where saliency is at its maximum: the game stays visible
# glibc keeps what a map's 33 MB batch and the network's activations free inside its heap, where the game's
# longer-lived buffers fragment it: a 10,000-step game grew to 2.4 GB. Every 32nd map (64 steps) the free pages
# go back to the system (agents.core.memory; README, "Saliency on the longest game").
TRIM_EVERY_MAPS = 32
MEASURE_AGAIN_S = 600  # a map's measured cost is kept this long: the machine's load changes


@dataclass(frozen=True)
class SaliencySettings:
    """How saliency maps are computed; the defaults are Greydanus et al.'s.

    ``radius``: standard deviation, in pixels of the 84x84 input, of each Gaussian patch (5).
    ``stride``: distance in pixels between patch centres (5: a 17x17 grid, 289 centres).
    ``blur_sigma``: standard deviation of the blur that perturbs a patch (3).
    ``frames``: which stacked frames are perturbed, by index in the stack (0 oldest, -1 newest);
    ``None`` (the default) perturbs all of them together, since the agent decides from the whole
    stack (Greydanus perturbed the single frame his agent saw).
    ``every``: a new map every ``every`` agent steps, the last one held in between (1: every step).
    """

    radius: float = 5.0
    stride: int = 5
    blur_sigma: float = 3.0
    frames: tuple[int, ...] | None = None
    every: int = 1

    def __post_init__(self) -> None:
        if not self.radius > 0 or not self.blur_sigma > 0:
            raise ValueError("radius and blur_sigma must be positive")
        if self.stride < 1 or self.every < 1:
            raise ValueError("stride and every must be at least 1")
        if self.frames is not None and not self.frames:
            raise ValueError("frames must name at least one frame, or be None for all of them")


def grid_centres(size: int, stride: int) -> np.ndarray:
    """The patch centres along one axis of ``size`` pixels: 0, stride, 2*stride, ... (as Greydanus)."""
    return np.arange(0, size, stride)


@functools.lru_cache(maxsize=8)
def _masks(height: int, width: int, radius: float, stride: int) -> np.ndarray:
    """One Gaussian mask per centre, row by row: (centres, height, width) float32, each with peak 1."""
    rows, columns = grid_centres(height, stride), grid_centres(width, stride)

    def bell(size: int, centres: np.ndarray) -> np.ndarray:
        distance = np.arange(size)[None, :] - centres[:, None]
        # Cut at 4 radii, as the reference's scipy blur is: beyond, the tail would reach float32's
        # subnormal numbers, on which the network's arithmetic runs several times slower.
        return np.where(np.abs(distance) <= 4 * radius, np.exp(-(distance**2) / (2 * radius**2)), 0.0)

    # Separable: exp(-(dy^2 + dx^2) / 2r^2) = exp(-dy^2 / 2r^2) * exp(-dx^2 / 2r^2).
    along_y, along_x = bell(height, rows), bell(width, columns)
    masks = along_y[:, None, :, None] * along_x[None, :, None, :]  # (rows, columns, height, width)
    masks = masks.reshape(len(rows) * len(columns), height, width).astype(np.float32)
    masks.flags.writeable = False  # shared by every call through the cache
    return masks


@functools.lru_cache(maxsize=8)
def _interpolation(size: int, stride: int) -> np.ndarray:
    """(size, centres) weights that interpolate scores at the centres linearly to every pixel."""
    centres = grid_centres(size, stride)
    weights = np.stack([np.interp(np.arange(size), centres, column) for column in np.eye(len(centres))], axis=1)
    weights.flags.writeable = False
    return weights


def _blur(frames: np.ndarray, sigma: float) -> np.ndarray:
    """Each frame blurred with a Gaussian of standard deviation ``sigma``, as scipy's ``gaussian_filter``
    in the reference (kernel cut at 4 sigma, edges mirrored)."""
    size = 2 * int(np.ceil(4 * sigma)) + 1
    return np.stack([cv2.GaussianBlur(frame, (size, size), sigma, borderType=cv2.BORDER_REFLECT) for frame in frames])


def saliency_map(
    q_function: QFunction, observation: np.ndarray, settings: SaliencySettings = SaliencySettings()
) -> np.ndarray:
    """The perturbation saliency of one observation: (height, width) float32, >= 0.

    ``observation`` is the agent's input, (frames, height, width) uint8 (or the same with a leading
    batch of 1, as a VecEnv returns it). All perturbed inputs and the unperturbed one go through
    ``q_function`` as one batch.
    """
    if observation.ndim == 4 and observation.shape[0] == 1:
        observation = observation[0]
    if observation.ndim != 3:
        raise ValueError(f"expected one observation (frames, height, width), got shape {observation.shape}")
    n_frames, height, width = observation.shape

    original = observation.astype(np.float32)
    # What blurring changes, frame by frame; zero in the frames that are not perturbed.
    change = _blur(original, settings.blur_sigma) - original
    if settings.frames is not None:
        kept = np.ones(n_frames, dtype=bool)
        kept[list(settings.frames)] = False
        change[kept] = 0.0

    # I' = I * (1 - M) + blur(I) * M = I + M * (blur(I) - I), for every centre's mask M at once.
    masks = _masks(height, width, settings.radius, settings.stride)
    batch = np.empty((len(masks) + 1, n_frames, height, width), dtype=np.float32)
    batch[0] = original
    np.multiply(masks[:, None], change[None], out=batch[1:])
    batch[1:] += original

    q_values = q_function(batch).astype(np.float64)
    scores = 0.5 * np.sum((q_values[1:] - q_values[0]) ** 2, axis=1)

    grid = scores.reshape(len(grid_centres(height, settings.stride)), len(grid_centres(width, settings.stride)))
    saliency = _interpolation(height, settings.stride) @ grid @ _interpolation(width, settings.stride).T
    return saliency.astype(np.float32)


def blend(screen_rgb: np.ndarray, saliency: np.ndarray, scale: float | None = None) -> np.ndarray:
    """The screen with the saliency map over it: same shape, uint8.

    The map is resized to the screen (the agent's input is the whole screen resized), divided by
    ``scale`` (a running maximum kept by the caller, so that a colour means the same saliency from
    frame to frame; ``None``: the map's own maximum), coloured with the JET colour map, and laid over
    the screen with an opacity proportional to that level, up to ``MAX_ALPHA``: where saliency is 0
    the screen is unchanged.
    """
    top = float(saliency.max()) if scale is None else float(scale)
    if not top > 0:
        return screen_rgb.copy()
    height, width = screen_rgb.shape[:2]
    resized = cv2.resize(saliency.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    level = np.clip(resized / top, 0.0, 1.0)
    colours = cv2.applyColorMap(np.round(level * 255).astype(np.uint8), cv2.COLORMAP_JET)
    colours = cv2.cvtColor(colours, cv2.COLOR_BGR2RGB).astype(np.float32)
    alpha = (MAX_ALPHA * level)[..., None]
    blended = screen_rgb.astype(np.float32) * (1.0 - alpha) + colours * alpha
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


class SaliencyTracker:
    """Saliency for a video, step by step: a new map every ``settings.every`` steps, held in between.

    It keeps the running maximum of the maps (``scale``), so that :meth:`blend` colours every frame
    of a game on the same scale, and records each map it computes with its step (``maps``,
    ``steps``) for :meth:`save_npz`. A held map is not recorded again: step ``s`` shows the last
    recorded map whose step is ``<= s``. Torch's thread settings are left as they are. Every ``TRIM_EVERY_MAPS``
    maps it hands the memory glibc keeps free back to the system (``agents.core.memory``).
    """

    def __init__(self, q_function: QFunction, settings: SaliencySettings = SaliencySettings()) -> None:
        self.q_function = q_function
        self.settings = settings
        self.maps: list[np.ndarray] = []
        self.steps: list[int] = []
        self.scale = 0.0

    @property
    def current(self) -> np.ndarray | None:
        """The map of the latest step, or ``None`` before the first."""
        return self.maps[-1] if self.maps else None

    def update(self, step_index: int, observation: np.ndarray) -> np.ndarray:
        """The map for step ``step_index``: computed when ``every`` steps have passed since the last
        one (or at the first step, or when the steps start again), else the last one held."""
        if not self.steps or not 0 <= step_index - self.steps[-1] < self.settings.every:
            saliency = saliency_map(self.q_function, observation, self.settings)
            self.maps.append(saliency)
            self.steps.append(int(step_index))
            self.scale = max(self.scale, float(saliency.max()))
            if TRIM_EVERY_MAPS and len(self.maps) % TRIM_EVERY_MAPS == 0:
                give_back_free_memory()
        return self.maps[-1]

    def blend(self, screen_rgb: np.ndarray) -> np.ndarray:
        """The screen with the latest map over it, on the running scale of this game so far."""
        if self.current is None:
            return screen_rgb.copy()
        return blend(screen_rgb, self.current, self.scale)

    def save_npz(self, path: str | Path) -> Path:
        """Write ``maps`` (recorded maps, float32, (n, height, width)) and ``steps`` (the step of each,
        int64, (n,)) to a compressed ``.npz``; returns its path."""
        path = Path(path)
        # One copy of the maps at most: a 10,000-step game holds 5,000 (141 MB), stacked once more to be saved.
        maps = np.stack(self.maps, dtype=np.float32) if self.maps else np.zeros((0, 84, 84), dtype=np.float32)
        with open(path, "wb") as file:  # to this very path (numpy would add ".npz" to a name without it)
            np.savez_compressed(file, maps=maps, steps=np.asarray(self.steps, dtype=np.int64))
        return path


def atari_q_network(n_actions: int = 18) -> QFunction:
    """An Atari DQN's network as the RL Zoo's agents have it (SB3's NatureCNN and its Q head, 1.7 million
    parameters), with random weights: what a map costs does not depend on the weights."""
    torch.manual_seed(0)
    network = torch.nn.Sequential(
        torch.nn.Conv2d(4, 32, 8, stride=4),
        torch.nn.ReLU(),
        torch.nn.Conv2d(32, 64, 4, stride=2),
        torch.nn.ReLU(),
        torch.nn.Conv2d(64, 64, 3, stride=1),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(3136, 512),
        torch.nn.ReLU(),
        torch.nn.Linear(512, n_actions),
    )
    return QFunction(network, "dqn", n_actions)


def measure_map_seconds(repeats: int = 3, settings: SaliencySettings = SaliencySettings()) -> float:
    """Seconds one saliency map of an Atari agent takes on this machine now (the fastest of ``repeats``, after
    one untimed map), on one thread as Play runs its network."""
    q_function = atari_q_network()
    observation = np.random.default_rng(0).integers(0, 256, (4, 84, 84), dtype=np.uint8)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        saliency_map(q_function, observation, settings)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            saliency_map(q_function, observation, settings)
            times.append(time.perf_counter() - started)
    finally:
        torch.set_num_threads(threads)
    return min(times)


_map_timing: KeptMeasurement[float] = KeptMeasurement()


def map_seconds() -> float:
    """What one map costs here: measured on first use, and again once ``MEASURE_AGAIN_S`` have passed."""
    return _map_timing.get(measure_map_seconds, MEASURE_AGAIN_S)
