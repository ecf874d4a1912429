"""The Leaderboard tab's layout and wiring, and the ``/submit`` and ``/leaderboard`` endpoints; what they do
is :mod:`agents.tabs.leaderboard`."""

import os

import gradio as gr

from agents.core.access import on_a_space
from agents.leaderboard import store
from agents.leaderboard.board import ORDERS, queue_rows, ranking, remove_entry, submit
from agents.leaderboard.protocol import current_protocol
from agents.leaderboard.worker import start_background_worker
from agents.tabs.evaluate import histogram_data
from agents.tabs.leaderboard import (
    BOARD_TYPES,
    BOARD_WIDTHS,
    board_heading,
    board_table,
    entry_evaluation,
    entry_markdown,
    open_entry,
    queue_table,
    replay_best_game,
)
from agents.tabs.play import failure_markdown, page_repo_game
from agents.tabs.widgets import RepoFollower, api_errors, ends_with_request

WORKER_VARIABLE = "ARENA_LEADERBOARD_WORKER"
REFRESH_S = 3.0  # how often an open page reads the queue and the board again
LEADERBOARD_INTRO = """Every agent ranked per game by a score **the Arena measured itself**, on one fixed protocol,
not by what its model card says. Paste your repo and press **Submit**: it is checked by the Arena's safe loader,
queued, and evaluated on seeds drawn for it; the seeds are published with the result, so anyone can rerun it.
The random agent and the game's RL Zoo agent are measured the same way, to give every number a scale."""


def visitor_of(request: gr.Request | None, profile: gr.OAuthProfile | None = None) -> str | None:
    """Who a submission counts against: the logged-in user, else the visitor's address."""
    if profile is not None:
        return profile.username
    if request is None:
        return None
    forwarded = (request.headers.get("x-forwarded-for") or "").split(",")[0].strip()
    return forwarded or (request.client.host if request.client else None)


