"""Evaluate: the game with seed k is Play's game with seed k, whatever else is played; the scores agree with
stock SB3 playing greedily on the RL Zoo's environment; the sentences beside the card say the right thing."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from rl_zoo3.utils import create_test_env
from stable_baselines3 import DQN

from agents.core.agent_files import offline_agent_files
from agents.core.catalog import get_game
from agents.core.errors import AgentError
from agents.core.stopping import Stopped, stop_on
from agents.evaluate.benchmark import PublishedScore, benchmark_score, card_score, verdict
from agents.evaluate.evaluation import Evaluation, evaluate, write_evaluation
from agents.play.episode import play_to_folder
from agents.tabs.evaluate import evaluation_markdown, histogram_data, run_evaluation
from tests.conftest import small_disk
from tests.processes import descendants, process_name, running

ROOT = Path(__file__).resolve().parents[1]
BREAKOUT = "BreakoutNoFrameskip-v4"
EVALUATION_WORKER = "arena-eval"  # the name evaluation workers take: what ps and top show


@pytest.fixture(scope="module")
def shipped():
    """The shipped Breakout agent: trained, so its games are long and its actions far from random."""
    from agents.core.agent import agent_from_files

    return agent_from_files(offline_agent_files(BREAKOUT), get_game("Breakout"))


@pytest.mark.slow
@pytest.mark.parametrize("epsilon", [0.01, 0.2])
def test_the_game_with_seed_k_is_the_same_in_play_and_in_evaluations_of_any_size(shipped, tmp_path, epsilon):
    seed = 7
    game = play_to_folder(shipped, tmp_path, seed=seed, epsilon=epsilon, max_steps=10_000)
    alone = evaluate(shipped, n_episodes=1, first_seed=seed, epsilon=epsilon, max_steps=10_000)
    among = evaluate(shipped, n_episodes=6, first_seed=seed - 3, epsilon=epsilon, max_steps=10_000)
    assert (alone.scores[0], alone.episode_steps[0]) == (game.score, game.steps)
    k = among.seeds.index(seed)
    assert (among.scores[k], among.episode_steps[k]) == (game.score, game.steps)
    one_worker = evaluate(shipped, n_episodes=6, first_seed=seed - 3, epsilon=epsilon, max_steps=10_000, workers=1)
    assert one_worker.scores == among.scores and one_worker.episode_steps == among.episode_steps


def stock_sb3_greedy_game(seed: int) -> tuple[float, int]:
    """A whole game as stock SB3 plays it: ``DQN.load`` and ``predict(deterministic=True)`` on the RL Zoo's
    ``create_test_env``, score from the Monitor's episode info."""
    folder = ROOT / "offline_agents" / BREAKOUT
    model = DQN.load(folder / f"dqn-{BREAKOUT}.zip", device="cpu", buffer_size=1)  # our own file
    hyperparams = {"env_wrapper": "stable_baselines3.common.atari_wrappers.AtariWrapper", "frame_stack": 4}
    env = create_test_env(
        BREAKOUT,
        n_envs=1,
        stats_path=str(ROOT),
        seed=seed,
        hyperparams={**hyperparams, "normalize": False},
        env_kwargs={"render_mode": "rgb_array"},
    )
    observation, steps = env.reset(), 0
    try:
        while True:
            action, _ = model.predict(observation, deterministic=True)
            observation, _, _, infos = env.step(action)
            steps += 1
            if "episode" in infos[0]:
                return float(infos[0]["episode"]["r"]), steps
    finally:
        env.close()


