"""A measurement of this machine (a speed, a cost) kept for a while: taken when first needed, and again when
needed once it is older than the caller's keeping time, since the machine's load changes."""

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class KeptMeasurement(Generic[T]):
    """The last measurement and when it was taken; one measurement at a time."""

    def __init__(self) -> None:
        self._last: tuple[T, float] | None = None  # (value, time.monotonic() when measured)
        self._measuring = threading.Lock()

    def last(self) -> T | None:
        """The last measurement, or None before the first: never waits."""
        return self._last[0] if self._last is not None else None

    def get(self, measure: Callable[[], T], kept_s: float) -> T:
        """The last measurement if it is younger than ``kept_s`` seconds, else a new one by ``measure``."""
        with self._measuring:
            if self._last is None or time.monotonic() - self._last[1] >= kept_s:
                self._last = (measure(), time.monotonic())
            return self._last[0]
