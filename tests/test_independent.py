"""What a user sees, checked against sources independent of the Arena's own code: stock SB3 acting on
the RL Zoo's environment, the decoded video against the emulator's screens, the shipped checkpoint's
own bytes, a second process, and the game's own score table. No reference data needed.

Each test here catches one of the bugs planted by ``tests/mutants/run.py``.
"""

import dataclasses
import io
import os
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from rl_zoo3.utils import create_test_env
from stable_baselines3 import DQN

from agents.core.agent import load_agent
from agents.core.hub import fetch_agent_files
from agents.play.episode import play_to_folder, stream_episode
from agents.play.overlay import FONT, OverlayRenderer
from tests.media import decode_frames

ROOT = Path(__file__).resolve().parents[1]
SPACE_INVADERS = "SpaceInvadersNoFrameskip-v4"
ATARI_WRAPPER = "stable_baselines3.common.atari_wrappers.AtariWrapper"


def rl_zoo_env(env_id: str, seed: int):
    """The environment as ``rl_zoo3.enjoy`` builds it for an Atari agent: not the Arena's ``make_env``."""
    return create_test_env(
        env_id,
        n_envs=1,
        stats_path=str(ROOT),  # turns on the frame stack; nothing is read from it
        seed=seed,
        hyperparams={"env_wrapper": ATARI_WRAPPER, "frame_stack": 4, "normalize": False},
        env_kwargs={"render_mode": "rgb_array"},  # ale-py 0.12.1: a second env without it can crash
    )


def q_columns(table: pd.DataFrame) -> list[str]:
    return [column for column in table.columns if column.startswith("q_")]


@pytest.fixture(scope="module")
def agent(hf_cache):
    return load_agent("SpaceInvaders")


@pytest.fixture(scope="module")
def greedy_game(agent, tmp_path_factory):
    return play_to_folder(agent, tmp_path_factory.mktemp("greedy"), seed=5, epsilon=0.0, max_steps=160)


def test_play_acts_and_values_as_stock_sb3_on_the_rl_zoos_env(greedy_game, hf_cache):
    """``DQN.load`` of the same checkpoint, predicting greedily on the RL Zoo's environment with the same
    seed, takes the same action at every step, from the same Q-values."""
    files = fetch_agent_files("sb3/dqn-SpaceInvadersNoFrameskip-v4", SPACE_INVADERS)
    model = DQN.load(files.model_zip, device="cpu")  # a checkpoint the tests made: safe to unpickle
    env = rl_zoo_env(SPACE_INVADERS, seed=5)
    table = greedy_game.table
    observation = env.reset()
    try:
        for row in table.itertuples():
            action, _ = model.predict(observation, deterministic=True)
            assert int(action[0]) == row.action, f"step {row.Index}"
            with torch.no_grad():
                q_values = model.q_net(model.policy.obs_to_tensor(observation)[0])[0].numpy()
            np.testing.assert_allclose(q_values, table.loc[row.Index, q_columns(table)].to_numpy(float), rtol=1e-5)
            observation, *_ = env.step(action)
    finally:
        env.close()


def test_each_video_frame_shows_the_screen_the_agent_acted_on(greedy_game):
    """Decode the video; each frame's game picture is closer to the emulator's screen at its own step
    (replayed on the RL Zoo's environment) than to the screens one step before or after."""
    steps = greedy_game.steps
    env = rl_zoo_env(SPACE_INVADERS, seed=5)
    ale = env.unwrapped.envs[0].unwrapped.ale
    env.reset()
    screens = []
    for action in greedy_game.table["action"]:
        screens.append(ale.getScreenRGB().repeat(2, axis=0).repeat(2, axis=1).astype(np.int16))
        env.step(np.array([action]))
    env.close()
    height, width = screens[0].shape[:2]
    frames = decode_frames(greedy_game.video, width, height, filters=f"crop={width}:{height}:0:0").astype(np.int16)
    assert len(frames) == steps
    compared = 0
    for step in range(1, steps - 1):
        if min(np.abs(screens[step] - screens[other]).mean() for other in (step - 1, step + 1)) < 0.05:
            continue  # a screen that did not change tells nothing about timing
        distances = {other: np.abs(frames[step] - screens[other]).mean() for other in (step - 1, step, step + 1)}
        assert min(distances, key=distances.get) == step, f"frame {step}: {distances}"
        compared += 1
    assert compared >= 30, f"only {compared} steps changed the screen"


def test_a_video_segment_is_streamed_while_steps_remain(agent, tmp_path):
    """The first segment must reach the page after a few steps, not when the game is over."""

    class CountingQFunction:
        def __init__(self, inner) -> None:
            self.inner, self.n_actions, self.calls = inner, inner.n_actions, 0

        def __call__(self, observation):
            self.calls += 1
            return self.inner(observation)

    counting = CountingQFunction(agent.q_function)
    episode = stream_episode(dataclasses.replace(agent, q_function=counting), tmp_path, seed=2, max_steps=300)
    try:
        first = next(item for item in episode if isinstance(item, Path))
        # 8 frames make the first segment; the queue to the encoder holds 64 more: well under half the game
        assert first.suffix == ".ts" and counting.calls < 150, f"first segment after {counting.calls} of 300 steps"
    finally:
        episode.close()
    assert not [thread.name for thread in threading.enumerate() if thread.name == "overlay-encoder"]


