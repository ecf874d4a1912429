"""The bugs of the newer features that the fast suite used to let through (issue 18), each checked
against a source outside the code under test: Play's games in another process, the Monitor of the RL
Zoo's environment, ``huggingface_hub``'s own view of its cache, SB3's own model and its greedy
action, the decoded video against the CSV, and the job's process as the operating system sees it.

Each test here catches one of the bugs planted by ``tests/mutants/run.py``.
"""

import contextlib
import hashlib
import io
import json
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from huggingface_hub import constants, scan_cache_dir, try_to_load_from_cache
from rl_zoo3.utils import create_test_env

from agents.core import hub as hub_module
from agents.core.agent import agent_from_files, load_agent
from agents.core.agent_files import offline_agent_files
from agents.core.catalog import get_game
from agents.core.hub import fetch_agent_files
from agents.evaluate.evaluation import evaluate_files, write_evaluation
from agents.jobs.manager import JobManager
from agents.play.episode import play_to_folder
from agents.play.overlay import BACKGROUND, FONT, MUTED, OverlayRenderer
from agents.play.rollout import play_episode
from agents.train.training import LiveProgress, TrainingSettings, train
from agents.train.training_time import PhaseClock
from tests.fake_hub import FakeHub
from tests.media import decode_frames

ROOT = Path(__file__).resolve().parents[1]
BREAKOUT = "BreakoutNoFrameskip-v4"
SPACE_INVADERS = "SpaceInvadersNoFrameskip-v4"
PONG = "PongNoFrameskip-v4"
ATARI_WRAPPER = "stable_baselines3.common.atari_wrappers.AtariWrapper"


def rl_zoo_env(env_id: str, seed: int):
    """The environment as ``rl_zoo3.enjoy`` builds it for an Atari agent: not the Arena's ``make_env``."""
    return create_test_env(
        env_id,
        n_envs=1,
        stats_path=str(ROOT),  # turns on the frame stack; nothing is read from it
        seed=seed,
        hyperparams={"env_wrapper": ATARI_WRAPPER, "frame_stack": 4, "normalize": False},
        env_kwargs={"render_mode": "rgb_array"},
    )


