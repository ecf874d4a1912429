"""What the app's Tune tab does, Gradio-free: start and cancel the tuning job (with the checks of who may,
as for training), and show its study: the trials, the best one, Optuna's plots, and the exports."""

import functools
import os
import re
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import sqlalchemy
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState
from plotly.graph_objects import Figure

from agents.core.access import SECRET_VARIABLE, control_refusal, may_control_training, training_available
from agents.core.data_root import data_root
from agents.core.errors import AgentError
from agents.core.hub import ByteProgress
from agents.jobs.manager import JobManager, progress_line
from agents.tabs.play import new_output_folder
from agents.tune.tuning import (
    LOCAL_STORAGE,
    STORAGE_VARIABLE,
    StorageError,
    TuningSettings,
    best_trial,
    described_storage,
    driver_reason,
    finished_trials,
    open_storage,
    resolve_storage,
    rl_zoo_yaml,
    searched_hyperparameters,
    train_form_hyperparameters,
)

STATES = {
    TrialState.RUNNING: "running",
    TrialState.COMPLETE: "complete",
    TrialState.PRUNED: "pruned",
    TrialState.FAIL: "failed",
    TrialState.WAITING: "waiting",
}
TRIAL_NOTE = (
    "Each trial trains with the values the RL Zoo's DQN search samples and the RL Zoo's Atari values for the "
    "rest, but buffer_size capped at the trial's steps (a larger replay memory would never fill) and "
    "learning_starts at a tenth of them (the RL Zoo's 100,000 would leave a short trial never learning); "
    "net_arch stays the Atari Q head. A trial's value is the mean score of its last evaluation."
)


def start_tuning(
    jobs: JobManager,
    game: str,
    start: str,
    n_trials: float,
    n_timesteps: float,
    sampler: str = "tpe",
    pruner: str = "median",
    n_eval_episodes: float = 5,
    study_name: str | None = None,
    username: str | None = None,
    secret: str | None = None,
    progress: ByteProgress | None = None,
    seed: float | None = None,
) -> dict[str, Any]:
    """Start the tuning job if this machine trains and the caller may; returns the job's status. The study
    lives on ``$ARENA_OPTUNA_STORAGE``, else in a journal file in the data folder. ``seed``: the sampler's
    (None: a random one, so that workers sample apart)."""
    available, reason = training_available()
    if not available:
        raise AgentError(reason)
    if not may_control_training(username, secret):
        raise AgentError(control_refusal())
    settings = TuningSettings(
        game=game,
        start=start,
        n_trials=n_trials,
        n_timesteps=n_timesteps,
        sampler=sampler,
        pruner=pruner,
        n_eval_episodes=n_eval_episodes,
        study_name=study_name,
        seed=seed,
    )
    return jobs.public_status(jobs.start_tuning(settings, progress))


def cancel_tuning(jobs: JobManager, username: str | None = None, secret: str | None = None) -> dict[str, Any]:
    if not may_control_training(username, secret):
        raise AgentError(control_refusal())
    return jobs.public_status(jobs.cancel())


def export_tuning_study(jobs: JobManager, username: str | None, secret: str | None) -> tuple[Path, Path]:
    """The study's trials (CSV) and its best trial as an RL Zoo entry (YAML), in a fresh output folder; like
    start and cancel, only for someone who may control training."""
    if not may_control_training(username, secret):
        raise AgentError(control_refusal("export the study"))
    study = job_study(jobs)
    if study is None or best_trial(study) is None:
        raise AgentError("There is no tuning study with a finished trial to export yet: tune first (Start tuning).")
    folder = new_output_folder()
    return export_csv(study, folder), export_yaml(study, folder)


def is_tuning(status: dict[str, Any]) -> bool:
    return status.get("kind") == "tune"


@functools.lru_cache(maxsize=4)
def _storage(url: str) -> BaseStorage:
    """One storage per URL for the page's polls (an RDB storage holds a connection pool)."""
    return open_storage(url)


def job_study(jobs: JobManager) -> optuna.Study | None:
    """The study of the current (or last) job, if it is a tuning job, read from its storage."""
    record = jobs.current()
    if record is None or record.kind != "tune":
        return None
    storage = record.settings["storage"]
    try:
        return optuna.load_study(study_name=record.settings["study_name"], storage=_storage(storage))
    except (optuna.exceptions.StorageInternalError, sqlalchemy.exc.SQLAlchemyError, StorageError) as error:
        reason = error.reason if isinstance(error, StorageError) else driver_reason(error)
        raise AgentError(
            f"The study's storage ({described_storage(storage)}) cannot be read now: {reason}. Its "
            "database server may be down: start it again (the page reads the study again at its next poll), or check "
            f"{STORAGE_VARIABLE}."
        ) from None