def play_in_a_process(seed: int, out: Path, game: str = "SpaceInvaders", epsilon: str = "0") -> subprocess.Popen:
    command = [sys.executable, "-m", "agents.play", "--game", game, "--seed", str(seed), "--epsilon", epsilon]
    return subprocess.Popen([*command, "--max-steps", "150", "--out", str(out)], cwd=ROOT, stderr=subprocess.PIPE)


def test_same_seed_same_game_in_two_processes_and_another_seed_another_game(hf_cache, tmp_path):
    """Greedy play (ε = 0, so no random draw of the agent's can make games differ): only the
    environment's seed can tell two games apart."""
    runs = {name: play_in_a_process(seed, tmp_path / name) for name, seed in (("a", 11), ("b", 11), ("c", 12))}
    for process in runs.values():
        assert process.wait(timeout=120) == 0, process.stderr.read().decode()[-2000:]
    tables = {name: pd.read_csv(tmp_path / name / "steps.csv") for name in runs}
    pd.testing.assert_frame_equal(tables["a"], tables["b"])
    assert not np.allclose(tables["a"][q_columns(tables["a"])], tables["c"][q_columns(tables["c"])])


def test_rewards_above_one_are_written_unclipped(agent, tmp_path):
    """Space Invaders scores 5 to 30 points an alien: the CSV's rewards are the game's, and add up, step
    by step, to what the RL Zoo environment's Monitor records for the same actions."""
    result = play_to_folder(agent, tmp_path, seed=0, epsilon=1.0, max_steps=500)
    rewards = result.table["reward"].to_numpy()
    assert rewards.max() >= 5 and set(np.unique(rewards)) <= {0, 5, 10, 15, 20, 25, 30, 200}
    env = rl_zoo_env(SPACE_INVADERS, seed=0)
    monitor = env.unwrapped.envs[0]
    while not hasattr(monitor, "rewards"):
        monitor = monitor.env
    env.reset()
    for step, action in enumerate(result.table["action"]):
        before = sum(monitor.rewards)
        env.step(np.array([action]))
        assert sum(monitor.rewards) - before == rewards[step], f"step {step}"
    env.close()


def test_the_offline_agent_that_plays_is_the_shipped_checkpoint(tmp_path):
    """Through the app's own path (no network, empty cache), the Breakout agent's weights are the bytes
    of the shipped ``policy.pth``, read here with torch alone."""
    shipped = ROOT / "offline_agents" / "BreakoutNoFrameskip-v4" / "dqn-BreakoutNoFrameskip-v4.zip"
    with zipfile.ZipFile(shipped) as archive:
        weights = torch.load(io.BytesIO(archive.read("policy.pth")), weights_only=True)
    saved = tmp_path / "shipped.pt"
    torch.save({name[len("q_net.") :]: value for name, value in weights.items() if name.startswith("q_net.")}, saved)
    script = (
        "import sys, torch\n"
        "from agents.core.agent import load_agent\n"
        "agent = load_agent('Breakout')\n"
        "expected = torch.load(sys.argv[1], weights_only=True)\n"
        "actual = agent.q_function.network.state_dict()\n"
        "assert agent.offline and sorted(actual) == sorted(expected), sorted(actual)\n"
        "assert all(torch.equal(actual[name], expected[name]) for name in expected), 'weights differ'\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "empty-cache")}
    run = subprocess.run(
        [sys.executable, "-c", script, str(saved)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]


def best_matching_label(row: np.ndarray, names: list[str], font_scale: float) -> str:
    """The action name whose text, drawn alone, matches the row's label; the longest of several
    matches (RIGHT is inside RIGHTFIRE)."""
    gray = cv2.cvtColor(row, cv2.COLOR_RGB2GRAY)
    matches = []
    for name in names:
        (width, height), baseline = cv2.getTextSize(name, FONT, font_scale, 1)
        template = np.zeros((height + baseline + 4, width + 4), np.uint8)
        cv2.putText(template, name, (2, height + 2), FONT, font_scale, 255, 1, cv2.LINE_AA)
        if template.shape[0] > gray.shape[0] or template.shape[1] > gray.shape[1]:
            continue
        score = cv2.minMaxLoc(cv2.matchTemplate(gray, template, cv2.TM_CCOEFF_NORMED))[1]
        matches.append((score > 0.9, len(name), score, name))
    return max(matches)[3]


def test_the_panel_labels_each_bar_with_its_actions_name(greedy_game, agent):
    """Read the labels off a video frame (template matching) and compare them with the emulator's own
    action meanings, in the order of the Q-values in the CSV."""
    env = rl_zoo_env(SPACE_INVADERS, seed=0)
    names = env.unwrapped.envs[0].unwrapped.get_action_meanings()
    env.close()
    assert q_columns(greedy_game.table) == [f"q_{name}" for name in names]
    renderer = OverlayRenderer(agent.action_names, (210, 160, 3), agent_view=False)
    width, height = renderer.size
    frame = decode_frames(greedy_game.video, width, height, frames=1)[0]
    labels = frame[:, renderer.panel_x - 4 : renderer.panel_x + 118]
    read = []
    for row in range(len(names)):
        top = renderer.bars_top + row * renderer.row_height
        read.append(best_matching_label(labels[top : top + renderer.row_height + 2], names, renderer._row_font_scale()))
    assert read == names
