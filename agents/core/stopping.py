"""A request's stop: work nobody waits for any more ends, and takes its processes with it.

The app runs a visitor's request (an API call, a click) in a thread with a stop of its own
(:func:`stop_on`); when the visitor cancels, closes the page or times out, the app sets it. Long work
checks it where it waits or loops (:func:`check_stop`): the evaluation's loop, each step of a game that is
filmed, each frame of a duel, and raises :class:`Stopped`; their ``finally`` blocks then kill the worker
processes and the video encoders. Outside a request (the command lines, the tests) nothing ever stops.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_STOP: ContextVar[threading.Event | None] = ContextVar("arena_stop", default=None)


class Stopped(Exception):
    """The request this work was for has ended: nobody waits for its result."""


@contextmanager
def stop_on(stop: threading.Event) -> Iterator[None]:
    """Work done in this block (in this thread) stops once ``stop`` is set."""
    token = _STOP.set(stop)
    try:
        yield
    finally:
        _STOP.reset(token)


def stop_requested() -> bool:
    stop = _STOP.get()
    return stop is not None and stop.is_set()


def check_stop() -> None:
    """Raise :class:`Stopped` if the request this thread works for has ended."""
    if stop_requested():
        raise Stopped("The request ended before its work was done.")