@pytest.mark.slow
def test_greedy_scores_agree_with_stock_sb3_on_the_rl_zoo_environment(shipped):
    evaluation = evaluate(shipped, n_episodes=2, first_seed=3, epsilon=0.0, max_steps=27_000)
    for seed, score, steps in zip(evaluation.seeds, evaluation.scores, evaluation.episode_steps, strict=True):
        assert (score, steps) == stock_sb3_greedy_game(seed)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"episodes": 0}, "number of games must be a whole number from 1 to 100, not 0"),
        ({"episodes": 101}, "number of games must be a whole number from 1 to 100"),
        ({"epsilon": 1.5}, "epsilon must be a number from 0 to 1, not 1.5"),
        ({"max_steps": 0}, "step cap must be a whole number from 1 to 100,000"),
        ({"first_seed": -1}, "first seed must be a whole number from 0"),
        ({"game": "Tetris"}, "Unknown game 'Tetris'"),
    ],
)
def test_bad_inputs_are_refused_before_anything_runs(inputs, message):
    arguments = {"game": "Breakout", "repo_id": "", "episodes": 2, "first_seed": 0, "epsilon": 0.01, "max_steps": 100}
    with pytest.raises(AgentError, match=message):
        run_evaluation(**(arguments | inputs))


def test_the_report_the_page_shows(hf_cache):
    """A short evaluation through the tab's function: statistics, sentences, histogram, files."""
    report = run_evaluation("Breakout", "", 3, 0, 0.01, 200)
    assert max(report.evaluation.episode_steps) <= 200
    text = evaluation_markdown(report)
    assert "over 3 games" in text and "mean − std" in text
    assert "the model card, 123.0 ± 10.0 over 10 games, ε-greedy" in text  # the test cache's results.json
    assert "the RL Zoo's benchmark for its own DQN agent (10M steps), 358.3 ± 62.0 over 55 games" in text
    assert json.loads(report.results_json.read_text())["n_eval_episodes"] == 3
    assert report.games_csv.read_text().splitlines()[0] == "seed,score,steps,game_over"
    assert histogram_data(report.evaluation)["games"].sum() == 3


def worker_children(ancestor: int | None = None) -> list[int]:
    """The evaluation workers under ``ancestor`` (this process by default): forks of its worker server, under the
    name they take, as /proc lists them."""
    return [pid for pid in descendants(ancestor or os.getpid()) if process_name(pid) == EVALUATION_WORKER]


