"""Atari DQN Arena: the Gradio UI. It only wires components to the ``agents`` package."""

import os

import gradio as gr
from gradio.data_classes import FileData

from agents.access import on_a_space, training_available
from agents.catalog import DEFAULT_GAME, GAMES
from agents.episode import MAX_STEPS_LIMIT
from agents.errors import AgentError
from agents.hyperparams import EDITABLE
from agents.jobs import JobManager
from agents.offline import first_playable_game
from agents.session import play_once, play_stream, q_value_plot_data, summary_markdown
from agents.train_session import (
    cancel_training,
    default_hyperparameters,
    memory_note,
    push_training,
    start_training,
    status_markdown,
    training_curve,
)

jobs = JobManager()
TRAINING_ON, TRAINING_NOTE = training_available()
DEFAULTS = default_hyperparameters()
START_CHOICES = [("the game's pretrained sb3 agent", "pretrained"), ("scratch", "scratch"), ("a Hub repo:", "repo")]

INTRO = """# Atari DQN Arena
Pick a game and press **Play**: a Deep Q-Network agent from the Hugging Face Hub plays a whole game,
and beside the screen you see what it expects from each action (its Q-values), frame by frame."""


def play(game, repo_id, seed, epsilon, max_steps, agent_view, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
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


def show_job(shown_replay=None):
    """The training job's state for the page: text, curve, replay video (sent only when it changes,
    so a playing replay is not reloaded every tick), raw status."""
    status = jobs.status()
    replay = status.get("replay")
    replay_update = gr.skip() if replay == shown_replay else replay
    return status_markdown(status), training_curve(status), replay_update, status, replay


def start_job(
    game,
    start,
    repo_id,
    seed,
    secret,
    n_timesteps,
    learning_rate,
    buffer_size,
    learning_starts,
    batch_size,
    exploration_fraction,
    exploration_final_eps,
    target_update_interval,
    train_freq,
    gradient_steps,
    profile: gr.OAuthProfile | None,
):
    values = [n_timesteps, learning_rate, buffer_size, learning_starts, batch_size, exploration_fraction]
    values += [exploration_final_eps, target_update_interval, train_freq, gradient_steps]
    username = profile.username if profile else None
    try:
        start_training(
            jobs,
            game,
            repo_id if start == "repo" else start,
            seed,
            dict(zip(EDITABLE, values, strict=True)),
            username,
            secret,
        )
    except AgentError as error:
        raise gr.Error(str(error), print_exception=False) from None
    return show_job()


def cancel_job(secret, profile: gr.OAuthProfile | None):
    try:
        cancel_training(jobs, profile.username if profile else None, secret)
    except AgentError as error:
        raise gr.Error(str(error), print_exception=False) from None
    return show_job()


def push_job(profile: gr.OAuthProfile | None, token: gr.OAuthToken | None):
    try:
        return push_training(jobs, profile.username if profile else None, token.token if token else None)
    except AgentError as error:
        raise gr.Error(str(error), print_exception=False) from None


def train_api(
    game: str = "Pong",
    start: str = "pretrained",
    n_timesteps: int = int(DEFAULTS["n_timesteps"]),
    learning_rate: float = DEFAULTS["learning_rate"],
    buffer_size: int = DEFAULTS["buffer_size"],
    learning_starts: int = DEFAULTS["learning_starts"],
    batch_size: int = DEFAULTS["batch_size"],
    exploration_fraction: float = DEFAULTS["exploration_fraction"],
    exploration_final_eps: float = DEFAULTS["exploration_final_eps"],
    target_update_interval: int = DEFAULTS["target_update_interval"],
    train_freq: int = DEFAULTS["train_freq"],
    gradient_steps: int = DEFAULTS["gradient_steps"],
    seed: int = 0,
    secret: str = "",
) -> dict:
    """Start a training job (start: "pretrained", "scratch" or a Hub repo id). Returns its status; a second
    job while one runs is refused with the running job's progress."""
    hyperparameters = {name: value for name, value in locals().items() if name in EDITABLE}
    try:
        return start_training(jobs, game, start, seed, hyperparameters, None, secret)
    except AgentError as error:
        raise gr.Error(str(error), print_exception=False) from None


def train_status_api() -> dict:
    """The current (or last) training job: status, phase, progress, episode scores, evaluation."""
    return jobs.status()


def train_cancel_api(secret: str = "") -> dict:
    """Cancel the running training job."""
    try:
        return cancel_training(jobs, None, secret)
    except AgentError as error:
        raise gr.Error(str(error), print_exception=False) from None


with gr.Blocks(title="Atari DQN Arena") as demo:
    gr.Markdown(INTRO)
    with gr.Tab("Play"):
        with gr.Row():
            with gr.Column(scale=1):
                game = gr.Dropdown(
                    choices=[(g.title, g.key) for g in GAMES.values()], value=first_playable_game(), label="Game"
                )
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
    with gr.Tab("Train"):
        gr.Markdown(TRAINING_NOTE)
        if not TRAINING_ON:
            gr.DuplicateButton()
        with gr.Row(visible=on_a_space()):
            if on_a_space():  # off a Space there is no one to log in as, and anyone at the keyboard may train
                gr.LoginButton()
            secret = gr.Textbox(label="Or the training secret", type="password", scale=2)
        with gr.Row():
            with gr.Column(scale=1):
                train_game = gr.Dropdown(choices=[(g.title, g.key) for g in GAMES.values()], value="Pong", label="Game")
                start = gr.Radio(START_CHOICES, value="pretrained", label="Start from")
                start_repo = gr.Textbox(label="Hub repo to start from", placeholder="OWNER/dqn-PongNoFrameskip-v4")
                train_seed = gr.Number(value=0, precision=0, minimum=0, label="Seed")
            with gr.Column(scale=2):
                gr.Markdown("Hyperparameters: the RL Zoo's DQN values for Atari (`rl_zoo3/hyperparams/dqn.yml`).")
                with gr.Row():
                    fields = [
                        gr.Number(value=DEFAULTS[name], label=name, info=meaning, minimum=low, maximum=high)
                        for name, (_, low, high, meaning) in EDITABLE.items()
                    ]
                memory = gr.Markdown(memory_note(DEFAULTS["buffer_size"]))
        with gr.Row():
            start_button = gr.Button("Start training", variant="primary", interactive=TRAINING_ON)
            cancel_button = gr.Button("Cancel", variant="stop", interactive=TRAINING_ON)
        job_text = gr.Markdown()
        curve = gr.LinePlot(x="step", y="score", color="series", label="Episode score during training")
        with gr.Row():
            replay = gr.Video(label="Replay of the trained agent")
            job_json = gr.JSON(label="Job status")
        push_button = gr.Button("Push to the Hub as <you>/dqn-<EnvId>", interactive=TRAINING_ON)
        push_result = gr.Markdown()
    shown_replay = gr.State()
    job_outputs = [job_text, curve, replay, job_json, shown_replay]
    fields[2].change(memory_note, fields[2], memory)
    start_button.click(
        start_job,
        [train_game, start, start_repo, train_seed, secret, *fields],
        job_outputs,
        api_visibility="private",
    )
    cancel_button.click(cancel_job, secret, job_outputs, api_visibility="private")
    push_button.click(push_job, None, push_result, api_visibility="private")
    gr.Timer(2).tick(show_job, shown_replay, job_outputs, api_visibility="private", show_progress="hidden")
    demo.load(show_job, None, job_outputs, api_visibility="private")
    gr.api(train_api, api_name="train")
    gr.api(train_status_api, api_name="train_status")
    gr.api(train_cancel_api, api_name="train_cancel")

    play_button.click(
        play,
        inputs=[game, repo_id, seed, epsilon, max_steps, agent_view],
        outputs=[video, summary, q_plot, full_video, steps_csv, summary_json],
        api_name="play_stream",
        api_visibility="private",
    )
    gr.api(play_api, api_name="play")

if __name__ == "__main__":
    jobs.resume_interrupted()
    # As on Spaces: all interfaces, port 7860, requests queued (the environment may override both).
    demo.queue().launch(
        server_name=os.getenv("GRADIO_SERVER_NAME", "0.0.0.0"),
        server_port=int(os.getenv("GRADIO_SERVER_PORT", "7860")),
    )
