"""Atari DQN Arena: the Gradio UI. It only wires components to the ``agents`` package."""

import functools
import json
import os

import gradio as gr
from gradio.data_classes import FileData

from agents.access import on_a_space, push_note, training_available
from agents.compare_session import compare_once, compare_stream, last_job_run
from agents.curves_session import (
    curves_for,
    episode_plot_data,
    evaluation_plot_data,
    repo_curves,
    run_evaluation_curve,
)
from agents.episode import MAX_STEPS_LIMIT
from agents.errors import AgentError
from agents.evaluate_session import evaluation_markdown, histogram_data, run_evaluation
from agents.evaluation import EVAL_EPSILON, EVAL_MAX_STEPS
from agents.hub import bar_progress
from agents.hyperparams import EDITABLE
from agents.jobs import JobManager
from agents.offline import availability, first_playable, game_or_default
from agents.session import (
    KEEP_OUTPUTS_S,
    PLOT_VIEWS,
    PLOT_Y_TITLES,
    Q_VALUE_MEANING,
    failure_markdown,
    new_output_folder,
    play_once,
    play_stream,
    q_value_plot_data,
    summary_markdown,
)
from agents.train_session import (
    DEFAULT_SAVE_FREQ,
    cancel_training,
    controls,
    default_hyperparameters,
    fast_preset_note,
    fast_preset_values,
    form_note,
    job_form_values,
    plan_note,
    push_training,
    start_training,
    status_markdown,
    training_curve,
)
from agents.training import training_device
from agents.training_time import step_costs
from agents.tune_session import (
    best_markdown,
    best_train_hyperparameters,
    cancel_tuning,
    export_csv,
    export_yaml,
    finished_count,
    job_study,
    start_tuning,
    storage_note,
    study_plots,
    trials_table,
    tune_form_values,
    tune_status,
)
from agents.tune_session import controls as tune_controls
from agents.tune_session import status_markdown as tune_status_markdown
from agents.tuning import PRUNERS, SAMPLERS, TuningSettings

jobs = JobManager()
TRAINING_ON, TRAINING_NOTE = training_available()
DEFAULTS = default_hyperparameters()
START_CHOICES = [("the game's pretrained agent", "pretrained"), ("scratch", "scratch"), ("a Hub repo:", "repo")]
TUNE_DEFAULTS = TuningSettings(game="")
TUNE_START_CHOICES = [("scratch", "scratch"), ("the game's pretrained agent", "pretrained")]
SAMPLER_CHOICES = [("TPE", "tpe"), ("random", "random")]
PRUNER_CHOICES = [("median", "median"), ("none", "none")]
assert [value for _, value in SAMPLER_CHOICES] == list(SAMPLERS) and [v for _, v in PRUNER_CHOICES] == list(PRUNERS)
THEME = gr.themes.Default(  # fonts that ship with Gradio, so the page looks the same offline
    # Gradio's SemiBold files hold a few dozen glyphs only: weight 600 would mix in a fallback font.
    font=[gr.themes.LocalFont("Source Sans Pro", weights=(400, 700)), "ui-sans-serif", "system-ui", "sans-serif"],
    font_mono=[gr.themes.LocalFont("IBM Plex Mono", weights=(400, 700)), "ui-monospace", "monospace"],
)
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

PROGRESS_BAR = gr.Progress(track_tqdm=True)

INTRO = """# Atari DQN Arena
Pick a game and press **Play**: a Deep Q-Network agent from the Hugging Face Hub plays a whole game,
and beside the screen you see what it expects from each action (its Q-values), frame by frame."""


EVALUATE_INTRO = """Is this agent as good as its card says? It plays whole games with seeds you choose, in
parallel on this machine's cores and with no video, and its score is set beside the model card's and the
RL Zoo's published benchmark. The game with seed *k* is the one **Play** shows for seed *k*."""


TUNE_INTRO = """Search DQN hyperparameters with the RL Zoo's own Optuna optimizer (`rl_zoo3.train -optimize`): each
trial trains an agent with values drawn from the RL Zoo's DQN search space, is evaluated as it learns, and
is stopped early by the pruner when it falls behind the others. The study is kept in Optuna's storage, so a
finished trial survives a restart, and several machines given the same storage and study name share one
search (see the README)."""


COMPARE_INTRO = """Two agents, the same game, the same seeds: both play the first seed side by side, then every
seed, and the difference is taken seed by seed, with a 95% paired bootstrap interval. An agent is any Hub
repo in the RL Zoo's layout (e.g. `sb3/dqn-…` against `sb3/qrdqn-…`), or the one your last training job made."""


def game_choices() -> tuple[list[tuple[str, str]], str]:
    """The games, each marked with where its agent would come from now, and the first that can play."""
    entries = availability()
    return [(entry.label, entry.game.key) for entry in entries], first_playable(entries)