def test_an_evaluation_whose_request_ended_stops_and_leaves_no_worker(shipped):
    """The app's stop (set when a visitor cancels or leaves) ends an evaluation at the caps within a second,
    its workers killed and reaped; with no stop set, the same call plays on (the other tests)."""
    stop, seen = threading.Event(), []

    def stop_once_both_started() -> None:
        deadline = time.monotonic() + 30
        while len(workers := worker_children()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        seen.append((workers, time.monotonic()))
        stop.set()

    threading.Thread(target=stop_once_both_started, daemon=True).start()
    with stop_on(stop), pytest.raises(Stopped):
        evaluate(shipped, n_episodes=100, max_steps=100_000, workers=2)
    workers, stop_time = seen[0]
    assert len(workers) == 2 and worker_children() == []  # killed and reaped before evaluate returned
    assert time.monotonic() - stop_time < 1


def test_a_worker_killed_from_outside_ends_the_evaluation_saying_so_and_leaves_no_worker(shipped):
    """A worker killed mid-game (as the kernel's out-of-memory killer would) ends the evaluation at once with
    its exit status; the other worker is killed and reaped, and the next evaluation forks new ones."""
    seen = []

    def kill_one_once_both_started() -> None:
        deadline = time.monotonic() + 30
        while len(workers := worker_children()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        seen.append((workers, time.monotonic()))
        os.kill(workers[0], signal.SIGKILL)

    threading.Thread(target=kill_one_once_both_started, daemon=True).start()
    with pytest.raises(AgentError, match=r"An evaluation worker stopped \(status -9\)"):
        evaluate(shipped, n_episodes=100, max_steps=100_000, workers=2)
    workers, kill_time = seen[0]
    assert len(workers) == 2 and worker_children() == []
    assert time.monotonic() - kill_time < 2
    assert evaluate(shipped, n_episodes=2, max_steps=50, workers=2).episode_steps == [50, 50]


EVALUATING = f"""
from agents.core.agent_files import offline_agent_files
from agents.core.catalog import get_game
from agents.evaluate.evaluation import evaluate_files
evaluate_files(offline_agent_files("{BREAKOUT}"), get_game("Breakout"), 100, max_steps=100_000, workers=2)
"""


def test_a_process_killed_mid_evaluation_leaves_no_worker_and_no_server():
    """The app (or a command line) killed mid-evaluation, as an out-of-memory kill or a Space restart would: its
    workers' server finds its input closed, kills the workers and ends, within seconds."""
    process = subprocess.Popen([sys.executable, "-c", EVALUATING], cwd=ROOT)
    deadline = time.monotonic() + 60
    while len(worker_children(process.pid)) < 2:
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    below = descendants(process.pid)  # the server and its two workers
    assert len(below) == 3
    process.kill()
    process.wait()
    deadline = time.monotonic() + 5
    while any(running(pid) for pid in below) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in below if running(pid)]


def test_the_sentence_beside_a_published_score():
    scores = [100.0, 110.0, 90.0, 105.0, 95.0]
    evaluation = Evaluation(scores, list(range(5)), 0.01, [1000] * 5, [True] * 5)
    near = PublishedScore("the model card", 102.0, 10.0, 10, True)
    assert verdict(evaluation, near) == (
        "100.0 ± 7.1 over 5 games is consistent with the model card, 102.0 ± 10.0 over 10 games, greedy "
        "(-0.4 standard errors); it played greedily, this evaluation with ε = 0.01."
    )
    far = PublishedScore("the model card", 170.0, None, None, None)
    assert verdict(evaluation, far).startswith("100.0 ± 7.1 over 5 games is 19.8 standard errors below the model card")
    assert card_score({"mean_reward": "many"}) is None and card_score(None) is None
    assert benchmark_score("dqn", "RoadRunnerNoFrameskip-v4").mean == pytest.approx(40396.35)
    assert benchmark_score("dqn", "CartPole-v1") is None


@pytest.mark.slow
def test_the_command_line_prints_the_games_in_seed_order(tmp_path):
    command = [sys.executable, "-m", "agents.evaluate", "--game", "Breakout", "--episodes", "3", "--first-seed", "4"]
    command += ["--max-steps", "300", "--out", str(tmp_path)]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["seeds"] == [4, 5, 6] and len(summary["scores"]) == len(summary["episode_steps"]) == 3
    assert summary["mean"] == pytest.approx(np.mean(summary["scores"])) and summary["seconds"] > 0
    assert "3/3 games finished" in run.stderr
    assert (tmp_path / "results.json").is_file() and (tmp_path / "games.csv").is_file()
    bad = subprocess.run([*command[:5], "--episodes", "0"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "error: number of games must be" in bad.stderr


@pytest.fixture
def full_disk(tmp_path):
    """A 64 kB disk filled but for 4 kB."""
    with small_disk(tmp_path / "disk", 64, free_kb=4) as disk:
        yield disk


def test_a_full_disk_while_evaluate_writes_its_files_leaves_none_and_says_so(full_disk):
    n = 100  # a CSV of 100 games is more than the 4 kB left
    evaluation = Evaluation(
        scores=[float(score) for score in range(n)],
        seeds=list(range(n)),
        epsilon=0.01,
        episode_steps=[1000] * n,
        terminated=[True] * n,
    )
    message = (
        r"The 100 games were played \(mean 49\.5 ± 28\.9\), but their files \(results\.json, games\.csv\) could not "
        r"be written: the disk is full\. Free some disk space, or on a Space try again in a while"
    )
    with pytest.raises(AgentError, match=message) as refused:
        write_evaluation(evaluation, full_disk / "evaluation-1")
    assert str(full_disk) not in str(refused.value)  # no server path for a visitor
    assert list((full_disk / "evaluation-1").iterdir()) == []  # no half-written file
    assert os.statvfs(full_disk).f_bfree * os.statvfs(full_disk).f_bsize >= 4096  # what was free is free again
