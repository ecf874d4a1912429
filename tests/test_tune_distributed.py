"""Distributed tuning for real: a PostgreSQL server started here, and ``python -m agents.tune`` workers as
separate processes on one study, one of them killed mid-trial.

The server comes from Debian's ``postgresql`` package (``/usr/lib/postgresql/*/bin``), started in a
temporary folder on a free port. ``initdb`` refuses to run as root, as CI may run: then the server runs
as ``nobody``, owning its data folder.
"""

import contextlib
import dataclasses
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from agents.core.catalog import get_game
from agents.core.errors import AgentError
from agents.jobs.manager import JobManager, _new_record
from agents.tabs.tune import job_study
from agents.tune.tuning import TuningSettings, load_study, open_storage, open_study
from tests.conftest import free_port
from tests.processes import children, command_line, running
from tests.test_tune import CHEAP_SEED, ONE_THREAD, TINY, wait_for

ROOT = Path(__file__).resolve().parents[1]
OTHER_CHEAP_SEED = 2207  # as CHEAP_SEED, another worker's (≤ 1.6)
GRACE_S = 10  # the lowest heartbeat grace a Space's owner may set (ARENA_OPTUNA_GRACE_S): two heartbeats


def postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.skip("needs PostgreSQL's server binaries: apt-get install postgresql (Debian's package)")
    return Path(found[-1]).parent


