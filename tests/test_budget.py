"""What one request may cost on a Space: Evaluate, Compare and Play refuse a request over the budget before
any work starts (before the agent loads), say the budget and what fits, and the owner's
setting raises it. Off a Space there is no budget."""

import pytest

from agents.core.budget import BUDGET_VARIABLE, DEFAULT_BUDGET
from agents.core.errors import AgentError
from agents.tabs import compare as compare_tab
from agents.tabs import evaluate as evaluate_tab
from agents.tabs import play as play_tab


class Loaded(Exception):
    """Raised where the agent would load: the request got past the budget."""


@pytest.fixture
def space(monkeypatch):
    """This process as on a Space with the default budget; the first work after the budget (loading the agent,
    and for Compare finding the agents' game) raises :class:`Loaded`."""
    monkeypatch.setenv("SPACE_ID", "tester/atari-dqn-arena")
    monkeypatch.delenv(BUDGET_VARIABLE, raising=False)

    def load(*args, **kwargs):
        raise Loaded

    for module in (evaluate_tab, play_tab):
        monkeypatch.setattr(module, "load_with_progress", load)
    monkeypatch.setattr(compare_tab, "arena_claims", load)
    return monkeypatch


def evaluate(episodes: int, max_steps: int) -> None:
    evaluate_tab.run_evaluation("Breakout", "", episodes, 0, 0.01, max_steps)


def compare(episodes: int, max_steps: int) -> None:
    next(compare_tab.compare_stream("Breakout", "", "someone/dqn-Breakout", episodes, 0, 0.01, max_steps))


def play(max_steps: int, saliency: bool) -> None:
    next(play_tab.play_stream("Breakout", "", 0, 0.0, max_steps, False, saliency=saliency))


def test_an_evaluation_over_the_budget_is_refused_before_any_work(space):
    assert DEFAULT_BUDGET == 600_000
    message = (
        r"This evaluation would cost 10,000,000 agent steps \(100 games × a step cap of 100,000\); a request on "
        r"this Space may cost at most 600,000\. At this step cap at most 6 games fit, or run the Arena on your own "
        rf"machine, where there is no budget \(the Space's owner can raise it with the variable {BUDGET_VARIABLE}\)\."
    )
    with pytest.raises(AgentError, match=message):
        evaluate(100, 100_000)
    with pytest.raises(Loaded):
        evaluate(6, 100_000)  # exactly the budget
    space.setenv(BUDGET_VARIABLE, "10000000")  # the owner raised it
    with pytest.raises(Loaded):
        evaluate(100, 100_000)
    space.delenv("SPACE_ID")  # off a Space: no budget at all
    space.delenv(BUDGET_VARIABLE)
    with pytest.raises(Loaded):
        evaluate(100, 100_000)


def test_a_comparison_counts_both_agents_and_the_video(space):
    message = (
        r"This comparison would cost 620,000 agent steps \(2 agents × \(3 games × a step cap of 100,000 \+ 10,000 "
        r"steps of the video\)\); a request on this Space may cost at most 600,000\. At this step cap at most 2 games"
    )
    with pytest.raises(AgentError, match=message):
        compare(3, 100_000)
    with pytest.raises(Loaded):
        compare(2, 100_000)


def test_a_game_with_the_saliency_map_costs_more_steps(space):
    space.setenv(BUDGET_VARIABLE, "100000")
    with pytest.raises(Loaded):
        play(10_000, saliency=False)
    message = (
        r"This game would cost 320,000 agent steps \(a step cap of 10,000 × 32 for the saliency map\); a request "
        r"on this Space may cost at most 100,000\. With the map, at most 3,125 steps fit"
    )
    with pytest.raises(AgentError, match=message):
        play(10_000, saliency=True)
    with pytest.raises(Loaded):
        play(3_125, saliency=True)


@pytest.mark.parametrize("value", ["lots", "0", "1.5"])
def test_a_bad_owner_setting_is_said_in_the_one_wording(space, value):
    space.setenv(BUDGET_VARIABLE, value)
    with pytest.raises(AgentError, match=rf"{BUDGET_VARIABLE} must be a whole number from 1 to .*Fix the Space's"):
        evaluate(1, 100)
