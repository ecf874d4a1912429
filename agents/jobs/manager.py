"""One job at a time (training, or tuning with the RL Zoo's optimizer), run in a process of its own and
remembered on disk.

The app's :class:`JobManager` starts the job as ``python -m agents.jobs.worker``, reads its progress
from disk, cancels it with SIGTERM, and watches it: a worker that dies (a crash in native code, an
out-of-memory kill) is marked failed with the reason within seconds, and a new job can start. The
worker's replay memory, threads and CUDA context live and die with it, and a game played in the app
cannot change them. A worker whose app has gone stops within seconds and leaves its job to resume.

A job's folder (under ``/data`` when the Space has persistent storage) holds ``job.json`` (what was
asked, where it stands), ``progress.json`` (the live numbers, saved every two seconds), the RL Zoo
run folder with its periodic checkpoints, and at the end the replay video and the staged Hub repo.
Closing the browser does not stop a job; after a restart, a job that was running resumes from its
last checkpoint. A tuning job's trials live in its Optuna storage: after a restart, the trials its
previous worker left running are failed as ``interrupted`` and the study goes on to its total.
"""

import dataclasses
import errno
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
import uuid
from pathlib import Path
from typing import Any

from agents.core.agent_files import find_agent_files
from agents.core.catalog import Game
from agents.core.checkpoint import read_checkpoint
from agents.core.data_root import PROJECT_ROOT, data_root
from agents.core.errors import AgentError
from agents.core.hub import ByteProgress
from agents.core.run_folder import RunFolder
from agents.evaluate.evaluation import Evaluation
from agents.train.hyperparams import check_memory
from agents.train.publish import hub_repo_id, publish_run
from agents.train.training import (
    LiveProgress,
    TrainingSettings,
    evaluate_run,
    start_repo_id,
    train,
    training_device,
)
from agents.train.training_time import PhaseClock, StepCosts, format_duration, step_costs
from agents.tune.tuning import (
    TuningProgress,
    TuningSettings,
    described_storage,
    open_storage,
    open_study,
    resolve_storage,
    run_study,
    worker_id,
)

SAVE_PROGRESS_S = 2
KEEP_CHECKPOINTS = 2
N_EVAL_EPISODES = 5


@dataclasses.dataclass
class JobRecord:
    """What a job was asked to do and where it stands: ``job.json``, and the API's job status."""

    id: str
    settings: dict[str, Any]  # a TrainingSettings (a TuningSettings for a tuning job), as saved
    game: str
    env_id: str
    device: str
    replay_memory_bytes: int
    created: float
    step_costs: dict[str, float] | None  # a StepCosts, as saved, for the time-left estimate
    status: str = "running"  # running, finished, failed or cancelled
    phase: str = "training"  # what it does now: training, evaluating..., or how it ended
    error: str | None = None
    cancel_requested: bool = False
    run_folder: str | None = None
    evaluation: dict[str, Any] | None = None  # an Evaluation, as saved
    results: dict[str, Any] | None = None  # the RL Zoo's results.json
    replay: str | None = None
    pushed: str | None = None
    pushed_url: str | None = None
    kind: str = "train"  # or "tune"
    workers: list[str] = dataclasses.field(default_factory=list)  # a tuning job's workers so far (host:pid)
    tuning: dict[str, Any] | None = None  # a TuningResult, as saved, once a tuning job ends

    @classmethod
    def from_state(cls, state: Any) -> "JobRecord | None":
        """The record a ``job.json`` holds, or ``None`` if it holds something else."""
        names = {field.name for field in dataclasses.fields(cls)}
        if not isinstance(state, dict) or not {"id", "settings"} <= state.keys() or not state.keys() <= names:
            return None
        try:
            return cls(**state)
        except TypeError:  # a field missing
            return None

    def training_settings(self) -> TrainingSettings:
        return TrainingSettings(**self.settings)

    def tuning_settings(self) -> TuningSettings:
        return TuningSettings(**self.settings)

    def noun(self) -> str:
        return "tuning" if self.kind == "tune" else "training"


