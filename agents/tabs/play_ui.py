"""The Play tab's layout and wiring, and the ``/play`` and ``/curves`` endpoints; what they do is
:mod:`agents.tabs.play` and :mod:`agents.curves.agent_curves`."""

import json

import gradio as gr
from gradio.data_classes import FileData

from agents.core.budget import SALIENCY_STEP_COST, check_play_cost, cost_note
from agents.core.errors import AgentError
from agents.core.repo_game import resolve_game
from agents.curves.agent_curves import curves_for, episode_plot_data, evaluation_plot_data, repo_curves
from agents.play.episode import MAX_STEPS_LIMIT, saliency_cost
from agents.tabs.play import (
    PLOT_VIEWS,
    PLOT_Y_TITLES,
    Q_VALUE_MEANING,
    failure_markdown,
    page_repo_game,
    play_once,
    play_stream,
    q_value_plot_data,
    summary_markdown,
)
from agents.tabs.widgets import (
    PLAY_LANE,
    PROGRESS_BAR,
    RepoFollower,
    api_errors,
    ends_with_request,
    one_run_at_a_time,
)

RUNNING_LABEL = "Playing… (the button comes back when the game is done)"

# Before a game: a narrow screen gets the panel below the game (readable text) and the video brought to
# the top of the screen, again as it grows with the first segments; a wide one scrolls only if the
# video is off screen.
BEFORE_PLAY = """(...inputs) => {
    const narrow = window.innerWidth < 700;
    const bringVideo = () => {
        const video = document.getElementById('gameplay');
        const box = video?.getBoundingClientRect();
        const offScreen = box && (box.top < 0 || box.top > window.innerHeight - 120);
        if (box && ((narrow && Math.abs(box.top) > 40) || offScreen)) video.scrollIntoView({behavior: 'smooth'});
    };
    bringVideo();
    if (narrow) [1500, 3000].forEach((delay) => setTimeout(bringVideo, delay));
    inputs[inputs.length - 1] = narrow;
    return inputs;
}"""


def saliency_note(looks: bool, max_steps: float) -> str:
    """With "where the agent looks" ticked, what it will cost the game on the form, before it starts."""
    if not looks:
        return ""
    try:
        note = saliency_cost(max_steps).replace("Slow:", "**Slow**:", 1)
        check_play_cost(int(max_steps), saliency=True)
        return note
    except AgentError as error:
        return str(error)


def q_value_plot(table, view: str) -> gr.LinePlot:
    return gr.LinePlot(q_value_plot_data(table, view), y_title=PLOT_Y_TITLES[view], visible=True)


