"""A repo id says its game (issue 23): by the RL Zoo's naming, else by its files, in the cache offline or in
the Hub's listing online; the same rule at every entry point that takes a repo id, offline with the test cache
(and the fake Hub for the listing)."""

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import ale_py
import gradio as gr
import gymnasium
import pandas as pd
import pytest

from agents.compare import __main__ as compare_cli
from agents.core import hub as hub_module
from agents.core.catalog import get_game
from agents.core.errors import AgentError
from agents.core.hub import HubTooSlow, HubUnavailable, cached_agent_files
from agents.core.repo_game import page_game, repo_claims, repo_game, resolve_game, settle_game
from agents.curves import __main__ as curves_cli
from agents.evaluate import __main__ as evaluate_cli
from agents.jobs.manager import JobManager
from agents.leaderboard import store as leaderboard_store
from agents.leaderboard.board import submit as leaderboard_submit
from agents.play import __main__ as play_cli
from agents.tabs.compare import page_arena_game
from agents.tabs.evaluate_ui import EvaluateTab
from agents.tabs.play_ui import PlayTab, play_api
from agents.tabs.train_ui import TrainTab
from agents.train import __main__ as train_cli
from agents.train.training import TrainingSettings
from agents.tune import __main__ as tune_cli
from agents.tune.tuning import TuningSettings
from tests import hub_cache

BREAKOUT = "BreakoutNoFrameskip-v4"
NAMED = f"lookleft/dqn-{BREAKOUT}"  # the repo: its name says Breakout
UNNAMED = "alice/my-first-agent"  # a name out of the RL Zoo's convention: its file says Breakout
TWO_GAMES = "frank/two-agents"
STRANGERS = [NAMED, UNNAMED, TWO_GAMES, "dave/boxing-agent", "erin/notes"]


@pytest.fixture(scope="module")
def repos(hf_cache) -> Iterator[Path]:
    """Course students' repos in the offline cache, their checkpoint the cached sb3 Breakout agent's."""
    model_zip = cached_agent_files(f"sb3/dqn-{BREAKOUT}", BREAKOUT).model_zip
    for repo_id in (NAMED, UNNAMED):
        hub_cache.add_rl_zoo_repo(hf_cache, repo_id, BREAKOUT, model_zip)
    pong = "dqn-PongNoFrameskip-v4.zip"
    hub_cache.add_repo(hf_cache, TWO_GAMES, {f"dqn-{BREAKOUT}.zip": model_zip, pong: model_zip})
    hub_cache.add_repo(hf_cache, "dave/boxing-agent", {"dqn-BoxingNoFrameskip-v4.zip": b"a zip", "config.yml": b""})
    hub_cache.add_repo(hf_cache, "erin/notes", {"README.md": b"# notes"})
    yield hf_cache
    for repo_id in STRANGERS:
        shutil.rmtree(hf_cache / f"models--{repo_id.replace('/', '--')}")


def last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def ale_action_names(env_id: str) -> list[str]:
    """The emulator's own action meanings, from ale-py directly."""
    gymnasium.register_envs(ale_py)
    env = gymnasium.make(env_id)
    try:
        return env.unwrapped.get_action_meanings()
    finally:
        env.close()


# The rule.


def test_a_repo_says_its_game_by_its_name_else_by_its_files(repos):
    named = repo_game(NAMED)
    assert named.games == (get_game("Breakout"),) and named.evidence == "its name says so"
    assert repo_game("someone/qrdqn-PongNoFrameskip-v4").games == (get_game("Pong"),)  # no file needed
    unnamed = repo_game(UNNAMED)
    assert unnamed.games == (get_game("Breakout"),) and unnamed.evidence == f"its file dqn-{BREAKOUT}.zip says so"


def test_a_repo_of_no_arena_game_or_of_no_agent_is_refused_with_why(repos):
    with pytest.raises(AgentError, match=r"for BoxingNoFrameskip-v4 \(its name says so\), which is not one of"):
        repo_game("bob/dqn-BoxingNoFrameskip-v4")
    with pytest.raises(AgentError, match=r"its file dqn-BoxingNoFrameskip-v4.zip says so\), which is not one"):
        repo_game("dave/boxing-agent")
    with pytest.raises(HubUnavailable, match="erin/notes are not in the local"):  # its cached files are not all
        repo_game("erin/notes")
    with pytest.raises(AgentError, match="is not a Hub repo id"):
        repo_game("no-owner")


def test_a_repo_out_of_reach_offline_is_said_as_such(repos):
    with pytest.raises(HubUnavailable, match="nobody/agent are not in the local Hugging Face cache.*can play here"):
        resolve_game(None, "nobody/agent")


