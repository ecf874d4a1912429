"""An entry measured for real, through the command line, checked game by game against stock SB3 acting on the
RL Zoo's ``create_test_env`` with the entry's published seeds: the ε-greedy draws made as the protocol says
(each game's own ``numpy.random.default_rng(seed)``: one ``random()`` a step, then ``integers(n)`` when it
explores), the score from SB3's Monitor, unclipped."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from stable_baselines3 import DQN

from agents.core.hub import fetch_agent_files
from agents.leaderboard import store
from agents.leaderboard.board import entry_details
from agents.tabs.leaderboard import entry_markdown, replay_best_game
from tests.test_independent import rl_zoo_env

ROOT = Path(__file__).resolve().parents[1]
GAME = "SpaceInvadersNoFrameskip-v4"
CAP = 1000  # a random Space Invaders game often ends before it: both ways of ending are checked


def leaderboard(*args: str, env: dict) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "agents.leaderboard", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def stock_sb3_game(model: DQN, seed: int, epsilon: float, max_steps: int) -> tuple[float, int]:
    """One game as stock SB3 plays it on the RL Zoo's environment, to game over or the step cap."""
    env = rl_zoo_env(GAME, seed)
    rng = np.random.default_rng(seed)
    observation = env.reset()
    try:
        for step in range(1, max_steps + 1):
            greedy, _ = model.predict(observation, deterministic=True)
            explores = rng.random() < epsilon
            action = np.array([rng.integers(env.action_space.n)]) if explores else greedy
            observation, _, _, infos = env.step(action)
            if "episode" in infos[0]:
                return float(infos[0]["episode"]["r"]), step
        return float(sum(env.get_attr("rewards")[0])), max_steps  # the Monitor's unclipped rewards so far
    finally:
        env.close()


@pytest.mark.slow
def test_an_entrys_scores_are_stock_sb3s_on_its_published_seeds(hf_cache, tmp_path):
    env = {**os.environ, "ARENA_DATA_DIR": str(tmp_path), "ARENA_LEADERBOARD_GAMES": "2"}
    env["ARENA_LEADERBOARD_MAX_STEPS"] = str(CAP)
    receipt = leaderboard("submit", "--repo-id", f"sb3/dqn-{GAME}", env=env)
    assert receipt["new"] and receipt["position"] == 1
    worker = leaderboard("worker", "--drain", env=env)
    board = leaderboard("show", "--game", "SpaceInvaders", env=env)
    assert board["queue"] == [] and sorted(worker["finished"]) == sorted(row["entry"] for row in board["board"])
    rows = {row["reference"]: row for row in board["board"]}
    assert set(rows) == {"sb3", "random"}  # the submitted agent is the game's sb3 one, plus the random agent
    model = DQN.load(fetch_agent_files(f"sb3/dqn-{GAME}", GAME).model_zip, device="cpu", buffer_size=1)  # ours
    for row in rows.values():
        assert len(row["seeds"]) == 2 and row["max_steps"] == CAP and row["protocol"] == board["protocol"]
        stock = [stock_sb3_game(model, seed, row["epsilon"], CAP) for seed in row["seeds"]]
        assert [score for score, _ in stock] == row["scores"], row["repo_id"]
        assert [steps for _, steps in stock] == row["episode_steps"], row["repo_id"]
        assert row["mean"] == pytest.approx(np.mean(row["scores"]))
    assert rows["random"]["epsilon"] == 1.0 and rows["sb3"]["epsilon"] == 0.01

    # The rerun the entry's page prints gives the same games; its best game, replayed through Play, is that game.
    entry = entry_details(rows["sb3"]["entry"], store.database_url(f"sqlite:///{tmp_path / 'leaderboard.sqlite3'}"))
    rerun = re.search(r"python -m agents.evaluate .*", entry_markdown(entry)).group(0)
    assert f"--revision {entry.revision}" in rerun
    rerun_summary = subprocess.run(
        rerun.replace("python", sys.executable, 1).split(), cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert json.loads(rerun_summary.stdout.strip().splitlines()[-1])["scores"] == entry.scores
    replay = replay_best_game(entry)
    best = int(np.argmax(entry.scores))
    assert (replay.seed, replay.score) == (entry.seeds[best], entry.scores[best])
    assert replay.steps == entry.episode_steps[best]
