"""What every tab's Gradio code shares: the progress bar, the game choices, and how an API endpoint
answers with an :class:`~agents.core.errors.AgentError`'s message."""

import functools

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


def api_errors(function):
    """For the API endpoints: an AgentError reaches ``gradio_client`` as its message, with no traceback."""

    @functools.wraps(function)
    def answer(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except AgentError as error:
            raise gr.Error(str(error), print_exception=False) from None

    return answer
