"""What a newcomer meets first: honest wording here and on a Space, buttons that can act, time
estimates that hold, Q-value bars and plots that compare honestly, and command lines that read."""

import ast
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agents.core import access
from agents.play import __main__ as play
from agents.play.overlay import BAR, GREEDY, TRACE, OverlayRenderer
from agents.play.rollout import Step
from agents.tabs.play import q_value_plot_data
from agents.tabs.train import controls, default_hyperparameters, job_form_values, job_settings_line
from agents.train import __main__ as train
from agents.train.training import PrintedProgress, progress_text
from agents.train.training_time import PhaseClock, StepCosts, format_duration

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def on_this_machine(monkeypatch):
    for name in ("SPACE_ID", "SPACE_AUTHOR_NAME", access.CPU_TRAINING_VARIABLE, "HF_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", "/nonexistent-hf-home")  # no stored login either


def test_off_a_space_the_wording_is_this_machines(on_this_machine, monkeypatch):
    available, note = access.training_available()
    assert available and "This machine has no GPU" in note and "Space" not in note
    assert "set `HF_TOKEN` or run `hf auth login`" in access.push_note(None)
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    assert "this machine's Hugging Face token" in access.push_note(None)
    assert access.push_token(None) == "hf_test"


def test_on_a_space_the_wording_is_the_spaces(on_this_machine, monkeypatch):
    monkeypatch.setenv("SPACE_ID", "alice/atari-dqn-arena")
    monkeypatch.setenv("HF_TOKEN", "the-spaces-own-token")
    available, note = access.training_available()
    assert not available and "this Space has no GPU" in note and "Duplicate" in note
    assert "Log in with Hugging Face" in access.push_note(None)
    assert access.push_token(None) is None  # never the Space's own token: the visitor's
    assert access.push_token("visitors-token") == "visitors-token"


@pytest.mark.parametrize(
    ("status", "token", "expected"),
    [
        ({"status": "none"}, None, {"start": True, "cancel": False, "push": False}),
        ({"status": "running"}, "t", {"start": False, "cancel": True, "push": False}),
        ({"status": "finished"}, None, {"start": True, "cancel": False, "push": False}),  # nobody may push
        ({"status": "finished"}, "t", {"start": True, "cancel": False, "push": True}),
        ({"status": "failed"}, "t", {"start": True, "cancel": False, "push": False}),
    ],
)
def test_buttons_are_enabled_only_when_they_can_act(on_this_machine, monkeypatch, status, token, expected):
    if token:
        monkeypatch.setenv("HF_TOKEN", token)
    assert controls(status, None) == expected


def test_on_a_space_only_its_owner_or_a_secret_holder_gets_start_cancel_and_push(on_this_machine, monkeypatch):
    monkeypatch.setenv("SPACE_ID", "alice/atari-dqn-arena")
    monkeypatch.setenv("SPACE_AUTHOR_NAME", "alice")
    monkeypatch.setenv(access.CPU_TRAINING_VARIABLE, "1")
    assert controls({"status": "none"}, None, "mallory")["start"] is False
    assert controls({"status": "running"}, None, None)["cancel"] is False
    assert controls({"status": "none"}, None, "alice")["start"] is True
    finished = {"status": "finished"}
    assert controls(finished, "mallorys-token", "mallory")["push"] is False  # the owner's job, not mallory's
    assert controls(finished, "alices-token", "alice")["push"] is True
    monkeypatch.setenv(access.SECRET_VARIABLE, "s3cret")  # the secret box can open it to anyone who knows it
    assert controls({"status": "running"}, None, "mallory")["cancel"] is True
    assert controls(finished, "mallorys-token", "mallory")["push"] is True


