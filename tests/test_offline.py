"""The fallback to an agent shipped with the Arena when the Hub is out of reach."""

import json
import shutil
from pathlib import Path

import huggingface_hub
import pytest

from agents.core import agent_files as offline
from agents.core.agent import load_agent
from agents.core.hub import HubUnavailable
from agents.play.episode import play_to_folder
from agents.tabs.play import summary_markdown
from tests import hub_cache

QBERT = "QbertNoFrameskip-v4"


def ship(offline_agents: Path, env_id: str, result: dict) -> Path:
    """An agent (made here with SB3) shipped in ``offline_agents``, with ``result`` as its ``results.json``."""
    folder = offline_agents / env_id
    folder.mkdir(parents=True)
    hub_cache.atari_checkpoint(env_id, folder / f"dqn-{env_id}.zip")
    (folder / "config.yml").write_text(hub_cache.RL_ZOO_ATARI_CONFIG)
    (folder / "env_kwargs.yml").write_text(hub_cache.RL_ZOO_ENV_KWARGS)
    (folder / "results.json").write_text(json.dumps(result))
    return folder


@pytest.fixture
def shipped_qbert(tmp_path, monkeypatch) -> Path:
    """An offline_agents folder holding a Q*bert agent, which the Hub cache lacks."""
    monkeypatch.setattr(offline, "OFFLINE_AGENTS", tmp_path / "offline_agents")
    result = {"mean_reward": 250.0, "std_reward": 25.0, "n_eval_episodes": 10, "random_mean_reward": 150.0}
    return ship(tmp_path / "offline_agents", QBERT, result)


def test_the_shipped_agent_plays_when_the_hub_agent_is_out_of_reach(hf_cache, shipped_qbert, tmp_path):
    agent = load_agent("Qbert")
    assert agent.offline and agent.repo_id == f"offline agent dqn-{QBERT}"
    result = play_to_folder(agent, tmp_path, seed=0, epsilon=0.0, max_steps=20)
    summary = summary_markdown(result)
    assert "**offline agent**" in summary and "its measured score is 250.0 ± 25.0 over 10 games" in summary


def test_no_fallback_for_a_repo_the_user_asked_for(hf_cache, shipped_qbert):
    with pytest.raises(HubUnavailable, match="someone/dqn-QbertNoFrameskip-v4"):
        load_agent("Qbert", "someone/dqn-QbertNoFrameskip-v4")


def test_the_hub_agent_wins_over_the_shipped_one_when_cached(hf_cache, shipped_qbert):
    hub_cache.add_rl_zoo_repo(hf_cache, f"sb3/dqn-{QBERT}", QBERT, shipped_qbert / f"dqn-{QBERT}.zip")
    try:
        assert not load_agent("Qbert").offline
    finally:
        shutil.rmtree(hf_cache / f"models--sb3--dqn-{QBERT}")


def test_default_game_is_the_first_that_can_play_here(hf_cache, shipped_qbert, monkeypatch, tmp_path):
    assert offline.first_playable_game() == "SpaceInvaders"  # cached: the catalog's first game stays the default
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))  # an empty cache
    assert offline.first_playable_game(online=False) == "Qbert"  # shipped: the only one that plays offline
    assert offline.first_playable_game(online=True) == "SpaceInvaders"  # downloadable


@pytest.mark.parametrize(
    ("enduro", "default"),
    [
        # Q*bert's agent goes 1% of the way from random play (150) to the RL Zoo's 9,496.8; Enduro's 0 to 830.9.
        ({"mean_reward": 500.0, "random_mean_reward": 0.0}, "Enduro"),  # 60%: the better one, though later
        ({"mean_reward": 5.0, "random_mean_reward": 0.0}, "Qbert"),  # 0.6%
        ({"mean_reward": 500.0}, "Qbert"),  # its random policy's score unknown: no claim to be better
    ],
)
def test_offline_the_default_is_the_shipped_agent_nearest_the_rl_zoos(
    hf_cache, shipped_qbert, monkeypatch, tmp_path, enduro, default
):
    ship(shipped_qbert.parent, "EnduroNoFrameskip-v4", {**enduro, "std_reward": 1.0, "n_eval_episodes": 10})
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty"))
    assert offline.first_playable_game(online=False) == default
    assert offline.first_playable_game(online=True) == "SpaceInvaders"  # a Hub agent first, whatever is shipped


def test_the_dropdown_says_which_agents_can_play_offline(hf_cache, shipped_qbert):
    labels = {entry.game.key: entry.label for entry in offline.availability(online=False)}
    assert labels["SpaceInvaders"] == "Space Invaders · cached"
    assert labels["Qbert"] == "Q*bert · offline agent"
    assert labels["Enduro"] == "Enduro · needs the Hub (not cached)"
    assert {entry.label.split(" · ")[1] for entry in offline.availability(online=True)} <= {"cached", "from the Hub"}


def test_an_agent_out_of_reach_is_refused_naming_those_that_can_play(hf_cache, shipped_qbert):
    with pytest.raises(
        HubUnavailable, match=r"sb3/dqn-EnduroNoFrameskip-v4.*can play here now: Space Invaders \(cached\)"
    ):
        load_agent("Enduro")
    with pytest.raises(HubUnavailable, match=r"Q\*bert \(offline agent\)"):
        load_agent("Qbert", "someone/dqn-QbertNoFrameskip-v4")


def test_no_game_named_plays_the_first_that_can(hf_cache):
    assert load_agent(None).game.key == "SpaceInvaders" and load_agent("").game.key == "SpaceInvaders"
