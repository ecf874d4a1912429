"""Tune DQN's hyperparameters for a game with the RL Zoo's own optimizer.

Each trial is the RL Zoo's: ``rl_zoo3.exp_manager.ExperimentManager.objective`` samples DQN's
hyperparameters with ``rl_zoo3.hyperparams_opt.sample_dqn_params``, trains, evaluates and reports to
the pruner, with the manager's own samplers (TPE, random) and pruners (median, none). The Arena adds
what a long-lived, shared study needs around it:

* the study lives on a storage several workers share: a local Optuna journal file by default, or any
  Optuna RDB URL (``$ARENA_OPTUNA_STORAGE`` or ``storage``) with a heartbeat, so that a worker that
  dies mid-trial leaves a failed trial rather than one running forever;
* ``n_trials`` is the study's total across its workers, as the RL Zoo's ``--max-total-trials`` counts;
* a study records its game, algorithm and budget, and one of another game or budget is refused;
* each trial records the worker that ran it; a trial that a cancel or a dead worker stopped is
  failed with the user attribute ``cancelled`` or ``interrupted``, and the study goes on;
* the search space is the RL Zoo's but for ``net_arch``, which stays the Atari default (the
  Nature-CNN Q head every Arena agent has, which Play, fine-tuning and the Hub layout rely on);
* a trial may start from the game's pretrained agent's weights.

The command line, ``python -m agents.tune``, is :mod:`agents.tune`.
"""

import contextlib
import io
import json
import os
import re
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy.exc
import yaml
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock
from optuna.study import MaxTrialsCallback
from optuna.trial import FrozenTrial, TrialState
from rl_zoo3 import hyperparams_opt
from rl_zoo3.exp_manager import ExperimentManager
from rl_zoo3.hyperparams_opt import HYPERPARAMS_CONVERTER, sample_dqn_params
from stable_baselines3.common.callbacks import BaseCallback

from agents.core.catalog import Game
from agents.core.checkpoint import Checkpoint
from agents.core.errors import AgentError
from agents.core.numbers import MAX_SEED, OwnerSetting, user_number
from agents.core.repo_game import resolve_game
from agents.core.run_folder import ALGO
from agents.train.hyperparams import EDITABLE, check_memory, rl_zoo_atari_defaults, start_values
from agents.train.training import (
    PlayBeforeLearning,
    _load_start_weights,
    _read_start_checkpoint,
    flush_denormals,
    rl_zoo_experiment,
    start_repo_id,
)

STORAGE_VARIABLE = "ARENA_OPTUNA_STORAGE"
LOCAL_STORAGE = "optuna-journal.log"  # the RL Zoo's own format for a ``--storage`` ending in .log
SAMPLERS = ("tpe", "random")
PRUNERS = ("median", "none")
N_STARTUP_TRIALS = 10  # rl_zoo3.train's default: random trials before TPE samples, and before the median prunes
STEPS_PER_EVALUATION = 100_000  # rl_zoo3.train's default: one report to the pruner per 100k steps
HEARTBEAT_S = 5
# A trial whose worker has not beaten for this long is failed by the next worker to look; at least Optuna's own
# default, two heartbeats, so that one late beat fails no live trial.
HEARTBEAT_GRACE = OwnerSetting("ARENA_OPTUNA_GRACE_S", 20, 2 * HEARTBEAT_S, 86_400, whole=True, unit="seconds")
JOURNAL_LOCK_GRACE_S = 30  # Optuna's default: a journal lock held this long is a dead writer's, and is broken
CONNECT_TIMEOUT_S = 5
SERVER_ADDRESS = re.compile(r'connection to server (at "[^"]*", port \d+|on socket "[^"]*") failed: ')
DATABASE_LOST = "database_lost"  # a worker's stop reason when its study's database stops answering mid-study
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)  # as the RL Zoo's --max-total-trials
STUDY_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # a name, never a path: it names the exports' files
STUDY_ATTRIBUTES = ("algo", "env_id", "start", "n_timesteps", "n_eval_episodes")
SEARCHED = (
    "gamma",
    "learning_rate",
    "batch_size",
    "train_freq",
    "gradient_steps",
    "exploration_fraction",
    "exploration_final_eps",
    "target_update_interval",
)