def test_the_form_defaults_are_a_short_run_on_a_cpu_and_a_reload_shows_the_jobs_settings(on_this_machine):
    for start in ("scratch", "pretrained"):
        defaults = default_hyperparameters(start)
        assert defaults["n_timesteps"] == 50_000 and defaults["learning_starts"] < defaults["n_timesteps"]
    status = {
        "game": "Pong",
        "settings": {"start": "sb3/dqn-PongNoFrameskip-v4", "seed": 3, "hyperparameters": {"n_timesteps": 2000}},
    }
    form = job_form_values(status)
    assert form["game"] == "Pong" and form["start"] == "repo" and form["start_repo"] == "sb3/dqn-PongNoFrameskip-v4"
    assert form["seed"] == 3 and form["hyperparameters"]["n_timesteps"] == 2000
    assert form["hyperparameters"]["exploration_initial_eps"] == 0.05  # what the job ran with: fine-tuning values
    assert job_settings_line(status) == (
        "Pong from sb3/dqn-PongNoFrameskip-v4, seed 3, fine-tuning values but n_timesteps 2,000"
    )
    assert job_form_values({"status": "none"}) is None


COSTS = StepCosts(random_step=0.001, acting_step=0.004, gradient_step=0.024, device="cpu")
RUN = {"n_timesteps": 20_000, "learning_starts": 5_000, "train_freq": 4, "gradient_steps": 1, "batch_size": 32}


def test_the_estimate_adds_up_the_two_phases():
    assert COSTS.learning_step(RUN) == pytest.approx(0.004 + 0.024 / 4)
    assert COSTS.estimate_seconds(RUN) == pytest.approx(5_000 * 0.001 + 15_000 * 0.010)
    assert COSTS.estimate_seconds({**RUN, "batch_size": 64, "gradient_steps": 2}) == pytest.approx(
        5_000 * 0.001 + 15_000 * (0.004 + 2 / 4 * 0.024 * 2)
    )


@pytest.mark.parametrize("slower", [1.0, 1.5])
def test_time_left_does_not_climb_in_a_steady_run(slower):
    """A run whose phases go at steady speeds (here 1.5 times slower than measured, too): the time left
    falls with the clock, through the switch from random play to learning."""
    clock = PhaseClock(RUN, COSTS)
    now, steps, lefts = 0.0, 0, []
    while steps < RUN["n_timesteps"]:
        clock.update(steps, now)
        lefts.append((now, clock.seconds_left(steps, now)))
        step_time = COSTS.random_step if steps < RUN["learning_starts"] else COSTS.learning_step(RUN)
        now += 100 * step_time * slower
        steps += 100
    assert lefts[0][1] == pytest.approx(COSTS.estimate_seconds(RUN))  # before any step: the prediction
    measured = lefts[1:]  # from the first measured steps on
    for (earlier, left_then), (later, left_now) in zip(measured, measured[1:], strict=False):
        assert left_now <= left_then + 1e-6, (earlier, left_then, later, left_now)
    assert measured[0][1] == pytest.approx(COSTS.estimate_seconds(RUN, 100) * slower)
    assert measured[-1][1] == pytest.approx(100 * COSTS.learning_step(RUN) * slower, rel=0.01)


def test_durations_never_say_zero_minutes():
    assert format_duration(0) == format_duration(29) == "under a minute"
    assert format_duration(89) == "about 1 min" and format_duration(3 * 3600 + 300) == "about 3 h 05 min"


def _bar_lengths(frame: np.ndarray, renderer: OverlayRenderer, n_actions: int) -> list[int]:
    lengths = []
    for row in range(n_actions):
        y = renderer.bars_top + row * renderer.row_height + renderer.row_height // 2
        line = frame[y, renderer.panel_x + 100 : renderer.width - 70]
        lengths.append(int(np.sum(np.all(line == BAR, axis=1) | np.all(line == GREEDY, axis=1))))
    return lengths


