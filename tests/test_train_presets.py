"""The Train tab's presets: the fast one (environments in parallel) learns as the RL Zoo's run does, and
fine-tuning values keep a trained agent's skill where the RL Zoo's from-scratch values throw it away."""

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.core.environment import read_rl_zoo_yaml
from agents.core.run_folder import RunFolder
from agents.play.episode import play_to_folder
from agents.tabs.train import default_hyperparameters, fast_preset_note, fast_preset_values, job_settings_line
from agents.train.hyperparams import (
    FINE_TUNING,
    fast_n_envs,
    fast_preset,
    replay_ratio,
    rl_zoo_atari_defaults,
    start_values,
    target_update_transitions,
)
from agents.train.training import LiveProgress, TrainingSettings, run_agent, train
from agents.train.training_time import PhaseClock
from tests import hub_cache

ROOT = Path(__file__).resolve().parents[1]
PONG = "PongNoFrameskip-v4"
BREAKOUT = "BreakoutNoFrameskip-v4"
# A short run of the RL Zoo's values, on batches of 16 rather than 32: its 500 gradient steps take a quarter less
# time, and the Q-values still fall clearly (by 0.046 and 0.059 plain and fast, where 32 gave 0.060 and 0.021).
SHORT = {
    "n_timesteps": 3000,
    "learning_starts": 1000,
    "buffer_size": 3000,
    "target_update_interval": 400,
    "batch_size": 16,
}


@pytest.mark.parametrize("cores", [2, 4, 8, 16, 48])
def test_the_fast_preset_keeps_the_rl_zoos_learning_numbers(cores):
    rl_zoo = rl_zoo_atari_defaults()
    fast = fast_preset(rl_zoo, fast_n_envs(rl_zoo, cores))
    assert 1 < fast["n_envs"] <= cores
    assert replay_ratio(fast) == replay_ratio(rl_zoo) == 1 / 4  # one gradient step per 4 transitions
    assert target_update_transitions(fast) == target_update_transitions(rl_zoo) == 1000
    for name in ("batch_size", "learning_starts", "buffer_size", "exploration_fraction", "exploration_final_eps"):
        assert fast[name] == rl_zoo[name]
    assert fast_preset(fast, 1) == rl_zoo  # and off again


def test_the_form_says_why_the_fast_preset_is_faster_and_that_it_learns_the_same():
    form = fast_preset_values(default_hyperparameters("scratch"), on=True)
    note = fast_preset_note(form)
    assert f"{form['n_envs']} environments step at once" in note
    assert "0.25 gradient steps per transition" in note and "every 1,000 transitions" in note
    assert fast_preset_values(form, on=False)["n_envs"] == 1


class Recorder(LiveProgress):
    """What SB3 did at each step: ε, the gradient steps so far, and when the target network changed."""

    def __init__(self, hyperparameters: dict) -> None:
        super().__init__(int(hyperparameters["n_timesteps"]), PhaseClock(hyperparameters, None))
        self.steps: dict[int, tuple[float, int]] = {}
        self.target_changes: list[int] = []
        self.target_sum: float | None = None
        self.mean_q: list[float] = []

    def _on_step(self) -> bool:
        model = self.model
        self.steps[model.num_timesteps] = (model.exploration_rate, model._n_updates)
        with torch.no_grad():
            target_sum = sum(float(p.sum()) for p in model.q_net_target.parameters())
        if self.target_sum is not None and target_sum != self.target_sum:
            self.target_changes.append(model.num_timesteps)
        self.target_sum = target_sum
        if model.num_timesteps in (SHORT["learning_starts"], SHORT["n_timesteps"]):
            with torch.no_grad():
                observations = model.replay_buffer.sample(512).observations
                self.mean_q.append(float(model.q_net(observations).mean()))
        return super()._on_step()


def record_run(out: Path, n_envs: int) -> tuple[Recorder, Path]:
    values = {**start_values("scratch"), **SHORT}
    fast = fast_preset(values, n_envs)
    hyperparameters = {**SHORT, "n_envs": fast["n_envs"], "gradient_steps": fast["gradient_steps"]}
    settings = TrainingSettings(
        game="Pong", start="scratch", hyperparameters={**hyperparameters, "learning_rate": 5e-4}, eval_freq=-1
    )
    recorder = Recorder(settings.resolved_hyperparameters())
    return recorder, train(settings, out, progress=recorder).path


@pytest.fixture(scope="module")
def plain_and_fast(tmp_path_factory):
    plain = record_run(tmp_path_factory.mktemp("plain"), n_envs=1)
    fast = record_run(tmp_path_factory.mktemp("fast"), n_envs=2)
    return plain, fast