@dataclass(frozen=True)
class TuningSettings:
    """What a study is asked to do; numbers are checked here, where they enter."""

    game: str
    start: str = "scratch"  # "scratch", "pretrained" (the game's sb3 agent) or a Hub repo id
    n_trials: int = 10  # the study's total, across all its workers
    n_timesteps: int = 50_000  # environment steps per trial
    sampler: str = "tpe"
    pruner: str = "median"
    n_eval_episodes: int = 5  # games per report to the pruner
    study_name: str | None = None  # default: one per game, start and budget
    storage: str | None = None  # an Optuna RDB URL or a journal file (.log); default: $ARENA_OPTUNA_STORAGE or local
    seed: int | None = None  # the sampler's; default a random one, so that workers sample apart (as rl_zoo3.train)

    def __post_init__(self) -> None:
        def checked(name: str, label: str, low: int, high: int) -> None:
            object.__setattr__(self, name, user_number(label, getattr(self, name), low, high, whole=True))

        checked("n_trials", "Number of trials", 1, 10_000)
        checked("n_timesteps", "Steps per trial", 1_000, 50_000_000)
        checked("n_eval_episodes", "Evaluation games per report", 1, 100)
        if self.seed is not None:
            checked("seed", "seed", 0, MAX_SEED)
        if self.sampler not in SAMPLERS:
            raise AgentError(f"The sampler must be one of {', '.join(SAMPLERS)}, not {self.sampler!r}.")
        if self.pruner not in PRUNERS:
            raise AgentError(f"The pruner must be one of {', '.join(PRUNERS)}, not {self.pruner!r}.")
        object.__setattr__(self, "start", (self.start or "scratch").strip())
        if self.study_name is not None and not self.study_name.strip():
            object.__setattr__(self, "study_name", None)
        if self.study_name is not None:
            object.__setattr__(self, "study_name", check_study_name(self.study_name))

    def resolved_game(self) -> Game:
        """The game: the start agent's repo's when it names one (:func:`resolve_game`), else ``game`` or the default."""
        return resolve_game(self.game, start_repo_id(self.start))

    def resolved_study_name(self) -> str:
        """The study's name; by default one per game, start and steps per trial, whose values compare."""
        if self.study_name:
            return self.study_name.strip()
        start = self.start.replace("/", "--")
        return f"{ALGO}-{self.resolved_game().env_id}-{start}-{self.n_timesteps}-steps"

    def trial_hyperparameters(self) -> dict[str, Any]:
        """The fixed (not searched) hyperparameters of a trial: the RL Zoo's Atari values, but
        ``n_timesteps`` the trial's steps, ``buffer_size`` at most those steps (a larger replay memory
        is never filled in a trial, so the cap changes nothing but the memory allocated), and
        ``learning_starts`` at most a tenth of them (the RL Zoo's 100,000 would leave a short trial
        never learning). From a trained agent, ε starts as when fine-tuning it
        (:func:`agents.train.hyperparams.start_values`), not at 1.0."""
        defaults = start_values(self.start)
        return {
            **defaults,
            "n_timesteps": self.n_timesteps,
            "buffer_size": min(int(defaults["buffer_size"]), self.n_timesteps),
            "learning_starts": min(int(defaults["learning_starts"]), self.n_timesteps // 10),
        }


def check_study_name(name: str) -> str:
    """A study name as given (spaces around it dropped), or an AgentError: letters, digits, ``-``, ``_`` and
    ``.``, at most 64 characters, and not only dots (the exports are files named after it)."""
    name = str(name).strip()
    if not STUDY_NAME.fullmatch(name) or not name.strip("."):
        shown = name if len(name) <= 80 else name[:77] + "..."
        raise AgentError(
            f"The study name {shown!r} is not a name: use letters, digits, '-', '_' and '.', "
            "at most 64 characters (for example breakout-dqn)."
        )
    return name


# The storage.


def local_storage_path(folder: Path) -> Path:
    return Path(folder) / "tuning" / LOCAL_STORAGE


def resolve_storage(storage: str | None, folder: Path) -> str:
    """The storage a study uses: ``storage``, else ``$ARENA_OPTUNA_STORAGE``, else a journal file under ``folder``."""
    return (storage or os.getenv(STORAGE_VARIABLE) or "").strip() or str(local_storage_path(folder).resolve())


def is_journal(storage: str) -> bool:
    """A journal file, as the RL Zoo reads ``--storage``: a path ending in ``.log``, not a URL."""
    return "://" not in storage and storage.endswith(".log")


def shown_storage(storage: str) -> str:
    """The storage as it may be shown: a URL's password hidden."""
    if is_journal(storage):
        return storage
    try:
        return sqlalchemy.make_url(storage).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:
        return storage.split("@")[-1]


def _journal_record(line: bytes) -> bool:
    """Whether ``line`` is one whole record of an Optuna journal (a JSON object with an ``op_code``)."""
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and "op_code" in record


def _repaired_line(line: bytes) -> tuple[bytes, bytes]:
    """A journal line split into what is kept and what is set aside. A whole record is kept. A line
    that is not one holds a record torn by a crash, with the next record glued on by the next writer
    (Optuna appends to the file as it is): the last whole record it ends with is kept, the rest set aside."""
    if _journal_record(line):
        return line, b""
    for start in reversed([match.start() for match in re.finditer(rb'\{"op_code"', line)]):
        if start and _journal_record(line[start:]):
            return line[start:], line[:start]
    return b"", line


def journal_lock(path: Path) -> JournalFileSymlinkLock:
    """The lock Optuna's journal backend takes around each write (its default kind), with the grace period
    after which a lock left by a writer that died is broken."""
    return JournalFileSymlinkLock(str(path), grace_period=JOURNAL_LOCK_GRACE_S)


def repair_journal(path: Path) -> Path | None:
    """Mend a journal file that a crash mid-write tore, before Optuna reads it: its unfinished last record
    (which no reader has taken: Optuna reads whole lines only) and any torn bytes a later record was glued
    onto are moved to a file beside it, ``<name>.torn-<time>``, whose path is returned (None if the journal
    was whole). Every whole record stays, in its order. Done under the journal's own lock, which a live
    writer holds while it writes (Optuna breaks a dead writer's lock after its grace period)."""
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return None
    lock = journal_lock(path)
    lock.acquire()
    try:
        with open(path, "rb") as file:
            data = file.read()
        lines = data.split(b"\n")  # the last item: the bytes after the last newline (b"" when whole)
        whole, tail = lines[:-1], lines[-1]
        first_bad = next((n for n, line in enumerate(whole) if not _journal_record(line)), None)
        if first_bad is None and not tail:
            return None
        kept, torn = [], []
        for line in whole[first_bad:] if first_bad is not None else []:
            keep, aside = _repaired_line(line)
            if keep:
                kept.append(keep + b"\n")
            if aside:
                torn.append(aside + b"\n")
        if tail:
            torn.append(tail)
        aside = path.with_name(f"{path.name}.torn-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
        with open(aside, "wb") as file:
            file.writelines(torn)
            file.flush()
            os.fsync(file.fileno())
        good = sum(len(line) + 1 for line in (whole[:first_bad] if first_bad is not None else whole))
        with open(path, "r+b") as file:  # the records before the first torn byte are left as they are
            file.seek(good)
            file.writelines(kept)
            file.truncate()
            file.flush()
            os.fsync(file.fileno())
    finally:
        lock.release()
    print(
        f"The study journal {path.name} had {sum(map(len, torn)):,} bytes torn by a crash mid-write; they are set "
        f"aside in {aside.name} beside it, and every whole record is kept.",
        file=sys.stderr,
    )
    return aside


def described_storage(storage: str) -> str:
    """The storage as anyone may read it, saying no server path, password, user or host: ``local journal
    file`` (another journal file: its name), or the database's kind and name."""
    if is_journal(storage):
        name = Path(storage).name
        return "local journal file" if name == LOCAL_STORAGE else f"journal file {name}"
    try:
        url = sqlalchemy.make_url(storage)
    except sqlalchemy.exc.ArgumentError:
        return "a study database"
    database = Path(url.database).name if url.database else ""
    return f"{url.get_backend_name()} database {database}".strip()


class StorageError(AgentError):
    """A storage that could not be opened; ``reason`` is the driver's, with no server address (for the page)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def open_storage(storage: str) -> BaseStorage:
    """The Optuna storage ``storage`` names, reached now: an unreachable or malformed URL fails here,
    within seconds, with what to do. A journal file torn by a crash is mended first (:func:`repair_journal`)."""
    if is_journal(storage):
        Path(storage).parent.mkdir(parents=True, exist_ok=True)
        repair_journal(Path(storage))
        return JournalStorage(JournalFileBackend(storage, lock_obj=journal_lock(Path(storage))))
    what = (
        f"Cannot use the study storage {shown_storage(storage)!r}"
        if "://" in storage
        else f"The study storage {storage!r} is neither a URL nor a journal file"
    )
    advice = (
        "Give an Optuna RDB URL such as postgresql://user:password@host:5432/db or sqlite:///path/study.db, "
        f"a journal file ending in .log, or nothing (unset {STORAGE_VARIABLE}) for the local journal file."
    )
    if "://" not in storage:
        raise AgentError(f"{what}. {advice}")
    try:
        url = sqlalchemy.make_url(storage)
        connect_args = {} if url.get_backend_name() == "sqlite" else {"connect_timeout": CONNECT_TIMEOUT_S}
        for attempt in range(3):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    return RDBStorage(
                        storage,
                        engine_kwargs={"connect_args": connect_args},
                        heartbeat_interval=HEARTBEAT_S,
                        grace_period=int(HEARTBEAT_GRACE.value()),
                    )
            except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
                # Workers started together on an empty database race to make Optuna's tables (PostgreSQL:
                # 'type "studydirection" already exists'): the loser finds them made when it looks again.
                if attempt == 2:
                    raise
                time.sleep(1)
    except (sqlalchemy.exc.SQLAlchemyError, ImportError, ValueError) as error:
        reason = driver_reason(error)  # the driver's words, or the missing driver's
        raise StorageError(f"{what}: {reason}. {advice}", reason) from None


# The study.


def study_attributes(settings: TuningSettings) -> dict[str, Any]:
    """What a study records of itself, and what a worker joining it must match."""
    return {
        "algo": ALGO,
        "env_id": settings.resolved_game().env_id,
        "start": settings.start,
        "n_timesteps": settings.n_timesteps,
        "n_eval_episodes": settings.n_eval_episodes,
    }


def open_study(settings: TuningSettings, storage: BaseStorage, sampler=None, pruner=None) -> optuna.Study:
    """Create the study, or join it if it exists: one of another algorithm, game, start or budget is refused
    (its trials' values would not compare)."""
    name = settings.resolved_study_name()
    with contextlib.redirect_stderr(io.StringIO()):  # Optuna's "Using an existing study" log line
        try:
            study = optuna.create_study(
                storage=storage,
                study_name=name,
                sampler=sampler,
                pruner=pruner,
                load_if_exists=True,
                direction="maximize",
            )
        except sqlalchemy.exc.SQLAlchemyError as error:
            raise AgentError(f"The study storage failed: {str(error).splitlines()[0]}") from None
    wanted = study_attributes(settings)
    recorded = {key: study.user_attrs[key] for key in STUDY_ATTRIBUTES if key in study.user_attrs}
    if study.direction != optuna.study.StudyDirection.MAXIMIZE or (not recorded and study.trials):
        raise AgentError(
            f"The study {name!r} on this storage was not made by the Arena's tuner. Choose another study name."
        )
    differ = [f"{key} {recorded[key]!r} (not {wanted[key]!r})" for key in recorded if recorded[key] != wanted[key]]
    if differ:
        raise AgentError(
            f"The study {name!r} tunes {', '.join(differ)}; its trials would not compare with these. "
            "Use its settings, or choose another study name."
        )
    if not recorded:
        for key, value in {**wanted, "hyperparameters": settings.trial_hyperparameters()}.items():
            study.set_user_attr(key, value)
    return study


def load_study(name: str, storage: str) -> optuna.Study:
    """An existing study, as the page and the exports read it."""
    try:
        return optuna.load_study(study_name=name, storage=open_storage(storage))
    except KeyError:
        raise AgentError(f"There is no study {name!r} on {shown_storage(storage)}.") from None


def finished_trials(study: optuna.Study) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL))


def best_trial(study: optuna.Study) -> FrozenTrial | None:
    """The complete trial of the highest value, or None before one completes."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return max(complete, key=lambda trial: (trial.value, -trial.number)) if complete else None


# The search space.


def _without_net_arch(hyperparameters: dict[str, Any]) -> dict[str, Any]:
    """The RL Zoo's sampled hyperparameters but ``policy_kwargs.net_arch``: the Atari default stays."""
    policy_kwargs = {k: v for k, v in hyperparameters.pop("policy_kwargs", {}).items() if k != "net_arch"}
    return {**hyperparameters, **({"policy_kwargs": policy_kwargs} if policy_kwargs else {})}


class _AtariNetArch:
    """A trial as the RL Zoo's DQN sampler sees it, but ``net_arch`` is answered without being sampled
    (and dropped afterwards), so the study records no parameter that the trial did not use."""

    def __init__(self, trial: optuna.Trial) -> None:
        self._trial = trial

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return choices[0] if name == "net_arch" else self._trial.suggest_categorical(name, choices)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._trial, name)