def test_no_game_given_is_the_repos_a_game_given_must_be_its(repos):
    assert resolve_game(None, NAMED).key == resolve_game("", UNNAMED).key == "Breakout"
    assert resolve_game("Breakout", NAMED).key == "Breakout"
    assert resolve_game(None, None).key == "SpaceInvaders"  # no repo: the first game that can play here
    with pytest.raises(AgentError) as refused:
        resolve_game("SpaceInvaders", UNNAMED)
    assert str(refused.value) == (
        f"{UNNAMED} plays Breakout (its file dqn-{BREAKOUT}.zip says so), not Space Invaders. To use it, leave the "
        "game out or choose Breakout; for Space Invaders, give a Space Invaders agent's repo."
    )
    assert settle_game("SpaceInvaders", repo_claims({"": NAMED}), repo_wins=True).key == "Breakout"  # the page's


def test_a_repo_with_agents_of_two_games_needs_the_game(repos):
    assert resolve_game("Pong", TWO_GAMES).key == "Pong"
    with pytest.raises(AgentError, match=f"{TWO_GAMES} plays Breakout or Pong .*: choose the game"):
        resolve_game(None, TWO_GAMES)


def test_two_agents_of_two_games_are_refused_saying_which_is_which(repos):
    claims = repo_claims({"A": NAMED, "B": "sb3/dqn-PongNoFrameskip-v4", "C": ""})
    assert set(claims) == {"A", "B"}
    with pytest.raises(AgentError) as refused:
        settle_game(None, claims)
    assert str(refused.value) == (
        f"A, {NAMED}, plays Breakout (its name says so), and B, sb3/dqn-PongNoFrameskip-v4, plays Pong (its name "
        "says so): both agents must play one game. Change A or B."
    )
    with pytest.raises(AgentError, match=f"A, {NAMED}, plays Breakout .*, not Pong.*give A a Pong agent's repo"):
        settle_game("Pong", repo_claims({"A": NAMED, "B": ""}))


def test_the_page_shows_the_repos_game_and_says_why(repos):
    game, note = page_game("SpaceInvaders", repo_claims({"": NAMED}))
    assert game.key == "Breakout"
    assert note == f"The game is now **Breakout**: {NAMED} plays Breakout (its name says so)."
    unchanged = page_game("Breakout", repo_claims({"": UNNAMED}))[1]
    assert unchanged == f"{UNNAMED} plays Breakout (its file dqn-{BREAKOUT}.zip says so)."
    assert page_game("Pong", {}) == (get_game("Pong"), "")


# The Hub's listing, online.


def test_online_an_uncached_repo_says_its_game_by_the_hubs_listing_before_any_download(hub):
    hub.add_repo("carol/pong-agent", {"dqn-PongNoFrameskip-v4.zip": b"x" * 2_000_000, "config.yml": b""})
    assert repo_game("carol/pong-agent").games == (get_game("Pong"),)
    with pytest.raises(AgentError, match="carol/pong-agent plays Pong .*, not Breakout"):
        resolve_game("Breakout", "carol/pong-agent")
    asked = [urlsplit(path).path for _, path in hub.requests]
    assert asked == ["/api/models/carol/pong-agent/tree/main"] * 2  # its listing only: nothing downloaded
    hub.add_repo("erin/notes", {"README.md": b"# notes"})
    with pytest.raises(AgentError, match="erin/notes holds no dqn-<EnvId>.zip or qrdqn-<EnvId>.zip"):
        repo_game("erin/notes")
    hub.add_repo("carol/secret", {"dqn-PongNoFrameskip-v4.zip": b"x"}, private=True)
    with pytest.raises(AgentError, match="The Hub has no model repo carol/secret, or it is private"):
        repo_game("carol/secret")


def test_online_a_silent_hub_is_given_up_within_the_deadline(hub, monkeypatch):
    hub.add_repo("carol/pong-agent", {"dqn-PongNoFrameskip-v4.zip": b"x"})
    monkeypatch.setattr(hub_module, "ETAG_TIMEOUT_S", 1)
    hub.delay_s_by_method = {"GET": 5.0}
    with pytest.raises(HubTooSlow, match="did not list carol/pong-agent's files within 1 s"):
        repo_game("carol/pong-agent")


# Every entry point.


def test_play_command_line_plays_the_repos_game_when_none_is_given(repos, tmp_path, capsys):
    """The issue's command: it looked for Space Invaders files, the default game."""
    code = play_cli.main(["--repo-id", NAMED, "--saliency", "--max-steps", "6", "--out", str(tmp_path / "named")])
    summary = last_json(capsys.readouterr().out)
    assert code == 0 and summary["game"] == "Breakout" and summary["repo"] == NAMED
    columns = [c for c in pd.read_csv(tmp_path / "named" / "steps.csv").columns if c.startswith("q_")]
    assert columns == [f"q_{name}" for name in ale_action_names(BREAKOUT)]
    assert play_cli.main(["--repo-id", UNNAMED, "--max-steps", "3", "--out", str(tmp_path / "unnamed")]) == 0
    assert last_json(capsys.readouterr().out)["game"] == "Breakout"


