"""Atari DQN Arena: the Gradio UI. It only wires components to the ``agents`` package."""

import os

import gradio as gr
from gradio.data_classes import FileData

from agents.catalog import DEFAULT_GAME, GAMES
from agents.episode import MAX_STEPS_LIMIT
from agents.errors import AgentError
from agents.session import play_once, play_stream, q_value_plot_data, summary_markdown

INTRO = """# Atari DQN Arena
Pick a game and press **Play**: a Deep Q-Network agent from the Hugging Face Hub plays a whole game,
and beside the screen you see what it expects from each action (its Q-values), frame by frame."""


def play(game, repo_id, seed, epsilon, max_steps, agent_view, progress=gr.Progress()):  # noqa: B008 (Gradio injects it this way)
    """Play one game; streams the video while the agent plays, then the summary, plot and files."""
    try:
        for segment, result in play_stream(game, repo_id, seed, epsilon, max_steps, agent_view, progress):
            if result is None:
                yield segment, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            else:
                yield (
                    gr.skip(),
                    summary_markdown(result),
                    q_value_plot_data(result),
                    str(result.video),
                    str(result.csv),
                    result.summary(),
                )
    except AgentError as error:
        raise gr.Error(str(error), print_exception=False) from None


def play_api(
    game: str = DEFAULT_GAME,
    repo_id: str = "",
    seed: int = 0,
    epsilon: float = 0.01,
    max_steps: int = MAX_STEPS_LIMIT,
    agent_view: bool = False,
) -> tuple[FileData, FileData, dict]:
    """Play one whole game. Returns the MP4 video, the per-step CSV and a summary
    (game, repo, seed, epsilon, steps, score, terminated, seconds)."""
    try:
        result = play_once(game, repo_id, seed, epsilon, max_steps, agent_view)
    except AgentError as error:
        raise gr.Error(str(error), print_exception=False) from None
    return FileData(path=str(result.video)), FileData(path=str(result.csv)), result.summary()


with gr.Blocks(title="Atari DQN Arena") as demo:
    gr.Markdown(INTRO)
    with gr.Tab("Play"):
        with gr.Row():
            with gr.Column(scale=1):
                game = gr.Dropdown(choices=[(g.title, g.key) for g in GAMES.values()], value=DEFAULT_GAME, label="Game")
                repo_id = gr.Textbox(
                    label="Or any Hub repo (RL Zoo layout, DQN or QR-DQN)",
                    placeholder="e.g. sb3/qrdqn-SpaceInvadersNoFrameskip-v4 (empty: the game's sb3 agent)",
                )
                seed = gr.Number(value=0, precision=0, minimum=0, label="Seed (same seed, same game)")
                epsilon = gr.Number(
                    value=0.01,
                    minimum=0,
                    maximum=1,
                    step=0.01,
                    label="Exploration ε",
                    info="0 = greedy; 0.01 = the RL Zoo agents' final exploration rate",
                )
                max_steps = gr.Slider(1, MAX_STEPS_LIMIT, value=MAX_STEPS_LIMIT, step=1, label="Step cap")
                agent_view = gr.Checkbox(label="Show the agent's view (its stacked 84×84 input frames)")
                play_button = gr.Button("Play", variant="primary")
            with gr.Column(scale=2):
                video = gr.Video(label="Gameplay with Q-values", streaming=True, autoplay=True)
                summary = gr.Markdown()
        q_plot = gr.LinePlot(x="step", y="Q-value", color="action", label="Q-value of every action over the game")
        with gr.Row():
            full_video = gr.File(label="Full video (MP4)")
            steps_csv = gr.File(label="Every step (CSV)")
        with gr.Accordion("Summary (JSON)", open=False):
            summary_json = gr.JSON()
    play_button.click(
        play,
        inputs=[game, repo_id, seed, epsilon, max_steps, agent_view],
        outputs=[video, summary, q_plot, full_video, steps_csv, summary_json],
        api_name="play_stream",
        api_visibility="private",
    )
    gr.api(play_api, api_name="play")

if __name__ == "__main__":
    # As on Spaces: all interfaces, port 7860, requests queued (the environment may override both).
    demo.queue().launch(
        server_name=os.getenv("GRADIO_SERVER_NAME", "0.0.0.0"),
        server_port=int(os.getenv("GRADIO_SERVER_PORT", "7860")),
    )