def sample_atari_dqn_params(trial: optuna.Trial, n_actions: int, n_envs: int, additional_args: dict) -> dict:
    """``rl_zoo3.hyperparams_opt.sample_dqn_params`` with the Atari Q head kept."""
    return _without_net_arch(sample_dqn_params(_AtariNetArch(trial), n_actions, n_envs, additional_args))


@contextlib.contextmanager
def _atari_search_space() -> Iterator[None]:
    """The RL Zoo's objective looks its sampler up in ``HYPERPARAMS_SAMPLER``: the DQN entry is ours while
    a study runs here (the tuner runs in a process of its own), and the RL Zoo's again afterwards."""
    original = hyperparams_opt.HYPERPARAMS_SAMPLER[ALGO]
    hyperparams_opt.HYPERPARAMS_SAMPLER[ALGO] = sample_atari_dqn_params
    try:
        yield
    finally:
        hyperparams_opt.HYPERPARAMS_SAMPLER[ALGO] = original


def searched_hyperparameters(params: dict[str, Any]) -> dict[str, Any]:
    """A trial's sampled parameters as DQN hyperparameters (gamma, batch_size, gradient_steps...), converted
    as the RL Zoo's ``load_trial`` does."""
    converted = HYPERPARAMS_CONVERTER[ALGO]({**params, "net_arch": "small"})
    return {name: converted[name] for name in SEARCHED}


