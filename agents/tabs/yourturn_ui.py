"""The Your turn tab: a canvas the live game is drawn on (its page script, ``yourturn_page.js``, talks to the
websocket of :mod:`agents.yourturn.route`), then the result, both games' files and the people's board. There is
no ``gradio_client`` endpoint: the game is live, played in the page."""

from pathlib import Path

import gradio as gr
import pandas as pd

from agents.core.catalog import get_game
from agents.yourturn import human_board, route
from agents.yourturn.results import FINISHED

PAGE_SCRIPT = (Path(__file__).with_name("yourturn_page.js")).read_text()
SCREEN = """<div class="yt">
  <p class="yt-news" aria-live="polite">Pick a game and a seed, then press Start.</p>
  <canvas class="yt-canvas" tabindex="0" width="692" height="420"
    aria-label="The game, with the agent's panel"></canvas>
  <p class="yt-keys">Keys: ← → ↑ ↓ move, Space = FIRE, A = let the agent play / take back</p>
  <div class="yt-controls">
    <div class="yt-pad">
      <button data-control="UP" aria-label="Up">↑</button>
      <button data-control="LEFT" aria-label="Left">←</button>
      <button data-control="FIRE" aria-label="Fire">FIRE</button>
      <button data-control="RIGHT" aria-label="Right">→</button>
      <button data-control="DOWN" aria-label="Down">↓</button>
    </div>
    <button class="yt-agent" disabled>Let the agent play (A)</button>
  </div>
</div>"""
SCREEN_CSS = """
.yt-canvas { width: 100%; max-width: 1038px; height: auto; image-rendering: pixelated; background: #12121c;
  display: block; outline: none; }
.yt-news { min-height: 3em; margin: 4px 0; }
.yt-keys { color: var(--body-text-color-subdued); margin: 4px 0; }
.yt-controls { display: flex; gap: 16px; align-items: center; flex-wrap: wrap; margin-top: 6px; }
.yt-pad { display: grid; grid-template-columns: repeat(3, 64px); grid-template-rows: repeat(3, 52px); gap: 6px;
  touch-action: none; user-select: none; -webkit-user-select: none; }
.yt-pad button, .yt-agent { border-radius: 8px; border: 1px solid var(--border-color-primary);
  background: var(--button-secondary-background-fill); font-size: 20px; touch-action: none; }
.yt-pad button[data-control=UP] { grid-column: 2; grid-row: 1; }
.yt-pad button[data-control=LEFT] { grid-column: 1; grid-row: 2; }
.yt-pad button[data-control=FIRE] { grid-column: 2; grid-row: 2; font-size: 14px; font-weight: 700; }
.yt-pad button[data-control=RIGHT] { grid-column: 3; grid-row: 2; }
.yt-pad button[data-control=DOWN] { grid-column: 2; grid-row: 3; }
.yt-pad button.yt-down { background: var(--button-primary-background-fill); }
.yt-agent { font-size: 16px; padding: 10px 14px; }
.yt-agent.yt-on { background: var(--button-primary-background-fill); }
@media (min-width: 700px) { .yt-pad { grid-template-columns: repeat(3, 48px); grid-template-rows: repeat(3, 36px); } }
@media (max-width: 699px) {  /* a phone: the game, its panel below it, and the buttons, all on one screen */
  .yt-canvas { width: auto; max-width: 100%; max-height: 56vh; margin: 0 auto; }
  .yt-news { min-height: 2.6em; font-size: 14px; }
  .yt-keys { display: none; }
}
"""
START_JS = "(game, seed) => { window.arenaYourTurn?.start(game, seed); }"
HOW_TO = """### Play it yourself
Pick a game and a seed and press **Start**: the game runs here in real time (15 moves a second, as the agent plays
it), with the **arrow keys** and **Space** (FIRE), or the buttons below the game on a phone. Beside it, the agent's
panel says what *it* would do on your screen: its Q-value for each action and the one it would choose. Press **A**
(or the button) to let the agent play for you, and again to take back control. When the game ends, the agent
plays the same seed, and you get both games as videos and your steps as a CSV. The score counted is the server's.
A game ends at the step cap; after a minute without a key it pauses, and a minute later it ends."""
BOARD_COLUMNS = ["rank", "name", "score", "seed", "agent, same seed", "steps", "agent played"]


