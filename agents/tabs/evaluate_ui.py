"""The Evaluate tab's layout and wiring, and the ``/evaluate`` endpoint; what they do is
:mod:`agents.tabs.evaluate`."""

import gradio as gr
from gradio.data_classes import FileData

from agents.core.budget import cost_note
from agents.evaluate.evaluation import EVAL_EPSILON, EVAL_MAX_STEPS
from agents.tabs.evaluate import evaluation_markdown, histogram_data, run_evaluation
from agents.tabs.play import failure_markdown, page_repo_game
from agents.tabs.widgets import (
    BATCH_LANE,
    PROGRESS_BAR,
    RepoFollower,
    api_errors,
    ends_with_request,
    one_run_at_a_time,
)

RUNNING_LABEL = "Evaluating… (the button comes back when it is done)"

EVALUATE_INTRO = """Is this agent as good as its card says? It plays whole games with seeds you choose, in
parallel on this machine's cores and with no video, and its score is set beside the model card's and the
RL Zoo's published benchmark. The game with seed *k* is the one **Play** shows for seed *k*."""


class EvaluateTab:
    """An agent scored over seeded games, beside its model card and the RL Zoo's benchmark."""

    def __init__(self, game_choices: list[tuple[str, str]], first_game: str) -> None:
        with gr.Tab("Evaluate"):
            gr.Markdown(EVALUATE_INTRO)
            with gr.Row():
                with gr.Column(scale=1, min_width=300):
                    self.game = gr.Dropdown(choices=game_choices, value=first_game, label="Game")
                    repo = gr.Textbox(
                        label="Or any Hub repo (RL Zoo layout, DQN or QR-DQN)",
                        placeholder="e.g. your-name/dqn-SpaceInvadersNoFrameskip-v4 (empty: the game's sb3 agent)",
                        info="Its game, by its name or files, is the one played.",
                    )
                    self.repo_note = gr.Markdown()
                    episodes = gr.Number(value=10, precision=0, label="Games", info=cost_note("games × step cap"))
                    first_seed = gr.Number(value=0, precision=0, label="First seed (then +1 a game)")
                    epsilon = gr.Number(
                        value=EVAL_EPSILON,
                        step=0.01,
                        label="Exploration ε",
                        info="0.01 as the RL Zoo scores Atari agents; 0 = greedy",
                    )
                    max_steps = gr.Number(
                        value=EVAL_MAX_STEPS,
                        precision=0,
                        label="Step cap per game",
                        info="27,000 agent steps = 108,000 frames, the usual Atari limit",
                    )
                    button = gr.Button("Evaluate", variant="primary")
                with gr.Column(scale=2, min_width=300):
                    self.summary = gr.Markdown()
                    self.histogram = gr.BarPlot(
                        x="score", y="games", label="Scores", sort=None, visible=False, elem_id="evaluate-plot"
                    )
                    self.table = gr.Dataframe(label="Every game", visible=False)
                    with gr.Row():
                        self.results = gr.File(label="results.json (as the RL Zoo writes it)", visible=False)
                        self.csv = gr.File(label="Every game (CSV)", visible=False)
            one_run_at_a_time(
                button,
                RUNNING_LABEL,
                ends_with_request(self.evaluate_tab),
                [self.game, repo, episodes, first_seed, epsilon, max_steps],
                [self.summary, self.histogram, self.table, self.results, self.csv, self.game, self.repo_note],
                api_visibility="private",
                **BATCH_LANE,
            )
            self.follower = RepoFollower(self.game, [repo], self.repo_note, page_repo_game)

    def evaluate_tab(self, game, repo_id, episodes, first_seed, epsilon, max_steps, progress=PROGRESS_BAR):
        """Score the agent over seeded games (the repo's game, if one is typed: the dropdown shows it); a failure
        is said where the summary goes."""
        try:
            game, note = page_repo_game(game, repo_id)
            yield {self.game: game, self.repo_note: note}
            report = run_evaluation(game, repo_id, episodes, first_seed, epsilon, max_steps, progress)
        except Exception as error:
            yield {self.summary: failure_markdown("Could not evaluate", error)}
            return
        histogram = histogram_data(report.evaluation)
        yield {
            self.summary: evaluation_markdown(report),
            self.histogram: gr.BarPlot(histogram, y_lim=[0, int(histogram["games"].max())], visible=True),
            self.table: gr.Dataframe(report.evaluation.table(), visible=True),
            self.results: gr.File(str(report.results_json), visible=True),
            self.csv: gr.File(str(report.games_csv), visible=True),
        }


@api_errors
def evaluate_api(
    game: str = "",
    repo_id: str = "",
    episodes: int = 10,
    first_seed: int = 0,
    epsilon: float = EVAL_EPSILON,
    max_steps: int = EVAL_MAX_STEPS,
) -> tuple[FileData, FileData, dict]:
    """Score an agent over seeded games (game empty: the repo's, or the first whose agent can play here; a repo
    of another game than the one named is refused), in parallel with
    no video. Returns the RL Zoo's results.json, a CSV with a row per game, and a summary (seeds, scores,
    episode_steps, mean, std, median, min, max, mean_minus_std, verdicts beside the card and the benchmark)."""
    report = run_evaluation(game, repo_id, episodes, first_seed, epsilon, max_steps)
    return FileData(path=str(report.results_json)), FileData(path=str(report.games_csv)), report.summary()
