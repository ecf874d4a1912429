"""The game catalog and the Hub download code, run offline against a cache the tests build."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agents.core.catalog import GAMES, get_game
from agents.core.errors import AgentError
from agents.core.hub import check_repo_id, fetch_agent_files

ROOT = Path(__file__).resolve().parents[1]


def test_catalog_offers_the_ten_rl_zoo_dqn_games_space_invaders_first():
    assert list(GAMES)[0] == "SpaceInvaders"
    assert len(GAMES) == 10
    assert get_game("Ms. Pac-Man").repo_id == "sb3/dqn-MsPacmanNoFrameskip-v4"
    assert get_game("PongNoFrameskip-v4").env_id == "PongNoFrameskip-v4"


def test_unknown_game_is_refused_with_the_choices():
    with pytest.raises(AgentError, match="Unknown game 'Tetris'.*SpaceInvaders"):
        get_game("Tetris")


@pytest.mark.parametrize("bad", ["", "no-owner", "a/b/c", "owner/na me", "../../etc/passwd", "owner/" + "x" * 200])
def test_bad_repo_ids_are_refused(bad):
    with pytest.raises(AgentError, match="not a Hub repo id"):
        check_repo_id(bad)


def test_cached_repo_is_found_through_hf_hub_download(hf_cache):
    files = fetch_agent_files("sb3/dqn-SpaceInvadersNoFrameskip-v4", "SpaceInvadersNoFrameskip-v4")
    assert files.algo == "dqn"
    assert files.model_zip.name == "dqn-SpaceInvadersNoFrameskip-v4.zip"
    assert files.model_zip.is_relative_to(hf_cache)
    assert files.config.name == "config.yml" and files.env_kwargs.name == "env_kwargs.yml"
    assert files.published_result()["mean_reward"] == 123.0


def test_qrdqn_repo_is_recognised_by_its_file_name(hf_cache):
    files = fetch_agent_files("tester/qrdqn-SpaceInvadersNoFrameskip-v4", "SpaceInvadersNoFrameskip-v4")
    assert files.algo == "qrdqn"


def test_missing_repo_offline_fails_fast_naming_the_repo(hf_cache):
    started = time.perf_counter()
    with pytest.raises(AgentError, match="sb3/dqn-EnduroNoFrameskip-v4.*not in the local Hugging Face cache"):
        fetch_agent_files("sb3/dqn-EnduroNoFrameskip-v4", "EnduroNoFrameskip-v4")
    assert time.perf_counter() - started < 2


def test_dead_network_uses_the_cache_and_fails_fast_without_it(hf_cache):
    """Not offline mode, but a Hub endpoint where nothing answers: the cache serves, nothing hangs."""
    script = (
        "import json, time\n"
        "from agents.core.hub import fetch_agent_files\n"
        "from agents.core.errors import AgentError\n"
        "files = fetch_agent_files('sb3/dqn-PongNoFrameskip-v4', 'PongNoFrameskip-v4')\n"
        "started = time.perf_counter()\n"
        "try:\n"
        "    fetch_agent_files('sb3/dqn-QbertNoFrameskip-v4', 'QbertNoFrameskip-v4')\n"
        "except AgentError as error:\n"
        "    print(json.dumps([files.algo, str(error), time.perf_counter() - started]))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "0", "HF_ENDPOINT": "http://127.0.0.1:9"}
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    algo, message, seconds = __import__("json").loads(run.stdout.strip().splitlines()[-1])
    assert algo == "dqn"
    assert "sb3/dqn-QbertNoFrameskip-v4" in message and "cannot be reached" in message
    assert seconds < 6
    assert time.perf_counter() - started < 40  # interpreter start and imports included


def test_a_genuine_rl_zoo_hub_repo_loads_from_the_cache_and_plays(hf_cache, tmp_path):
    """The real files of a course student's SB3 2.4 repo (weights written here), through the real path."""
    from stable_baselines3 import DQN

    from agents.core.agent import load_agent
    from agents.core.environment import env_settings, make_env
    from agents.play.episode import play_to_folder
    from tests import hub_cache
    from tests.conftest import reference_path

    repo = reference_path("hub-repos", "sb3-2.4-dqn-SpaceInvadersNoFrameskip-v4")
    env_id = "SpaceInvadersNoFrameskip-v4"
    settings = {"env_wrapper": "stable_baselines3.common.atari_wrappers.AtariWrapper", "frame_stack": 4}
    weights = DQN("CnnPolicy", make_env(env_settings(env_id, settings, {}), 0), buffer_size=1).policy.state_dict()
    model_zip = hub_cache.zip_with_weights(repo / f"dqn-{env_id}", weights, tmp_path / "model.zip")
    files = {name: repo / name for name in ("config.yml", "env_kwargs.yml", "results.json", "args.yml", "README.md")}
    hub_cache.add_repo(hf_cache, "student/dqn-SpaceInvadersNoFrameskip-v4", {f"dqn-{env_id}.zip": model_zip, **files})

    agent = load_agent("SpaceInvaders", "student/dqn-SpaceInvadersNoFrameskip-v4")
    assert agent.sb3_version == "2.4.0" and agent.algo == "dqn"
    assert agent.published_result["mean_reward"] == 541.5
    assert agent.action_names == ("NOOP", "FIRE", "RIGHT", "LEFT", "RIGHTFIRE", "LEFTFIRE")
    assert play_to_folder(agent, tmp_path / "game", seed=0, epsilon=0.0, max_steps=30).steps == 30
