"""Perturbation saliency (Greydanus et al. 2018): the maps point at what the network actually reads.

Networks built here read known parts of the input, so the right map is known in advance; the
shipped Breakout agent then checks the maps of a real SB3 network on real observations.
"""

import ctypes
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.core.agent import agent_from_files
from agents.core.agent_files import offline_agent_files
from agents.core.catalog import get_game
from agents.core.checkpoint import QFunction
from agents.core.environment import make_env
from agents.play import saliency as saliency_module
from agents.play.episode import MAX_STEPS_LIMIT, SALIENCY_EVERY
from agents.play.saliency import (
    MAX_ALPHA,
    SaliencySettings,
    SaliencyTracker,
    _masks,
    blend,
    grid_centres,
    saliency_map,
)

ROOT = Path(__file__).resolve().parents[1]
N_ACTIONS = 4
WEIGHTS = torch.tensor([1.0, -2.0, 0.5, 3.0])


class RegionNetwork(torch.nn.Module):
    """Q-values that depend only on one rectangle of one stacked frame: its mean squared brightness,
    times fixed weights (as SB3's networks, it takes uint8 or float input on the 0-255 scale).

    Squared, because a blur keeps a patch's mean brightness but always lowers the contrast of a random
    texture: the true map is then high all over the rectangle, not a noisy field of cancellations.
    """

    def __init__(self, rows: slice, columns: slice, frame: int = -1) -> None:
        super().__init__()
        self.rows, self.columns, self.frame = rows, columns, frame

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        region = observations.float()[:, self.frame, self.rows, self.columns] / 255.0
        return (region**2).mean(dim=(1, 2))[:, None] * WEIGHTS[None, :]


class ConstantNetwork(torch.nn.Module):
    """Ignores its input."""

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return torch.tensor([[1.0, 2.0, 3.0, 4.0]]).repeat(observations.shape[0], 1)