def board_table(game: str) -> pd.DataFrame:
    """The game's people's board, as the tab shows it."""
    rows = [
        [
            row["rank"],
            row["name"],
            f"{row['score']:g}",
            row["seed"],
            f"{row['agent_score']:g}",
            row["steps"],
            f"{row['agent_steps_played']} steps" if row["agent_steps_played"] else "",
        ]
        for row in human_board.board(game)
    ]
    return pd.DataFrame(rows, columns=BOARD_COLUMNS)


class YourTurnTab:
    """The visitor plays; the agent's Q-values say what it would do; both games end up side by side."""

    def __init__(self, game_choices: list[tuple[str, str]], first_game: str) -> None:
        with gr.Tab("Your turn"):
            gr.Markdown(HOW_TO)
            with gr.Row(equal_height=True):
                self.game = gr.Dropdown(choices=game_choices, value=first_game, label="Game", min_width=200)
                seed = gr.Number(
                    value=0,
                    precision=0,
                    minimum=0,
                    label="Seed (same seed, same game)",
                    min_width=160,
                    elem_id="yourturn-seed",
                )
                start = gr.Button("Start", variant="primary", elem_id="yourturn-start", min_width=120)
            self.screen = gr.HTML(
                html_template=SCREEN,
                css_template=SCREEN_CSS,
                js_on_load=PAGE_SCRIPT,
                elem_id="yourturn-screen",
            )
            self.result = gr.Markdown(elem_id="yourturn-result")
            with gr.Row():
                self.your_video = gr.File(label="Your game (MP4, with the agent's panel)", visible=False)
                self.agent_video = gr.File(label="The agent's game, same seed (MP4)", visible=False)
                self.steps_csv = gr.File(label="Your steps (CSV)", visible=False, elem_id="yourturn-csv")
            self.board_title = gr.Markdown(self.board_heading(first_game))
            self.board = gr.Dataframe(
                value=board_table(first_game), headers=BOARD_COLUMNS, interactive=False, elem_id="yourturn-board"
            )
            start.click(None, [self.game, seed], None, js=START_JS, api_visibility="private")
            self.screen.submit(
                self.finished,
                None,
                [self.result, self.your_video, self.agent_video, self.steps_csv, self.board_title, self.board],
                api_visibility="private",
                show_progress="hidden",
            )
            self.game.change(self.show_board, self.game, [self.board_title, self.board], api_visibility="private")

    @staticmethod
    def register_routes(app) -> None:
        """The live game's websocket (and its status), on the app's own server: call once it is launched."""
        route.register(app)

    @staticmethod
    def board_heading(game: str) -> str:
        return f"#### People's best scores on {get_game(game).title} (the agents' are on the Leaderboard)"

    def show_board(self, game: str):
        return self.board_heading(game), board_table(game)

    def finished(self, event: gr.EventData, profile: gr.OAuthProfile | None = None):
        """A game's page says it is over: its result, files, and its place on the board (recorded once)."""
        result = FINISHED.get(getattr(event, "_data", {}).get("token", "") if event else "")
        if result is None:
            return ("This game's result is no longer kept here.",) + (gr.skip(),) * 5
        if FINISHED.claim(result.token):
            name = (profile.username if profile else "") or "anonymous"
            human_board.record(
                result.game, name, result.seed, result.score, result.steps, result.agent_score, result.agent_took_over
            )
        helped = (
            f" The agent played {result.agent_took_over} of your {result.steps} steps."
            if result.agent_took_over
            else ""
        )
        text = (
            f"### {result.sentence()}\n{result.game_title}, {result.steps} steps ({result.ended}); the agent "
            f"({result.repo_id}, ε = 0.01 as in Play) played {result.agent_steps}.{helped}"
        )
        return (
            text,
            gr.File(str(result.human_video), visible=True),
            gr.File(str(result.agent_video), visible=True),
            gr.File(str(result.csv), visible=True),
            self.board_heading(result.game),
            board_table(result.game),
        )
