"""What one request may cost on a Space, in agent steps, checked before any work starts.

A Space's few cores serve every visitor, so on a Space each Play, Evaluate and Compare request has a
budget: the agent steps it may play in all (games × step cap; a step with the saliency map counts as
``SALIENCY_STEP_COST`` steps). A request above it is refused with the budget in the message and what to
change; the Space's owner can raise it with ``ARENA_REQUEST_STEPS``. Off a Space, whoever runs the Arena
pays for it: there is no budget.
"""

from agents.core.access import on_a_space
from agents.core.errors import AgentError
from agents.core.numbers import OwnerSetting

# The default fits the forms' defaults; about 11 minutes of a free Space's 2 cores evaluating.
REQUEST_STEPS = OwnerSetting("ARENA_REQUEST_STEPS", 600_000, 1, 10**12, whole=True, unit="agent steps")
BUDGET_VARIABLE = REQUEST_STEPS.variable
DEFAULT_BUDGET = REQUEST_STEPS.default
# bench/saliency_cost.py on 2 cores: 674 steps/s without the map, 21.1 with one every 2nd step (Play's).
SALIENCY_STEP_COST = 32


def request_budget() -> int | None:
    """The most agent steps one request may cost here: ``None`` off a Space."""
    return int(REQUEST_STEPS.value()) if on_a_space() else None


def cost_note(cost: str) -> str | None:
    """The budget as a form states it beside the field it bounds (``cost`` says how the form's numbers add up);
    ``None`` off a Space."""
    budget = request_budget()
    return f"On this Space, {cost} may be at most {budget:,} agent steps." if budget else None


def check_cost(what: str, cost: int, how: str, fewer: str) -> None:
    """Refuse a request whose ``cost`` (agent steps, made of ``how``) is over the budget; ``fewer`` says what
    would fit."""
    budget = request_budget()
    if budget is None or cost <= budget:
        return
    raise AgentError(
        f"{what} would cost {cost:,} agent steps ({how}); a request on this Space may cost at most {budget:,}. "
        f"{fewer}, or run the Arena on your own machine, where there is no budget (the Space's owner can raise "
        f"it with the variable {BUDGET_VARIABLE})."
    )


def check_evaluation_cost(what: str, episodes: int, max_steps: int, agents: int = 1, shown_steps: int = 0) -> None:
    """An evaluation (``agents`` agents over the same games, plus ``shown_steps`` played for a video)."""
    cost = agents * (episodes * max_steps + shown_steps)
    budget = request_budget() or cost
    games = (budget // agents - shown_steps) // max_steps
    video = f" + {shown_steps:,} steps of the video" if shown_steps else ""
    how = f"{episodes} games × a step cap of {max_steps:,}{video}"
    fewer = (
        f"At this step cap at most {games} games fit" if games >= 1 else "Lower the step cap (and the number of games)"
    )
    check_cost(what, cost, f"{agents} agents × ({how})" if agents > 1 else how, fewer)


def check_play_cost(max_steps: int, saliency: bool) -> None:
    """A game, whose steps cost ``SALIENCY_STEP_COST`` each with the saliency map."""
    if not saliency:
        check_cost("This game", max_steps, f"a step cap of {max_steps:,}", "Lower the step cap")
        return
    fits = (request_budget() or 0) // SALIENCY_STEP_COST
    how = f"a step cap of {max_steps:,} × {SALIENCY_STEP_COST} for the saliency map"
    check_cost("This game", max_steps * SALIENCY_STEP_COST, how, f"With the map, at most {fits:,} steps fit")