class PlayTab:
    """A whole game streamed with the agent's Q-values, then its plot, files and how the agent learned."""

    def __init__(self, game_choices: list[tuple[str, str]], first_game: str) -> None:
        with gr.Tab("Play"):
            with gr.Row():
                with gr.Column(scale=1, min_width=300):
                    self.game = gr.Dropdown(
                        choices=game_choices,
                        value=first_game,
                        label="Game",
                        info="Marked with where its agent comes from: cached, from the Hub, or the offline agent.",
                    )
                    repo_id = gr.Textbox(
                        label="Or any Hub repo (RL Zoo layout, DQN or QR-DQN)",
                        placeholder="e.g. sb3/qrdqn-SpaceInvadersNoFrameskip-v4 (empty: the game's sb3 agent)",
                        info="Its game, by its name or files, is the one played.",
                    )
                    self.repo_note = gr.Markdown()
                    seed = gr.Number(value=0, precision=0, minimum=0, label="Seed (same seed, same game)")
                    epsilon = gr.Number(
                        value=0.01,
                        minimum=0,
                        maximum=1,
                        step=0.01,
                        label="Exploration ε",
                        info="0 = greedy; 0.01 = the RL Zoo agents' final exploration rate",
                    )
                    max_steps = gr.Slider(
                        1,
                        MAX_STEPS_LIMIT,
                        value=MAX_STEPS_LIMIT,
                        step=1,
                        label="Step cap",
                        info=cost_note(f"the step cap, × {SALIENCY_STEP_COST} with the saliency map"),
                    )
                    agent_view = gr.Checkbox(label="Show the agent's view (its stacked 84×84 input frames)")
                    looks = gr.Checkbox(
                        label="Show where the agent looks (saliency heat map)",
                        info="Slow: a map is about 290 passes of the network, so the game takes many times longer "
                        "(this game's time shows when ticked).",
                    )
                    looks_cost = gr.Markdown()
                    play_button = gr.Button("Play", variant="primary")
                with gr.Column(scale=2, min_width=300):
                    self.video = gr.Video(
                        label="Gameplay with Q-values",
                        show_label=False,  # a label or button drawn over the video would hide the game's score
                        buttons=[],
                        streaming=True,
                        autoplay=True,
                        elem_id="gameplay",
                    )
                    self.summary = gr.Markdown()
                    gr.Markdown(Q_VALUE_MEANING)
            self.plot_view = gr.Radio(
                [(text, key) for key, text in PLOT_VIEWS.items()], value="advantage", label="Plot", visible=False
            )
            self.q_plot = gr.LinePlot(
                x="step", y="value", color="action", label="Each action's value over the game", visible=False
            )
            self.played_table = gr.State()
            stacked = gr.Checkbox(visible=False)  # set in the browser from the screen's width
            with gr.Row():
                self.full_video = gr.File(label="Full video (MP4)", visible=False)
                self.steps_csv = gr.File(label="Every step (CSV)", visible=False)
            with gr.Accordion("Summary (JSON)", open=False):
                self.summary_json = gr.JSON()
            with gr.Accordion("How this agent learned", open=False):
                self.learned_note = gr.Markdown("Play a game to see how its agent learned.")
                self.learned_episodes = gr.LinePlot(
                    x="timesteps", y="score", color="series", label="Training episodes' scores", visible=False
                )
                self.learned_evaluations = gr.LinePlot(
                    x="timesteps", y="score", color="series", label="Evaluations during training", visible=False
                )
            one_run_at_a_time(
                play_button,
                RUNNING_LABEL,
                ends_with_request(self.play),
                [self.game, repo_id, seed, epsilon, max_steps, agent_view, looks, self.plot_view, stacked],
                [self.video, self.summary, self.q_plot, self.plot_view, self.played_table]
                + [self.game, self.repo_note, self.full_video, self.steps_csv, self.summary_json]
                + [self.learned_note, self.learned_episodes, self.learned_evaluations],
                api_name="play_stream",
                js=BEFORE_PLAY,
                api_visibility="private",
                **PLAY_LANE,
            )
            self.follower = RepoFollower(self.game, [repo_id], self.repo_note, page_repo_game)
            gr.on(
                [looks.change, max_steps.change],
                saliency_note,
                [looks, max_steps],
                looks_cost,
                api_visibility="private",
                show_progress="hidden",
            )
            self.plot_view.change(
                lambda table, view: gr.skip() if table is None else q_value_plot(table, view),
                [self.played_table, self.plot_view],
                self.q_plot,
                api_visibility="private",
            )

    def play(
        self, game, repo_id, seed, epsilon, max_steps, agent_view, looks, plot_view, stacked, progress=PROGRESS_BAR
    ):
        """Play one game (the repo's, if one is typed: the dropdown shows it); streams the video while the agent
        plays, then the summary, plot and files. A failure is said where the summary goes, and what is on screen
        stays."""
        yield {self.summary: ""}  # the last press's summary or error is not this game's
        try:
            game, note = page_repo_game(game, repo_id)
            yield {self.game: game, self.repo_note: note}
            games = play_stream(game, repo_id, seed, epsilon, max_steps, agent_view, progress, stacked, looks)
            for segment, result in games:
                if result is None:
                    yield {self.video: segment}
                else:
                    yield {
                        self.summary: summary_markdown(result),
                        self.q_plot: q_value_plot(result.table, plot_view),
                        self.plot_view: gr.Radio(visible=True),
                        self.played_table: result.table,
                        self.full_video: gr.File(str(result.video), visible=True),
                        self.steps_csv: gr.File(str(result.csv), visible=True),
                        self.summary_json: result.summary(),
                    }
                    yield self.learned_updates(result.agent)  # after the summary: it may wait for a download
        except Exception as error:
            kept = "  \nThe video, plot and files on this page, if any, are from the previous game."
            gr.Warning("Could not play: the reason is under the video.", duration=5)
            yield {self.summary: failure_markdown("Could not play", error) + kept}

    def learned_updates(self, agent) -> dict:
        """ "How this agent learned", for the agent on screen: its curves where they can be found, else why not."""
        curves, note = curves_for(agent)
        episodes = episode_plot_data(curves) if curves else None
        evaluations = evaluation_plot_data(curves) if curves else None
        return {
            self.learned_note: note,
            self.learned_episodes: gr.LinePlot(episodes, visible=episodes is not None),
            self.learned_evaluations: gr.LinePlot(evaluations, visible=evaluations is not None),
        }


@api_errors
def play_api(
    game: str = "",
    repo_id: str = "",
    seed: int = 0,
    epsilon: float = 0.01,
    max_steps: int = MAX_STEPS_LIMIT,
    agent_view: bool = False,
    saliency: bool = False,
) -> tuple[FileData, FileData, dict]:
    """Play one whole game (game empty: the repo's, or with no repo the default game, as the page's first;
    a repo of another game than the one named is refused). Returns the MP4 video,
    the per-step CSV and a summary (game, repo, seed, epsilon, steps, score, terminated, seconds). With
    saliency, where the agent looks is laid over the game in the video."""
    result = play_once(game, repo_id, seed, epsilon, max_steps, agent_view, saliency)
    return FileData(path=str(result.video)), FileData(path=str(result.csv)), result.summary()


@api_errors
def curves_api(game: str = "", repo_id: str = "") -> dict:
    """How an agent learned (game empty: the repo's, or the first whose agent can play here): its training episodes
    (timesteps, score, moving average of 100) and evaluations (timesteps, mean, std), as the RL Zoo logged
    them, with where they come from; empty lists, and the reason, when there is no training log."""
    curves, note = repo_curves(resolve_game(game, repo_id), repo_id)
    episodes = curves.episodes[["timesteps", "score", "moving_average"]] if curves else None
    evaluations = curves.evaluations if curves is not None and curves.evaluations is not None else None
    return {
        "source": note,
        "episodes": [] if episodes is None else json.loads(episodes.to_json(orient="records")),
        "evaluations": [] if evaluations is None else json.loads(evaluations.to_json(orient="records")),
    }