class CountingNetwork(torch.nn.Module):
    """Another network, with a record of the batch size of every forward call."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.batch_sizes: list[int] = []

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        self.batch_sizes.append(int(observations.shape[0]))
        return self.inner(observations)


def textured_observation(seed: int = 0) -> np.ndarray:
    """Random texture everywhere, so that blurring changes every patch."""
    return np.random.default_rng(seed).integers(0, 256, size=(4, 84, 84), dtype=np.uint8)


def region_q_function(rows: slice, columns: slice, frame: int = -1) -> QFunction:
    return QFunction(RegionNetwork(rows, columns, frame), "dqn", N_ACTIONS)


def dilated(rows: slice, columns: slice, by: int) -> np.ndarray:
    inside = np.zeros((84, 84), dtype=bool)
    inside[max(rows.start - by, 0) : rows.stop + by, max(columns.start - by, 0) : columns.stop + by] = True
    return inside


@pytest.mark.parametrize(
    ("rows", "columns"),
    [(slice(10, 30), slice(50, 70)), (slice(55, 75), slice(5, 25)), (slice(0, 12), slice(70, 84))],
    ids=["top-right", "bottom-left", "corner"],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_map_lies_on_the_region_the_network_reads(rows, columns, seed):
    settings = SaliencySettings()
    saliency = saliency_map(region_q_function(rows, columns), textured_observation(seed), settings)

    assert saliency.shape == (84, 84) and saliency.dtype == np.float32
    assert np.isfinite(saliency).all() and (saliency >= 0).all()
    row, column = np.unravel_index(np.argmax(saliency), saliency.shape)
    assert rows.start <= row < rows.stop and columns.start <= column < columns.stop
    inside = dilated(rows, columns, int(settings.radius))
    assert saliency[inside].sum() > 0.9 * saliency.sum()
    # Far from the region (three radii and more), nothing.
    far = ~dilated(rows, columns, 3 * int(settings.radius))
    assert saliency[far].max() < 1e-3 * saliency.max()


def test_the_score_is_half_the_squared_change_of_the_q_values():
    """At a centre, the map holds 0.5 * ||Q(I) - Q(I')||^2 for the input blurred there, computed by hand."""
    import cv2

    rows, columns = slice(10, 30), slice(50, 70)
    q_function = region_q_function(rows, columns)
    observation = textured_observation()
    centre = (20, 60)  # on the grid: multiples of the stride
    y, x = np.mgrid[0:84, 0:84]
    mask = np.exp(-((y - centre[0]) ** 2 + (x - centre[1]) ** 2) / (2 * 5.0**2))
    original = observation.astype(np.float32)
    blurred = np.stack([cv2.GaussianBlur(f, (25, 25), 3.0, borderType=cv2.BORDER_REFLECT) for f in original])
    perturbed = original * (1 - mask) + blurred * mask
    expected = 0.5 * np.sum((q_function(original[None]) - q_function(perturbed[None].astype(np.float32))) ** 2)

    saliency = saliency_map(q_function, observation)
    assert saliency[centre] == pytest.approx(expected, rel=1e-3)


def test_the_masks_are_gaussian_bells_of_peak_one_cut_at_four_radii():
    masks = _masks(84, 84, 5.0, 5)
    assert masks.shape == (17 * 17, 84, 84) and masks.dtype == np.float32
    centre = masks[4 * 17 + 8]  # the centre at row 20, column 40
    assert centre[20, 40] == 1.0 and centre[20, 45] == pytest.approx(np.exp(-0.5))
    assert centre[20 + 20, 40] > 0 and centre[20 + 21, 40] == 0 and centre[20, 40 - 21] == 0
    # No subnormal float32 values: on those the network would run several times slower.
    assert not ((masks > 0) & (masks < np.finfo(np.float32).tiny)).any()


def test_only_the_chosen_frames_are_perturbed():
    """A network that reads the newest frame only: blurring the oldest alone changes nothing."""
    q_function = region_q_function(slice(10, 30), slice(50, 70), frame=-1)
    observation = textured_observation()
    assert saliency_map(q_function, observation, SaliencySettings(frames=(0,))).max() == 0.0
    newest = saliency_map(q_function, observation, SaliencySettings(frames=(3,)))
    every_frame = saliency_map(q_function, observation, SaliencySettings())
    np.testing.assert_allclose(newest, every_frame, rtol=1e-5)


def test_a_network_that_ignores_its_input_has_an_empty_map():
    saliency = saliency_map(QFunction(ConstantNetwork(), "dqn", N_ACTIONS), textured_observation())
    assert saliency.shape == (84, 84) and saliency.dtype == np.float32
    assert not saliency.any()


@pytest.mark.parametrize(("stride", "centres"), [(5, 17 * 17), (7, 12 * 12)])
def test_one_batched_forward_per_map(stride, centres):
    network = CountingNetwork(RegionNetwork(slice(10, 30), slice(50, 70)))
    q_function = QFunction(network, "dqn", N_ACTIONS)
    assert len(grid_centres(84, stride)) ** 2 == centres
    for seed in range(2):
        saliency_map(q_function, textured_observation(seed), SaliencySettings(stride=stride))
    assert network.batch_sizes == [centres + 1, centres + 1]


def test_blend_colours_the_screen_only_where_the_agent_looks():
    screen = np.random.default_rng(1).integers(0, 256, size=(210, 160, 3), dtype=np.uint8)
    saliency = np.zeros((84, 84), dtype=np.float32)
    saliency[60:84, 0:20] = 2.0  # bottom-left of the input: bottom-left of the screen

    blended = blend(screen, saliency, scale=None)
    assert blended.shape == screen.shape and blended.dtype == np.uint8
    difference = np.abs(blended.astype(int) - screen.astype(int)).max(axis=2)
    assert difference[:100, :].max() <= 1 and difference[:, 80:].max() <= 1  # no saliency there
    assert difference[180:, :20].min() > 10  # the maximum: the colour map at 60% opacity

    # On a running scale twice the map's maximum, the same map is fainter.
    fainter = np.abs(blend(screen, saliency, scale=4.0).astype(int) - screen.astype(int)).max(axis=2)
    assert fainter[180:, :20].mean() < difference[180:, :20].mean()
    # An empty map leaves the screen as it is.
    np.testing.assert_array_equal(blend(screen, np.zeros((84, 84), np.float32), scale=None), screen)
    assert 0 < MAX_ALPHA < 1


def test_the_tracker_computes_every_k_steps_holds_in_between_and_saves(tmp_path):
    threads = torch.get_num_threads()
    network = CountingNetwork(RegionNetwork(slice(10, 30), slice(50, 70)))
    tracker = SaliencyTracker(QFunction(network, "dqn", N_ACTIONS), SaliencySettings(every=3))
    returned = [tracker.update(step, textured_observation(step)) for step in range(8)]

    assert tracker.steps == [0, 3, 6] and len(network.batch_sizes) == 3
    for step, saliency in enumerate(returned):
        np.testing.assert_array_equal(saliency, tracker.maps[step // 3])
    assert not np.array_equal(tracker.maps[0], tracker.maps[1])  # a new observation, a new map
    assert tracker.scale == pytest.approx(max(float(m.max()) for m in tracker.maps))
    screen = np.zeros((210, 160, 3), dtype=np.uint8)
    assert tracker.blend(screen).shape == screen.shape

    path = tracker.save_npz(tmp_path / "saliency.npz")
    with np.load(path) as saved:
        assert set(saved.files) == {"maps", "steps"}
        assert saved["maps"].dtype == np.float32 and saved["maps"].shape == (3, 84, 84)
        assert saved["steps"].dtype == np.int64 and saved["steps"].tolist() == [0, 3, 6]
        np.testing.assert_array_equal(saved["maps"], np.stack(tracker.maps))
    assert torch.get_num_threads() == threads


def test_maps_of_the_shipped_breakout_agent_on_real_play():
    files = offline_agent_files("BreakoutNoFrameskip-v4")
    if files is None:
        pytest.skip("the Breakout agent is not shipped in offline_agents/")
    agent = agent_from_files(files, get_game("Breakout"))
    q_function = agent.q_function
    env = make_env(agent.settings, seed=0)
    try:
        observation = env.reset()
        assert observation.shape == (1, 4, 84, 84) and observation.dtype == np.uint8
        # Float inputs (the perturbed ones) are read exactly as the uint8 observations are.
        np.testing.assert_array_equal(q_function(observation), q_function(observation.astype(np.float32)))
        tracker = SaliencyTracker(q_function, SaliencySettings(every=4))
        for step in range(9):
            tracker.update(step, observation[0])
            observation, _, _, _ = env.step(np.array([int(np.argmax(q_function(observation)[0]))]))
    finally:
        env.close()
    assert tracker.steps == [0, 4, 8]
    for saliency in tracker.maps:
        assert saliency.shape == (84, 84) and saliency.dtype == np.float32
        assert np.isfinite(saliency).all() and (saliency >= 0).all() and saliency.max() > 0


def test_what_saliency_costs_a_game_is_said_before_it_and_holds(tmp_path, monkeypatch):
    """The estimate said before a game with the map (a map timed on this machine now) against the time a real
    120-step game of the shipped agent takes with it, measured here a moment later: within a factor of two."""
    import re

    from agents.core.errors import AgentError
    from agents.core.kept_measurement import KeptMeasurement
    from agents.play import saliency
    from agents.play.episode import play_to_folder, saliency_cost, saliency_estimate
    from agents.play.saliency import map_seconds, measure_map_seconds

    # Timed now, as the game is, not kept from an earlier test.
    monkeypatch.setattr(saliency, "_map_timing", KeptMeasurement())

    files = offline_agent_files("BreakoutNoFrameskip-v4")
    if files is None:
        pytest.skip("the Breakout agent is not shipped in offline_agents/")
    agent = agent_from_files(files, get_game("Breakout"))
    assert 0.001 < measure_map_seconds() < 5 and map_seconds() == map_seconds()  # measured once, then kept
    note = saliency_cost(10_000)
    assert re.match(r"Slow: a map takes \d+ ms on this machine now, and one is made every 2 steps", note), note
    assert "up to about" in note and "for its step cap of 10,000 steps (without the map, about" in note
    with pytest.raises(AgentError, match="max steps must be"):
        saliency_cost(0)
    with_map, without = saliency_estimate(120)
    assert with_map > 5 * without  # the map dominates: said as slow
    played = play_to_folder(agent, tmp_path, seed=0, max_steps=120, saliency=True)
    assert played.steps == 120
    assert 0.5 * with_map < played.seconds < 2 * with_map, (played.seconds, with_map)


@pytest.mark.slow
def test_play_with_saliency_writes_the_maps_and_colours_the_video(tmp_path):
    """``python -m agents.play --saliency``: saliency.npz holds a map every SALIENCY_EVERY steps in the agent's
    input coordinates, and the video differs from the plain one on the game only (the panel is the same
    but for its legend)."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from agents.play.episode import SALIENCY_EVERY
    from tests.media import decode_frame

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "empty-cache")}
    base = [sys.executable, "-m", "agents.play", "--game", "Breakout", "--max-steps", "60"]
    runs = {}
    for name, extra in (("plain", []), ("looks", ["--saliency"])):
        command = [*base, *extra, "--out", str(tmp_path / name)]
        run = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-2000:]
        runs[name] = json.loads(run.stdout.strip().splitlines()[-1])
    assert "saliency" not in runs["plain"] and runs["looks"]["saliency_every"] == SALIENCY_EVERY
    with np.load(tmp_path / "looks" / "saliency.npz") as saved:
        maps, steps = saved["maps"], saved["steps"]
    assert maps.dtype == np.float32 and maps.shape == (30, 84, 84) and list(steps) == list(range(0, 60, 2))
    assert np.isfinite(maps).all() and (maps >= 0).all() and maps.max() > 0
    plain = decode_frame(tmp_path / "plain" / "episode.mp4", 40, 692, 420)
    looks = decode_frame(tmp_path / "looks" / "episode.mp4", 40, 692, 420)
    game = np.abs(plain[:, :320].astype(int) - looks[:, :320].astype(int))
    assert game.max() > 40  # the heat map is over the game
    assert np.abs(plain[120:, 330:].astype(int) - looks[120:, 330:].astype(int)).max() < 40  # bars: the same


def test_a_10000_step_game_holds_5000_maps_and_saves_them_with_one_copy_at_most(monkeypatch, tmp_path):
    """The longest game Play allows, with a map every 2nd step as Play makes them: what it holds is bounded
    (5,000 maps of 84×84 float32, 141 MB) and saving adds one copy, no more (tracemalloc, which numpy reports to).
    The maps themselves are stand-ins: the network's 290 passes a map would take minutes."""
    made = iter(range(10**6))
    monkeypatch.setattr(saliency_module, "saliency_map", lambda *_: np.full((84, 84), next(made), dtype=np.float32))
    tracker = SaliencyTracker(None, SaliencySettings(every=SALIENCY_EVERY))
    for step in range(MAX_STEPS_LIMIT):
        tracker.update(step, None)
    maps_bytes = MAX_STEPS_LIMIT // SALIENCY_EVERY * 84 * 84 * 4
    assert len(tracker.maps) == 5000 and sum(m.nbytes for m in tracker.maps) == maps_bytes == 141_120_000
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracker.save_npz(tmp_path / "saliency.npz")
        extra = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert extra < 1.2 * maps_bytes, f"saving took {extra / 1e6:.0f} MB beside the maps' {maps_bytes / 1e6:.0f} MB"
    with np.load(tmp_path / "saliency.npz") as saved:
        assert saved["maps"].shape == (5000, 84, 84) and saved["maps"][-1, 0, 0] == 4999


# In a fresh process: 400 blocks of 100 kB (below glibc's mmap threshold: in the heap), all freed but the last,
# which keeps the heap from shrinking at its top; what the system counts resident (/proc), before and after.
TRIM_PROBE = """
import ctypes, sys
from pathlib import Path
from agents.core.memory import give_back_free_memory
def resident_mb():
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 1e6
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
blocks = [libc.malloc(100_000) for _ in range(400)]
for block in blocks:
    ctypes.memset(block, 1, 100_000)  # touched: resident
for block in blocks[:-1]:
    libc.free(block)
before = resident_mb()
given = give_back_free_memory()
print(given, before - resident_mb())
"""


@pytest.mark.skipif(
    not Path("/proc/self/statm").exists() or not hasattr(ctypes.CDLL(None), "malloc_trim"), reason="glibc"
)
def test_free_memory_kept_inside_glibcs_heap_is_given_back_to_the_system():
    """What ``SaliencyTracker`` calls every 32 maps, so that a 10,000-step game stays bounded (it grew to 2.4 GB):
    40 MB freed below a live block is still resident until then, and no longer after (the kernel's count)."""
    run = subprocess.run([sys.executable, "-c", TRIM_PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    given, dropped_mb = run.stdout.split()
    assert given == "True" and float(dropped_mb) > 30, run.stdout


def test_a_saliency_game_gives_glibcs_free_memory_back_every_32_maps(monkeypatch):
    calls = []
    monkeypatch.setattr(saliency_module, "saliency_map", lambda *_: np.zeros((84, 84), dtype=np.float32))
    monkeypatch.setattr(saliency_module, "give_back_free_memory", lambda: calls.append(1))
    tracker = SaliencyTracker(None, SaliencySettings(every=SALIENCY_EVERY))
    for step in range(100 * SALIENCY_EVERY):
        tracker.update(step, None)
    assert len(tracker.maps) == 100 and len(calls) == 100 // saliency_module.TRIM_EVERY_MAPS == 3
