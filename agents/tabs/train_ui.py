"""The Train tab's layout and wiring (its Tune mode is :mod:`agents.tabs.tune_ui`), and the ``/train``,
``/train_status`` and ``/train_cancel`` endpoints; what they do is :mod:`agents.tabs.train`."""

import gradio as gr

from agents.core.access import on_a_space, push_note
from agents.core.hub import bar_progress
from agents.curves.agent_curves import run_evaluation_curve
from agents.jobs.manager import JobManager
from agents.tabs.play import failure_markdown, page_repo_game
from agents.tabs.train import (
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
from agents.tabs.tune_ui import TuneMode
from agents.tabs.widgets import PROGRESS_BAR, RepoFollower, api_errors
from agents.train.hyperparams import EDITABLE

START_CHOICES = [("the game's pretrained agent", "pretrained"), ("scratch", "scratch"), ("a Hub repo:", "repo")]


class TrainTab:
    """The one training job: its form, its progress, replay and push; and the Tune mode beside it."""

    def __init__(
        self, game_choices: list[tuple[str, str]], first_game: str, jobs: JobManager, training_on: bool, note: str
    ) -> None:
        self.jobs = jobs
        defaults = default_hyperparameters()
        with gr.Tab("Train"):
            gr.Markdown(note)
            if on_a_space():  # a Space's visitors log in, or duplicate it; on this machine whoever runs it trains
                if not training_on:
                    gr.DuplicateButton()
                with gr.Row():
                    gr.LoginButton()
                    secret = gr.Textbox(label="Or the training secret", type="password", scale=2)
            else:
                secret = gr.State("")
            with gr.Tabs() as self.modes:
                with gr.Tab("Train", id="train"):
                    gr.Markdown("### A new job")
                    with gr.Row():
                        with gr.Column(scale=1, min_width=300):
                            self.game = gr.Dropdown(choices=game_choices, value=first_game, label="Game")
                            self.start = gr.Radio(START_CHOICES, value="pretrained", label="Start from")
                            self.start_repo = gr.Textbox(
                                label="Hub repo to start from",
                                placeholder="OWNER/dqn-PongNoFrameskip-v4",
                                info="Its game, by its name or files, is the one trained.",
                                visible=False,
                            )
                            self.repo_note = gr.Markdown(visible=False)
                            self.seed = gr.Number(value=0, precision=0, minimum=0, label="Seed")
                            self.save_every = gr.Number(
                                value=DEFAULT_SAVE_FREQ,
                                precision=0,
                                minimum=100,
                                label="Checkpoint every (steps)",
                                info="a restarted job resumes from its last checkpoint; each takes tens of MB",
                            )
                        with gr.Column(scale=2, min_width=300):
                            self.values_note = gr.Markdown(form_note())
                            self.fast = gr.Checkbox(
                                label="Fast preset: environments in parallel, one per core", value=False
                            )
                            fast_note = gr.Markdown(fast_preset_note(defaults))
                            with gr.Row():
                                self.fields = {
                                    name: gr.Number(
                                        value=defaults[name],
                                        label=name,
                                        info=rule.meaning,
                                        minimum=rule.low,
                                        maximum=rule.high,
                                    )
                                    for name, rule in EDITABLE.items()
                                }
                            self.plan = gr.Markdown()
                    with gr.Row():
                        self.start_button = gr.Button("Start training", variant="primary", interactive=False)
                        self.cancel_button = gr.Button("Cancel", variant="stop", interactive=False)
                    self.message = gr.Markdown()
                    gr.Markdown("### The job")
                    self.job_text = gr.Markdown()
                    self.curve = gr.LinePlot(
                        x="step", y="score", color="series", label="Episode score during training", visible=False
                    )
                    self.run_evaluations = gr.LinePlot(
                        x="timesteps",
                        y="score",
                        color="series",
                        label="The run's evaluations (RL Zoo EvalCallback)",
                        visible=False,
                    )
                    self.replay = gr.Video(  # no label or button over it: they would hide the game's score
                        label="Replay of the trained agent", show_label=False, buttons=[], visible=False
                    )
                    with gr.Accordion("Job status (JSON)", open=False):
                        self.job_json = gr.JSON(label="Job status")
                    self.push_text = gr.Markdown()
                    self.push_button = gr.Button("Push to the Hub as <you>/dqn-<EnvId>", interactive=False)
                    push_result = gr.Markdown()
                    self.shown_replay = gr.State()
                    self.job_outputs = [self.job_text, self.curve, self.run_evaluations, self.replay, self.job_json]
                    self.job_outputs += [self.shown_replay, self.start_button, self.cancel_button, self.push_button]
                    self.field_list = list(self.fields.values())
                with gr.Tab("Tune", id="tune"):
                    self.tune = TuneMode(game_choices, first_game, jobs, secret, self)
            self.start.change(
                lambda choice: (gr.Textbox(visible=choice == "repo"), gr.Markdown(visible=choice == "repo")),
                self.start,
                [self.start_repo, self.repo_note],
                api_visibility="private",
            )
            self.follower = RepoFollower(self.game, [self.start_repo], self.repo_note, page_repo_game)
            self.start.input(
                self.values_for_start,
                [self.start, self.fast],
                [self.values_note, *self.field_list],
                api_visibility="private",
            )
            self.fast.input(
                self.fast_preset_fields, [self.fast, *self.field_list], self.field_list, api_visibility="private"
            )
            gr.on(
                [field.change for field in self.field_list],
                self.notes_of_form,
                [self.start, *self.field_list],
                [self.plan, fast_note],
                api_visibility="private",
            )
            self.start_button.click(
                self.start_job,
                [self.game, self.start, self.start_repo, self.seed, secret, self.save_every, *self.field_list],
                [*self.job_outputs, self.message, self.game, self.repo_note],
                api_visibility="private",
            )
            self.cancel_button.click(
                self.cancel_job, secret, [*self.job_outputs, self.message], api_visibility="private"
            )
            self.push_button.click(self.push_job, secret, push_result, api_visibility="private")
            # Status reads are cheap file reads: every open page's poll runs at once, none waits behind another.
            # The poll, which enables the Start buttons, begins once the page load has filled the forms.
            self.poll = poll = gr.Timer(2, active=False)
            for show, state, outputs in (
                (self.show_job, self.shown_replay, self.job_outputs),
                (self.tune.show_tuning, self.tune.shown_trials, self.tune.outputs),
            ):
                poll.tick(
                    show, state, outputs, api_visibility="private", show_progress="hidden", concurrency_limit=None
                )
        self.load_outputs = [self.game, self.push_text, self.plan, self.start, self.start_repo, self.seed]
        self.load_outputs += [self.save_every, self.fast, self.values_note, *self.field_list, *self.job_outputs]
        self.load_outputs += self.tune.load_outputs

    def on_load(self, games: gr.Dropdown, token: gr.OAuthToken | None, profile: gr.OAuthProfile | None) -> dict:
        """A new visit: the form showing the job on screen, if any, and the job's state."""
        status = self.jobs.status()
        form = job_form_values(status)
        updates = {self.game: games, self.push_text: push_note(token.token if token else None)}
        updates[self.plan] = plan_note(
            form["hyperparameters"] if form else default_hyperparameters(),
            False,
            form["start"] if form else "pretrained",
        )
        if form is not None:
            updates |= {self.game: gr.Dropdown(choices=games.choices, value=form["game"]), self.start: form["start"]}
            updates |= {
                self.start_repo: form["start_repo"],
                self.seed: form["seed"],
                self.save_every: form["save_freq"],
            }
            updates |= {self.fields[name]: value for name, value in form["hyperparameters"].items()}
            updates |= {self.fast: form["hyperparameters"]["n_envs"] > 1, self.values_note: form_note(form["start"])}
        return updates | self.tune.on_load(status, games) | self.show_job(None, token, profile)

    def after_load(self, load_event) -> None:
        """Once the page is loaded: the status poll starts, and what the run on the form will take here (timed
        on this machine)."""
        load_event.then(
            lambda: gr.Timer(active=True), None, self.poll, api_visibility="private", show_progress="hidden"
        )
        load_event.then(
            self.plan_of_form,
            [self.start, *self.field_list],
            self.plan,
            api_visibility="private",
            show_progress="hidden",
        )

    def show_job(
        self, replay_on_screen=None, token: gr.OAuthToken | None = None, profile: gr.OAuthProfile | None = None
    ):
        """The training job's state for the page: text, curve, replay video (sent only when it changes,
        so a playing replay is not reloaded every tick), raw status, and which buttons can act."""
        status = self.jobs.status()
        replay_path = status.get("replay")
        can = controls(status, token.token if token else None, profile.username if profile else None)
        scores = training_curve(status)
        evaluations = run_evaluation_curve(status)
        return {
            self.job_text: status_markdown(status),
            self.curve: gr.LinePlot(scores, visible=scores is not None),
            self.run_evaluations: gr.LinePlot(evaluations, visible=evaluations is not None),
            self.replay: gr.Video(visible=replay_path is not None)
            if replay_path == replay_on_screen
            else gr.Video(replay_path, visible=replay_path is not None),
            self.job_json: self.jobs.public_status(status),
            self.shown_replay: replay_path,
            self.start_button: gr.Button(interactive=can["start"]),
            self.cancel_button: gr.Button(interactive=can["cancel"]),
            self.push_button: gr.Button(interactive=can["push"]),
        }

    def plan_of_form(self, start_from, *values) -> str:
        return plan_note(dict(zip(EDITABLE, values, strict=True)), start=start_from)

    def notes_of_form(self, start_from, *values) -> tuple[str, str]:
        """What the run on the form will take here, and what the fast preset does, as the form changes."""
        hyperparameters = dict(zip(EDITABLE, values, strict=True))
        return plan_note(hyperparameters, start=start_from), fast_preset_note(hyperparameters)

    def values_for_start(self, start_from, fast_on):
        """A new start puts its values in the form (fine-tuning values from a trained agent), with why."""
        values = fast_preset_values(default_hyperparameters(start_from), fast_on)
        return [form_note(start_from), *values.values()]

    def fast_preset_fields(self, fast_on, *values):
        return list(fast_preset_values(dict(zip(EDITABLE, values, strict=True)), fast_on).values())

    def start_job(  # the form's fields one by one: Gradio inserts the login and progress by position
        self,
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
        note = ""
        try:
            if start_from == "repo":  # the start agent's game is the one trained: the dropdown shows it
                game_key, note = page_repo_game(game_key, repo)
            start_training(
                self.jobs,
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
            return {self.message: failure_markdown("Could not start training", error)}
        no_replay = {self.replay: gr.Video(None, visible=False), self.shown_replay: None}  # the last job's goes
        return self.show_job() | {self.message: "", self.game: game_key, self.repo_note: note} | no_replay

    def cancel_job(self, secret_value, profile: gr.OAuthProfile | None):
        try:
            cancel_training(self.jobs, profile.username if profile else None, secret_value)
        except Exception as error:
            return {self.message: failure_markdown("Could not cancel", error)}
        return self.show_job() | {self.message: "Cancelling: the job stops after its current step."}

    def push_job(self, secret_value, profile: gr.OAuthProfile | None, token: gr.OAuthToken | None):
        try:
            username, oauth_token = (profile.username if profile else None), (token.token if token else None)
            return push_training(self.jobs, username, oauth_token, secret_value)
        except Exception as error:
            return failure_markdown("Could not push", error)

    @api_errors
    def train_api(
        self,
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
        """Start a training job (game empty: the start repo's, or the first whose agent can play here; a start
        repo of another game than the one named is refused; start: "pretrained", "scratch" or a Hub repo id;
        save_freq: steps between checkpoints). A hyperparameter left out takes the Train form's value for the
        start: fine-tuning values from a trained agent, the RL Zoo's from scratch (shortened on a CPU). Returns
        its status; a second job while one runs is refused with the running job's progress."""
        given = {name: value for name, value in locals().items() if name in EDITABLE and value is not None}
        hyperparameters = default_hyperparameters(start) | given
        return start_training(self.jobs, game, start, seed, hyperparameters, None, secret, save_freq)

    def train_status_api(self) -> dict:
        """The current (or last) training job: status, phase, progress, episode scores, evaluation."""
        return self.jobs.public_status()

    @api_errors
    def train_cancel_api(self, secret: str = "") -> dict:
        """Cancel the running training job."""
        return cancel_training(self.jobs, None, secret)

    def register_api(self) -> None:
        gr.api(self.train_api, api_name="train")
        gr.api(self.train_status_api, api_name="train_status", concurrency_limit=None)
        gr.api(self.train_cancel_api, api_name="train_cancel")
        self.tune.register_api()
