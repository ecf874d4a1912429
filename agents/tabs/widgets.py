"""What every tab's Gradio code shares: the progress bar, the game choices, a game dropdown that follows
the repo ids typed, how an API endpoint answers with an :class:`~agents.core.errors.AgentError`'s message,
and how a request's work ends with the request (:func:`ends_with_request`)."""

import asyncio
import functools
import inspect
import threading
import time
from collections.abc import Callable

import anyio
import gradio as gr
from gradio.context import LocalContext

from agents.core.agent_files import availability, first_playable
from agents.core.errors import AgentError
from agents.core.numbers import OwnerSetting
from agents.core.stopping import stop_on

PROGRESS_BAR = gr.Progress(track_tqdm=True)
# The heavy requests' lanes in Gradio's queue, each event and its API twin in one: two games at a time (a
# short game never waits behind one long one), one evaluation or comparison at a time (each takes every
# core). A visitor beyond them waits in the queue and is told their place; past QUEUE_SIZE, they are told
# to come back. The owner's settings, read once: Gradio takes them when the app is built.
PLAY_LANES = OwnerSetting("ARENA_PLAY_LANES", 2, 1, 64, whole=True, unit="games at a time")
BATCH_LANES = OwnerSetting("ARENA_BATCH_LANES", 1, 1, 64, whole=True, unit="evaluations or comparisons at a time")
WAITING = OwnerSetting("ARENA_QUEUE_SIZE", 40, 1, 10_000, whole=True, unit="requests waiting")
PLAY_LANE = {"concurrency_id": "play", "concurrency_limit": int(PLAY_LANES.value())}
BATCH_LANE = {"concurrency_id": "batch", "concurrency_limit": int(BATCH_LANES.value())}
QUEUE_SIZE = int(WAITING.value())


def game_choices() -> tuple[list[tuple[str, str]], str]:
    """The games, each marked with where its agent would come from now, and the first that can play."""
    entries = availability()
    return [(entry.label, entry.game.key) for entry in entries], first_playable(entries)


def game_dropdown_update() -> gr.Dropdown:
    choices, first = game_choices()
    return gr.Dropdown(choices=choices, value=first)


def one_run_at_a_time(button: gr.Button, running_label: str, fn: Callable, inputs: list, outputs: list, **event):
    """``button`` runs ``fn``, one run at a time from a page: the button says ``running_label`` and cannot be
    pressed while it runs, and comes back after, also after a failure (Gradio would drop a press made while the
    last run is still finishing, with nothing shown)."""
    idle = {"value": button.value, "interactive": True}
    state = {"outputs": button, "queue": False, "show_progress": "hidden", "api_visibility": "private"}
    running = button.click(lambda: gr.Button(running_label, interactive=False), **state)
    running.then(fn, inputs, outputs, **event).then(lambda: gr.Button(**idle), **state)


class RepoFollower:
    """The game dropdown follows the repo ids typed, once a field is left or Enter pressed: ``game_of(shown,
    *repos, *extras)`` gives the game to show and a note; a refusal goes in the note, the dropdown left as is."""

    def __init__(
        self,
        dropdown: gr.Dropdown,
        repos: list[gr.Textbox],
        note: gr.Markdown,
        game_of: Callable[..., tuple[str, str]],
        extra_inputs: tuple = (),
    ) -> None:
        self.game_of = game_of
        self.inputs, self.outputs = [dropdown, *repos, *extra_inputs], [dropdown, note]
        triggers = [event for box in repos for event in (box.blur, box.submit)]
        gr.on(triggers, self.follow, self.inputs, self.outputs, api_visibility="private", show_progress="hidden")

    def follow(self, shown, *typed):
        try:
            return self.game_of(shown, *typed)
        except AgentError as error:
            return gr.skip(), f"⚠️ {error}"

    def after(self, event) -> None:
        """Follow again once ``event`` is done: the page's load sets the game lists, and a repo typed meanwhile
        keeps its game."""
        event.then(self.follow, self.inputs, self.outputs, api_visibility="private", show_progress="hidden")


def api_errors(function):
    """For the API endpoints: an AgentError reaches ``gradio_client`` as its message, with no traceback."""

    @functools.wraps(function)
    def answer(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except AgentError as error:
            raise gr.Error(str(error), print_exception=False) from None

    return answer


WATCH_S = 0.25  # how often a request's watcher looks whether its visitor is still there
CLOSE_WAIT_S = 30.0  # how long a stopped generator is given to finish its step before it is closed


def _visitor_gone(blocks, event_id: str | None) -> bool:
    """Whether Gradio has marked the request's event as no longer wanted: its page or client closed the
    stream (Gradio's ``Queue.clean_events`` sets ``alive = False``, and goes on running the function)."""
    queue = getattr(blocks, "_queue", None)
    for job in getattr(queue, "active_jobs", None) or ():
        for event in job or ():
            if event._id == event_id:
                return not event.alive
    return False


async def _watch(stop: threading.Event, blocks, event_id: str | None) -> None:
    while not stop.is_set():
        if _visitor_gone(blocks, event_id):
            stop.set()
            return
        await asyncio.sleep(WATCH_S)


def _in_scope(stop: threading.Event, call: Callable, *args):
    with stop_on(stop):
        return call(*args)


def _next_or_end(iterator):
    try:
        return True, next(iterator)
    except StopIteration:
        return False, None


def _close_when_idle(generator) -> None:
    """Close a generator whose step may still be running in an abandoned thread (it ends soon: it is stopped)."""
    deadline = time.monotonic() + CLOSE_WAIT_S
    while True:
        try:
            generator.close()
            return
        except ValueError:  # "generator already executing"
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)


def ends_with_request(function):
    """Run a heavy event or endpoint so that its work ends with its request, within a second.

    Gradio runs a sync function (or each step of a sync generator) in a thread it cannot stop: ``/cancel``
    (``gradio_client``'s ``job.cancel()``) cancels the asyncio task awaiting that thread, and a page or client
    that closes its stream only marks the event as not alive; either way the thread goes on, and with it the
    evaluation workers and ffmpeg it started. This wrapper is a coroutine (or an async generator) that runs
    ``function`` in a thread with a stop of its own (:mod:`agents.core.stopping`), sets it when the task is
    cancelled, when the visitor is gone, or when the run is over, and returns at once on cancel; the work
    raises :class:`~agents.core.stopping.Stopped` at its next check, and its ``finally`` blocks kill its
    processes. Gradio sees ``function``'s own signature (``functools.wraps``)."""
    if inspect.isgeneratorfunction(function):

        @functools.wraps(function)
        async def stream(*args, **kwargs):
            stop = threading.Event()
            watcher = asyncio.create_task(_watch(stop, LocalContext.blocks.get(None), LocalContext.event_id.get(None)))
            generator = function(*args, **kwargs)
            try:
                while True:
                    more, item = await anyio.to_thread.run_sync(
                        _in_scope, stop, _next_or_end, generator, abandon_on_cancel=True
                    )
                    if not more:
                        return
                    yield item
            finally:
                stop.set()
                watcher.cancel()
                threading.Thread(target=_close_when_idle, args=(generator,), daemon=True).start()

        return stream

    @functools.wraps(function)
    async def call(*args, **kwargs):
        stop = threading.Event()
        watcher = asyncio.create_task(_watch(stop, LocalContext.blocks.get(None), LocalContext.event_id.get(None)))
        try:
            return await anyio.to_thread.run_sync(
                _in_scope, stop, functools.partial(function, *args, **kwargs), abandon_on_cancel=True
            )
        finally:
            stop.set()
            watcher.cancel()

    return call
