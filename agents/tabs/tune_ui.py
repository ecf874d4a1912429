"""The Train tab's Tune mode: layout and wiring, and the ``/tune``, ``/tune_status`` and ``/tune_cancel``
endpoints; what they do is :mod:`agents.tabs.tune`."""

import gradio as gr

from agents.core.hub import bar_progress
from agents.jobs.manager import JobManager
from agents.tabs.play import failure_markdown
from agents.tabs.train import default_hyperparameters, form_note
from agents.tabs.tune import (
    best_markdown,
    best_train_hyperparameters,
    cancel_tuning,
    controls,
    export_tuning_study,
    finished_count,
    job_study,
    start_tuning,
    status_markdown,
    storage_note,
    study_controls,
    study_plots,
    trials_table,
    tune_form_values,
    tune_status,
)
from agents.tabs.widgets import PROGRESS_BAR, api_errors
from agents.tune.tuning import PRUNERS, SAMPLERS, TuningSettings

DEFAULTS = TuningSettings(game="")
START_CHOICES = [("scratch", "scratch"), ("the game's pretrained agent", "pretrained")]
SAMPLER_CHOICES = [("TPE", "tpe"), ("random", "random")]
PRUNER_CHOICES = [("median", "median"), ("none", "none")]
assert [value for _, value in SAMPLER_CHOICES] == list(SAMPLERS) and [v for _, v in PRUNER_CHOICES] == list(PRUNERS)

TUNE_INTRO = """Search DQN hyperparameters with the RL Zoo's own Optuna optimizer (`rl_zoo3.train -optimize`): each
trial trains an agent with values drawn from the RL Zoo's DQN search space, is evaluated as it learns, and
is stopped early by the pruner when it falls behind the others. The study is kept in Optuna's storage, so a
finished trial survives a restart, and several machines given the same storage and study name share one
search (see the README)."""