def best_hyperparameters(study: optuna.Study) -> dict[str, Any] | None:
    """The best trial's DQN hyperparameters, or None before a trial completes."""
    best = best_trial(study)
    return searched_hyperparameters(best.params) if best is not None else None


def train_form_hyperparameters(study: optuna.Study) -> dict[str, Any] | None:
    """The best trial's values for the Train form: those of its fields the search sets."""
    best = best_hyperparameters(study)
    return {name: EDITABLE[name].kind(value) for name, value in best.items() if name in EDITABLE} if best else None


def rl_zoo_yaml(study: optuna.Study) -> str:
    """The best trial as an entry to paste into the RL Zoo's ``hyperparams/dqn.yml``: the RL Zoo's Atari
    values, with the searched ones the best trial's. ``n_timesteps``, ``buffer_size`` and
    ``learning_starts`` are the RL Zoo's full-run values, not the trials' caps."""
    best = best_trial(study)
    if best is None:
        raise AgentError("No trial has completed yet: there are no best hyperparameters to export.")
    entry = {**rl_zoo_atari_defaults(), **searched_hyperparameters(best.params)}
    attrs = study.user_attrs
    header = (
        f"# Best of study {study.study_name!r}: trial {best.number}, mean score {best.value:g} after "
        f"{attrs.get('n_timesteps', 0):,} steps from {attrs.get('start', 'scratch')}.\n"
        "# n_timesteps, buffer_size and learning_starts are the RL Zoo's full-run values; the trials capped\n"
        "# buffer_size at their steps and learning_starts at a tenth of them.\n"
    )
    return header + yaml.safe_dump({attrs.get("env_id", "atari"): entry}, sort_keys=False)