def trials_account(study: optuna.Study, n_trials: int) -> str:
    """How many of the study's trials completed, and what became of the others, each by number: the one
    count the page gives (a cancelled trial is not "done")."""
    by_state: dict[str, list[int]] = {}
    for trial in study.get_trials(deepcopy=False):
        by_state.setdefault(_state(trial), []).append(trial.number)
    parts = [f"{len(by_state.pop('complete', []))} of {n_trials} trials complete"]
    for state, numbers in by_state.items():
        parts.append(f"{len(numbers)} {state} (trial{'s' if len(numbers) > 1 else ''} {', '.join(map(str, numbers))})")
    return ", ".join(parts)


def _running_trial(status: dict[str, Any]) -> str:
    """Where the running trial stands, while the job tunes."""
    progress = status.get("progress") or {}
    if status.get("status") != "running" or status.get("phase") != "tuning" or progress.get("trial") is None:
        return ""
    done, total = progress.get("timesteps", 0), progress.get("total_timesteps", 0)
    rate = progress.get("steps_per_second") or 0.0
    return f" · trial {progress['trial']} at {done:,}/{total:,} steps, {rate:.0f} steps/s"


def status_markdown(status: dict[str, Any], study: optuna.Study | None = None) -> str:
    """The tuning job's state in a few lines: where it stands, what it was asked, how it ended; with its
    ``study``, the trials counted from the study itself, as the table and the best trial show them."""
    if not is_tuning(status):
        return "No tuning job yet."
    settings = status["settings"]
    start = {"pretrained": "the pretrained agent", "scratch": "scratch"}.get(settings["start"], settings["start"])
    where = progress_line(status)
    if study is not None:
        where = f"{status['game']}: {trials_account(study, settings['n_trials'])}{_running_trial(status)}"
    lines = [
        f"**{status['status'].capitalize()}** · {where} · on {status.get('device', '?')}",
        f"Study `{settings['study_name']}` in the {settings['storage']}: {status['game']} from {start}, "
        f"{settings['n_trials']} trials of {settings['n_timesteps']:,} steps, {settings['sampler'].upper()} "
        f"sampler, {settings['pruner']} pruner, {settings['n_eval_episodes']} "
        f"{'game' if settings['n_eval_episodes'] == 1 else 'games'} per evaluation.",
    ]
    if status.get("error"):
        lines.append(f"Error: {status['error']}")
    return "  \n".join(lines)


def _parameters(trial: FrozenTrial) -> str:
    """A trial's hyperparameters as DQN takes them (its raw samples while it is still being sampled)."""
    try:
        values = searched_hyperparameters(trial.params)
    except KeyError:
        values = trial.params
    return ", ".join(
        f"{name} {value:,}" if isinstance(value, int) else f"{name} {value:.4g}" for name, value in values.items()
    )


def _state(trial: FrozenTrial) -> str:
    """A trial's state in a word: a trial stopped by a cancel or a restart (which Optuna records as failed)
    is said to be cancelled or interrupted."""
    marks = [mark for mark in ("cancelled", "interrupted") if trial.user_attrs.get(mark)]
    return marks[0] if marks else STATES.get(trial.state, trial.state.name.lower())


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """One row a trial: number, state, value, hyperparameters, seconds, worker."""
    rows = [
        {
            "trial": trial.number,
            "state": _state(trial),
            "value": trial.value,
            "hyperparameters": _parameters(trial),
            "seconds": round(trial.duration.total_seconds(), 1) if trial.duration else None,
            "worker": trial.user_attrs.get("worker", ""),
        }
        for trial in study.get_trials(deepcopy=False)
    ]
    return pd.DataFrame(rows, columns=["trial", "state", "value", "hyperparameters", "seconds", "worker"])


def best_markdown(study: optuna.Study, status: dict[str, Any] | None = None) -> str:
    """The best trial so far, or, before one completes, why there is none (the job's ``status`` says whether
    one may still come)."""
    best = best_trial(study)
    if best is None:
        state = (status or {}).get("status", "running")
        if state == "running":
            return "No trial has completed yet: the best one shows here when one does."
        ended = {"finished": "finished", "cancelled": "was cancelled", "failed": "failed"}.get(state, f"is {state}")
        return f"No trial completed before the study {ended}: there are no best parameters to train with or export."
    return f"**Best: trial {best.number}**, mean score **{best.value:g}**  \n{_parameters(best)}  \n_{TRIAL_NOTE}_"


def _figure(plot, study: optuna.Study) -> Figure | None:
    try:
        return plot(study)
    except (ValueError, RuntimeError):  # too few trials, or all of one value
        return None