def game_dropdown_update() -> gr.Dropdown:
    choices, first = game_choices()
    return gr.Dropdown(choices=choices, value=first)


def play(game, repo_id, seed, epsilon, max_steps, agent_view, looks, plot_view, stacked, progress=PROGRESS_BAR):
    """Play one game; streams the video while the agent plays, then the summary, plot and files. A failure
    is said where the summary goes, and what is on screen stays."""
    try:
        games = play_stream(game, repo_id, seed, epsilon, max_steps, agent_view, progress, stacked, looks)
        for segment, result in games:
            if result is None:
                yield {video: segment}
            else:
                yield {
                    summary: summary_markdown(result),
                    q_plot: q_value_plot(result.table, plot_view),
                    plot_view_choice: gr.Radio(visible=True),
                    played_table: result.table,
                    full_video: gr.File(str(result.video), visible=True),
                    steps_csv: gr.File(str(result.csv), visible=True),
                    summary_json: result.summary(),
                }
                yield learned_updates(result.agent)  # after the summary: it may wait for a download
    except Exception as error:
        kept = "  \nThe video, plot and files on this page, if any, are from the previous game."
        gr.Warning("Could not play: the reason is under the video.", duration=5)
        yield {summary: failure_markdown("Could not play", error) + kept}


def learned_updates(agent) -> dict:
    """ "How this agent learned", for the agent on screen: its curves where they can be found, else why not."""
    curves, note = curves_for(agent)
    episodes = episode_plot_data(curves) if curves else None
    evaluations = evaluation_plot_data(curves) if curves else None
    return {
        learned_note: note,
        learned_episodes: gr.LinePlot(episodes, visible=episodes is not None),
        learned_evaluations: gr.LinePlot(evaluations, visible=evaluations is not None),
    }


def q_value_plot(table, view: str) -> gr.LinePlot:
    return gr.LinePlot(q_value_plot_data(table, view), y_title=PLOT_Y_TITLES[view], visible=True)