class JobManager:
    """Starts, reports, cancels and resumes the one job, training or tuning."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else data_root()
        self.lock = threading.Lock()
        self.process: subprocess.Popen | None = None
        self.supervisor: threading.Thread | None = None
        self.unsaved_ending: JobRecord | None = None  # how the job ended, when the disk could not take it

    # Files.

    def _folder(self, job_id: str) -> Path:
        return self.root / "jobs" / job_id

    def _current_id(self) -> str | None:
        marker = self.root / "current"
        return marker.read_text().strip() if marker.exists() else None

    def _record(self, job_id: str | None = None) -> JobRecord | None:
        job_id = job_id or self._current_id()
        if job_id is None:
            return None
        path = self._folder(job_id) / "job.json"
        state = _read_state(path)
        record = JobRecord.from_state(state)
        if state is not None and record is None:
            _set_aside(path, "it is not a job record")
        return record

    def _save(self, record: JobRecord) -> None:
        _write_state(self._folder(record.id) / "job.json", dataclasses.asdict(record))

    def _update(self, record: JobRecord, **changes: Any) -> None:
        for name, value in changes.items():
            setattr(record, name, value)
        self._save(record)

    def _save_progress(self, record: JobRecord, progress: LiveProgress | TuningProgress) -> None:
        _write_state(self._folder(record.id) / "progress.json", progress.snapshot())

    def _saved_progress(self, job_id: str) -> dict[str, Any] | None:
        progress = _read_state(self._folder(job_id) / "progress.json")
        return progress if isinstance(progress, dict) else None

    # What the page and the API call.

    def current(self) -> JobRecord | None:
        """The current (or last) job's record, as saved: a tuning job's storage URL whole, for reading its study."""
        return self._record()

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def status(self) -> dict[str, Any]:
        """The current (or last) job, with its live progress; ``{"status": "none"}`` before any job. A tuning
        job's storage is described without its path or password (:func:`described_storage`); the run folder
        and the replay are paths, for the page to read (the API answers :meth:`public_status`)."""
        record = self._record()
        if record is None:
            return {"status": "none"}
        if self.unsaved_ending is not None and self.unsaved_ending.id == record.id:
            record = self.unsaved_ending
        state = dataclasses.asdict(record)
        if record.kind == "tune":
            state["settings"]["storage"] = described_storage(record.settings["storage"])
            if state.get("tuning"):
                state["tuning"]["storage"] = state["settings"]["storage"]
        return {**state, "progress": self._saved_progress(record.id)}

    def public_status(self, status: dict[str, Any] | None = None) -> dict[str, Any]:
        """``status`` (default: the job's) as an anonymous visitor may read it (the API's status endpoints):
        the run folder and the replay by name, and no server path in an error."""
        status = dict(self.status() if status is None else status)
        for name in ("run_folder", "replay"):
            if status.get(name):
                status[name] = Path(status[name]).name
        if status.get("error"):
            folders = {str(self.root.resolve()): "<data folder>", str(self.root): "<data folder>"}
            folders |= {str(PROJECT_ROOT): "<app folder>", str(Path.home()): "~"}
            for folder in sorted(folders, key=len, reverse=True):  # the innermost first
                status["error"] = status["error"].replace(folder, folders[folder])
        return status

    def _refuse_if_running(self) -> None:
        if self.running():
            status = self.status()
            noun = "tuning" if status.get("kind") == "tune" else "training"
            raise AgentError(
                f"A {noun} job is already running: {progress_line(status)}. Wait for it to finish, or cancel it."
            )

    def start(self, settings: TrainingSettings, progress: ByteProgress | None = None) -> dict[str, Any]:
        """Start a job, or refuse with the running job's progress when one is running. The start agent
        is found (downloaded, if need be, ``progress`` hearing its bytes) before the job exists."""
        with self.lock:
            self._refuse_if_running()
            game = settings.resolved_game()
            settings = dataclasses.replace(settings, game=game.key)
            memory = check_memory(settings.resolved_hyperparameters())
            _find_start_agent(game, settings.start, progress)
            costs = step_costs(training_device(), False)
            self._begin(_new_record(settings, game, memory, step_costs=dataclasses.asdict(costs) if costs else None))
        return self.status()

    def start_tuning(self, settings: TuningSettings, progress: ByteProgress | None = None) -> dict[str, Any]:
        """Start a tuning job, or refuse with the running job's progress when one is running. Its storage
        is reached, its study made or joined (one of another game or budget refused) and its start agent
        found before the job exists."""
        with self.lock:
            self._refuse_if_running()
            game = settings.resolved_game()
            storage = resolve_storage(settings.storage, self.root)
            settings = dataclasses.replace(
                settings, game=game.key, storage=storage, study_name=settings.resolved_study_name()
            )
            memory = check_memory(settings.trial_hyperparameters())
            open_study(settings, open_storage(storage))
            _find_start_agent(game, settings.start, progress)
            self._begin(_new_record(settings, game, memory, step_costs=None, phase="tuning", kind="tune"))
        return self.status()

    def _begin(self, record: JobRecord) -> None:
        self._save(record)
        (self.root / "current").write_text(record.id)
        self._launch(record, resume=False)

    def cancel(self) -> dict[str, Any]:
        """Ask the running job to stop after its current step (it then saves what it has; a tuning job
        fails its current trial as ``cancelled``)."""
        record = self._record()
        if not self.running() or record is None:
            raise AgentError("No job is running.")
        self._update(record, cancel_requested=True)  # said before the signal, which may end a worker still starting
        self.process.send_signal(signal.SIGTERM)
        return self.status()

    def resume_interrupted(self) -> bool:
        """Restart the job that was running when the process stopped, from its last checkpoint (a tuning
        job: its study, with the trials it left running failed as ``interrupted``)."""
        record = self._record()
        if record is None or record.status != "running" or self.running():
            return False
        self._launch(record, resume=True)
        return True

    def wait(self, timeout: float | None = None) -> dict[str, Any]:
        """The job's status once its process has ended (or ``timeout`` seconds have passed)."""
        if self.supervisor is not None:
            self.supervisor.join(timeout)
        return self.status()

    def push(self, username: str, token: str) -> str:
        """Upload the finished job's staged repo as ``<username>/dqn-<EnvId>``."""
        record = self._record()
        if record is None or record.status != "finished":
            raise AgentError("There is no finished training job to push.")
        repo_id = hub_repo_id(username, record.env_id)
        run = RunFolder(Path(record.run_folder), record.env_id)
        folder = self._folder(record.id) / "hub" / repo_id.split("/")[1]
        _, url = publish_run(run, Evaluation(**record.evaluation), Path(record.replay), folder, repo_id, token)
        self._update(record, pushed=repo_id, pushed_url=url)
        return url

    # The job's process, seen from the app.

    def _launch(self, record: JobRecord, resume: bool) -> None:
        command = [sys.executable, "-m", "agents.jobs.worker", str(self.root.resolve()), record.id]
        # A session of its own: a Ctrl+C meant for the app does not reach it; it notices the app has gone.
        self.process = subprocess.Popen(
            [*command, *(["--resume"] if resume else [])], cwd=PROJECT_ROOT, start_new_session=True
        )
        self.supervisor = threading.Thread(
            target=self._supervise, args=(self.process, record.id), name="job-supervisor", daemon=True
        )
        self.supervisor.start()

    def _supervise(self, process: subprocess.Popen, job_id: str) -> None:
        """When the worker ends without having said how its job ended, say it: it died."""
        code = process.wait()
        record = self._record(job_id)
        if record is None or record.status != "running":
            return
        if record.cancel_requested:  # stopped by the cancel before it could say so itself
            self._update(record, status="cancelled", phase="cancelled")
            return
        noun = record.noun()
        if code == DISK_FULL_STATUS:
            reason = disk_full_reason(self._folder(job_id))
        elif code < 0:
            name = signal.Signals(-code).name
            lower = "steps per trial" if record.kind == "tune" else "buffer_size"
            reason = (
                f"The {noun} process was killed ({name}): most often the machine ran out of memory. "
                f"Lower {lower} and start a new job."
            )
        else:
            reason = f"The {noun} process exited unexpectedly (status {code}); the app's log has the details."
        try:
            self._update(record, status="failed", phase="failed", error=reason)
        except OSError as error:  # a full disk: the app says it from memory, and a new job may start
            self.unsaved_ending = dataclasses.replace(
                record, status="failed", phase="failed", error=f"{reason} ({error})"
            )

    # The job itself, in its worker process.

    def run_job(self, job_id: str, resume: bool) -> None:
        """Train, evaluate and render the job, saving its progress as it goes (the worker's whole life)."""
        record = self._record(job_id)
        if record is None:
            raise AgentError(f"No job {job_id} in {self.root}.")
        folder = self._folder(job_id)
        exclusive = open(folder / "worker.lock", "w")  # noqa: SIM115 (held for the process's life)
        fcntl.flock(exclusive, fcntl.LOCK_EX)  # waits for a worker of the same job that is still stopping
        if record.kind == "tune":
            self._run_tuning(record)
            return
        settings = record.training_settings()
        hyperparameters = settings.resolved_hyperparameters()
        costs = StepCosts(**record.step_costs) if record.step_costs else None
        clock = PhaseClock(hyperparameters, costs, own_play=settings.start != "scratch")
        progress = LiveProgress(int(hyperparameters["n_timesteps"]), clock=clock)
        saved = self._saved_progress(job_id) if resume else None
        if saved:
            progress.episodes = [tuple(episode) for episode in saved["episodes"]]
        signal.signal(signal.SIGTERM, lambda *_: setattr(progress, "cancel_requested", True))
        app_gone = threading.Event()
        stop_saving = threading.Event()
        saver = threading.Thread(
            target=self._keep_saving_progress, args=(record, progress, stop_saving, app_gone), daemon=True
        )
        saver.start()
        try:
            logs = folder / "logs"
            resume_run = RunFolder.latest(logs, record.env_id) if resume and RunFolder.runs_under(logs) else None
            run = train(settings, logs, progress=progress, resume_run=resume_run)
            if app_gone.is_set():  # left running: the restarted app resumes it from its last checkpoint
                return
            self._update(record, run_folder=str(run.path))
            if progress.cancel_requested:
                self._update(record, status="cancelled", phase="cancelled")
                return
            self._update(record, phase="evaluating and rendering a replay")
            evaluation, replay = evaluate_run(run, folder / "replay", N_EVAL_EPISODES)
            self._update(
                record,
                status="finished",
                phase="finished",
                evaluation=dataclasses.asdict(evaluation),
                results=evaluation.results_json(),
                replay=str(replay.video),
            )
        except AgentError as error:
            self._update(record, status="failed", phase="failed", error=str(error))
        except OSError as error:
            if error.errno in DISK_FULL:
                self._drop_torn_checkpoint(record)  # what filled the disk: gone, the failure can be written
                reason = disk_full_reason(folder)
            else:
                reason = f"{type(error).__name__}: {error}"
            self._update(record, status="failed", phase="failed", error=reason)
        except Exception as error:  # a job must end with a readable status whatever broke
            self._update(record, status="failed", phase="failed", error=f"{type(error).__name__}: {error}")
            traceback.print_exc()
        finally:
            stop_saving.set()
            saver.join()
            self._save_progress(record, progress)
            self._prune_checkpoints(record)

    def _run_tuning(self, record: JobRecord) -> None:
        """Run the job's study until its total, saving the current trial's progress as it goes. A cancel
        fails the current trial as ``cancelled``; an app gone, as ``interrupted``, and the job is left
        running for the restarted app to resume."""
        folder = self._folder(record.id)
        settings = record.tuning_settings()
        progress = TuningProgress(settings.n_trials, settings.n_timesteps)
        earlier = tuple(record.workers)
        self._update(record, workers=[*record.workers, worker_id()])
        signal.signal(signal.SIGTERM, lambda *_: progress.stop("cancelled"))
        if record.cancel_requested:  # the cancel came before the handler was set
            progress.stop("cancelled")
        app_gone = threading.Event()
        stop_saving = threading.Event()
        saver = threading.Thread(
            target=self._keep_saving_progress, args=(record, progress, stop_saving, app_gone), daemon=True
        )
        saver.start()
        try:
            result = run_study(settings, folder, progress, earlier_workers=earlier)
            if app_gone.is_set():  # left running: the restarted app resumes the study
                return
            status = "cancelled" if result.stopped else "finished"
            self._update(record, status=status, phase=status, tuning=dataclasses.asdict(result))
        except AgentError as error:
            self._update(record, status="failed", phase="failed", error=str(error))
        except Exception as error:  # a job must end with a readable status whatever broke
            self._update(record, status="failed", phase="failed", error=f"{type(error).__name__}: {error}")
            traceback.print_exc()
        finally:
            stop_saving.set()
            saver.join()
            self._save_progress(record, progress)

    def _keep_saving_progress(
        self,
        record: JobRecord,
        progress: LiveProgress | TuningProgress,
        stop: threading.Event,
        app_gone: threading.Event,
    ) -> None:
        """Every two seconds: save the progress, prune old checkpoints, and stop training if the app that
        started this worker has gone (its parent is then another process)."""
        app = os.getppid()
        while not stop.wait(SAVE_PROGRESS_S):
            self._save_progress(record, progress)
            self._prune_checkpoints(record)
            if os.getppid() != app:
                app_gone.set()
                if isinstance(progress, TuningProgress):
                    progress.stop("interrupted")
                else:
                    progress.cancel_requested = True

    def _drop_torn_checkpoint(self, record: JobRecord) -> None:
        """Delete each run's newest checkpoint if it does not read whole: a full disk cut it short."""
        for run in RunFolder.runs_under(self._folder(record.id) / "logs"):
            if run.checkpoints():
                _, newest = run.checkpoints()[-1]
                try:
                    read_checkpoint(newest)
                except AgentError:
                    # Emptied first: the failed save's file may still be open (the exception's frames hold it),
                    # and an open file that is only unlinked keeps its blocks.
                    os.truncate(newest, 0)
                    newest.unlink()

    def _prune_checkpoints(self, record: JobRecord) -> None:
        """Keep the newest checkpoints only: each holds the network and its optimizer (~40 MB)."""
        for run in RunFolder.runs_under(self._folder(record.id) / "logs"):
            for _, old in run.checkpoints()[:-KEEP_CHECKPOINTS]:
                old.unlink(missing_ok=True)


