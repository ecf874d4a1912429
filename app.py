"""Atari DQN Arena: assembles the tabs of :mod:`agents.tabs` and launches the app."""

import os

if __name__ == "__main__":  # what follows takes seconds, a minute or more on a cold machine: say what is going on
    print("Atari DQN Arena: loading PyTorch, Gradio and the RL Zoo…", flush=True)

import gradio as gr

from agents.core.access import training_available
from agents.core.numbers import check_owner_settings
from agents.jobs.manager import JobManager
from agents.leaderboard.hub_copy import restored_hub_copy, start_hub_copy
from agents.tabs.compare_ui import CompareTab, compare_api
from agents.tabs.evaluate_ui import EvaluateTab, evaluate_api
from agents.tabs.leaderboard_ui import LeaderboardTab, leaderboard_api, submit_api
from agents.tabs.play import KEEP_OUTPUTS_S
from agents.tabs.play_ui import PlayTab, curves_api, play_api
from agents.tabs.train_ui import TrainTab
from agents.tabs.widgets import (
    BATCH_LANE,
    PLAY_LANE,
    QUEUE_SIZE,
    ends_with_request,
    game_choices,
    game_dropdown_update,
)
from agents.tabs.yourturn_ui import YourTurnTab
from agents.train.training import training_device
from agents.train.training_time import step_costs

INTRO = """# Atari DQN Arena
Pick a game and press **Play**: a Deep Q-Network agent plays a whole game (an RL Zoo agent from the Hugging
Face Hub, or, when the Hub is out of reach, the Arena's own offline agent), and beside the screen you see what
it expects from each action (its Q-values), frame by frame."""
THEME = gr.themes.Default(  # fonts that ship with Gradio, so the page looks the same offline
    # Gradio's SemiBold files hold a few dozen glyphs only: weight 600 would mix in a fallback font.
    font=[gr.themes.LocalFont("Source Sans Pro", weights=(400, 700)), "ui-sans-serif", "system-ui", "sans-serif"],
    font_mono=[gr.themes.LocalFont("IBM Plex Mono", weights=(400, 700)), "ui-monospace", "monospace"],
)
# On a phone Gradio moves the tabs that do not fit into a "⋯" menu: narrower tab buttons keep four of six in sight.
PHONE_CSS = "@media (max-width: 480px) { .tab-container > button { padding: 0 7px; } }"

check_owner_settings()  # a bad Space variable is said now, not to each visitor
BOARD_COPY = restored_hub_copy()  # the Leaderboard in a Hub dataset, if the owner named one: read back before use
jobs = JobManager()
TRAINING_ON, TRAINING_NOTE = training_available()
if __name__ == "__main__":
    print("Checking which agents can play here: the Hugging Face cache, and whether the Hub answers…", flush=True)
GAME_CHOICES, FIRST_GAME = game_choices()  # once at start-up; each page load asks again

with gr.Blocks(title="Atari DQN Arena", delete_cache=(KEEP_OUTPUTS_S, KEEP_OUTPUTS_S)) as demo:
    gr.Markdown(INTRO)
    play = PlayTab(GAME_CHOICES, FIRST_GAME)
    evaluate = EvaluateTab(GAME_CHOICES, FIRST_GAME)
    compare = CompareTab(GAME_CHOICES, FIRST_GAME, jobs)
    train = TrainTab(GAME_CHOICES, FIRST_GAME, jobs, TRAINING_ON, TRAINING_NOTE)
    yourturn = YourTurnTab(GAME_CHOICES, FIRST_GAME)  # the live game (its websocket: at launch); in the phone's menu
    leaderboard = LeaderboardTab(GAME_CHOICES, FIRST_GAME)  # last: on a phone it is in the tabs' menu

    def load_page(token: gr.OAuthToken | None = None, profile: gr.OAuthProfile | None = None):
        """A new visit: games marked as they are now, and the Train tab showing the job on screen, if any."""
        games = game_dropdown_update()
        pages = {play.game: games, evaluate.game: games, compare.game: games, leaderboard.game: games}
        pages[yourturn.game] = games
        return pages | train.on_load(games, token, profile)

    page_load = demo.load(
        load_page,
        None,
        [play.game, evaluate.game, compare.game, leaderboard.game, yourturn.game, *train.load_outputs],
        api_visibility="private",
    )
    for tab in (play, evaluate, compare, leaderboard, train):
        tab.follower.after(page_load)  # a repo typed while the page loaded keeps its game
    train.after_load(page_load)
    # The heavy endpoints' work (workers, ffmpeg) stops when their request ends: cancelled, closed or lost.
    # Heavy requests share bounded lanes of the queue (agents.tabs.widgets), each with its tab's button.
    gr.api(ends_with_request(play_api), api_name="play", **PLAY_LANE)
    gr.api(ends_with_request(evaluate_api), api_name="evaluate", **BATCH_LANE)
    gr.api(ends_with_request(curves_api), api_name="curves")
    gr.api(ends_with_request(compare_api), api_name="compare", **BATCH_LANE)
    gr.api(submit_api, api_name="submit")
    gr.api(leaderboard_api, api_name="leaderboard")
    train.register_api()

# Gradio's login button checks the login with an endpoint of its own: internal, like the page's events.
for function in demo.fns.values():
    if function.name == "_check_login_status":
        function.api_visibility = "private"

if __name__ == "__main__":
    print("Starting the web server…", flush=True)
    # As on Spaces: all interfaces, port 7860, requests queued (the environment may override both).
    host, port = os.getenv("GRADIO_SERVER_NAME", "0.0.0.0"), int(os.getenv("GRADIO_SERVER_PORT", "7860"))
    demo.queue(max_size=QUEUE_SIZE).launch(
        server_name=host,
        server_port=port,
        theme=THEME,
        css=PHONE_CSS,
        prevent_thread_lock=True,  # served from here on: the URL is out before the machine is timed
    )
    yourturn.register_routes(demo.app)  # Your turn's live game: a websocket on this server, beside Gradio's
    print(f"Open http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port} in a browser.", flush=True)
    if TRAINING_ON:  # the Train tab's estimate: this machine timed (a few seconds); the tab says so meanwhile
        print("Timing this machine's training speed for the Train tab's estimates (a few seconds)…", flush=True)
        step_costs(training_device())
        print("Timed: the Train tab's estimates are this machine's.", flush=True)
    jobs.resume_interrupted()
    leaderboard.start_worker()
    if BOARD_COPY is not None:
        start_hub_copy(BOARD_COPY)
    demo.block_thread()
