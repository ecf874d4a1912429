"""One episode through the whole pipeline: Q-values, actions, rewards, the CSV and the video."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agents.core.agent import load_agent
from agents.core.environment import make_env
from agents.core.errors import AgentError
from agents.play.episode import EpisodeResult, check_play_inputs, play_to_folder, stream_episode
from agents.play.overlay import OverlayRenderer
from tests.media import decode_frame, probe

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def agent(hf_cache):
    return load_agent("SpaceInvaders")


@pytest.fixture(scope="module")
def greedy_game(agent, tmp_path_factory) -> EpisodeResult:
    return play_to_folder(agent, tmp_path_factory.mktemp("greedy"), seed=3, epsilon=0.0, max_steps=400)


def test_the_agent_is_loaded_once(agent):
    assert load_agent("SpaceInvaders") is agent
    assert load_agent("Space Invaders", "sb3/dqn-SpaceInvadersNoFrameskip-v4") is agent


def test_csv_has_a_row_per_step_and_a_q_column_per_action(greedy_game, agent):
    table = pd.read_csv(greedy_game.csv)
    expected = ["step", "action", "action_name", "exploratory", "reward", "score", "lives"]
    assert list(table.columns) == expected + [f"q_{name}" for name in agent.action_names]
    assert list(table["step"]) == list(range(400)) and greedy_game.steps == 400
    assert list(table["action_name"]) == [agent.action_names[a] for a in table["action"]]
    np.testing.assert_allclose(table["score"], np.cumsum(table["reward"]))
    assert not greedy_game.terminated


def test_csv_q_values_are_the_networks_output_on_what_the_agent_saw(greedy_game, agent):
    """Replay the same seed and actions in a fresh environment; the network must give the CSV's values."""
    table = pd.read_csv(greedy_game.csv)
    q_columns = [f"q_{name}" for name in agent.action_names]
    env = make_env(agent.settings, seed=3)
    observation = env.reset()
    for row in table.itertuples():
        np.testing.assert_allclose(agent.q_function(observation)[0], table.loc[row.Index, q_columns], rtol=1e-6)
        observation, *_ = env.step(np.array([row.action]))
    env.close()


def test_greedy_play_always_takes_the_argmax(greedy_game, agent):
    table = pd.read_csv(greedy_game.csv)
    q_values = table[[f"q_{name}" for name in agent.action_names]].to_numpy()
    np.testing.assert_array_equal(table["action"], q_values.argmax(axis=1))
    assert not table["exploratory"].any()


def test_epsilon_explores_at_its_rate_and_is_marked(agent, tmp_path):
    result = play_to_folder(agent, tmp_path, seed=1, epsilon=0.2, max_steps=500)
    table = result.table
    q_values = table[[f"q_{name}" for name in agent.action_names]].to_numpy()
    assert 60 <= table["exploratory"].sum() <= 140
    greedy_rows = ~table["exploratory"]
    np.testing.assert_array_equal(table["action"][greedy_rows], q_values[greedy_rows].argmax(axis=1))


def test_same_seed_same_game(agent, tmp_path):
    first = play_to_folder(agent, tmp_path / "a", seed=7, epsilon=0.01, max_steps=300)
    second = play_to_folder(agent, tmp_path / "b", seed=7, epsilon=0.01, max_steps=300)
    other = play_to_folder(agent, tmp_path / "c", seed=8, epsilon=0.01, max_steps=300)
    pd.testing.assert_frame_equal(first.table, second.table)
    assert not first.table.equals(other.table)


def test_a_whole_game_runs_until_game_over(agent, tmp_path):
    result = play_to_folder(agent, tmp_path, seed=0, epsilon=0.01, max_steps=10_000)
    assert result.terminated and result.steps < 10_000
    lives = result.table["lives"]
    assert lives.iloc[0] == 3 and lives.iloc[-1] == 1 and (np.diff(lives) <= 0).all()
    assert result.score == result.table["reward"].sum()


def test_video_decodes_with_a_frame_per_step_at_the_games_pace(greedy_game, agent):
    stream = probe(greedy_game.video)
    width, height = OverlayRenderer(agent.action_names, (210, 160, 3), agent_view=False).size
    assert (stream["codec_name"], stream["pix_fmt"]) == ("h264", "yuv420p")
    assert (stream["width"], stream["height"]) == (width, height)
    assert int(stream["nb_read_frames"]) == greedy_game.steps
    assert stream["r_frame_rate"] == "15/1"  # 60 Hz Atari, every 4th frame