# A worker.


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _process_start(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot), or None if there is none: with its pid,
    it tells a live worker from a dead one whose pid was reused."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


class TrialStopped(Exception):
    """Raised inside a trial to stop it: it is then failed, marked with ``reason``, and the study stops here."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"trial {reason}")
        self.reason = reason


class TuningProgress:
    """Where this worker stands, for the page and the progress bar, and the switch that stops it."""

    def __init__(self, n_trials: int, n_timesteps: int) -> None:
        self.n_trials = n_trials
        self.total_timesteps = n_timesteps
        self.trial: int | None = None
        self.trial_started = time.monotonic()
        self.timesteps = 0
        self.trials_done = 0  # by this worker
        self.study_done = 0  # by all
        self.stop_reason: str | None = None  # "cancelled" or "interrupted"

    def begin(self, trial: int) -> None:
        self.trial, self.timesteps, self.trial_started = trial, 0, time.monotonic()

    def stop(self, reason: str) -> None:
        self.stop_reason = self.stop_reason or reason

    def snapshot(self) -> dict[str, Any]:
        elapsed = time.monotonic() - self.trial_started
        return {
            "trial": self.trial,
            "trials_done": self.trials_done,
            "study_done": self.study_done,
            "n_trials": self.n_trials,
            "timesteps": self.timesteps,
            "total_timesteps": self.total_timesteps,
            "seconds": elapsed,
            "steps_per_second": self.timesteps / elapsed if elapsed > 0 and self.timesteps else 0.0,
        }


class TrialControl(BaseCallback):
    """Added to every trial of the RL Zoo's objective (as a callback of the manager's ``callback``
    hyperparameter would be): it starts the trial's model from the start agent's weights, counts its
    steps, and stops it when asked. Weights are copied as the training starts, once the objective has
    built the model with the sampled hyperparameters, so the objective itself is untouched."""

    def __init__(self, progress: TuningProgress, start: tuple[str, Checkpoint] | None) -> None:
        super().__init__()
        self.progress = progress
        self.start = start

    def _on_training_start(self) -> None:
        if self.start is not None:
            _load_start_weights(self.model, *self.start)

    def _on_step(self) -> bool:
        self.progress.timesteps = self.num_timesteps
        if self.progress.stop_reason:
            raise TrialStopped(self.progress.stop_reason)
        return True


@dataclass(frozen=True)
class TuningResult:
    """What a worker did, and where the study stands."""

    game: str  # the catalog key of the game tuned
    study: str
    storage: str  # as it may be shown
    trials: int  # finished by this worker
    study_trials: int  # finished in the study, by all its workers
    best_trial: int | None
    best_value: float | None
    best_params: dict[str, Any] | None  # as Optuna records them
    best_hyperparameters: dict[str, Any] | None  # as DQN takes them
    stopped: str | None  # "cancelled" or "interrupted" if this worker was stopped


def _experiment_manager(settings: TuningSettings, hyperparameters: dict[str, Any], out: Path) -> ExperimentManager:
    """The RL Zoo's manager, set up as ``rl_zoo3.train -optimize`` sets it up, with the trials' fixed values."""
    env_id = settings.resolved_game().env_id
    n_evaluations = max(1, settings.n_timesteps // STEPS_PER_EVALUATION)
    manager = rl_zoo_experiment(
        env_id,
        out,
        settings.start,
        n_timesteps=settings.n_timesteps,
        save_freq=-1,
        hyperparams=hyperparameters,
        optimize_hyperparameters=True,
        n_trials=settings.n_trials,
        max_total_trials=settings.n_trials,
        sampler=settings.sampler,
        pruner=settings.pruner,
        n_startup_trials=N_STARTUP_TRIALS,
        n_evaluations=n_evaluations,
        n_eval_episodes=settings.n_eval_episodes,
        seed=settings.seed,
    )
    with contextlib.redirect_stdout(io.StringIO()):
        manager.setup_experiment()  # reads and preprocesses the hyperparameters; with -optimize, builds no model
    return manager


def driver_reason(error: BaseException) -> str:
    """What the database driver said, first line: Optuna words any lost database as "invalid data in the commit"."""
    cause = error.__cause__ or error
    said = str(getattr(cause, "orig", None) or cause).strip().splitlines()[0]
    return SERVER_ADDRESS.sub("", said)  # no host, port or socket path for whoever reads the page


def storage_lost(storage: str, reason: str, trial: int | None) -> AgentError:
    """The end of a worker whose study's database stopped answering: which database, and what to do."""
    during, marked = "", ""
    if trial is not None:
        during, marked = f" during trial {trial}", f"; trial {trial} is failed as interrupted when the study next opens"
    return AgentError(
        f"The study's storage ({described_storage(storage)}) stopped answering{during}: {reason}. The tuning job "
        f"stopped{marked}. Start the database server again (or check the network to it and {STORAGE_VARIABLE}), "
        "then start tuning again with the same study name and storage: the study resumes from its finished trials."
    )