def study_plots(study: optuna.Study) -> dict[str, Figure | None]:
    """Optuna's own plots, for ``gr.Plot``: optimization history, parameter importances (from two complete
    trials on) and parallel coordinates; None where there are too few trials."""
    complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    return {
        "history": _figure(optuna.visualization.plot_optimization_history, study) if complete else None,
        "importances": _figure(optuna.visualization.plot_param_importances, study) if complete >= 2 else None,
        "parallel": _figure(optuna.visualization.plot_parallel_coordinate, study) if complete else None,
    }


def export_path(folder: Path, study_name: str, suffix: str) -> Path:
    """``<folder>/<study name>-<suffix>``, always inside ``folder``: a study read from a shared storage may
    have any name (made elsewhere, or before names were checked), so every character but letters, digits,
    ``-``, ``_`` and ``.`` becomes ``_``, leading dots are dropped, and the path is checked to stay inside."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", study_name)[:64].lstrip(".") or "study"
    path = (folder / f"{stem}-{suffix}").resolve()
    if path.parent != folder.resolve():
        raise AgentError(f"The study {study_name!r} cannot be exported under that name.")
    return path


def export_csv(study: optuna.Study, folder: Path) -> Path:
    """The trials as the RL Zoo's report writes them (Optuna's ``trials_dataframe``), as CSV."""
    path = export_path(folder, study.study_name, "trials.csv")
    study.trials_dataframe().to_csv(path, index=False)
    return path


def export_yaml(study: optuna.Study, folder: Path) -> Path:
    """The best hyperparameters as an entry of the RL Zoo's ``hyperparams/dqn.yml``."""
    path = export_path(folder, study.study_name, "dqn.yml")
    path.write_text(rl_zoo_yaml(study))
    return path


def best_train_hyperparameters(study: optuna.Study) -> dict[str, Any]:
    """The Train form's values from the best trial ("Train with the best parameters"): the searched
    hyperparameters the form has a field for. Raises before a trial completes."""
    values = train_form_hyperparameters(study)
    if values is None:
        raise AgentError("No trial has completed yet: there are no best hyperparameters to train with.")
    return values


def study_controls(study: optuna.Study | None) -> dict[str, bool]:
    """Which of the study's buttons can act now: "Train with the best parameters" and "Export the study" (its
    best trial as an RL Zoo entry, with the trials) both need a completed trial."""
    has_best = study is not None and best_trial(study) is not None
    return {"use_best": has_best, "export": has_best}


def controls(status: dict[str, Any], username: str | None = None) -> dict[str, bool]:
    """Which Tune buttons can act now: start when no job runs, cancel while a tuning job does, export (with a
    completed trial, see :func:`study_controls`): all only for someone who may control training."""
    running = status.get("status") == "running"
    available, _ = training_available()
    may_control = may_control_training(username, None) or bool(os.getenv(SECRET_VARIABLE))
    return {
        "start": available and may_control and not running,
        "cancel": may_control and running and is_tuning(status),
        "export": may_control,
    }


def storage_note() -> str:
    """Where this machine's studies are kept, and how to share one with other machines."""
    storage = described_storage(resolve_storage(None, data_root()))
    if os.getenv(STORAGE_VARIABLE):
        return (
            f"Studies are kept in the {storage} that `{STORAGE_VARIABLE}` names: any machine given it works on the "
            "same studies."
        )
    return (
        f"Studies are kept in the {storage} (`tuning/{LOCAL_STORAGE}` in the data folder). To spread one over "
        f"several machines, give them all one Optuna database URL (`{STORAGE_VARIABLE}` in a Space's secrets, or "
        "`--storage` for `python -m agents.tune`) and the same study name."
    )


def finished_count(study: optuna.Study) -> int:
    """Trials that have ended (complete, pruned or failed): when it changes, the plots are drawn again."""
    return len(finished_trials(study))


def tune_status(jobs: JobManager) -> dict[str, Any]:
    """The ``/tune_status`` answer: the job's status (no server path in it), every trial of its study and the
    best one."""
    status = jobs.public_status()
    study = job_study(jobs) if is_tuning(status) else None
    if study is None:
        return status
    best = best_trial(study)
    trials = trials_table(study).to_dict(orient="records")
    best_summary = None
    if best is not None:
        best_summary = {
            "number": best.number,
            "value": best.value,
            "params": best.params,
            "hyperparameters": searched_hyperparameters(best.params),
        }
    return {**status, "trials": trials, "best": best_summary}


def tune_form_values(status: dict[str, Any]) -> dict[str, Any] | None:
    """The Tune form's values for the tuning job on screen (so a reloaded page shows what it runs), or None."""
    if not is_tuning(status):
        return None
    settings = status["settings"]
    names = ("start", "n_trials", "n_timesteps", "sampler", "pruner", "n_eval_episodes", "study_name", "seed")
    return {"game": status["game"], **{name: settings[name] for name in names}}