class LeaderboardTab:
    """A game's board, the queue, a submission form, and any entry in full."""

    def __init__(self, game_choices: list[tuple[str, str]], first_game: str) -> None:
        with gr.Tab("Leaderboard"):
            gr.Markdown(LEADERBOARD_INTRO)
            with gr.Row():
                with gr.Column(scale=1, min_width=300):
                    self.game = gr.Dropdown(choices=game_choices, value=first_game, label="Game")
                    repo = gr.Textbox(
                        label="Your agent's Hub repo (RL Zoo layout, DQN or QR-DQN)",
                        placeholder="e.g. your-name/dqn-SpaceInvadersNoFrameskip-v4",
                        info="Its game, by its name or files, is the board it joins.",
                        elem_id="leaderboard-repo",
                    )
                    self.repo_note = gr.Markdown()
                    submit_button = gr.Button("Submit", variant="primary")
                    self.message = gr.Markdown(elem_id="leaderboard-message")
                with gr.Column(scale=1, min_width=300):
                    self.queue = gr.Dataframe(
                        label="Queue", interactive=False, elem_id="leaderboard-queue", value=queue_table()
                    )
            self.heading = gr.Markdown(board_heading(first_game))
            order = gr.Radio(list(ORDERS), value="mean", label="Rank by")
            self.board = gr.Dataframe(
                value=board_table(first_game),
                datatype=BOARD_TYPES,
                column_widths=BOARD_WIDTHS,
                interactive=False,
                wrap=True,
                elem_id="leaderboard-board",
                label="Board",
            )
            with gr.Accordion("An entry: its games, seeds and best game", open=False):
                with gr.Row():
                    entry_id = gr.Number(label="Entry (the board's last column)", precision=0, minimum=1)
                    open_button = gr.Button("Open")
                    replay_button = gr.Button("Replay its best game")
                self.entry = gr.Markdown()
                with gr.Row():
                    self.histogram = gr.BarPlot(x="score", y="games", label="Scores", sort=None, visible=False)
                    self.games = gr.Dataframe(label="Every game", visible=False, interactive=False)
                self.replay = gr.Video(label="Its best game", visible=False)
                with gr.Row():
                    if on_a_space():
                        gr.LoginButton()
                        secret = gr.Textbox(label="Or the training secret", type="password")
                    else:
                        secret = gr.State("")
                    remove_button = gr.Button("Remove this entry (the Space's owner)", variant="stop")
            refresh_inputs, self.refresh_outputs = [self.game, order], [self.heading, self.board, self.queue]
            gr.Timer(REFRESH_S).tick(
                self.refresh, refresh_inputs, self.refresh_outputs, api_visibility="private", show_progress="hidden"
            )
            gr.on(
                [self.game.change, order.change], self.refresh, refresh_inputs, self.refresh_outputs,
                api_visibility="private",
            )  # fmt: skip
            submit_button.click(
                self.submit_tab, [self.game, repo], [self.message, self.game, self.repo_note], api_visibility="private"
            ).then(self.refresh, refresh_inputs, self.refresh_outputs, api_visibility="private")
            open_button.click(
                self.open_tab, entry_id, [self.entry, self.histogram, self.games], api_visibility="private"
            )
            replay_button.click(
                ends_with_request(self.replay_tab), entry_id, [self.replay, self.entry], api_visibility="private"
            )
            remove_button.click(self.remove_tab, [entry_id, secret], self.entry, api_visibility="private").then(
                self.refresh, refresh_inputs, self.refresh_outputs, api_visibility="private"
            )
            self.follower = RepoFollower(self.game, [repo], self.repo_note, page_repo_game)

    @staticmethod
    def start_worker() -> None:
        """The app's own evaluation worker, unless ``ARENA_LEADERBOARD_WORKER=0`` (workers elsewhere do the work)."""
        if os.getenv(WORKER_VARIABLE, "1") != "0":
            start_background_worker(store.database_url())

    def refresh(self, game, order):
        return board_heading(game), board_table(game, order), queue_table()

    def submit_tab(self, game, repo_id, request: gr.Request, profile: gr.OAuthProfile | None = None):
        """Queue the agent (the repo's game wins over the dropdown); a refusal is said where the answer goes."""
        try:
            game, note = page_repo_game(game, repo_id)
            receipt = submit(repo_id, game, visitor_of(request, profile))
        except Exception as error:
            return failure_markdown("Not submitted", error), gr.skip(), gr.skip()
        return receipt.sentence(), game, note

    def open_tab(self, entry_id):
        try:
            entry = open_entry(entry_id)
            evaluation = entry_evaluation(entry)
        except Exception as error:
            return failure_markdown("No such entry on the board", error), gr.BarPlot(visible=False), gr.skip()
        histogram = histogram_data(evaluation)
        return (
            entry_markdown(entry),
            gr.BarPlot(histogram, y_lim=[0, int(histogram["games"].max())], visible=True),
            gr.Dataframe(evaluation.table(), visible=True),
        )

    def replay_tab(self, entry_id):
        try:
            result = replay_best_game(open_entry(entry_id))
        except Exception as error:
            return gr.Video(visible=False), failure_markdown("No replay", error)
        return gr.Video(str(result.video), visible=True), gr.skip()

    def remove_tab(self, entry_id, secret_value, profile: gr.OAuthProfile | None = None):
        try:
            return remove_entry(open_entry(entry_id).id, profile.username if profile else None, secret_value)
        except Exception as error:
            return failure_markdown("Not removed", error)


@api_errors
def submit_api(repo_id: str, game: str = "", request: gr.Request = None) -> dict:
    """Check an agent (the safe loader) and queue it on its game's board (game empty: the repo's). A repeat of an
    entry (same repo, commit, protocol) points to it. Returns entry, state, new, position, estimate_s, message."""
    return submit(repo_id, game or None, visitor_of(request)).answer()


@api_errors
def leaderboard_api(game: str, order: str = "mean") -> dict:
    """A game's board under the current protocol, ranked by mean (or mean_minus_std, median), and the queue."""
    return {"protocol": current_protocol().name, "board": ranking(game, order), "queue": queue_rows()}