class StorageWatch:
    """Asks an RDB storage's server every ``HEARTBEAT_S`` whether it still answers. Two misses in a row stop the
    worker (``progress.stop(DATABASE_LOST)``): a trial would otherwise train to its end for nothing, since
    nothing it reports can be written, and Optuna's own heartbeat thread just dies with the connection."""

    def __init__(self, storage: RDBStorage, progress: "TuningProgress") -> None:
        self.storage, self.progress = storage, progress
        self.reason: str | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="storage-watch", daemon=True)

    def __enter__(self) -> "StorageWatch":
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.done.set()
        self.thread.join()

    def answers(self) -> bool:
        """Whether the server answers a query now (within its connect timeout); if not, says why in ``reason``."""
        try:
            with self.storage.engine.connect() as connection:
                connection.execute(sqlalchemy.text("SELECT 1"))
            return True
        except sqlalchemy.exc.SQLAlchemyError as error:
            self.reason = driver_reason(error)
            return False

    def _watch(self) -> None:
        misses = 0
        while not self.done.wait(HEARTBEAT_S):
            misses = 0 if self.answers() else misses + 1
            if misses == 2:  # one miss may be the pool's dead connection, replaced at the next try
                self.progress.stop(DATABASE_LOST)
                return


def mark_stopped(study: optuna.Study, trial: FrozenTrial, reason: str) -> None:
    """Fail a trial left running, with ``reason`` (``interrupted``) as a user attribute."""
    storage = study._storage  # the storage's own API: Study has none to end another process's trial
    storage.set_trial_user_attr(trial._trial_id, reason, True)
    storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)