@contextlib.contextmanager
def one_thread():
    """Torch on one thread, as Play runs it: a batch of one runs many times faster so, most of all when busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def q_table(table: pd.DataFrame) -> np.ndarray:
    return table[[column for column in table.columns if column.startswith("q_")]].to_numpy(float)


# Evaluate: each game's row is its own seed's game, and its score is the game's, unclipped.

# Random play (ε = 1) of the test cache's Breakout agent: seeds 10, 11 and 12 end (game over) after 141, 113
# and 115 steps. Two workers share the seeds as 10, 12 and 11, the first playing its two games side by side,
# so it reports seed 12 before seed 10: the results cannot arrive in seed order.
PLAY_SEEDS = (
    "import sys\n"
    "from agents.play.__main__ import main\n"
    "for seed in sys.argv[2:]:\n"
    "    command = ['--game', 'Breakout', '--seed', seed, '--epsilon', '1', '--max-steps', '200']\n"
    "    assert main([*command, '--out', f'{sys.argv[1]}/{seed}']) == 0\n"
)


def test_each_evaluated_game_is_the_game_play_shows_for_its_seed_with_two_workers(hf_cache, tmp_path):
    """Evaluate's row for seed k (games.csv) is the game Play shows for seed k, played in another process
    by the command line, although with two workers the games end in another order than their seeds'."""
    seeds = ["10", "11", "12"]
    play = subprocess.Popen(
        [sys.executable, "-c", PLAY_SEEDS, str(tmp_path / "play"), *seeds],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        files = fetch_agent_files(f"sb3/dqn-{BREAKOUT}", BREAKOUT)
        evaluation = evaluate_files(files, get_game("Breakout"), 3, 1.0, 200, first_seed=10, workers=2)
        _, games_csv = write_evaluation(evaluation, tmp_path / "evaluation")
        out, err = play.communicate(timeout=120)
    finally:
        play.kill()
    assert play.returncode == 0, err[-2000:]
    summaries = {str(s["seed"]): s for s in map(json.loads, filter(None, out.splitlines()))}
    lengths = [summaries[seed]["steps"] for seed in seeds]
    assert len(set(lengths)) == 3 and lengths[2] < lengths[0], f"the games no longer end out of order: {lengths}"
    rows = pd.read_csv(games_csv)
    assert rows["seed"].tolist() == [10, 11, 12]
    for row in rows.itertuples():
        played = summaries[str(row.seed)]
        assert (row.score, row.steps, row.game_over) == (played["score"], played["steps"], played["terminated"]), (
            f"seed {row.seed}: Evaluate says {row.score} in {row.steps} steps, Play {played}"
        )


def test_evaluate_reports_the_games_unclipped_score(hf_cache, tmp_path):
    """Space Invaders scores 5 to 30 points an alien: the score in games.csv and results.json is the one
    the RL Zoo environment's Monitor records for the game's actions, not the sum of the rewards' signs."""
    seed, cap = 6, 400  # random play: game over after about 280 steps, about 80 points
    agent = load_agent("SpaceInvaders")
    evaluation = evaluate_files(agent.files, agent.game, 1, epsilon=1.0, max_steps=cap, first_seed=seed, workers=1)
    results_json, games_csv = write_evaluation(evaluation, tmp_path)
    with one_thread():
        actions = [step.action for step in play_episode(agent.q_function, agent.settings, seed, 1.0, cap)]
    env = rl_zoo_env(SPACE_INVADERS, seed)
    clipped, episode = 0.0, None  # the environment hands the agent clipped rewards; its Monitor keeps the game's
    try:
        env.reset()
        for action in actions:
            _, reward, _, infos = env.step(np.array([action]))
            clipped += float(reward[0])
            episode = infos[0].get("episode", episode)
    finally:
        env.close()
    assert episode is not None, "the game did not end within the cap"
    unclipped = float(episode["r"])
    assert unclipped > clipped, "this game's rewards are all 1: it cannot tell clipping apart"
    assert pd.read_csv(games_csv)["score"].tolist() == [unclipped]
    assert json.loads(results_json.read_text())["mean_reward"] == unclipped


# The Hub: a newer revision is used only once all its files have arrived.


def background_checks_done(timeout: float = 30) -> None:
    for thread in threading.enumerate():
        if thread.name.startswith("revision-"):
            thread.join(timeout)
            assert not thread.is_alive(), "a background revision check did not finish"


@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    """A running fake Hub that this process downloads from, into an empty cache of the test's own."""
    with FakeHub() as hub:
        for name, value in hub.client_constants().items():
            monkeypatch.setattr(constants, name, value)
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
        monkeypatch.setattr(hub_module, "_news", {})
        monkeypatch.setattr(hub_module, "_last_check", {})
        yield hub
        background_checks_done()


def test_a_newer_revision_is_not_used_before_its_model_has_arrived(hf_cache, fake_hub, monkeypatch):
    """While a newer revision's model zip is still downloading (the Hub's CDN is slow), huggingface_hub's
    own view of the cache (``try_to_load_from_cache``, ``scan_cache_dir``) still has ``main`` at the old
    revision, whole; once the zip has arrived, at the new one."""
    repo, zip_name = f"sb3/dqn-{PONG}", f"dqn-{PONG}.zip"
    snapshot = next((hf_cache / f"models--sb3--dqn-{PONG}" / "snapshots").iterdir())
    files = {path.name: path.read_bytes() for path in snapshot.iterdir()}
    first = fake_hub.add_repo(repo, files)
    fetch_agent_files(repo, PONG)  # not cached yet: downloaded now, no background check
    newer_zip = io.BytesIO(files[zip_name])
    with zipfile.ZipFile(newer_zip, "a") as archive:
        archive.comment = b"a newer revision"
    second = fake_hub.add_repo(repo, {**files, zip_name: newer_zip.getvalue()})
    arrive = threading.Event()  # the Hub's bodies wait for it: the new zip (the one body needed) is slow
    monkeypatch.setattr(fake_hub, "_wait", lambda method: arrive.wait(30) if method == "GET" else None)
    cache = constants.HF_HUB_CACHE

    def main_commit() -> str:
        (cached,) = [entry for entry in scan_cache_dir(cache).repos if entry.repo_id == repo]
        return cached.refs["main"].commit_hash

    try:
        assert fetch_agent_files(repo, PONG).model_zip.parent.name == first  # cached: the background check starts
        deadline = time.monotonic() + 20
        while ("GET", f"/cdn/{hashlib.sha256(newer_zip.getvalue()).hexdigest()}") not in fake_hub.requests:
            assert time.monotonic() < deadline, f"the new model was never asked for: {fake_hub.requests}"
            time.sleep(0.02)
        in_cache = try_to_load_from_cache(repo, zip_name, cache_dir=cache)  # the zip's body is on its way
        assert main_commit() == first, "main moved to the new revision before its model zip arrived"
        assert isinstance(in_cache, str) and Path(in_cache).read_bytes() == files[zip_name]
    finally:
        arrive.set()
    background_checks_done()
    assert main_commit() == second
    assert Path(try_to_load_from_cache(repo, zip_name, cache_dir=cache)).read_bytes() == newer_zip.getvalue()


# Training: a trained start acts with its own network from the first step; Cancel stops a job.


class FirstSteps(LiveProgress):
    """Records, at each of the run's first steps, SB3's own ``learning_starts``, the action SB3 took, and
    SB3's greedy action for the observation it was taken on; then stops the run."""

    def __init__(self, hyperparameters: dict, steps: int) -> None:
        super().__init__(int(hyperparameters["n_timesteps"]), PhaseClock(hyperparameters, None, own_play=True))
        self.steps = steps
        self.seen: list[tuple[int, int, int]] = []

    def _on_step(self) -> bool:
        greedy, _ = self.model.policy.predict(self.model._last_obs, deterministic=True)  # what it acted on
        self.seen.append((int(self.model.learning_starts), int(self.locals["actions"][0]), int(greedy[0])))
        self.cancel_requested = len(self.seen) >= self.steps
        return super()._on_step()


def test_fine_tuning_acts_with_the_agents_network_from_the_first_step(hf_cache, tmp_path):
    """From a trained start, SB3 itself has ``learning_starts`` 0 (so it does not play uniformly random
    actions until learning starts), and the actions it takes are its network's greedy ones but for ε = 0.05,
    where a random player would agree with the network about once in four (Breakout's four actions)."""
    settings = TrainingSettings(
        game="Breakout",
        start="pretrained",
        hyperparameters={"n_timesteps": 1000, "learning_starts": 1000, "buffer_size": 1000},
        eval_freq=-1,
        save_freq=-1,
    )
    watch = FirstSteps(settings.resolved_hyperparameters(), steps=120)
    with one_thread():
        train(settings, tmp_path / "run", progress=watch)
    learning_starts, taken, greedy = map(np.array, zip(*watch.seen, strict=True))
    assert len(taken) == 120 and set(learning_starts) == {0}, "SB3 plays randomly until learning_starts"
    agreement = np.mean(taken == greedy)
    assert agreement >= 0.85, f"only {agreement:.0%} of the first actions are the network's: random play"


def test_cancel_stops_a_training_job_within_seconds(hf_cache, tmp_path):
    """A few seconds after Cancel the job's process has ended, its status says cancelled, and the model it
    saved has SB3's own step count far below the run's length, the same as the job's progress says."""
    total = 200_000  # random play only (learning_starts = total): minutes to run to its end
    settings = TrainingSettings(
        game="Breakout",
        start="scratch",
        hyperparameters={"n_timesteps": total, "learning_starts": total, "buffer_size": 1000},
        eval_freq=-1,
        save_freq=-1,
    )
    jobs = JobManager(tmp_path)
    jobs.start(settings)
    try:
        deadline = time.monotonic() + 90
        while (jobs.status()["progress"] or {}).get("timesteps", 0) <= 0:  # training, its Cancel handler set
            assert time.monotonic() < deadline and jobs.running(), jobs.status()
            time.sleep(0.2)
        jobs.cancel()
        status = jobs.wait(timeout=20)
        assert jobs.process.poll() is not None, f"the job still runs 20 s after Cancel: {status['progress']}"
        assert status["status"] == "cancelled", status.get("error")
    finally:
        if jobs.running():
            jobs.process.kill()
            jobs.process.wait(timeout=30)
    run = Path(status["run_folder"])
    with zipfile.ZipFile(run / f"{BREAKOUT}.zip") as saved:
        sb3_steps = json.loads(saved.read("data"))["num_timesteps"]
    assert 0 < sb3_steps < total // 4 and status["progress"]["timesteps"] == sb3_steps


# The Q-value panel: read off the decoded video, against the CSV's Q-values.


@pytest.fixture(scope="module")
def panel_game(tmp_path_factory):
    """A greedy game of the shipped Breakout agent (trained: its values rise and fall), its CSV's Q-values,
    its decoded frames, and where the panel's rows are."""
    agent = agent_from_files(offline_agent_files(BREAKOUT), get_game("Breakout"))
    game = play_to_folder(agent, tmp_path_factory.mktemp("panel"), seed=1, epsilon=0.0, max_steps=120)
    layout = OverlayRenderer(agent.action_names, (210, 160, 3), agent_view=False)
    frames = decode_frames(game.video, *layout.size)
    assert len(frames) == game.steps == 120
    return game.table, q_table(game.table), frames.astype(np.int16), layout


def row_span(layout: OverlayRenderer, row: int) -> slice:
    top = layout.bars_top + row * layout.row_height
    return slice(top, top + layout.row_height)


def bar_length(frame: np.ndarray, layout: OverlayRenderer, row: int) -> int:
    """Pixels of the green (best action's) bar across the middle of ``row``."""
    middle = layout.bars_top + row * layout.row_height + layout.row_height // 2
    line = frame[middle, layout.panel_x :]
    green = np.flatnonzero(line[:, 1] - line[:, 0] > 40)
    return int(green.max() - green.min() + 1) if len(green) else 0


def drawn_title(text: str, layout: OverlayRenderer, top: int, bottom: int) -> np.ndarray:
    image = np.full((bottom - top, layout.width - layout.panel_x, 3), BACKGROUND, np.uint8)
    cv2.putText(image, text, (0, layout.bars_top - 14 - top), FONT, 0.45, MUTED, 1, cv2.LINE_AA)
    return image.astype(np.int16)


def test_the_bars_scale_only_widens_during_a_game(panel_game):
    """The best action's bar is as long, against its length in the first frame (where its value was the
    largest so far), as its Q-value against the largest Q-value of the game so far: the scale does not
    shrink when the values fall. The scale written above the bars says the largest so far."""
    _, q, frames, layout = panel_game
    assert q.min() >= 0, "the bars of this game start at the scale's left end"
    best = q.max(axis=1)
    widest = np.maximum.accumulate(best)
    full = bar_length(frames[0], layout, int(q[0].argmax()))
    measured = (
        np.array([bar_length(frame, layout, int(values.argmax())) for frame, values in zip(frames, q, strict=True)])
        / full
    )
    assert np.sum(best / widest < 0.9) >= 30, "the values hardly fall in this game: it tells nothing"
    np.testing.assert_allclose(measured, best / widest, atol=0.04)
    top, bottom = layout.bars_top - 30, layout.bars_top - 6
    closer = []
    for step in range(len(q)):
        right, wrong = (f"Q-values (bars from 0 to {value:.2f})" for value in (widest[step], best[step]))
        if right != wrong:
            region = frames[step, top:bottom, layout.panel_x :]
            distances = [np.abs(region - drawn_title(text, layout, top, bottom)).mean() for text in (right, wrong)]
            closer.append(distances[0] < distances[1])
    assert len(closer) >= 30 and np.mean(closer) >= 0.9, f"the title reads the step's own maximum: {closer}"


def test_the_highlighted_row_is_the_action_taken(panel_game):
    """The row framed as chosen (its frame's right edge, past the values, is the only bright thing there)
    is the CSV's action, which in greedy play is its largest Q-value."""
    table, q, frames, layout = panel_game
    edge = slice(layout.width - 9, layout.width - 6)
    rows = range(q.shape[1])
    framed = [int(np.argmax([frame[row_span(layout, row), edge].mean() for row in rows])) for frame in frames]
    assert len(set(table["action"])) >= 2, "one action all game: it tells nothing"
    assert (table["action"].to_numpy() == q.argmax(axis=1)).all()
    assert framed == table["action"].tolist()
