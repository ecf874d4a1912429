"""What every tab's Gradio code shares: the progress bar, the game choices, a game dropdown that follows
the repo ids typed, and how an API endpoint answers with an :class:`~agents.core.errors.AgentError`'s message."""

import functools
from collections.abc import Callable

import gradio as gr

from agents.core.agent_files import availability, first_playable
from agents.core.errors import AgentError

PROGRESS_BAR = gr.Progress(track_tqdm=True)


def game_choices() -> tuple[list[tuple[str, str]], str]:
    """The games, each marked with where its agent would come from now, and the first that can play."""
    entries = availability()
    return [(entry.label, entry.game.key) for entry in entries], first_playable(entries)


def game_dropdown_update() -> gr.Dropdown:
    choices, first = game_choices()
    return gr.Dropdown(choices=choices, value=first)


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