def fail_dead_workers_trials(study: optuna.Study, earlier_workers: tuple[str, ...] = ()) -> list[int]:
    """Fail (``interrupted``) the running trials of workers known to be gone: those in ``earlier_workers``
    (a job's previous workers, which a restart ended) and those of this machine whose process has ended.
    Trials of other machines' dead workers are failed by the heartbeat of an RDB storage."""
    here, me = socket.gethostname(), worker_id()
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.user_attrs.get("worker", "")
        host, _, pid = worker.rpartition(":")
        gone = worker in earlier_workers and worker != me
        if host == here and pid.isdigit():
            # A new trial's worker records its name, then its process start: between the two, a live pid is
            # its own (another worker looking then failed the trial under it).
            started, recorded = _process_start(int(pid)), trial.user_attrs.get("process_start")
            gone = gone or started is None or (recorded is not None and started != recorded)
        if gone:
            mark_stopped(study, trial, "interrupted")
            failed.append(trial.number)
    return failed


def _counted(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=COUNTED))


def _waits_for(storage: BaseStorage, trial: FrozenTrial) -> bool:
    """Whether a running trial of another worker will end by itself: the storage has a heartbeat that
    fails it if its worker dies, or its worker is a live process of this machine."""
    return isinstance(storage, RDBStorage) or trial.user_attrs.get("worker", "").startswith(f"{socket.gethostname()}:")