@pytest.mark.slow
def test_a_fast_run_steps_as_the_rl_zoos_run_in_transitions(plain_and_fast):
    """SB3's own counters, read as it trains: the same ε schedule over transitions (SB3 updates ε after each
    step of all environments, so the fast run reads it from one transition further back), the same gradient
    steps per transition (SB3 checks learning_starts at the end of each update period, so the fast run's
    first update comes one period of the plain run, 4 transitions, later), and as many in all."""
    (plain, plain_path), (fast, fast_path) = plain_and_fast
    assert set(fast.steps) == set(range(2, SHORT["n_timesteps"] + 1, 2))
    for steps in fast.steps:
        assert fast.steps[steps][0] == plain.steps[steps - 1][0], steps  # both the schedule at steps - 2
        if steps % 8 == 0:  # a whole update period of both: 4 transitions by 1, 4 steps of 2 environments
            assert fast.steps[steps][1] == plain.steps[steps - 4][1], steps
    for path in (plain_path, fast_path):
        with zipfile.ZipFile(path / f"{PONG}.zip") as saved:
            updates = json.loads(saved.read("data"))["_n_updates"]
        assert updates == (SHORT["n_timesteps"] - SHORT["learning_starts"]) // 4
    # The target network is copied after the step that reaches each period: seen at the next step.
    updates = list(range(1200, SHORT["n_timesteps"], 400))
    assert [steps - 1 for steps in plain.target_changes] == [steps - 2 for steps in fast.target_changes] == updates


@pytest.mark.slow
def test_a_fast_run_learns(plain_and_fast):
    """Pong's rewards in random play are -1s: the Q-values, about 0 at the start, move down towards them."""
    (plain, _), (fast, _) = plain_and_fast
    for run in (plain, fast):
        first, last = run.mean_q
        assert last < first - 0.02 and last < 0


@pytest.mark.slow
def test_a_fast_run_folder_is_what_rl_zoo_enjoy_and_the_play_tab_read(plain_and_fast, tmp_path):
    _, (_, path) = plain_and_fast
    run = RunFolder(path, PONG)
    assert read_rl_zoo_yaml(run.config)["n_envs"] == 2
    assert read_rl_zoo_yaml(path / PONG / "args.yml")["vec_env"] == "subproc"
    command = [sys.executable, "-m", "rl_zoo3.enjoy", "--algo", "dqn", "--env", PONG, "-f", str(path.parents[1])]
    enjoy = subprocess.run([*command, "--no-render", "-n", "200"], capture_output=True, text=True, timeout=300)
    assert enjoy.returncode == 0, enjoy.stderr[-3000:]
    agent = run_agent(run)
    assert play_to_folder(agent, tmp_path, seed=0, epsilon=0.0, max_steps=30).steps == 30


def test_a_trained_start_gets_fine_tuning_values_and_scratch_the_rl_zoos():
    assert start_values("scratch") == rl_zoo_atari_defaults()
    fine = start_values("pretrained")
    assert fine["exploration_initial_eps"] == FINE_TUNING["exploration_initial_eps"] < 0.1
    assert fine["learning_starts"] == fine["buffer_size"] and fine["n_timesteps"] < 1_000_000
    assert start_values("someone/dqn-PongNoFrameskip-v4") == fine
    assert TrainingSettings("Pong", "scratch").resolved_hyperparameters()["exploration_initial_eps"] == 1.0
    status = {"game": "Pong", "settings": {"start": "pretrained", "seed": 0, "hyperparameters": {}}}
    assert job_settings_line(status) == "Pong from the pretrained agent, seed 0, fine-tuning values"


def first_episode_scores(settings: TrainingSettings, out: Path) -> list[float]:
    progress = LiveProgress(0, PhaseClock(settings.resolved_hyperparameters(), None))
    train(settings, out, progress=progress)
    return [score for _, score in progress.episodes]


@pytest.mark.slow
def test_fine_tuning_plays_like_the_trained_agent_from_its_first_episodes(hf_cache, tmp_path):
    """The shipped Breakout agent (its card's score as a Hub repo's results.json): with fine-tuning values its first
    games score like it, where a random player (the RL Zoo's values play randomly until learning_starts)
    scores about 1."""
    shipped = ROOT / "offline_agents" / BREAKOUT / f"dqn-{BREAKOUT}.zip"
    repo = f"tester/trained-dqn-{BREAKOUT}"
    card = json.loads((shipped.parent / "results.json").read_text())
    hub_cache.add_rl_zoo_repo(hf_cache, repo, BREAKOUT, shipped, mean_reward=card["mean_reward"])
    budget = {"n_timesteps": 3000, "buffer_size": 3000, "learning_starts": 3000}
    fine = TrainingSettings("Breakout", repo, budget, eval_freq=-1, save_freq=-1)
    random_play = TrainingSettings("Breakout", "scratch", budget, eval_freq=-1, save_freq=-1)
    fine_scores = first_episode_scores(fine, tmp_path / "fine")
    random_scores = first_episode_scores(random_play, tmp_path / "random")
    assert len(fine_scores) >= 1 and len(random_scores) >= 3
    assert np.mean(fine_scores) >= 15, fine_scores
    assert np.mean(random_scores) < 5, random_scores


def test_progress_read_before_sb3_starts_training_says_the_device_is_not_known_yet():
    """The job saves its progress every two seconds, also while its environments are still starting."""
    progress = LiveProgress(1000, PhaseClock(start_values("scratch"), None))
    assert progress.snapshot()["parameter_device"] is None