def _find_start_agent(game: Game, start: str, progress: ByteProgress | None) -> None:
    """A missing or unreachable start agent is said when the job is asked for, not once it runs."""
    if start != "scratch":
        find_agent_files(game, start_repo_id(start), progress)


def _new_record(settings: TrainingSettings | TuningSettings, game: Game, memory: int, **fields: Any) -> JobRecord:
    """A new job's record: its id, what was asked, where it runs."""
    return JobRecord(
        id=time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6],
        settings=dataclasses.asdict(settings),
        game=game.key,
        env_id=game.env_id,
        device=training_device(),
        replay_memory_bytes=memory,
        created=time.time(),
        **fields,
    )


DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
DISK_FULL_STATUS = 28  # the worker's exit status when not even its failure could be written: the disk is full


def disk_full_reason(folder: Path) -> str:
    """What a job that ran out of disk says: how much is free, and what a checkpoint takes."""
    free = shutil.disk_usage(folder).free / 1e6
    saved = [path.stat().st_size for run in RunFolder.runs_under(folder / "logs") for _, path in run.checkpoints()]
    needs = f"{max(saved) / 1e6:.0f} MB" if saved else "about 30 MB (weights, target network and optimizer)"
    return (
        f"The disk is full: {free:.0f} MB free, and a checkpoint needs {needs}. Free some space, then start a new job."
    )