def api_errors(function):
    """For the API endpoints: an AgentError reaches ``gradio_client`` as its message, with no traceback."""

    @functools.wraps(function)
    def answer(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except AgentError as error:
            raise gr.Error(str(error), print_exception=False) from None

    return answer


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
    """Play one whole game (game empty: the first game whose agent can play here). Returns the MP4 video,
    the per-step CSV and a summary (game, repo, seed, epsilon, steps, score, terminated, seconds). With
    saliency, where the agent looks is laid over the game in the video."""
    result = play_once(game, repo_id, seed, epsilon, max_steps, agent_view, saliency)
    return FileData(path=str(result.video)), FileData(path=str(result.csv)), result.summary()


def evaluate_tab(game, repo_id, episodes, first_seed, epsilon, max_steps, progress=PROGRESS_BAR):
    """Score the agent over seeded games; a failure is said where the summary goes."""
    try:
        report = run_evaluation(game, repo_id, episodes, first_seed, epsilon, max_steps, progress)
    except Exception as error:
        return {eval_summary: failure_markdown("Could not evaluate", error)}
    histogram = histogram_data(report.evaluation)
    return {
        eval_summary: evaluation_markdown(report),
        eval_histogram: gr.BarPlot(histogram, y_lim=[0, int(histogram["games"].max())], visible=True),
        eval_table: gr.Dataframe(report.evaluation.table(), visible=True),
        eval_results: gr.File(str(report.results_json), visible=True),
        eval_csv: gr.File(str(report.games_csv), visible=True),
    }


@api_errors
def curves_api(game: str = "", repo_id: str = "") -> dict:
    """How an agent learned (game empty: the first whose agent can play here): its training episodes
    (timesteps, score, moving average of 100) and evaluations (timesteps, mean, std), as the RL Zoo logged
    them, with where they come from; empty lists, and the reason, when there is no training log."""
    curves, note = repo_curves(game_or_default(game), repo_id)
    episodes = curves.episodes[["timesteps", "score", "moving_average"]] if curves else None
    evaluations = curves.evaluations if curves is not None and curves.evaluations is not None else None
    return {
        "source": note,
        "episodes": [] if episodes is None else json.loads(episodes.to_json(orient="records")),
        "evaluations": [] if evaluations is None else json.loads(evaluations.to_json(orient="records")),
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
    """Score an agent over seeded games (game empty: the first whose agent can play here), in parallel with
    no video. Returns the RL Zoo's results.json, a CSV with a row per game, and a summary (seeds, scores,
    episode_steps, mean, std, median, min, max, mean_minus_std, verdicts beside the card and the benchmark)."""
    report = run_evaluation(game, repo_id, episodes, first_seed, epsilon, max_steps)
    return FileData(path=str(report.results_json)), FileData(path=str(report.games_csv)), report.summary()


def compare_tab(game, a_repo, b_repo, b_is_job, episodes, first_seed, epsilon, max_steps, progress=PROGRESS_BAR):
    """Stream the side-by-side video of the first seed, then the paired evaluation; a failure is said
    where the verdict goes."""
    try:
        b_spec = last_job_run(jobs.status()) if b_is_job else b_repo
        for segment, comparison in compare_stream(
            game, a_repo, b_spec, episodes, first_seed, epsilon, max_steps, progress, b_is_run_folder=b_is_job
        ):
            if comparison is None:
                yield {compare_video: segment}
            else:
                yield {
                    compare_summary: comparison.markdown(),
                    compare_plot: gr.BarPlot(comparison.plot_data(), y_lim=comparison.score_range(), visible=True),
                    compare_table: gr.Dataframe(comparison.table(), visible=True),
                    compare_file: gr.File(str(comparison.video), visible=True),
                }
    except Exception as error:
        yield {compare_summary: failure_markdown("Could not compare", error)}


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
    """Two agents (Hub repo ids; empty: the game's own) on the same game and seeds. Returns the side-by-side
    video of the first seed and a summary: each agent's repo, scores, mean and std, and the difference B − A
    with its 95% paired bootstrap interval, in numbers and in words."""
    comparison = compare_once(game, a, b, episodes, first_seed, epsilon, max_steps)
    return FileData(path=str(comparison.video)), {"game": comparison.a.game.key, **comparison.paired.summary()}


def show_job(replay_on_screen=None, token: gr.OAuthToken | None = None, profile: gr.OAuthProfile | None = None):
    """The training job's state for the page: text, curve, replay video (sent only when it changes,
    so a playing replay is not reloaded every tick), raw status, and which buttons can act."""
    status = jobs.status()
    replay_path = status.get("replay")
    can = controls(status, token.token if token else None, profile.username if profile else None)
    scores = training_curve(status)
    evaluations = run_evaluation_curve(status)
    return {
        job_text: status_markdown(status),
        curve: gr.LinePlot(scores, visible=scores is not None),
        run_evaluations: gr.LinePlot(evaluations, visible=evaluations is not None),
        replay: gr.Video(visible=replay_path is not None)
        if replay_path == replay_on_screen
        else gr.Video(replay_path, visible=replay_path is not None),
        job_json: status,
        shown_replay: replay_path,
        start_button: gr.Button(interactive=can["start"]),
        cancel_button: gr.Button(interactive=can["cancel"]),
        push_button: gr.Button(interactive=can["push"]),
    }


def load_page(token: gr.OAuthToken | None = None, profile: gr.OAuthProfile | None = None):
    """A new visit: games marked as they are now, and the Train form showing the job on screen, if any."""
    status = jobs.status()
    form = job_form_values(status)
    games = game_dropdown_update()
    updates = {game: games, eval_game: games, compare_game: games, train_game: games}
    updates[push_text] = push_note(token.token if token else None)
    updates[plan] = plan_note(
        form["hyperparameters"] if form else DEFAULTS, False, form["start"] if form else "pretrained"
    )
    if form is not None:
        updates |= {train_game: gr.Dropdown(choices=games.choices, value=form["game"]), start: form["start"]}
        updates |= {start_repo: form["start_repo"], train_seed: form["seed"], save_every: form["save_freq"]}
        updates |= {fields[name]: value for name, value in form["hyperparameters"].items()}
        updates |= {fast: form["hyperparameters"]["n_envs"] > 1, values_note: form_note(form["start"])}
    tuning = tune_form_values(status)
    updates[tune_game] = games
    if tuning is not None:
        updates |= {tune_game: gr.Dropdown(choices=games.choices, value=tuning["game"]), tune_start: tuning["start"]}
        updates |= {tune_trials: tuning["n_trials"], tune_steps: tuning["n_timesteps"], tune_sampler: tuning["sampler"]}
        updates |= {tune_pruner: tuning["pruner"], tune_episodes: tuning["n_eval_episodes"]}
        updates |= {tune_study: tuning["study_name"], tune_seed: tuning["seed"]}
    return updates | show_job(None, token, profile)


def plan_of_form(start_from, *values) -> str:
    return plan_note(dict(zip(EDITABLE, values, strict=True)), start=start_from)


def notes_of_form(start_from, *values) -> tuple[str, str]:
    """What the run on the form will take here, and what the fast preset does, as the form changes."""
    hyperparameters = dict(zip(EDITABLE, values, strict=True))
    return plan_note(hyperparameters, start=start_from), fast_preset_note(hyperparameters)


def values_for_start(start_from, fast_on):
    """A new start puts its values in the form (fine-tuning values from a trained agent), with why."""
    values = fast_preset_values(default_hyperparameters(start_from), fast_on)
    return [form_note(start_from), *values.values()]


def fast_preset_fields(fast_on, *values):
    return list(fast_preset_values(dict(zip(EDITABLE, values, strict=True)), fast_on).values())


def start_job(
    game_key,
    start_from,
    repo,
    seed_value,
    secret_value,
    save_every,
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
    exploration_initial_eps,
    gamma,
    n_envs,
    profile: gr.OAuthProfile | None,
    progress=PROGRESS_BAR,
):
    hyperparameters = {name: value for name, value in locals().items() if name in EDITABLE}
    try:
        start_training(
            jobs,
            game_key,
            repo if start_from == "repo" else start_from,
            seed_value,
            hyperparameters,
            profile.username if profile else None,
            secret_value,
            save_every,
            bar_progress(progress),
        )
    except Exception as error:
        return {train_message: failure_markdown("Could not start training", error)}
    no_replay = {replay: gr.Video(None, visible=False), shown_replay: None}  # the last job's replay goes
    return show_job() | {train_message: ""} | no_replay


def cancel_job(secret_value, profile: gr.OAuthProfile | None):
    try:
        cancel_training(jobs, profile.username if profile else None, secret_value)
    except Exception as error:
        return {train_message: failure_markdown("Could not cancel", error)}
    return show_job() | {train_message: "Cancelling: the job stops after its current step."}


def push_job(profile: gr.OAuthProfile | None, token: gr.OAuthToken | None):
    try:
        return push_training(jobs, profile.username if profile else None, token.token if token else None)
    except Exception as error:
        return failure_markdown("Could not push", error)


@api_errors
def train_api(
    game: str = "",
    start: str = "pretrained",
    n_timesteps: int | None = None,
    learning_rate: float | None = None,
    buffer_size: int | None = None,
    learning_starts: int | None = None,
    batch_size: int | None = None,
    exploration_fraction: float | None = None,
    exploration_final_eps: float | None = None,
    target_update_interval: int | None = None,
    train_freq: int | None = None,
    gradient_steps: int | None = None,
    exploration_initial_eps: float | None = None,
    gamma: float | None = None,
    n_envs: int | None = None,
    seed: int = 0,
    secret: str = "",
    save_freq: int = DEFAULT_SAVE_FREQ,
) -> dict:
    """Start a training job (game empty: the first whose agent can play here; start: "pretrained",
    "scratch" or a Hub repo id; save_freq: steps between checkpoints). A hyperparameter left out takes
    the Train form's value for the start: fine-tuning values from a trained agent, the RL Zoo's from
    scratch (shortened on a CPU). Returns its status; a second job while one runs is refused with the
    running job's progress."""
    given = {name: value for name, value in locals().items() if name in EDITABLE and value is not None}
    hyperparameters = default_hyperparameters(start) | given
    return start_training(jobs, game, start, seed, hyperparameters, None, secret, save_freq)


def train_status_api() -> dict:
    """The current (or last) training job: status, phase, progress, episode scores, evaluation."""
    return jobs.status()


@api_errors
def train_cancel_api(secret: str = "") -> dict:
    """Cancel the running training job."""
    return cancel_training(jobs, None, secret)


def show_tuning(shown_count=None, profile: gr.OAuthProfile | None = None):
    """The tuning job's study for the page: its state, the trials, the best one, and Optuna's plots (drawn
    again only when a trial has finished since the last poll)."""
    status = jobs.status()
    can = tune_controls(status, profile.username if profile else None)
    updates = {
        tune_text: tune_status_markdown(status),
        tune_button: gr.Button(interactive=can["start"]),
        tune_cancel_button: gr.Button(interactive=can["cancel"]),
    }
    try:
        study = job_study(jobs)
    except Exception as error:
        return updates | {best_text: failure_markdown("Could not read the study", error)}
    count = finished_count(study) if study is not None else None
    updates |= {
        best_text: best_markdown(study) if study is not None else "",
        trials_frame: trials_table(study) if study is not None else None,
        use_best: gr.Button(interactive=bool(count)),
        export_button: gr.Button(interactive=study is not None),
        shown_trials: count,
    }
    if count != shown_count:
        plots = study_plots(study) if study is not None else {}
        for name, plot in (("history", history_plot), ("importances", importance_plot), ("parallel", parallel_plot)):
            figure = plots.get(name)
            updates[plot] = gr.Plot(figure, visible=figure is not None)
    return updates


def start_tune(
    game_key,
    start_from,
    trials,
    steps,
    sampler,
    pruner,
    episodes,
    study,
    seed_value,
    secret_value,
    profile: gr.OAuthProfile | None,
    progress=PROGRESS_BAR,
):
    try:
        start_tuning(
            jobs,
            game_key,
            start_from,
            trials,
            steps,
            sampler,
            pruner,
            episodes,
            study,
            profile.username if profile else None,
            secret_value,
            bar_progress(progress),
            seed_value,
        )
    except Exception as error:
        return {tune_message: failure_markdown("Could not start tuning", error)}
    return show_tuning(None, profile) | {tune_message: ""}


def cancel_tune(secret_value, profile: gr.OAuthProfile | None):
    try:
        cancel_tuning(jobs, profile.username if profile else None, secret_value)
    except Exception as error:
        return {tune_message: failure_markdown("Could not cancel", error)}
    return show_tuning(None, profile) | {tune_message: "Cancelling: the running trial stops, and the study with it."}


def train_with_best():
    """The best trial's values in the Train form, and the Train form on screen."""
    try:
        study = job_study(jobs)
        values = best_train_hyperparameters(study)
    except Exception as error:
        return {tune_message: failure_markdown("Could not fill the Train form", error)}
    status = jobs.status()
    start_key = status["settings"]["start"]
    values = default_hyperparameters(start_key) | values
    updates = {fields[name]: value for name, value in values.items()}
    message = f"The form holds the best trial's values (trial {study.best_trial.number}); the rest are the start's."
    return updates | {
        train_game: status["game"],
        start: start_key if start_key in ("pretrained", "scratch") else "repo",
        values_note: form_note(start_key),
        train_modes: gr.Tabs(selected="train"),
        train_message: message,
        tune_message: "",
    }


def export_study():
    try:
        study = job_study(jobs)
        folder = new_output_folder()
        csv_path, yaml_path = export_csv(study, folder), export_yaml(study, folder)
    except Exception as error:
        return {tune_message: failure_markdown("Could not export the study", error)}
    return {trials_csv: gr.File(str(csv_path), visible=True), best_yaml: gr.File(str(yaml_path), visible=True)}


@api_errors
def tune_api(
    game: str = "",
    start: str = TUNE_DEFAULTS.start,
    n_trials: int = TUNE_DEFAULTS.n_trials,
    n_timesteps: int = TUNE_DEFAULTS.n_timesteps,
    sampler: str = TUNE_DEFAULTS.sampler,
    pruner: str = TUNE_DEFAULTS.pruner,
    n_eval_episodes: int = TUNE_DEFAULTS.n_eval_episodes,
    study_name: str = "",
    secret: str = "",
    seed: int | None = None,
) -> dict:
    """Start a tuning job: the RL Zoo's Optuna search over DQN hyperparameters (game empty: the first whose
    agent can play here; start: "scratch", "pretrained" or a Hub repo id; sampler: tpe or random; pruner:
    median or none; seed: the sampler's, empty for a random one). Returns its status; refused while a
    training or tuning job runs."""
    return start_tuning(
        jobs, game, start, n_trials, n_timesteps, sampler, pruner, n_eval_episodes, study_name, None, secret, None, seed
    )


@api_errors
def tune_status_api() -> dict:
    """The current (or last) tuning job: status, progress, every trial (state, value, hyperparameters,
    seconds, worker) and the best one."""
    return tune_status(jobs)


@api_errors
def tune_cancel_api(secret: str = "") -> dict:
    """Cancel the running tuning job: its running trial stops and is marked cancelled."""
    return cancel_tuning(jobs, None, secret)


GAME_CHOICES, FIRST_GAME = game_choices()  # once at start-up; each page load asks again

with gr.Blocks(title="Atari DQN Arena", delete_cache=(KEEP_OUTPUTS_S, KEEP_OUTPUTS_S)) as demo:
    gr.Markdown(INTRO)
    with gr.Tab("Play"):
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                game = gr.Dropdown(
                    choices=GAME_CHOICES,
                    value=FIRST_GAME,
                    label="Game",
                    info="Marked with where its agent comes from: cached, from the Hub, or the offline agent.",
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
                looks = gr.Checkbox(label="Show where the agent looks (saliency heat map)")
                play_button = gr.Button("Play", variant="primary")
            with gr.Column(scale=2, min_width=300):
                video = gr.Video(
                    label="Gameplay with Q-values",
                    show_label=False,  # a label or button drawn over the video would hide the game's score
                    buttons=[],
                    streaming=True,
                    autoplay=True,
                    elem_id="gameplay",
                )
                summary = gr.Markdown()
                gr.Markdown(Q_VALUE_MEANING)
        plot_view_choice = gr.Radio(
            [(text, key) for key, text in PLOT_VIEWS.items()], value="advantage", label="Plot", visible=False
        )
        q_plot = gr.LinePlot(
            x="step", y="value", color="action", label="Each action's value over the game", visible=False
        )
        played_table = gr.State()
        stacked = gr.Checkbox(visible=False)  # set in the browser from the screen's width
        with gr.Row():
            full_video = gr.File(label="Full video (MP4)", visible=False)
            steps_csv = gr.File(label="Every step (CSV)", visible=False)
        with gr.Accordion("Summary (JSON)", open=False):
            summary_json = gr.JSON()
        with gr.Accordion("How this agent learned", open=False):
            learned_note = gr.Markdown("Play a game to see how its agent learned.")
            learned_episodes = gr.LinePlot(
                x="timesteps", y="score", color="series", label="Training episodes' scores", visible=False
            )
            learned_evaluations = gr.LinePlot(
                x="timesteps", y="score", color="series", label="Evaluations during training", visible=False
            )
        play_button.click(
            play,
            api_name="play_stream",
            js=BEFORE_PLAY,
            inputs=[game, repo_id, seed, epsilon, max_steps, agent_view, looks, plot_view_choice, stacked],
            outputs=[video, summary, q_plot, plot_view_choice, played_table, full_video, steps_csv, summary_json]
            + [learned_note, learned_episodes, learned_evaluations],
            api_visibility="private",
        )
        plot_view_choice.change(
            lambda table, view: gr.skip() if table is None else q_value_plot(table, view),
            [played_table, plot_view_choice],
            q_plot,
            api_visibility="private",
        )
    with gr.Tab("Evaluate"):
        gr.Markdown(EVALUATE_INTRO)
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                eval_game = gr.Dropdown(choices=GAME_CHOICES, value=FIRST_GAME, label="Game")
                eval_repo = gr.Textbox(
                    label="Or any Hub repo (RL Zoo layout, DQN or QR-DQN)",
                    placeholder="e.g. your-name/dqn-SpaceInvadersNoFrameskip-v4 (empty: the game's sb3 agent)",
                )
                eval_episodes = gr.Number(value=10, precision=0, label="Games")
                eval_seed = gr.Number(value=0, precision=0, label="First seed (then +1 a game)")
                eval_epsilon = gr.Number(
                    value=EVAL_EPSILON,
                    step=0.01,
                    label="Exploration ε",
                    info="0.01 as the RL Zoo scores Atari agents; 0 = greedy",
                )
                eval_max_steps = gr.Number(
                    value=EVAL_MAX_STEPS,
                    precision=0,
                    label="Step cap per game",
                    info="27,000 agent steps = 108,000 frames, the usual Atari limit",
                )
                eval_button = gr.Button("Evaluate", variant="primary")
            with gr.Column(scale=2, min_width=300):
                eval_summary = gr.Markdown()
                eval_histogram = gr.BarPlot(
                    x="score", y="games", label="Scores", sort=None, visible=False, elem_id="evaluate-plot"
                )
                eval_table = gr.Dataframe(label="Every game", visible=False)
                with gr.Row():
                    eval_results = gr.File(label="results.json (as the RL Zoo writes it)", visible=False)
                    eval_csv = gr.File(label="Every game (CSV)", visible=False)
        eval_button.click(
            evaluate_tab,
            [eval_game, eval_repo, eval_episodes, eval_seed, eval_epsilon, eval_max_steps],
            [eval_summary, eval_histogram, eval_table, eval_results, eval_csv],
            api_visibility="private",
        )
    with gr.Tab("Compare"):
        gr.Markdown(COMPARE_INTRO)
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                compare_game = gr.Dropdown(choices=GAME_CHOICES, value=FIRST_GAME, label="Game")
                a_repo = gr.Textbox(label="Agent A: a Hub repo", placeholder="empty: the game's sb3 agent")
                b_repo = gr.Textbox(label="Agent B: a Hub repo", placeholder="e.g. sb3/qrdqn-BreakoutNoFrameskip-v4")
                b_is_job = gr.Checkbox(label="Agent B: the agent of your last training job (Train tab)")
                compare_episodes = gr.Number(value=10, precision=0, label="Seeds")
                compare_seed = gr.Number(value=0, precision=0, label="First seed (the one in the video)")
                compare_epsilon = gr.Number(value=EVAL_EPSILON, step=0.01, label="Exploration ε")
                compare_max_steps = gr.Number(
                    value=EVAL_MAX_STEPS, precision=0, label="Step cap per game (the video: 10,000)"
                )
                compare_button = gr.Button("Compare", variant="primary")
            with gr.Column(scale=2, min_width=300):
                compare_video = gr.Video(
                    label="A and B on the first seed",
                    show_label=False,
                    buttons=[],
                    streaming=True,
                    autoplay=True,
                    elem_id="duel",
                )
                compare_summary = gr.Markdown()
                compare_plot = gr.BarPlot(
                    x="game",
                    y="score",
                    color="agent",
                    x_title="seed and agent",
                    label="Scores, seed by seed",
                    sort=None,
                    visible=False,
                    elem_id="compare-plot",
                )
                compare_table = gr.Dataframe(label="Seed by seed", visible=False)
                compare_file = gr.File(label="Side-by-side video (MP4)", visible=False)
        compare_button.click(
            compare_tab,
            [compare_game, a_repo, b_repo, b_is_job, compare_episodes, compare_seed, compare_epsilon]
            + [compare_max_steps],
            [compare_video, compare_summary, compare_plot, compare_table, compare_file],
            api_visibility="private",
        )
    with gr.Tab("Train"):
        gr.Markdown(TRAINING_NOTE)
        if on_a_space():  # a Space's visitors log in, or duplicate it; on this machine whoever runs it trains
            if not TRAINING_ON:
                gr.DuplicateButton()
            with gr.Row():
                gr.LoginButton()
                secret = gr.Textbox(label="Or the training secret", type="password", scale=2)
        else:
            secret = gr.State("")
        with gr.Tabs() as train_modes:
            with gr.Tab("Train", id="train"):
                gr.Markdown("### A new job")
                with gr.Row():
                    with gr.Column(scale=1, min_width=300):
                        train_game = gr.Dropdown(
                            choices=GAME_CHOICES,
                            value=FIRST_GAME,
                            label="Game",
                        )
                        start = gr.Radio(START_CHOICES, value="pretrained", label="Start from")
                        start_repo = gr.Textbox(
                            label="Hub repo to start from", placeholder="OWNER/dqn-PongNoFrameskip-v4", visible=False
                        )
                        train_seed = gr.Number(value=0, precision=0, minimum=0, label="Seed")
                        save_every = gr.Number(
                            value=DEFAULT_SAVE_FREQ,
                            precision=0,
                            minimum=100,
                            label="Checkpoint every (steps)",
                            info="a restarted job resumes from its last checkpoint; each takes tens of MB",
                        )
                    with gr.Column(scale=2, min_width=300):
                        values_note = gr.Markdown(form_note())
                        fast = gr.Checkbox(label="Fast preset: environments in parallel, one per core", value=False)
                        fast_note = gr.Markdown(fast_preset_note(DEFAULTS))
                        with gr.Row():
                            fields = {
                                name: gr.Number(
                                    value=DEFAULTS[name],
                                    label=name,
                                    info=rule.meaning,
                                    minimum=rule.low,
                                    maximum=rule.high,
                                )
                                for name, rule in EDITABLE.items()
                            }
                        plan = gr.Markdown()
                with gr.Row():
                    start_button = gr.Button("Start training", variant="primary", interactive=False)
                    cancel_button = gr.Button("Cancel", variant="stop", interactive=False)
                train_message = gr.Markdown()
                gr.Markdown("### The job")
                job_text = gr.Markdown()
                curve = gr.LinePlot(
                    x="step", y="score", color="series", label="Episode score during training", visible=False
                )
                run_evaluations = gr.LinePlot(
                    x="timesteps",
                    y="score",
                    color="series",
                    label="The run's evaluations (RL Zoo EvalCallback)",
                    visible=False,
                )
                replay = gr.Video(  # no label or button over it: they would hide the game's score
                    label="Replay of the trained agent", show_label=False, buttons=[], visible=False
                )
                with gr.Accordion("Job status (JSON)", open=False):
                    job_json = gr.JSON(label="Job status")
                push_text = gr.Markdown()
                push_button = gr.Button("Push to the Hub as <you>/dqn-<EnvId>", interactive=False)
                push_result = gr.Markdown()
                shown_replay = gr.State()
                job_outputs = [job_text, curve, run_evaluations, replay, job_json, shown_replay]
                job_outputs += [start_button, cancel_button, push_button]
                field_list = list(fields.values())
            with gr.Tab("Tune", id="tune"):
                gr.Markdown(TUNE_INTRO)
                with gr.Row():
                    with gr.Column(scale=1, min_width=300):
                        tune_game = gr.Dropdown(choices=GAME_CHOICES, value=FIRST_GAME, label="Game")
                        tune_start = gr.Radio(TUNE_START_CHOICES, value=TUNE_DEFAULTS.start, label="Start from")
                        tune_trials = gr.Number(
                            value=TUNE_DEFAULTS.n_trials,
                            precision=0,
                            label="Trials",
                            info="the study's total, across all the machines that work on it",
                        )
                        tune_steps = gr.Number(value=TUNE_DEFAULTS.n_timesteps, precision=0, label="Steps per trial")
                    with gr.Column(scale=1, min_width=300):
                        tune_sampler = gr.Radio(SAMPLER_CHOICES, value=TUNE_DEFAULTS.sampler, label="Sampler")
                        tune_pruner = gr.Radio(PRUNER_CHOICES, value=TUNE_DEFAULTS.pruner, label="Pruner")
                        tune_episodes = gr.Number(
                            value=TUNE_DEFAULTS.n_eval_episodes,
                            precision=0,
                            label="Evaluation games per report",
                            info="the games each evaluation plays; the pruner compares their mean score",
                        )
                        tune_study = gr.Textbox(
                            label="Study name", placeholder="empty: one per game, start and steps per trial"
                        )
                        tune_seed = gr.Number(
                            value=None,
                            precision=0,
                            label="Sampler seed",
                            info="empty: a random one, so that several machines sample apart",
                        )
                        gr.Markdown(storage_note())
                with gr.Row():
                    tune_button = gr.Button("Start tuning", variant="primary", interactive=False)
                    tune_cancel_button = gr.Button("Cancel", variant="stop", interactive=False)
                tune_message = gr.Markdown()
                gr.Markdown("### The study")
                tune_text = gr.Markdown()
                best_text = gr.Markdown()
                use_best = gr.Button("Train with the best parameters", interactive=False)
                trials_frame = gr.DataFrame(
                    label="Trials",
                    wrap=True,
                    interactive=False,
                    column_widths=["7%", "13%", "8%", "50%", "9%", "13%"],
                )
                with gr.Row():
                    history_plot = gr.Plot(label="Optimization history", visible=False)
                    importance_plot = gr.Plot(label="Hyperparameter importances", visible=False)
                parallel_plot = gr.Plot(label="Parallel coordinates", visible=False)
                with gr.Row():
                    export_button = gr.Button("Export the study", interactive=False)
                    trials_csv = gr.File(label="Trials (CSV)", visible=False)
                    best_yaml = gr.File(label="Best hyperparameters (an RL Zoo dqn.yml entry)", visible=False)
                shown_trials = gr.State()
        start.change(lambda choice: gr.Textbox(visible=choice == "repo"), start, start_repo, api_visibility="private")
        start.input(values_for_start, [start, fast], [values_note, *field_list], api_visibility="private")
        fast.input(fast_preset_fields, [fast, *field_list], field_list, api_visibility="private")
        field_changes = [field.change for field in field_list]
        gr.on(field_changes, notes_of_form, [start, *field_list], [plan, fast_note], api_visibility="private")
        start_button.click(
            start_job,
            [train_game, start, start_repo, train_seed, secret, save_every, *field_list],
            [*job_outputs, train_message],
            api_visibility="private",
        )
        cancel_button.click(cancel_job, secret, [*job_outputs, train_message], api_visibility="private")
        push_button.click(push_job, None, push_result, api_visibility="private")
        tune_inputs = [tune_game, tune_start, tune_trials, tune_steps, tune_sampler, tune_pruner, tune_episodes]
        tune_outputs = [tune_text, tune_button, tune_cancel_button, best_text, trials_frame, use_best, export_button]
        tune_outputs += [shown_trials, history_plot, importance_plot, parallel_plot]
        tune_button.click(
            start_tune,
            [*tune_inputs, tune_study, tune_seed, secret],
            [*tune_outputs, tune_message],
            api_visibility="private",
        )
        tune_cancel_button.click(cancel_tune, secret, [*tune_outputs, tune_message], api_visibility="private")
        use_best.click(
            train_with_best,
            None,
            [*field_list, train_game, start, values_note, train_modes, train_message, tune_message],
            api_visibility="private",
        )
        export_button.click(export_study, None, [trials_csv, best_yaml, tune_message], api_visibility="private")
        # Status reads are cheap file reads: every open page's poll runs at once, none waits behind another.
        poll = gr.Timer(2)
        poll.tick(
            show_job,
            shown_replay,
            job_outputs,
            api_visibility="private",
            show_progress="hidden",
            concurrency_limit=None,
        )
        poll.tick(
            show_tuning,
            shown_trials,
            tune_outputs,
            api_visibility="private",
            show_progress="hidden",
            concurrency_limit=None,
        )
    demo.load(
        load_page,
        None,
        [game, eval_game, compare_game, train_game, push_text, plan, start, start_repo, train_seed, save_every]
        + [fast, values_note, *field_list, *job_outputs]
        + [tune_game, tune_start, tune_trials, tune_steps, tune_sampler, tune_pruner, tune_episodes, tune_study]
        + [tune_seed],
        api_visibility="private",
    ).then(plan_of_form, [start, *field_list], plan, api_visibility="private", show_progress="hidden")  # once timed
    gr.api(play_api, api_name="play")
    gr.api(evaluate_api, api_name="evaluate")
    gr.api(curves_api, api_name="curves")
    gr.api(compare_api, api_name="compare")
    gr.api(train_api, api_name="train")
    gr.api(train_status_api, api_name="train_status", concurrency_limit=None)
    gr.api(train_cancel_api, api_name="train_cancel")
    gr.api(tune_api, api_name="tune")
    gr.api(tune_status_api, api_name="tune_status", concurrency_limit=None)
    gr.api(tune_cancel_api, api_name="tune_cancel")

# Gradio's login button checks the login with an endpoint of its own: internal, like the page's events.
for function in demo.fns.values():
    if function.name == "_check_login_status":
        function.api_visibility = "private"

if __name__ == "__main__":
    if TRAINING_ON:  # the Train tab's estimate: this machine timed (a few seconds) while nothing else runs
        step_costs(training_device())
    jobs.resume_interrupted()
    # As on Spaces: all interfaces, port 7860, requests queued (the environment may override both).
    demo.queue().launch(
        server_name=os.getenv("GRADIO_SERVER_NAME", "0.0.0.0"),
        server_port=int(os.getenv("GRADIO_SERVER_PORT", "7860")),
        theme=THEME,
    )
