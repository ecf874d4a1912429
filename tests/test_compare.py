"""Compare: a paired evaluation whose scores are each agent's own Evaluate scores, a bootstrap interval and a
verdict that say the right thing, and a side-by-side video where a finished game holds its last frame."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agents.compare.duel import PairedEvaluation, arena_claims, contender, same_files
from agents.core.agent import agent_from_files
from agents.core.agent_files import offline_agent_files
from agents.core.catalog import get_game
from agents.core.errors import AgentError
from agents.core.repo_game import settle_game
from agents.evaluate.evaluation import Evaluation, evaluate
from tests import hub_cache
from tests.conftest import small_disk
from tests.media import decode_frame, probe

ROOT = Path(__file__).resolve().parents[1]
BREAKOUT = "BreakoutNoFrameskip-v4"


def paired(a_scores: list[float], b_scores: list[float]) -> PairedEvaluation:
    seeds = list(range(len(a_scores)))
    return PairedEvaluation(Evaluation(a_scores, seeds, 0.01), Evaluation(b_scores, seeds, 0.01), "a/x", "b/y")


def test_the_verdict_and_its_paired_bootstrap_interval():
    clear = paired([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], [30, 45, 50, 70, 60, 95, 80, 120, 95, 140])
    low, high = clear.interval()
    assert low < clear.differences.mean() < high and low > 0
    assert clear.verdict() == (
        f"B scores higher on 10 of 10 seeds; mean difference B − A +23.5, 95% interval [{low:.1f}, {high:.1f}]: "
        "B is better."
    )
    assert clear.interval() == (low, high)  # the same games give the same interval
    mixed = paired([10, 20, 30, 40], [12, 18, 31, 39])
    assert mixed.verdict().endswith("no clear difference.")
    assert mixed.verdict().startswith("B scores higher on 2 of 4 seeds, A on 2;")
    worse = paired([10, 20, 30, 40], [0, 5, 10, 20])
    assert worse.verdict().startswith("A scores higher on 4 of 4 seeds") and worse.verdict().endswith("A is better.")
    summary = clear.summary()
    assert summary["a"]["repo"] == "a/x" and summary["difference"]["ci95"] == [low, high]


def test_a_visitors_text_is_never_read_as_a_folder_on_the_server(tmp_path):
    run = str(tmp_path / "dqn" / f"{BREAKOUT}_1")
    Path(run).mkdir(parents=True)
    for read in (lambda: arena_claims("", run), lambda: contender(get_game("Breakout"), run)):
        with pytest.raises(AgentError, match="is not a Hub repo id"):
            read()
    with pytest.raises(AgentError, match="holds no BreakoutNoFrameskip-v4.zip: the run has not finished"):
        contender(get_game("Breakout"), run, folders=True)
    pong = tmp_path / "dqn" / "PongNoFrameskip-v4_1"
    pong.mkdir()
    with pytest.raises(AgentError, match=f"B, {pong}, plays Pong \\(its run folder says so\\), not Breakout"):
        settle_game("Breakout", arena_claims("", str(pong), b_folders=True))


@pytest.fixture(scope="module")
def untrained_run(tmp_path_factory) -> Path:
    """An RL Zoo run folder holding a freshly initialised SB3 DQN: a contender that plays badly."""
    run = tmp_path_factory.mktemp("runs") / "dqn" / f"{BREAKOUT}_1"
    (run / BREAKOUT).mkdir(parents=True)
    hub_cache.atari_checkpoint(BREAKOUT, run / f"{BREAKOUT}.zip", seed=3)
    (run / BREAKOUT / "config.yml").write_text(hub_cache.RL_ZOO_ATARI_CONFIG)
    (run / BREAKOUT / "env_kwargs.yml").write_text(hub_cache.RL_ZOO_ENV_KWARGS)
    return run


@pytest.mark.slow
def test_the_command_line_compares_a_run_with_the_shipped_agent(untrained_run, tmp_path):
    """Offline with an empty cache: A is an untrained run, B the game's agent (the shipped one)."""
    command = [sys.executable, "-m", "agents.compare", "--game", "Breakout", "--a", str(untrained_run)]
    command += ["--episodes", "3", "--first-seed", "5", "--max-steps", "3000", "--out", str(tmp_path / "out")]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "empty-cache")}
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["seeds"] == [5, 6, 7] and summary["b"]["repo"] == f"offline agent dqn-{BREAKOUT}"
    shipped = agent_from_files(offline_agent_files(BREAKOUT), get_game("Breakout"))
    alone = evaluate(shipped, n_episodes=3, first_seed=5, max_steps=3000)
    assert summary["b"]["scores"] == alone.scores  # what Evaluate gives it alone on those seeds
    differences = np.array(summary["b"]["scores"]) - np.array(summary["a"]["scores"])
    assert summary["difference"]["mean"] == pytest.approx(differences.mean())
    low, high = summary["difference"]["ci95"]
    assert low <= differences.mean() <= high and summary["verdict"].startswith("B scores higher")

    video = Path(summary["video"])
    assert video == tmp_path / "out" / "compare.mp4" and not (tmp_path / "out" / "segments").exists()
    stream = probe(video)
    assert stream["codec_name"] == "h264" and int(stream["width"]) >= 640
    a_steps, b_steps = summary["a"]["episode_steps"][0], summary["b"]["episode_steps"][0]
    assert int(stream["nb_read_frames"]) == max(a_steps, b_steps) + 1  # the longer game, and its "over" frame
    width, height = int(stream["width"]), int(stream["height"])
    first_done = min(a_steps, b_steps)
    before = decode_frame(video, first_done - 1, width, height)
    after = decode_frame(video, first_done + 1, width, height)
    side = slice(0, width // 2) if a_steps < b_steps else slice(width // 2, width)
    assert after[:, side].mean() < 0.8 * before[:, side].mean()  # the game that ended is held, shaded as over


def test_an_agent_is_not_compared_with_itself_in_the_api_or_the_command_line(untrained_run, tmp_path, capsys):
    """B left empty with A empty, the game's repo named in B, the same run folder twice: the same files, refused
    with what to give as B, before a game is played; two different agents pass."""
    from agents.compare.__main__ import main
    from agents.tabs.compare import compare_once

    with pytest.raises(AgentError, match=r"A and B are the same agent .*Give another agent as B: .*sb3/qrdqn-Breakout"):
        compare_once("Breakout", "", "", 2, 0, 0.01, 100)
    with pytest.raises(AgentError, match="A and B are the same agent"):
        compare_once("Breakout", "", f"sb3/dqn-{BREAKOUT}", 2, 0, 0.01, 100)
    assert main(["--game", "Breakout", "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "A and B are the same agent" in error and "Give another agent as --b" in error
    assert "or a training run's folder" in error and not (tmp_path / "out").exists()
    assert main(["--game", "Breakout", "--a", str(untrained_run), "--b", str(untrained_run), "--out", "x"]) == 2
    assert "A and B are the same agent" in capsys.readouterr().err

    game = get_game("Breakout")
    run_agent, game_agent = contender(game, str(untrained_run), folders=True), contender(game, "")
    assert not same_files(run_agent, game_agent)
    assert same_files(run_agent, contender(game, str(untrained_run.parent / untrained_run.name), folders=True))


@pytest.mark.slow  # two comparisons, each starting its evaluation workers: about 30 s
def test_a_full_disk_while_compare_writes_its_video_leaves_nothing_and_says_so(untrained_run, tmp_path, monkeypatch):
    """A real 200 kB disk under the outputs fills while the side-by-side video is written: the visitor is told
    the disk is full, without a server path, nothing of the comparison stays, and the next comparison, once there
    is room, is served by the same process."""
    from agents.tabs import play as play_tab
    from agents.tabs.compare import compare_once

    compare = ("Breakout", "", str(untrained_run), 2, 0, 0.01)
    with small_disk(tmp_path / "disk", 200) as disk:
        monkeypatch.setattr(play_tab, "OUTPUT_ROOT", disk / "outputs")
        with pytest.raises(
            AgentError, match=r"^The video could not be written: the disk is full \(.*No space left"
        ) as refused:
            compare_once(*compare, 3000, b_is_run_folder=True)
        assert str(disk) not in str(refused.value) and "On a Space, try again in a while" in str(refused.value)
        assert [path for path in disk.rglob("*") if path.is_file()] == []
        assert shutil.disk_usage(disk).used < 50_000
    monkeypatch.setattr(play_tab, "OUTPUT_ROOT", tmp_path / "outputs")
    comparison = compare_once(*compare, 200, b_is_run_folder=True)
    assert comparison.video is not None and comparison.video.stat().st_size > 0