def _write_state(path: Path, state: dict[str, Any]) -> None:
    """Write a state file so that a crash at any moment leaves the old file or the new one, whole:
    a temporary file, flushed to disk, then renamed over the old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with open(temporary, "w") as file:
            file.write(json.dumps(state, indent=1))
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(path)
    except OSError:
        temporary.unlink(missing_ok=True)  # a full disk: no half-written file left beside the whole one
        raise


def _read_state(path: Path) -> Any:
    """A state file's content; an unreadable one (torn by a crash before files were written whole) is
    set aside as ``<name>.unreadable-<time>`` and read as missing, so the app still starts."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        _set_aside(path, str(error))
        return None


def _set_aside(path: Path, why: str) -> None:
    aside = path.with_name(f"{path.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
    path.replace(aside)
    print(f"{path} was unreadable ({why}); moved to {aside.name}", file=sys.stderr)


def progress_line(status: dict[str, Any]) -> str:
    """One line on where a job stands."""
    progress = status.get("progress") or {}
    done, total = progress.get("timesteps", 0), progress.get("total_timesteps", 0)
    rate = progress.get("steps_per_second") or 0.0
    if status.get("kind") == "tune":
        trials = f"{progress.get('study_done', 0)}/{progress.get('n_trials', '?')} trials done"
        if progress.get("trial") is None or status.get("phase") != "tuning":
            return f"{status.get('game', '?')}: {status.get('phase', '?')}, {trials}"
        return (
            f"{status.get('game', '?')}: tuning, {trials}, trial {progress['trial']} at {done:,}/{total:,} steps "
            f"at {rate:.0f} steps/s"
        )
    left = progress.get("seconds_left")
    text = f"{status.get('game', '?')}: {status.get('phase', '?')}, {done:,}/{total:,} steps at {rate:.0f} steps/s"
    if left is not None and status.get("phase") == "training":
        text += f", {format_duration(left)} left"
    return text
