"""The owner's settings (Space variables) for every cap and budget: each read through the one validator of
numbers, a bad one said with its name when the app starts, and each one in the README's table."""

import importlib
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import agents
from agents.core.errors import AgentError
from agents.core.numbers import _OWNER_SETTINGS, check_owner_settings

ROOT = Path(__file__).resolve().parents[1]
# Each module defines its own settings when imported: all of them, as the app imports them, so none is missed.
for module in pkgutil.walk_packages(agents.__path__, "agents."):
    if not module.name.endswith("__main__"):
        importlib.import_module(module.name)


def caps_section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("### What one visitor can cost: caps and budgets")
    return readme[start : readme.index("\n#", start + 10)]


def test_every_setting_is_in_the_readmes_table_with_its_default():
    section = caps_section()
    for variable, setting in _OWNER_SETTINGS.items():
        rows = [line for line in section.splitlines() if line.startswith("|") and f"`{variable}`" in line]
        assert rows, f"{variable} is not in the README's table of caps and budgets"
        default = f"{setting.default:,}"
        assert default in rows[0], f"the README's row of {variable} does not say its default, {default}"
    named = set(
        re.findall(r"`(ARENA_[A-Z_]+)`", "".join(line for line in section.splitlines() if line.startswith("|")))
    )
    assert named <= set(_OWNER_SETTINGS), f"the table names settings that do not exist: {named - set(_OWNER_SETTINGS)}"


@pytest.mark.parametrize("variable", sorted(_OWNER_SETTINGS))
def test_a_bad_setting_is_said_with_its_name_bounds_and_default(monkeypatch, variable):
    check_owner_settings()  # as they are in this test process: fine
    setting = _OWNER_SETTINGS[variable]
    monkeypatch.setenv(variable, str(setting.high * 10))
    with pytest.raises(AgentError, match=rf"^{variable} must be .* from .* to .*, not .*Fix the Space's variable"):
        check_owner_settings()
    monkeypatch.setenv(variable, f" {setting.low} ")
    check_owner_settings()


def test_the_queue_settings_set_gradios_lanes_and_a_bad_one_stops_the_start():
    """Read when the app is built (Gradio takes them then), so in a fresh process."""
    show = "from agents.tabs.widgets import PLAY_LANE, BATCH_LANE, QUEUE_SIZE as Q; print(PLAY_LANE, BATCH_LANE, Q)"
    settings = {"ARENA_PLAY_LANES": "3", "ARENA_BATCH_LANES": "2", "ARENA_QUEUE_SIZE": "7"}
    run = subprocess.run(
        [sys.executable, "-c", show], cwd=ROOT, env=os.environ | settings, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == "{'concurrency_id': 'play', 'concurrency_limit': 3} ".split() + (
        "{'concurrency_id': 'batch', 'concurrency_limit': 2} 7".split()
    )
    bad = subprocess.run(
        [sys.executable, "-c", show],
        cwd=ROOT,
        env=os.environ | {"ARENA_QUEUE_SIZE": "lots"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode != 0
    assert (
        "ARENA_QUEUE_SIZE must be a whole number from 1 to 10,000, not 'lots'. Fix the Space's variable" in bad.stderr
    )


@pytest.mark.parametrize(
    ("variable", "value", "command"),
    [
        ("ARENA_LEADERBOARD_GAMES", "ten", ["agents.leaderboard", "--help"]),
        ("ARENA_LEADERBOARD_LEASE_S", "2", ["agents.leaderboard", "worker", "--drain"]),
        ("ARENA_OPTUNA_GRACE_S", "3", ["agents.tune", "--game", "Breakout", "--trials", "1", "--timesteps", "1000"]),
    ],
)
def test_a_command_line_says_a_bad_setting_and_exits_2_before_any_work(tmp_path, variable, value, command):
    """The owner's settings of the Leaderboard's workers and of tuning are read when the work starts (the lease, the
    heartbeat's grace) or when the help is built (the protocol): checked first, so a typo is a sentence."""
    env = os.environ | {variable: value, "ARENA_DATA_DIR": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    setting = _OWNER_SETTINGS[variable]
    said = f"error: {variable} must be a {'whole ' if setting.whole else ''}number from "
    assert run.returncode == 2 and run.stderr.startswith(said), run.stderr
    assert f", not {value}." in run.stderr or f", not '{value}'." in run.stderr  # as typed: 3, not 3.0
    assert "Traceback" not in run.stderr and not list(tmp_path.iterdir()), "work started before the check"
