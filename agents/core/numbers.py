"""Numbers that users type, checked once where they enter the Arena, with one wording for every field.

The Play and Train forms, the API and the command lines all come through :func:`user_number`, so a
bad value reads the same wherever it was typed: ``seed must be a whole number from 0 to 2,147,483,647,
not 1.5.``
"""

import math
from typing import Any

from agents.core.errors import AgentError

MAX_SEED = 2**31 - 1  # seeds are 32-bit for the emulator and NumPy alike


def _shown(bound: float) -> str:
    return f"{int(bound):,}" if bound == int(bound) else f"{bound:g}"


def user_number(name: str, value: Any, low: float, high: float, whole: bool, hint: str = "") -> int | float:
    """``value`` as an int (``whole``) or a float, or an :class:`AgentError` that says what ``name`` takes."""
    kind = "a whole number" if whole else "a number"
    finite = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not finite or (whole and value != int(value)) or not low <= value <= high:
        hint = f" {hint}" if hint else ""
        raise AgentError(f"{name} must be {kind} from {_shown(low)} to {_shown(high)}, not {value!r}.{hint}")
    return int(value) if whole else float(value)
