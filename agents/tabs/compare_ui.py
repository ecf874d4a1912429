"""The Compare tab's layout and wiring, and the ``/compare`` endpoint; what they do is
:mod:`agents.tabs.compare`."""

import gradio as gr
from gradio.data_classes import FileData

from agents.core.budget import cost_note
from agents.evaluate.evaluation import EVAL_EPSILON, EVAL_MAX_STEPS
from agents.jobs.manager import JobManager
from agents.tabs.compare import compare_once, compare_stream, last_job_run, page_arena_game
from agents.tabs.play import failure_markdown
from agents.tabs.widgets import (
    BATCH_LANE,
    PROGRESS_BAR,
    RepoFollower,
    api_errors,
    ends_with_request,
    one_run_at_a_time,
)

COMPARE_INTRO = """Two agents, the same game, the same seeds: both play the first seed side by side, then every
seed, and the difference is taken seed by seed, with a 95% paired bootstrap interval. An agent is any Hub
repo in the RL Zoo's layout (e.g. `sb3/dqn-…` against `sb3/qrdqn-…`), or the one your last training job made; the
game is the agents' own, which must be one."""
RUNNING_LABEL = "Comparing… (the button comes back when it is done)"


class CompareTab:
    """Two agents on the same seeds: a side-by-side video of the first, then a paired verdict."""

    def __init__(self, game_choices: list[tuple[str, str]], first_game: str, jobs: JobManager) -> None:
        self.jobs = jobs
        with gr.Tab("Compare"):
            gr.Markdown(COMPARE_INTRO)
            with gr.Row():
                with gr.Column(scale=1, min_width=300):
                    self.game = gr.Dropdown(choices=game_choices, value=first_game, label="Game")
                    a_repo = gr.Textbox(label="Agent A: a Hub repo", placeholder="empty: the game's sb3 agent")
                    b_repo = gr.Textbox(
                        label="Agent B: a Hub repo",
                        placeholder="empty: the game's sb3 agent too, so A must be another",
                        info="another agent than A, e.g. sb3/qrdqn-BreakoutNoFrameskip-v4",
                    )
                    b_is_job = gr.Checkbox(label="Agent B: the agent of your last training job (Train tab)")
                    self.repo_note = gr.Markdown()
                    episodes = gr.Number(
                        value=10, precision=0, label="Seeds", info=cost_note("2 agents × (seeds × step cap + video)")
                    )
                    first_seed = gr.Number(value=0, precision=0, label="First seed (the one in the video)")
                    epsilon = gr.Number(value=EVAL_EPSILON, step=0.01, label="Exploration ε")
                    max_steps = gr.Number(
                        value=EVAL_MAX_STEPS, precision=0, label="Step cap per game (the video: 10,000)"
                    )
                    self.button = gr.Button("Compare", variant="primary")
                with gr.Column(scale=2, min_width=300):
                    self.video = gr.Video(
                        label="A and B on the first seed",
                        show_label=False,
                        buttons=[],
                        streaming=True,
                        autoplay=True,
                        elem_id="duel",
                    )
                    self.summary = gr.Markdown()
                    self.plot = gr.BarPlot(
                        x="game",
                        y="score",
                        color="agent",
                        x_title="seed and agent",
                        label="Scores, seed by seed",
                        sort=None,
                        visible=False,
                        elem_id="compare-plot",
                    )
                    self.table = gr.Dataframe(label="Seed by seed", visible=False)
                    self.file = gr.File(label="Side-by-side video (MP4)", visible=False)
            one_run_at_a_time(
                self.button,
                RUNNING_LABEL,
                ends_with_request(self.compare_tab),
                [self.game, a_repo, b_repo, b_is_job, episodes, first_seed, epsilon, max_steps],
                [self.video, self.summary, self.plot, self.table, self.file, self.game, self.repo_note],
                api_visibility="private",
                **BATCH_LANE,
            )
            # B's text is not an agent while the last job is: the note is then about A alone.
            self.follower = RepoFollower(
                self.game,
                [a_repo, b_repo],
                self.repo_note,
                lambda shown, a, b, job: page_arena_game(shown, a, "" if job else b),
                (b_is_job,),
            )

    def compare_tab(
        self, game, a_repo, b_repo, b_is_job, episodes, first_seed, epsilon, max_steps, progress=PROGRESS_BAR
    ):
        """Stream the side-by-side video of the first seed (of the agents' game: the dropdown shows it), then
        the paired evaluation; a failure is said where the verdict goes."""
        yield {  # the last comparison's verdict and scores go: they are not this one's
            self.summary: "",
            self.plot: gr.BarPlot(visible=False),
            self.table: gr.Dataframe(visible=False),
            self.file: gr.File(visible=False),
        }
        try:
            b_spec = last_job_run(self.jobs.status()) if b_is_job else b_repo
            game, note = page_arena_game(game, a_repo, b_spec, b_is_job)
            yield {self.game: game, self.repo_note: note}
            for segment, comparison in compare_stream(
                game, a_repo, b_spec, episodes, first_seed, epsilon, max_steps, progress, b_is_run_folder=b_is_job
            ):
                if comparison is None:
                    yield {self.video: segment}
                else:
                    yield {
                        self.summary: comparison.markdown(),
                        self.plot: gr.BarPlot(comparison.plot_data(), y_lim=comparison.score_range(), visible=True),
                        self.table: gr.Dataframe(comparison.table(), visible=True),
                        self.file: gr.File(str(comparison.video), visible=True),
                    }
        except Exception as error:
            yield {self.summary: failure_markdown("Could not compare", error)}


@api_errors
def compare_api(
    game: str = "",
    a: str = "",
    b: str = "",
    episodes: int = 10,
    first_seed: int = 0,
    epsilon: float = EVAL_EPSILON,
    max_steps: int = EVAL_MAX_STEPS,
) -> tuple[FileData, dict]:
    """Two agents (Hub repo ids; empty: the game's own) on the same game and seeds (game empty: the agents',
    which must be one, or the first whose agent can play here). Returns the side-by-side
    video of the first seed and a summary: each agent's repo, scores, mean and std, and the difference B − A
    with its 95% paired bootstrap interval, in numbers and in words."""
    comparison = compare_once(game, a, b, episodes, first_seed, epsilon, max_steps)
    return FileData(path=str(comparison.video)), {"game": comparison.a.game.key, **comparison.paired.summary()}