def test_play_command_line_refuses_a_repo_of_another_game_before_loading_it(repos, tmp_path, capsys):
    assert play_cli.main(["--game", "SpaceInvaders", "--repo-id", NAMED, "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert f"error: {NAMED} plays Breakout" in error and "not Space Invaders" in error and not any(tmp_path.iterdir())


def test_play_api_takes_an_empty_game_as_the_repos_and_refuses_another(repos):
    video, csv, summary = play_api(game="", repo_id=UNNAMED, max_steps=3)
    assert summary["game"] == "Breakout" and Path(video.path).is_file()
    with pytest.raises(gr.Error, match=f"{UNNAMED} plays Breakout .*, not Pong"):
        play_api(game="Pong", repo_id=UNNAMED, max_steps=3)


def blur_handler(blocks: gr.Blocks, textbox: gr.Textbox):
    """The function a textbox's blur runs, as the page would call it."""
    (found,) = [fn for fn in blocks.fns.values() if (textbox._id, "blur") in fn.targets]
    return found.fn


def test_play_page_the_dropdown_follows_the_repo_typed_and_play_uses_its_game(repos):
    with gr.Blocks() as blocks:
        tab = PlayTab([("Space Invaders", "SpaceInvaders"), ("Breakout", "Breakout")], "SpaceInvaders")
    (repo_box,) = [box for box in blocks.blocks.values() if isinstance(box, gr.Textbox)]
    follow = blur_handler(blocks, repo_box)
    assert follow("SpaceInvaders", UNNAMED) == (
        "Breakout",
        f"The game is now **Breakout**: {UNNAMED} plays Breakout (its file dqn-{BREAKOUT}.zip says so).",
    )
    assert follow("SpaceInvaders", "")[0] == "SpaceInvaders"
    game, note = follow("SpaceInvaders", "bob/dqn-BoxingNoFrameskip-v4")  # refused: said, the dropdown left
    assert game == gr.skip() and note.startswith("⚠️ bob/dqn-BoxingNoFrameskip-v4 is an agent for BoxingNoFrameskip")
    updates = list(tab.play("SpaceInvaders", NAMED, 0, 0.0, 3, False, False, "advantage", False, progress=None))
    assert updates[0] == {tab.summary: ""}  # the last press's summary or error goes first
    assert updates[1] == {
        tab.game: "Breakout",
        tab.repo_note: f"The game is now **Breakout**: {NAMED} plays Breakout (its name says so).",
    }
    summary = next(update[tab.summary_json] for update in updates if tab.summary_json in update)
    assert summary["game"] == "Breakout"


def test_evaluate_command_line_and_page_take_the_repos_game(repos, capsys):
    assert evaluate_cli.main(["--repo-id", UNNAMED, "--episodes", "1", "--max-steps", "5"]) == 0
    summary = last_json(capsys.readouterr().out)
    assert summary["game"] == "Breakout" and summary["repo"] == UNNAMED and summary["episode_steps"] == [5]
    assert evaluate_cli.main(["--game", "Pong", "--repo-id", NAMED]) == 2
    assert f"error: {NAMED} plays Breakout (its name says so), not Pong" in capsys.readouterr().err
    with gr.Blocks() as blocks:
        tab = EvaluateTab([("Space Invaders", "SpaceInvaders"), ("Breakout", "Breakout")], "SpaceInvaders")
    (repo_box,) = [box for box in blocks.blocks.values() if isinstance(box, gr.Textbox)]
    assert blur_handler(blocks, repo_box)("SpaceInvaders", NAMED)[0] == "Breakout"
    updates = tab.evaluate_tab("SpaceInvaders", NAMED, 1, 0, 0.01, 5, progress=None)
    assert next(updates)[tab.game] == "Breakout"  # said before the games are played
    updates.close()


def test_compare_takes_the_agents_game_and_refuses_two_games(repos, monkeypatch, tmp_path, capsys):
    played = []

    def stop_before_playing(a, b, *args, **kwargs):
        played.extend([a, b])
        raise AgentError("stopped here by the test")

    monkeypatch.setattr(compare_cli, "paired_evaluation", stop_before_playing)
    assert compare_cli.main(["--a", UNNAMED, "--out", str(tmp_path)]) == 2
    assert f"Breakout: A = {UNNAMED}, B = sb3/dqn-{BREAKOUT}" in capsys.readouterr().err
    assert [agent.game.key for agent in played] == ["Breakout", "Breakout"]
    assert compare_cli.main(["--a", NAMED, "--b", "sb3/dqn-PongNoFrameskip-v4", "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert f"A, {NAMED}, plays Breakout" in error and "B, sb3/dqn-PongNoFrameskip-v4, plays Pong" in error
    run = tmp_path / "runs" / "dqn" / "PongNoFrameskip-v4_1"  # a training run's folder says its game too
    run.mkdir(parents=True)
    assert compare_cli.main(["--a", NAMED, "--b", str(run), "--out", str(tmp_path)]) == 2
    assert f"B, {run}, plays Pong (its run folder says so)" in capsys.readouterr().err
    # The page: the agents' game wins over the dropdown's, the last training job's too.
    assert page_arena_game("Pong", "", UNNAMED)[0] == "Breakout"
    assert page_arena_game("SpaceInvaders", "", str(run), b_is_run_folder=True)[0] == "Pong"


def test_the_start_agent_of_training_says_its_game(repos, monkeypatch, tmp_path, capsys):
    asked = []

    def stop_before_training(settings, *args, **kwargs):
        asked.append(settings)
        raise AgentError("stopped here by the test")

    monkeypatch.setattr(train_cli, "train", stop_before_training)
    assert train_cli.main(["--from", UNNAMED, "--timesteps", "1000", "--out", str(tmp_path / "runs")]) == 2
    assert asked[0].game == "Breakout" and f"Training {BREAKOUT}" in capsys.readouterr().err
    assert train_cli.main(["--game", "Pong", "--from", NAMED, "--timesteps", "1000", "--out", str(tmp_path)]) == 2
    assert f"error: {NAMED} plays Breakout (its name says so), not Pong" in capsys.readouterr().err
    assert TrainingSettings(game="", start=NAMED).resolved_game().key == "Breakout"
    jobs = JobManager(tmp_path / "data")
    with pytest.raises(AgentError, match=f"{NAMED} plays Breakout .*, not Pong"):
        jobs.start(TrainingSettings(game="Pong", start=NAMED, hyperparameters={"n_timesteps": 1000}))
    assert jobs.status() == {"status": "none"}  # refused before any job
    monkeypatch.setenv("ARENA_DATA_DIR", str(tmp_path / "data"))
    with gr.Blocks() as blocks:
        tab = TrainTab([("Space Invaders", "SpaceInvaders"), ("Breakout", "Breakout")], "SpaceInvaders", jobs, True, "")
    assert blur_handler(blocks, tab.start_repo)("SpaceInvaders", UNNAMED)[0] == "Breakout"


def test_the_start_agent_of_tuning_says_its_game(repos, tmp_path, capsys):
    settings = TuningSettings(game="", start=NAMED, n_timesteps=1000)
    assert settings.resolved_game().key == "Breakout"
    assert settings.resolved_study_name() == f"dqn-{BREAKOUT}-lookleft--dqn-{BREAKOUT}-1000-steps"
    command = ["--game", "Pong", "--from", UNNAMED, "--trials", "1", "--timesteps", "1000", "--out", str(tmp_path)]
    assert tune_cli.main(command) == 2
    assert f"error: {UNNAMED} plays Breakout (its file dqn-{BREAKOUT}.zip says so), not Pong" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # refused before the study's storage was made
    jobs = JobManager(tmp_path / "data")
    with pytest.raises(AgentError, match=f"{UNNAMED} plays Breakout .*, not Pong"):
        jobs.start_tuning(TuningSettings(game="Pong", start=UNNAMED, n_timesteps=1000))
    assert jobs.status() == {"status": "none"}


def test_the_learning_curves_of_a_repo_are_its_games(repos, capsys):
    assert curves_cli.main(["--repo-id", "sb3/dqn-PongNoFrameskip-v4"]) == 0
    summary = last_json(capsys.readouterr().out)
    assert summary["game"] == "Pong" and summary["source"].startswith("From the RL Zoo's training log of sb3/dqn-Pong")


def test_a_leaderboard_submission_goes_to_its_repos_board_and_another_game_is_refused(repos, tmp_path, monkeypatch):
    monkeypatch.setenv("ARENA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ARENA_LEADERBOARD_GAMES", "3")
    monkeypatch.delenv(leaderboard_store.DATABASE_VARIABLE, raising=False)
    url = leaderboard_store.database_url()
    with pytest.raises(AgentError, match=f"{UNNAMED} plays Breakout .*, not Pong"):
        leaderboard_submit(UNNAMED, "Pong", url=url)
    assert leaderboard_store.waiting(url) == []  # refused before anything was queued
    receipt = leaderboard_submit(UNNAMED, url=url)
    assert receipt.entry.game == "Breakout" and receipt.entry.repo_id == UNNAMED
    assert {entry.game for entry in leaderboard_store.waiting(url)} == {"Breakout"}