class TuneMode:
    """The tuning job's form and its study: trials, the best one, Optuna's plots, and the exports. Its best
    values go into the Train form of ``train_tab``."""

    def __init__(self, game_choices: list[tuple[str, str]], first_game: str, jobs: JobManager, secret, train_tab):
        self.jobs = jobs
        self.train_tab = train_tab
        gr.Markdown(TUNE_INTRO)
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                self.game = gr.Dropdown(choices=game_choices, value=first_game, label="Game")
                self.start = gr.Radio(START_CHOICES, value=DEFAULTS.start, label="Start from")
                self.trials = gr.Number(
                    value=DEFAULTS.n_trials,
                    precision=0,
                    label="Trials",
                    info="the study's total, across all the machines that work on it",
                )
                self.steps = gr.Number(value=DEFAULTS.n_timesteps, precision=0, label="Steps per trial")
            with gr.Column(scale=1, min_width=300):
                self.sampler = gr.Radio(SAMPLER_CHOICES, value=DEFAULTS.sampler, label="Sampler")
                self.pruner = gr.Radio(PRUNER_CHOICES, value=DEFAULTS.pruner, label="Pruner")
                self.episodes = gr.Number(
                    value=DEFAULTS.n_eval_episodes,
                    precision=0,
                    label="Evaluation games per report",
                    info="the games each evaluation plays; the pruner compares their mean score",
                )
                self.study = gr.Textbox(
                    label="Study name", placeholder="empty: one per game, start and steps per trial"
                )
                self.seed = gr.Number(
                    value=None,
                    precision=0,
                    label="Sampler seed",
                    info="empty: a random one, so that several machines sample apart",
                )
                gr.Markdown(storage_note())
        with gr.Row():
            self.button = gr.Button("Start tuning", variant="primary", interactive=False)
            self.cancel_button = gr.Button("Cancel", variant="stop", interactive=False)
        self.message = gr.Markdown()
        gr.Markdown("### The study")
        self.text = gr.Markdown()
        self.best_text = gr.Markdown()
        self.use_best = gr.Button("Train with the best parameters", interactive=False)
        self.trials_frame = gr.DataFrame(  # widths in pixels: on a phone the table scrolls sideways, headers whole
            label="Trials",
            wrap=True,
            interactive=False,
            column_widths=["70px", "110px", "80px", "640px", "90px", "200px"],
            elem_id="tune-trials",
        )
        with gr.Row():
            self.history_plot = gr.Plot(label="Optimization history", visible=False)
            self.importance_plot = gr.Plot(label="Hyperparameter importances", visible=False)
        self.parallel_plot = gr.Plot(label="Parallel coordinates", visible=False)
        with gr.Row():
            self.export_button = gr.Button("Export the study", interactive=False)
            self.trials_csv = gr.File(label="Trials (CSV)", visible=False)
            self.best_yaml = gr.File(label="Best hyperparameters (an RL Zoo dqn.yml entry)", visible=False)
        self.shown_trials = gr.State()
        inputs = [self.game, self.start, self.trials, self.steps, self.sampler, self.pruner, self.episodes]
        self.outputs = [self.text, self.button, self.cancel_button, self.best_text, self.trials_frame, self.use_best]
        self.outputs += [self.export_button, self.shown_trials, self.history_plot, self.importance_plot]
        self.outputs += [self.parallel_plot]
        self.button.click(
            self.start_tune,
            [*inputs, self.study, self.seed, secret],
            [*self.outputs, self.message],
            api_visibility="private",
        )
        self.cancel_button.click(self.cancel_tune, secret, [*self.outputs, self.message], api_visibility="private")
        train = train_tab
        self.use_best.click(
            self.train_with_best,
            None,
            [*train.field_list, train.game, train.start, train.values_note, train.modes, train.message, self.message],
            api_visibility="private",
        )
        self.export_button.click(
            self.export_study, secret, [self.trials_csv, self.best_yaml, self.message], api_visibility="private"
        )
        self.load_outputs = [*inputs, self.study, self.seed]

    def on_load(self, status: dict, games: gr.Dropdown) -> dict:
        """A new visit: the form showing the tuning job on screen, if any."""
        tuning = tune_form_values(status)
        # The seed is set even when empty: Gradio shows (and sends) a number built empty as 0.
        updates = {self.game: games, self.seed: None}
        if tuning is not None:
            updates |= {
                self.game: gr.Dropdown(choices=games.choices, value=tuning["game"]),
                self.start: tuning["start"],
            }
            updates |= {self.trials: tuning["n_trials"], self.steps: tuning["n_timesteps"]}
            updates |= {self.sampler: tuning["sampler"], self.pruner: tuning["pruner"]}
            updates |= {self.episodes: tuning["n_eval_episodes"], self.study: tuning["study_name"]}
            updates |= {self.seed: tuning["seed"]}
        return updates

    def show_tuning(self, shown_count=None, profile: gr.OAuthProfile | None = None):
        """The tuning job's study for the page: its state, the trials, the best one, and Optuna's plots (drawn
        again only when a trial has finished since the last poll)."""
        status = self.jobs.status()
        can = controls(status, profile.username if profile else None)
        updates = {
            self.text: status_markdown(status),
            self.button: gr.Button(interactive=can["start"]),
            self.cancel_button: gr.Button(interactive=can["cancel"]),
        }
        try:
            study = job_study(self.jobs)
        except Exception as error:
            return updates | {self.best_text: failure_markdown("Could not read the study", error)}
        count = finished_count(study) if study is not None else None
        study_can = study_controls(study)
        updates |= {
            self.text: status_markdown(status, study),
            self.best_text: best_markdown(study, status) if study is not None else "",
            self.trials_frame: trials_table(study) if study is not None else None,
            self.use_best: gr.Button(interactive=study_can["use_best"]),
            self.export_button: gr.Button(interactive=study_can["export"] and can["export"]),
            self.shown_trials: count,
        }
        if count != shown_count:
            plots = study_plots(study) if study is not None else {}
            for name, plot in (
                ("history", self.history_plot),
                ("importances", self.importance_plot),
                ("parallel", self.parallel_plot),
            ):
                figure = plots.get(name)
                updates[plot] = gr.Plot(figure, visible=figure is not None)
        return updates

    def start_tune(  # the form's fields one by one: Gradio inserts the login and progress by position
        self,
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
                self.jobs,
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
            return {self.message: failure_markdown("Could not start tuning", error)}
        return self.show_tuning(None, profile) | {self.message: ""}

    def cancel_tune(self, secret_value, profile: gr.OAuthProfile | None):
        try:
            cancel_tuning(self.jobs, profile.username if profile else None, secret_value)
        except Exception as error:
            return {self.message: failure_markdown("Could not cancel", error)}
        stopping = "Cancel sent: the running trial stops within seconds, and the study with it (its state is below)."
        return self.show_tuning(None, profile) | {self.message: stopping}

    def train_with_best(self):
        """The best trial's values in the Train form, and the Train form on screen."""
        train = self.train_tab
        try:
            study = job_study(self.jobs)
            values = best_train_hyperparameters(study)
        except Exception as error:
            return {self.message: failure_markdown("Could not fill the Train form", error)}
        status = self.jobs.status()
        start_key = status["settings"]["start"]
        values = default_hyperparameters(start_key) | values
        updates = {train.fields[name]: value for name, value in values.items()}
        message = f"The form holds the best trial's values (trial {study.best_trial.number}); the rest are the start's."
        return updates | {
            train.game: status["game"],
            train.start: start_key if start_key in ("pretrained", "scratch") else "repo",
            train.values_note: form_note(start_key),
            train.modes: gr.Tabs(selected="train"),
            train.message: message,
            self.message: "",
        }

    def export_study(self, secret_value, profile: gr.OAuthProfile | None):
        try:
            csv_path, yaml_path = export_tuning_study(self.jobs, profile.username if profile else None, secret_value)
        except Exception as error:
            return {self.message: failure_markdown("Could not export the study", error)}
        return {
            self.trials_csv: gr.File(str(csv_path), visible=True),
            self.best_yaml: gr.File(str(yaml_path), visible=True),
        }

    @api_errors
    def tune_api(
        self,
        game: str = "",
        start: str = DEFAULTS.start,
        n_trials: int = DEFAULTS.n_trials,
        n_timesteps: int = DEFAULTS.n_timesteps,
        sampler: str = DEFAULTS.sampler,
        pruner: str = DEFAULTS.pruner,
        n_eval_episodes: int = DEFAULTS.n_eval_episodes,
        study_name: str = "",
        secret: str = "",
        seed: int | None = None,
    ) -> dict:
        """Start a tuning job: the RL Zoo's Optuna search over DQN hyperparameters (game empty: the start repo's,
        or the first whose agent can play here; a start repo of another game than the one named is refused;
        start: "scratch", "pretrained" or a Hub repo id; sampler: tpe or random; pruner: median or none; seed:
        the sampler's, empty for a random one). Returns its status; refused while a training or tuning job runs."""
        return start_tuning(
            self.jobs, game, start, n_trials, n_timesteps, sampler, pruner, n_eval_episodes, study_name, None, secret,
            None, seed,
        )  # fmt: skip

    @api_errors
    def tune_status_api(self) -> dict:
        """The current (or last) tuning job: status, progress, every trial (state, value, hyperparameters,
        seconds, worker) and the best one."""
        return tune_status(self.jobs)

    @api_errors
    def tune_cancel_api(self, secret: str = "") -> dict:
        """Cancel the running tuning job: its running trial stops and is marked cancelled."""
        return cancel_tuning(self.jobs, None, secret)

    def register_api(self) -> None:
        gr.api(self.tune_api, api_name="tune")
        gr.api(self.tune_status_api, api_name="tune_status", concurrency_limit=None)
        gr.api(self.tune_cancel_api, api_name="tune_cancel")
