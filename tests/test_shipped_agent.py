"""The agent shipped in offline_agents/: it plays well through the Play pipeline, with no network
and an empty Hub cache. This is the end-to-end check that the pipeline feeds the network what it
was trained on: a trained agent fed anything else plays no better than chance."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from agents.core.agent import agent_from_files
from agents.core.agent_files import OFFLINE_AGENTS, offline_agent_files
from agents.core.catalog import GAMES
from agents.evaluate.evaluation import evaluate
from tests.shipped import offline_default_game

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(path.parent.name for path in OFFLINE_AGENTS.glob("*/dqn-*.zip"))
GAME_OF = {game.env_id: game for game in GAMES.values()}


def test_the_arena_ships_an_offline_agent():
    assert SHIPPED, "offline_agents/ holds no agent"
    for env_id in SHIPPED:
        size = (OFFLINE_AGENTS / env_id / f"dqn-{env_id}.zip").stat().st_size
        assert size < 30_000_000, f"{env_id}'s agent is {size} bytes: not compact"


@pytest.mark.parametrize("env_id", SHIPPED)
def test_the_shipped_agent_beats_a_random_policy_by_a_wide_margin(env_id):
    agent = agent_from_files(offline_agent_files(env_id), GAME_OF[env_id])
    # Seeds other than those of its recorded evaluation (0-9), as the RL Zoo scores: ε = 0.01.
    trained = evaluate(agent, n_episodes=5, first_seed=100)
    random = evaluate(agent, n_episodes=5, epsilon=1.0, first_seed=100)
    assert trained.mean >= 4 * max(random.mean, 1.0) and trained.mean - random.mean >= 5, (trained, random)
    recorded = json.loads((OFFLINE_AGENTS / env_id / "results.json").read_text())
    assert recorded["n_eval_episodes"] >= 10 and recorded["mean_reward"] >= 4 * max(random.mean, 1.0)
    # The random policy's score on the recorded seeds: what the default offline game is picked by.
    assert recorded["random_mean_reward"] <= random.mean + 5 * max(random.std, 1.0), (recorded, random)


@pytest.mark.parametrize("env_id", SHIPPED)
def test_with_no_network_and_an_empty_cache_the_shipped_agent_plays(env_id, tmp_path):
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "empty-cache"), "HF_HUB_OFFLINE": "1"}
    game = GAME_OF[env_id].key
    default = subprocess.run(
        [sys.executable, "-c", "from agents.core.agent_files import first_playable_game; print(first_playable_game())"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert default.stdout.strip() == offline_default_game(), default.stderr[-2000:]
    command = [sys.executable, "-m", "agents.play", "--game", game, "--max-steps", "300", "--out", str(tmp_path / "o")]
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["repo"] == f"offline agent dqn-{env_id}" and summary["steps"] > 0


@pytest.mark.parametrize("env_id", SHIPPED)
def test_the_shipped_agent_loads_in_stock_sb3_as_rl_zoo_enjoy_loads_it(env_id):
    """Users take the offline agent into the RL Zoo: SB3's own ``DQN.load`` (which refuses a file without
    an optimizer state) reads it, with the weights the Arena plays."""
    from stable_baselines3 import DQN

    model_zip = OFFLINE_AGENTS / env_id / f"dqn-{env_id}.zip"
    model = DQN.load(model_zip, device="cpu", buffer_size=1)  # our own file: unpickling it is safe
    ours = agent_from_files(offline_agent_files(env_id), GAME_OF[env_id]).q_function.network.state_dict()
    for name, value in ours.items():
        assert torch.equal(model.policy.q_net.state_dict()[name], value), name
