"""Numbers that users type, checked once where they enter the Arena, with one wording for every field.

The Play and Train forms, the API and the command lines all come through :func:`user_number`, so a
bad value reads the same wherever it was typed: ``seed must be a whole number from 0 to 2,147,483,647,
not 1.5.``
An owner's setting (a Space variable such as ``ARENA_REQUEST_STEPS``) is a number typed too, checked by the
same function with a hint that names the variable (:class:`OwnerSetting`).
"""

import math
import os
from dataclasses import dataclass
from typing import Any

from agents.core.errors import AgentError

MAX_SEED = 2**31 - 1  # seeds are 32-bit for the emulator and NumPy alike
_OWNER_SETTINGS: dict[str, "OwnerSetting"] = {}  # every one defined, by variable


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


@dataclass(frozen=True)
class OwnerSetting:
    """A cap or budget the Space's owner may change with an environment variable (a Space variable), read
    each time it is needed; unset or empty, ``default``."""

    variable: str
    default: int | float
    low: float
    high: float
    whole: bool
    unit: str  # what one of it is, said in the hint: "MB", "agent steps"

    def __post_init__(self) -> None:
        _OWNER_SETTINGS[self.variable] = self

    def value(self) -> int | float:
        """The setting, or an :class:`AgentError` naming the variable, its bounds and how to fix it."""
        raw = os.getenv(self.variable, "").strip()
        if not raw:
            return self.default
        value: object = raw  # refused below, in the one wording, unless it reads as a number
        for kind in (int, float):  # int first, so that a refused "3" is said as 3, not 3.0
            try:
                value = kind(raw)
                break
            except ValueError:
                continue
        hint = f"Fix the Space's variable (in {self.unit}), or remove it for the default, {_shown(self.default)}."
        return user_number(self.variable, value, self.low, self.high, self.whole, hint=hint)


def check_owner_settings() -> None:
    """Read every owner's setting defined so far, so that a bad one stops the app at start-up with its message
    rather than refusing each visitor's request."""
    for setting in _OWNER_SETTINGS.values():
        setting.value()