def _near(pixels: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    return np.abs(pixels.astype(int) - colour).sum(axis=-1) < 60


def test_q_value_bars_start_from_a_shared_zero():
    names = ("NOOP", "FIRE", "RIGHT", "LEFT")
    renderer = OverlayRenderer(names, (210, 160, 3), agent_view=False)
    screen = np.zeros((210, 160, 3), np.uint8)
    q = np.array([1.0, 2.0, 0.5, 1.5], np.float32)
    for index in range(30):  # the same values every step: the value trace is one flat line
        frame = renderer.render(Step(index, screen, np.zeros((4, 84, 84), np.uint8), q, 1, False, 0, 0, 5, False))
    lengths = _bar_lengths(frame, renderer, len(names))
    full = lengths[1]  # the largest Q-value spans the scale, 0 to 2.0
    for value, length in zip(q, lengths, strict=True):
        assert abs(length - full * value / 2.0) <= 2, (q, lengths)  # proportional to Q, not to Q - min Q
    # The value estimate's number is above its trace's box, not on it.
    box = frame[renderer.trace_top + 1 : renderer.trace_top + renderer.trace_height, renderer.panel_x + 1 : -17]
    label_line = frame[renderer.trace_top - 22 : renderer.trace_top - 2, renderer.panel_x :]
    assert np.any(_near(label_line, TRACE))
    trace_rows = np.where(np.any(_near(box, TRACE), axis=1))[0]
    assert len(trace_rows) <= 2  # the flat line alone (anti-aliased): no digits drawn over it


def test_the_advantage_view_shows_what_sets_the_actions_apart():
    table = pd.DataFrame({"step": [0, 1], "q_NOOP": [2.0, 3.0], "q_FIRE": [2.2, 2.9]})
    advantage = q_value_plot_data(table, "advantage").set_index(["step", "action"])["value"]
    assert advantage[(0, "NOOP")] == pytest.approx(-0.1) and advantage[(1, "FIRE")] == pytest.approx(-0.05)
    raw = q_value_plot_data(table, "q").set_index(["step", "action"])["value"]
    assert raw[(1, "NOOP")] == 3.0


@pytest.mark.parametrize("parser", [play.build_parser(), train.build_parser()], ids=["play", "train"])
def test_every_command_line_option_has_plain_help(parser):
    text = parser.format_help()
    assert "``" not in text and ":class:" not in text and "::" not in text
    for action in parser._actions:
        assert action.help, action.option_strings


@pytest.mark.parametrize("script", ["bench/play_speed.py", "bench/train_speed.py"])
def test_bench_help_is_plain_text(script):
    run = subprocess.run([sys.executable, script, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "``" not in run.stdout and "--steps" in run.stdout


def test_training_with_its_output_piped_prints_progress_at_a_steady_interval():
    """``python -m agents.train | tee log``: no terminal, so no bar (it would show only at its end) but a line
    at the first step and every 10 seconds after."""
    stream = io.StringIO()
    clock = PhaseClock({"n_timesteps": 2000, "learning_starts": 500}, None)
    progress = PrintedProgress(2000, clock, every=10, stream=stream)
    for now, steps in [(0.0, 1), (3.0, 100), (9.9, 300), (10.0, 350), (15.0, 500), (20.5, 800), (25.0, 900)]:
        progress.timesteps = steps
        progress.print_if_due(now)
    assert [line.split("/")[0] for line in stream.getvalue().splitlines()] == ["1", "350", "800"]
    snapshot = {
        "timesteps": 1500,
        "total_timesteps": 2000,
        "steps_per_second": 95.2,
        "exploration_rate": 0.05,
        "loss": 0.01234,
        "episodes": [(300, 2.0), (900, 4.0)],
        "seconds_left": 300.0,
    }
    assert progress_text(snapshot) == (
        "1,500/2,000 steps (75%), 95 steps/s, ε 0.050, loss 0.0123, 2 episodes (last 2: mean score 3.0), "
        "about 5 min left"
    )


def test_the_pages_intro_is_true_with_the_hub_and_without_it():
    """Offline the Arena's own agent plays, not one from the Hub: the intro says both."""
    tree = ast.parse((ROOT / "app.py").read_text())
    assignments = [node for node in tree.body if isinstance(node, ast.Assign)]
    (intro,) = [node.value.value for node in assignments if getattr(node.targets[0], "id", "") == "INTRO"]
    words = " ".join(intro.split())
    assert "from the Hugging Face Hub, or, when the Hub is out of reach, the Arena's own offline agent" in words