def run_study(
    settings: TuningSettings,
    out: Path,
    progress: TuningProgress | None = None,
    earlier_workers: tuple[str, ...] = (),
    on_trial_end: Callable[[optuna.Study], None] | None = None,
) -> TuningResult:
    """Run trials of the study until it has ``n_trials`` (complete, pruned or running), then wait for the
    other workers' running trials, so that every worker ends on the same best trial. ``out/tuning`` holds
    the local storage (when no other is given) and the RL Zoo's log folder (its trials save nothing there)."""
    out = Path(out)
    progress = progress or TuningProgress(settings.n_trials, settings.n_timesteps)
    game = settings.resolved_game()
    hyperparameters = settings.trial_hyperparameters()
    check_memory(hyperparameters)
    start = _read_start_checkpoint(settings.start, game) if settings.start != "scratch" else None
    storage_url = resolve_storage(settings.storage, out)
    storage = open_storage(storage_url)
    manager = _experiment_manager(settings, hyperparameters, out / "tuning" / "rl-zoo")
    study = open_study(
        settings, storage, manager._create_sampler(settings.sampler), manager._create_pruner(settings.pruner)
    )
    fail_dead_workers_trials(study, earlier_workers)
    manager.specified_callbacks = [TrialControl(progress, start)]
    if start is not None:  # a trial from a trained agent plays its own game before learning, as fine-tuning does
        manager.specified_callbacks.append(PlayBeforeLearning(own_play=True))
    me, process_start = worker_id(), _process_start(os.getpid())

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", me)
        trial.set_user_attr("process_start", process_start)
        progress.begin(trial.number)
        try:
            if progress.stop_reason:
                raise TrialStopped(progress.stop_reason)
            with contextlib.redirect_stdout(io.StringIO()), flush_denormals():  # the RL Zoo prints a NaN's values
                return manager.objective(trial)
        except TrialStopped as stopped:
            if stopped.reason != DATABASE_LOST:  # then nothing can be written: the next opening fails the trial
                trial.set_user_attr(stopped.reason, True)
            raise

    def after_trial(study: optuna.Study, trial: FrozenTrial) -> None:
        progress.trials_done += 1
        progress.study_done = len(finished_trials(study))
        if on_trial_end is not None:
            on_trial_end(study)

    limit = MaxTrialsCallback(settings.n_trials, states=COUNTED)
    watch = StorageWatch(storage, progress) if isinstance(storage, RDBStorage) else contextlib.nullcontext()
    with _atari_search_space(), warnings.catch_warnings(), watch:
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            while not progress.stop_reason:
                if isinstance(storage, RDBStorage):  # trials of workers that stopped beating: failed
                    optuna.storages.fail_stale_trials(study)
                fail_dead_workers_trials(study)
                if _counted(study) < settings.n_trials:
                    study.optimize(objective, callbacks=[after_trial, limit], gc_after_trial=True)
                    continue
                others = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
                if not any(_waits_for(storage, trial) for trial in others):
                    break
                time.sleep(1)
        except TrialStopped:
            pass
        except Exception as error:  # Optuna's own words for a lost database vary (even an UnboundLocalError)
            if isinstance(watch, StorageWatch) and (progress.stop_reason == DATABASE_LOST or not watch.answers()):
                raise storage_lost(storage_url, watch.reason or driver_reason(error), progress.trial) from None
            raise
        if progress.stop_reason == DATABASE_LOST:
            raise storage_lost(storage_url, watch.reason or "no answer", progress.trial)
    progress.study_done = len(finished_trials(study))
    best = best_trial(study)
    return TuningResult(
        game=game.key,
        study=study.study_name,
        storage=shown_storage(storage_url),
        trials=progress.trials_done,
        study_trials=progress.study_done,
        best_trial=best.number if best else None,
        best_value=best.value if best else None,
        best_params=dict(best.params) if best else None,
        best_hyperparameters=searched_hyperparameters(best.params) if best else None,
        stopped=progress.stop_reason,
    )