class PostgresServer:
    """A PostgreSQL server of its own, in a temporary folder on a free port, with an empty database ``optuna``
    at :attr:`url`; it can be killed and started again on its data."""

    def __init__(self) -> None:
        self.binaries = postgres_bin()
        self.folder = Path(tempfile.mkdtemp(prefix="arena-postgres-"))
        self.folder.chmod(0o755)
        self.data, sockets = self.folder / "data", self.folder / "sockets"
        self.data.mkdir(mode=0o700)
        sockets.mkdir()
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root
            shutil.chown(self.data, "nobody", "nogroup")
            shutil.chown(sockets, "nobody", "nogroup")
            self.as_user = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        self.port = free_port()
        self.options = f"-p {self.port} -k {sockets} -c listen_addresses=127.0.0.1"
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/optuna"
        self.run(str(self.binaries / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust")

    def run(self, *command: str, check: bool = True) -> None:
        env = {"PATH": os.environ["PATH"], "LC_ALL": "C.UTF-8", "HOME": str(self.folder)}
        subprocess.run(
            [*self.as_user, *command], check=check, capture_output=True, env=env, cwd=self.folder, timeout=120
        )

    def start(self) -> None:
        log = str(self.data / "server.log")
        self.run(str(self.binaries / "pg_ctl"), "-D", str(self.data), "-o", self.options, "-l", log, "-w", "start")

    def kill(self) -> None:
        """SIGKILL to the server's processes (found in /proc), as a crash of its machine would; returns once they
        have exited. Its main process alone is not enough: a backend that serves an open connection outlives it for
        a while (it notices on its own) and still answers, so a test would race it. The main process is stopped
        first so that it forks nothing more."""
        main = postmaster(self.port)
        os.kill(main, signal.SIGSTOP)
        backends = children(main)
        os.kill(main, signal.SIGKILL)
        for pid in backends:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        # A signal is sent, not yet taken: until the main process has exited, its listening socket still completes
        # a client's connection (then drops it), where a dead server's port refuses it.
        deadline = time.monotonic() + 30
        while any(running(pid) for pid in (main, *backends)):
            assert time.monotonic() < deadline, "the killed PostgreSQL server's processes did not exit"
            time.sleep(0.01)

    def stop(self) -> None:
        self.run(str(self.binaries / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop", check=False)
        shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A started :class:`PostgresServer`, stopped at the end if it is still running (a test may kill it)."""
    server = PostgresServer()
    try:
        server.start()
        server.run(
            str(server.binaries / "createdb"), "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres", "optuna"
        )
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_server() as server:
        yield server.url


def worker(url: str, study: str, trials: int, seed: int, out: Path, hostname: str | None = None) -> subprocess.Popen:
    """``python -m agents.tune`` on the shared study; with ``hostname``, as a worker on another machine
    (a UTS namespace of its own), where this machine cannot see whether its process lives."""
    command = [sys.executable, "-m", "agents.tune", *TINY, "--pruner", "none", "--trials", str(trials)]
    command += ["--storage", url, "--study-name", study, "--seed", str(seed), "--out", str(out)]
    if hostname:
        command = ["unshare", "--uts", "sh", "-c", f'hostname {hostname} && exec "$@"', "sh", *command]
    env = {**ONE_THREAD, "ARENA_OPTUNA_GRACE_S": str(GRACE_S)}
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def summary(process: subprocess.Popen) -> dict:
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-3000:]
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_two_workers_share_one_study_on_postgresql(postgres_url, tmp_path):
    first = worker(postgres_url, "shared", 3, CHEAP_SEED, tmp_path / "a")
    second = worker(postgres_url, "shared", 3, OTHER_CHEAP_SEED, tmp_path / "b")
    one, two = summary(first), summary(second)
    study = load_study("shared", postgres_url)  # read back independently of both workers
    trials = study.get_trials()
    assert [trial.number for trial in trials] == [0, 1, 2]  # every trial once, the total across workers
    assert [trial.state for trial in trials] == [TrialState.COMPLETE] * 3
    workers = [trial.user_attrs["worker"] for trial in trials]
    assert len(set(workers)) == 2 and one["trials"] + two["trials"] == 3 and min(one["trials"], two["trials"]) >= 1
    best = study.best_trial
    for said in (one, two):  # the same best, whichever worker is asked
        assert (said["best_trial"], said["best_value"], said["study_trials"]) == (best.number, best.value, 3)
        assert said["storage"] == postgres_url and said["study"] == "shared"


@pytest.mark.slow
def test_a_worker_killed_mid_trial_leaves_the_study_to_the_others(postgres_url, tmp_path):
    """Killed on "another machine", its trial is failed by the storage's heartbeat once its grace period
    has passed, and the survivor runs a trial in its place to the study's total."""
    can_rename = subprocess.run(["unshare", "--uts", "true"], capture_output=True).returncode == 0
    doomed = worker(postgres_url, "crash", 2, CHEAP_SEED, tmp_path / "a", "elsewhere" if can_rename else None)
    storage = optuna.storages.RDBStorage(postgres_url)

    def running_trials() -> list:
        try:
            return optuna.load_study(study_name="crash", storage=storage).get_trials(states=(TrialState.RUNNING,))
        except KeyError:  # not made yet
            return []

    deadline = time.monotonic() + 120
    while not running_trials():
        assert time.monotonic() < deadline and doomed.poll() is None
        time.sleep(0.5)
    time.sleep(3)  # mid-trial
    doomed.send_signal(signal.SIGKILL)
    doomed.communicate()

    survivor = summary(worker(postgres_url, "crash", 2, OTHER_CHEAP_SEED, tmp_path / "b"))
    trials = load_study("crash", postgres_url).get_trials()
    killed = trials[0]
    assert killed.state == TrialState.FAIL
    assert killed.user_attrs["worker"].startswith("elsewhere:" if can_rename else "")
    assert [trial.state for trial in trials[1:]] == [TrialState.COMPLETE] * 2
    assert survivor["trials"] == 2 and survivor["study_trials"] == 3 and survivor["best_trial"] in (1, 2)


def postmaster(port: int) -> int:
    """The pid of the PostgreSQL server listening on ``port`` (read in /proc)."""
    for entry in Path("/proc").iterdir():
        command = command_line(int(entry.name)) if entry.name.isdigit() else ""
        if command.split(" ", 1)[0].endswith("/postgres") and f"-p {port}" in command:
            return int(entry.name)
    raise AssertionError(f"no PostgreSQL server on port {port}")


@pytest.mark.slow
def test_a_database_that_goes_down_is_said_in_words_at_once(tmp_path):
    """The page's poll of a tuning job whose PostgreSQL server died: a message naming the database and what to do
    within a second, not Optuna's "invalid data in the commit"; and the same URL started afresh is refused fast."""
    with postgres_server() as server:  # a server of this test's own: it is killed here
        lost_database(server, tmp_path)


def lost_database(server: PostgresServer, tmp_path: Path) -> None:
    url = server.url
    jobs = JobManager(tmp_path)
    settings = TuningSettings(game="Breakout", study_name="lost", storage=url)
    record = _new_record(settings, get_game("Breakout"), 0, step_costs=None, kind="tune", phase="tuning")
    jobs._update(record)
    (tmp_path / "current").write_text(record.id)
    open_study(settings, open_storage(url))
    assert job_study(jobs).study_name == "lost"  # read through the page's cached storage
    server.kill()
    started = time.monotonic()
    with pytest.raises(AgentError) as refused:
        job_study(jobs)
    assert time.monotonic() - started < 1
    said = str(refused.value)
    assert said.startswith("The study's storage (postgresql database optuna) cannot be read now: ") and "down" in said
    assert "invalid data" not in said and "127.0.0.1" not in said
    started = time.monotonic()
    with pytest.raises(AgentError, match="Connection refused"):
        open_storage(url)
    assert time.monotonic() - started < 6


@pytest.mark.slow
def test_a_database_that_dies_mid_trial_ends_the_tuning_job_and_a_later_start_resumes_the_study(tmp_path, monkeypatch):
    """The PostgreSQL server of a tuning job is killed during its first trial: the job ends within seconds (the
    trial does not train on for nothing) with a message naming the database and what to do, and no server address;
    the page says it too. Started again once the server is back, the same study goes on: the lost trial failed as
    interrupted, a new one complete."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    settings = TuningSettings(
        game="Breakout",
        study_name="dies",
        n_trials=1,
        # Long enough that the trial cannot end by itself while the watch notices the lost database (5 to 10 s): alone
        # on this machine it trains about 280 steps/s, and 2,500 steps were sometimes all done first.
        n_timesteps=5000,
        n_eval_episodes=1,
        sampler="random",
        pruner="none",
        seed=CHEAP_SEED,
    )
    jobs = JobManager(tmp_path)
    with postgres_server() as server:
        settings = dataclasses.replace(settings, storage=server.url)
        jobs.start_tuning(settings)
        wait_for(lambda: ((jobs.status().get("progress") or {}).get("timesteps") or 0) >= 200)
        server.kill()
        killed = time.monotonic()
        status = jobs.wait(timeout=120)
        assert time.monotonic() - killed < 25, "the trial went on after its database had gone"
        assert status["status"] == "failed" and status["progress"]["timesteps"] < settings.n_timesteps, status
        said = jobs.public_status()["error"]
        assert said.startswith("The study's storage (postgresql database optuna) stopped answering during trial 0: "), (
            said
        )
        assert "trial 0 is failed as interrupted when the study next opens" in said
        assert "Start the database server again" in said and "same study name and storage" in said
        assert "127.0.0.1" not in said and str(server.port) not in said and "Traceback" not in said
        with pytest.raises(
            AgentError,
            match=r"^The study's storage \(postgresql database optuna\) cannot be read now: "
            r"connection failed: Connection refused\. Its database server may be down: start it again",
        ):
            job_study(jobs)  # the page's poll, in the app's process, which goes on serving

        server.start()
        jobs.start_tuning(settings)
        status = jobs.wait(timeout=300)
        assert status["status"] == "finished", status.get("error")
        lost, complete = load_study("dies", server.url).get_trials()
        assert lost.state == TrialState.FAIL and lost.user_attrs["interrupted"] is True
        assert complete.state == TrialState.COMPLETE and status["tuning"]["best_trial"] == complete.number