def test_video_frames_show_the_screen_the_agent_acted_on(greedy_game, agent):
    """Frame k holds, upscaled 2x, the game screen of step k."""
    env = make_env(agent.settings, seed=3)
    env.reset()
    ale = env.unwrapped.envs[0].unwrapped.ale
    actions = pd.read_csv(greedy_game.csv)["action"]
    screens = {}
    for step, action in enumerate(actions[:200]):
        if step in (0, 120, 199):
            screens[step] = ale.getScreenRGB().repeat(2, axis=0).repeat(2, axis=1)
        env.step(np.array([action]))
    for step, screen in screens.items():
        frame = decode_frame(greedy_game.video, step, 692, 420)
        difference = np.abs(frame[:, :320].astype(int) - screen.astype(int)).mean()
        assert difference < 6, f"frame {step} differs from the screen by {difference:.1f} on average"


def test_agent_view_adds_the_stacked_frames(agent, tmp_path):
    result = play_to_folder(agent, tmp_path, seed=0, epsilon=0.0, max_steps=40, agent_view=True)
    stream = probe(result.video)
    assert (stream["width"], stream["height"]) == (692, 532) and int(stream["nb_read_frames"]) == 40
    frame = decode_frame(result.video, 39, 692, 532)
    env = make_env(agent.settings, seed=0)
    observation = env.reset()
    for action in result.table["action"][:39]:
        observation, *_ = env.step(np.array([action]))
    newest = frame[444:528, 12 + 3 * 96 : 12 + 3 * 96 + 84, 0].astype(int)
    assert np.abs(newest - observation[0, -1].astype(int)).mean() < 6


def test_segments_stream_before_the_game_ends_and_hold_every_frame(agent, tmp_path):
    items = []
    for item in stream_episode(agent, tmp_path, seed=2, epsilon=0.01, max_steps=300):
        items.append(item)
    *segments, result = items
    assert isinstance(result, EpisodeResult) and len(segments) >= 3
    assert sum(int(probe(segment)["nb_read_frames"]) for segment in segments) == 300
    assert int(probe(segments[0])["nb_read_frames"]) <= 10, "the first segment is short, to start playing at once"


def test_qrdqn_repo_plays(hf_cache, tmp_path):
    agent = load_agent("SpaceInvaders", "tester/qrdqn-SpaceInvadersNoFrameskip-v4")
    result = play_to_folder(agent, tmp_path, seed=0, epsilon=0.0, max_steps=50)
    assert agent.algo == "qrdqn" and result.steps == 50


@pytest.mark.parametrize(
    ("seed", "epsilon", "max_steps", "message"),
    [
        (-1, 0.0, 10, "seed must be a whole number"),
        (1.5, 0.0, 10, "seed must be a whole number"),
        (0, 1.5, 10, "epsilon must be a number from 0 to 1"),
        (0, float("nan"), 10, "epsilon must be a number from 0 to 1, not nan"),
        (0, 0.0, 10**9, "max steps must be"),
        (0, 0.0, 0, "max steps must be"),
        (None, 0.0, 10, "seed must be a whole number from 0 to 2,147,483,647, not None"),
    ],
)
def test_absurd_numbers_are_refused(seed, epsilon, max_steps, message):
    with pytest.raises(AgentError, match=message):
        check_play_inputs(seed, epsilon, max_steps)


def test_command_line_writes_the_video_and_csv_and_prints_a_json_summary(hf_cache, tmp_path):
    command = [sys.executable, "-m", "agents.play", "--game", "SpaceInvaders", "--seed", "0", "--max-steps", "120"]
    run = subprocess.run([*command, "--epsilon", "0", "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["game"] == "SpaceInvaders" and summary["repo"] == "sb3/dqn-SpaceInvadersNoFrameskip-v4"
    assert (summary["seed"], summary["steps"], summary["terminated"]) == (0, 120, False)
    assert {"score", "seconds"} <= set(summary)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["episode.mp4", "steps.csv"]
    assert int(probe(tmp_path / "episode.mp4")["nb_read_frames"]) == 120


def test_command_line_explains_a_bad_repo(hf_cache, tmp_path):
    command = [sys.executable, "-m", "agents.play", "--repo-id", "nobody/dqn-PongNoFrameskip-v4", "--game", "Pong"]
    run = subprocess.run([*command, "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 2
    assert "nobody/dqn-PongNoFrameskip-v4" in run.stderr and "Traceback" not in run.stderr


def test_playing_gives_the_process_its_torch_threads_back(agent, tmp_path):
    """An episode infers on one thread; training afterwards (the Train tab's job) must get them all back."""
    import torch

    threads = torch.get_num_threads()
    play_to_folder(agent, tmp_path, seed=0, epsilon=0.0, max_steps=10)
    assert torch.get_num_threads() == threads
