"""Every example in the README runs as printed on a fresh machine here: offline, with an empty Hub
cache. An example that needs the Hub says so on its line, and is the only kind left out."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_tune import readme_example

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
NEEDS_THE_HUB = "# needs the Hub"


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def command_lines(prefix: str) -> list[str]:
    return [line for block in code_blocks("bash") for line in block.splitlines() if line.startswith(prefix)]


@pytest.fixture
def fresh_machine(tmp_path) -> dict[str, str]:
    """The environment of a new machine here: no network (offline mode), an empty Hub cache, the
    repository's code, and a working folder of its own for the examples' out/ and runs/."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "empty-hf-cache")}
    return {**env, "PYTHONPATH": str(ROOT)}


def run_as_printed(line: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    command = line.replace("python -m", f"{sys.executable} -m", 1)
    return subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_every_example_that_needs_the_hub_says_so():
    for line in command_lines("python -m agents.") + command_lines("hf download"):
        if "OWNER" in line or "SpaceInvaders" in line or "Pong" in line or line.startswith("hf "):
            assert NEEDS_THE_HUB in line, line
    (snippet,) = code_blocks("python")
    assert 'game="Breakout"' in snippet  # the one game whose agent ships with the Arena


def offline_examples(prefix: str) -> list[str]:
    return [line for line in command_lines(prefix) if NEEDS_THE_HUB not in line]


def out_folder(line: str) -> str:
    return re.search(r"--out (\S+)", line).group(1)


def test_each_play_example_writes_a_folder_of_its_own():
    """Run one after the other, as a newcomer does, no example's files replace another's."""
    folders = [out_folder(line) for line in command_lines("python -m agents.play")]
    assert len(folders) >= 3 and len(set(folders)) == len(folders), folders


@pytest.mark.parametrize("line", offline_examples("python -m agents.play"))
def test_play_examples_run_offline_as_printed(line, fresh_machine, tmp_path):
    run = run_as_printed(line, fresh_machine, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["repo"] == "offline agent dqn-BreakoutNoFrameskip-v4" and summary["steps"] > 0
    out = tmp_path / out_folder(line)
    assert (out / "episode.mp4").is_file() and (out / "steps.csv").is_file()
    if "--saliency" in line:  # what the map will cost, said before the game
        assert re.search(r"Slow: a map takes \d+ ms on this machine now", run.stderr), run.stderr[-2000:]


@pytest.mark.parametrize(
    "line", [line for line in command_lines("python -m agents.train") if NEEDS_THE_HUB not in line]
)
def test_train_examples_run_offline_as_printed(line, fresh_machine, tmp_path):
    run = run_as_printed(line, fresh_machine, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["game"] == "Breakout" and (tmp_path / summary["run"] / "BreakoutNoFrameskip-v4.zip").is_file()
    # stderr is a pipe here, as in a log: progress lines as it trains (every 10 s, and the last), not a bar
    progress = re.findall(r"^([\d,]+)/1,000 steps \(\d+%\), \d+ steps/s, ε", run.stderr, flags=re.MULTILINE)
    assert len(progress) >= 2 and progress[-1] == "1,000", run.stderr[-2000:]
    assert "━" not in run.stderr  # no progress bar drawn at the end


NEEDS_THE_SERVER = "# needs the database server"


def test_the_offline_tune_example_is_the_study_test_tune_runs():
    """Run as printed by ``tests/test_tune.py``'s ``cli_study``, whose trials other tests read."""
    offline = [line for line in offline_examples("python -m agents.tune") if NEEDS_THE_SERVER not in line]
    assert [line.split()[3:] for line in offline] == [readme_example()]


def test_a_tune_example_on_a_database_says_it_needs_the_server():
    for line in command_lines("python -m agents.tune"):
        assert "--storage" not in line or NEEDS_THE_SERVER in line, line


UNDERSTANDING = offline_examples("python -m agents.evaluate") + offline_examples("python -m agents.curves")


@pytest.mark.parametrize("line", UNDERSTANDING)
def test_understanding_examples_run_offline_as_printed(line, fresh_machine, tmp_path):
    run = run_as_printed(line, fresh_machine, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["game"] == "Breakout"
    if "agents.evaluate" in line:
        assert summary["repo"] == "offline agent dqn-BreakoutNoFrameskip-v4" and len(summary["scores"]) == 10
        assert (tmp_path / "out" / "eval" / "results.json").is_file()
    else:
        assert summary["final_moving_average"] > 100 and (tmp_path / "out" / "curves" / "episodes.csv").is_file()


def test_the_gradio_client_snippet_runs_offline_as_printed(first_run_app_url, tmp_path):
    (snippet,) = code_blocks("python")
    script = tmp_path / "snippet.py"
    script.write_text(snippet.replace("http://127.0.0.1:7860", first_run_app_url))
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "'game': 'Breakout'" in run.stdout and "offline agent" in run.stdout


def test_the_readmes_output_folders_are_ignored_by_git():
    folders = {match for line in command_lines("python -m agents.") for match in re.findall(r"--out (\w+)/", line)}
    assert folders == {"out", "runs"}
    ignored = subprocess.run(
        ["git", "check-ignore", *[f"{folder}/x" for folder in sorted(folders)]],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert ignored.stdout.split() == [f"{folder}/x" for folder in sorted(folders)]
