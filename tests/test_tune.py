"""Tuning with the RL Zoo's own optimizer: settings, storages, a real study end to end, its exports, and the job.

The trials are tiny (1,000 steps, one evaluation game) and the sampler seeded with a seed whose first
trials sample few, small gradient steps (batch_size 32 at most, a gradient step per 4 to 8 environment
steps), so that each trial takes seconds on two CPU cores. Each process runs PyTorch on one thread, as
the test workers share those cores.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
import torch
import yaml
from optuna.trial import TrialState
from rl_zoo3 import hyperparams_opt
from rl_zoo3.exp_manager import ExperimentManager

from agents.core.catalog import get_game
from agents.core.checkpoint import build_q_function
from agents.core.errors import AgentError
from agents.jobs.manager import JobManager, _new_record
from agents.tabs.tune import (
    best_markdown,
    best_train_hyperparameters,
    export_csv,
    export_path,
    export_tuning_study,
    export_yaml,
    job_study,
    status_markdown,
    storage_note,
    study_controls,
    trials_table,
    tune_status,
)
from agents.train.hyperparams import rl_zoo_atari_defaults
from agents.train.training import TrainingSettings, _load_start_weights
from agents.tune import tuning
from agents.tune.tuning import (
    TuningSettings,
    _atari_search_space,
    described_storage,
    fail_dead_workers_trials,
    load_study,
    open_storage,
    open_study,
    run_study,
    searched_hyperparameters,
)
from tests.conftest import built_once, free_port

ROOT = Path(__file__).resolve().parents[1]
BREAKOUT = "BreakoutNoFrameskip-v4"
# Its first three random trials replay about one transition per environment step (batch_size × gradient_steps /
# train_freq ≤ 1.4); seed 868's second and third replayed 16 and 51, and took 4 and 13 times as long.
CHEAP_SEED = 1019
TINY = ["--game", "Breakout", "--timesteps", "1000", "--eval-episodes", "1", "--sampler", "random"]
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}


def tune(*arguments: str, timeout: float = 600) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "agents.tune", *arguments]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=ONE_THREAD)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"n_trials": 0}, "Number of trials must be a whole number from 1 to 10,000, not 0."),
        ({"n_timesteps": 10}, "Steps per trial must be a whole number from 1,000 to 50,000,000, not 10."),
        ({"n_timesteps": 1e12}, "Steps per trial must be a whole number from 1,000 to 50,000,000"),
        ({"n_eval_episodes": 0}, "Evaluation games per report must be a whole number from 1 to 100, not 0."),
        ({"sampler": "grid"}, "The sampler must be one of tpe, random, not 'grid'."),
        ({"pruner": "halving"}, "The pruner must be one of median, none, not 'halving'."),
        ({"study_name": "../../../../tmp/x"}, "The study name '../../../../tmp/x' is not a name: use letters, digits,"),
        ({"study_name": "a/b"}, "The study name 'a/b' is not a name"),
        ({"study_name": "my study"}, "The study name 'my study' is not a name"),
        ({"study_name": ".."}, "The study name '..' is not a name"),
        ({"study_name": "x" * 65}, "The study name 'xxx"),
        ({"study_name": "pong;rm"}, "The study name 'pong;rm' is not a name"),
    ],
)
def test_absurd_settings_are_refused_with_the_bounds(changes, message):
    with pytest.raises(AgentError) as refused:
        TuningSettings(**{"game": "Breakout", **changes})
    assert str(refused.value).startswith(message)


@pytest.mark.parametrize("name", ["breakout-dqn", "Pong_v4.2", "x" * 64, " spaced "])
def test_a_study_name_of_letters_digits_dashes_underscores_and_dots_is_taken(name):
    assert TuningSettings(game="Breakout", study_name=name).resolved_study_name() == name.strip()


def test_exports_stay_in_their_folder_whatever_the_studys_name(tmp_path):
    """A study on a shared storage may have been named anything, by another machine or before names were
    checked: its exports are still written inside the folder given."""
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(tmp_path / "j.log")))
    for name in ("../../../../escaped/x", "/abs/olute", "..", "a\\b\nc"):
        study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
        study.tell(study.ask(), 1.0)
        out = tmp_path / "out"
        path = export_csv(study, out)
        assert path.parent == out.resolve() and path.name.endswith("-trials.csv")
        assert pd.read_csv(path)["value"].tolist() == [1.0]
        assert export_path(out, name, "dqn.yml").parent == out.resolve()
    assert len(list((tmp_path / "out").iterdir())) == 4
    assert not (tmp_path / "out" / "../../../../escaped").resolve().exists() and not Path("/abs").exists()


def test_the_command_line_says_a_bad_budget_and_exits_2():
    run = tune("--game", "Breakout", "--trials", "0", "--timesteps", "1000")
    assert run.returncode == 2 and run.stdout == ""
    assert "error: Number of trials must be a whole number from 1 to 10,000, not 0." in run.stderr


@pytest.fixture
def silent_server() -> int:
    """A port that takes connections and never answers, as a database server that hangs would."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


@pytest.mark.parametrize(
    "url, message",
    [
        ("postgres-on-my-laptop", "is neither a URL nor a journal file"),
        ("nosuchdb://host/db", "Can't load plugin: sqlalchemy.dialects:nosuchdb"),
        ("postgresql://tester:hunter2@127.0.0.1:{free}/optuna", "Connection refused"),
        ("postgresql://tester:hunter2@127.0.0.1:{silent}/optuna", "timeout expired"),
    ],
)
def test_a_bad_storage_fails_fast_with_what_to_do(url, message, silent_server):
    started = time.monotonic()
    with pytest.raises(AgentError) as refused:
        open_storage(url.format(free=free_port(), silent=silent_server))
    assert time.monotonic() - started < 5 + 5  # the connection timeout, and no retries
    text = str(refused.value)
    assert message in text and "postgresql://user:password@host:5432/db" in text
    assert "hunter2" not in text


def test_a_study_of_another_game_or_budget_is_refused(tmp_path):
    storage = open_storage(str(tmp_path / "journal.log"))
    breakout = TuningSettings(game="Breakout", n_timesteps=5000, study_name="mine")
    study = open_study(breakout, storage)
    assert study.user_attrs["env_id"] == BREAKOUT and study.user_attrs["algo"] == "dqn"
    assert open_study(breakout, storage).study_name == "mine"  # the same settings join it
    with pytest.raises(AgentError, match="tunes env_id 'BreakoutNoFrameskip-v4' .not 'PongNoFrameskip-v4'."):
        open_study(TuningSettings(game="Pong", n_timesteps=5000, study_name="mine"), storage)
    with pytest.raises(AgentError, match="tunes n_timesteps 5000 .not 2000.; its trials would not compare"):
        open_study(TuningSettings(game="Breakout", n_timesteps=2000, study_name="mine"), storage)
    foreign = optuna.create_study(study_name="rl-zoo-ppo", storage=storage, direction="maximize")
    foreign.add_trial(optuna.trial.create_trial(params={}, distributions={}, value=1.0))
    with pytest.raises(AgentError, match="'rl-zoo-ppo' on this storage was not made by the Arena's tuner"):
        open_study(TuningSettings(game="Breakout", study_name="rl-zoo-ppo"), storage)


def test_the_search_space_is_the_rl_zoos_but_net_arch():
    """The RL Zoo's objective finds the sampler in ``HYPERPARAMS_SAMPLER``: ours while a study runs."""
    original = hyperparams_opt.HYPERPARAMS_SAMPLER["dqn"]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    with _atari_search_space():
        trial = study.ask()
        sampled = hyperparams_opt.HYPERPARAMS_SAMPLER["dqn"](trial, 4, 1, {"using_her_replay_buffer": False})
    assert hyperparams_opt.HYPERPARAMS_SAMPLER["dqn"] is original
    assert "net_arch" not in trial.params and "policy_kwargs" not in sampled
    assert set(trial.params) == {
        "one_minus_gamma",
        "batch_size_pow",
        "learning_rate",
        "train_freq",
        "subsample_steps",
        "exploration_final_eps",
        "exploration_fraction",
        "target_update_interval",
    }
    assert sampled == searched_hyperparameters(trial.params)


def test_trials_keep_the_rl_zoo_values_but_cap_the_replay_memory_and_learning_starts():
    fixed = TuningSettings(game="Breakout", n_timesteps=20_000).trial_hyperparameters()
    rl_zoo = rl_zoo_atari_defaults()
    assert fixed["buffer_size"] == 20_000 and fixed["learning_starts"] == 2_000 and fixed["n_timesteps"] == 20_000
    assert {k: v for k, v in fixed.items() if k not in ("buffer_size", "learning_starts", "n_timesteps")} == {
        k: v for k, v in rl_zoo.items() if k not in ("buffer_size", "learning_starts", "n_timesteps")
    }


def readme_example() -> list[str]:
    """The README's tune example that runs offline: this module's study is that line, run as printed."""
    (line,) = [
        line
        for line in (ROOT / "README.md").read_text().splitlines()
        if line.startswith("python -m agents.tune ") and "--storage" not in line
    ]
    return line.split()[3:]


def study_from_the_command_line(out: Path) -> dict:
    arguments = readme_example()
    assert arguments == [
        *["--game", "Breakout", "--trials", "2", "--timesteps", "1000", "--eval-episodes", "1"],
        *["--sampler", "random", "--pruner", "none", "--seed", str(CHEAP_SEED), "--out", "runs/"],
    ]
    run = tune(*arguments[:-1], str(out / "runs"))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "2/2" in run.stderr  # the progress bar
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def cli_study(tmp_path_factory) -> tuple[Path, dict]:
    """``python -m agents.tune``: a real study of two trials on a local journal file, as the README runs it."""
    folder, summary = built_once(tmp_path_factory, "tune-cli", study_from_the_command_line)
    return folder / "runs", summary


@pytest.mark.slow  # a real two-trial study: about 30 s
def test_the_command_line_runs_a_study_and_sums_it_up(cli_study):
    out, summary = cli_study
    study = load_study(summary["study"], str(out / "tuning" / "optuna-journal.log"))
    assert summary["study"] == f"dqn-{BREAKOUT}-scratch-1000-steps" and summary["storage"].endswith(".log")
    assert summary["trials"] == summary["study_trials"] == 2
    trials = study.get_trials()
    assert [trial.state for trial in trials] == [TrialState.COMPLETE] * 2
    best = max(trials, key=lambda trial: trial.value)
    assert (summary["best_trial"], summary["best_value"], summary["best_params"]) == (
        best.number,
        best.value,
        best.params,
    )
    assert summary["best_hyperparameters"] == searched_hyperparameters(best.params)
    assert {trial.user_attrs["worker"] for trial in trials} == {trials[0].user_attrs["worker"]}
    assert trials_table(study)["state"].tolist() == ["complete", "complete"]


@pytest.mark.slow  # a real two-trial study: about 30 s
def test_the_csv_export_is_what_the_storage_holds(cli_study, tmp_path):
    out, summary = cli_study
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(out / "tuning" / "optuna-journal.log"))
    )
    study = optuna.load_study(study_name=summary["study"], storage=storage)  # read back independently
    exported = pd.read_csv(export_csv(load_study(summary["study"], storage_path(out)), tmp_path))
    held = study.trials_dataframe()
    assert exported["number"].tolist() == held["number"].tolist()
    assert exported["state"].tolist() == held["state"].tolist() == ["COMPLETE", "COMPLETE"]
    assert exported["value"].tolist() == held["value"].tolist()
    for name in study.trials[0].params:
        assert exported[f"params_{name}"].tolist() == pytest.approx(held[f"params_{name}"].tolist())


def storage_path(out: Path) -> str:
    return str(out / "tuning" / "optuna-journal.log")


@pytest.mark.slow  # a real two-trial study: about 30 s
def test_the_yaml_export_is_an_rl_zoo_entry_of_the_best_trial(cli_study, tmp_path):
    out, summary = cli_study
    path = export_yaml(load_study(summary["study"], storage_path(out)), tmp_path)
    entry = yaml.safe_load(path.read_text())
    assert list(entry) == [BREAKOUT]
    values = entry[BREAKOUT]
    for name, value in summary["best_hyperparameters"].items():
        assert values[name] == pytest.approx(value)
    assert values["n_timesteps"] == rl_zoo_atari_defaults()["n_timesteps"]  # the full run's, not the trial's
    # The RL Zoo reads it as a dqn.yml: its experiment manager builds the DQN it describes.
    manager = ExperimentManager(
        argparse.Namespace(),
        "dqn",
        BREAKOUT,
        str(tmp_path / "logs"),
        config=str(path),
        hyperparams={"buffer_size": 1000},
    )
    model, _ = manager.setup_experiment()
    assert model.gamma == pytest.approx(summary["best_hyperparameters"]["gamma"])
    assert model.batch_size == summary["best_hyperparameters"]["batch_size"]
    assert len(model.policy.q_net.q_net) == 1  # the Nature CNN's Q head, not the sampler's net_arch
    model.env.close()


@pytest.mark.slow  # a real two-trial study: about 30 s
def test_the_best_trial_fills_the_train_form(cli_study):
    out, summary = cli_study
    values = best_train_hyperparameters(load_study(summary["study"], storage_path(out)))
    TrainingSettings(game="Breakout", hyperparameters=values)  # the form's checks take them
    assert values["batch_size"] == summary["best_hyperparameters"]["batch_size"]


def wait_for(condition, seconds: float = 180):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


def test_a_tuning_job_runs_one_at_a_time_and_is_cancelled(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    jobs = JobManager(tmp_path)
    settings = TuningSettings(
        game="Breakout", n_trials=3, n_timesteps=50_000, n_eval_episodes=1, sampler="random", seed=CHEAP_SEED
    )
    status = jobs.start_tuning(settings)
    assert status["kind"] == "tune" and status["status"] == "running" and status["phase"] == "tuning"
    with pytest.raises(AgentError, match="A tuning job is already running: Breakout: tuning"):
        jobs.start(TrainingSettings(game="Breakout", start="scratch", hyperparameters={"n_timesteps": 1000}))
    wait_for(lambda: (jobs.status()["progress"] or {}).get("timesteps", 0) >= 100)
    jobs.cancel()
    status = jobs.wait(timeout=60)
    assert status["status"] == "cancelled" and status["tuning"]["stopped"] == "cancelled"
    (trial,) = job_study(jobs).get_trials()
    assert trial.state == TrialState.FAIL and trial.user_attrs["cancelled"] is True
    assert trials_table(job_study(jobs))["state"].tolist() == ["cancelled"]
    # One account on the page: the trial cancelled, none complete, so no best one and nothing to act on.
    shown = status_markdown(status, job_study(jobs)) + best_markdown(job_study(jobs), status)
    assert "Breakout: 0 of 3 trials complete, 1 cancelled (trial 0)" in shown and "trials done" not in shown
    assert "No trial completed before the study was cancelled" in shown
    assert study_controls(job_study(jobs)) == {"use_best": False, "export": False}


def test_the_study_is_told_one_way_and_its_buttons_act_only_with_a_completed_trial():
    """The status line, the best trial and the table count the same trials, from the study itself."""
    study = optuna.create_study(direction="maximize")
    status = {"kind": "tune", "status": "running", "game": "Breakout", "phase": "tuning", "device": "cpu"}
    status["settings"] = {"start": "scratch", "study_name": "s", "storage": "memory", "n_trials": 3}
    status["settings"] |= {"n_timesteps": 1000, "sampler": "random", "pruner": "none", "n_eval_episodes": 1}
    status["progress"] = {"trial": 0, "timesteps": 300, "total_timesteps": 1000, "steps_per_second": 150.0}
    study.add_trial(optuna.trial.create_trial(state=TrialState.RUNNING, params={}, distributions={}))
    assert study_controls(study) == {"use_best": False, "export": False}
    assert "0 of 3 trials complete, 1 running (trial 0) · trial 0 at 300/1,000 steps, 150 steps/s" in (
        status_markdown(status, study)
    )
    assert best_markdown(study, status) == "No trial has completed yet: the best one shows here when one does."

    study = optuna.create_study(direction="maximize")
    study.add_trial(optuna.trial.create_trial(state=TrialState.FAIL, user_attrs={"interrupted": True}))
    study.add_trial(optuna.trial.create_trial(state=TrialState.PRUNED, params={}, distributions={}))
    study.add_trial(optuna.trial.create_trial(value=4.0, params={}, distributions={}))
    finished = {**status, "status": "finished", "phase": "finished"}
    line = status_markdown(finished, study)
    assert "Breakout: 1 of 3 trials complete, 1 interrupted (trial 0), 1 pruned (trial 1) · on cpu" in line
    assert trials_table(study)["state"].tolist() == ["interrupted", "pruned", "complete"]
    assert best_markdown(study, finished).startswith("**Best: trial 2**, mean score **4**")
    assert study_controls(study) == {"use_best": True, "export": True}


def test_only_trials_of_ended_processes_are_failed_as_interrupted():
    """A worker on this machine fails the running trials of processes that have ended, or whose pid now
    belongs to a newer process; never a trial whose worker has written its name but not yet its start."""
    here = socket.gethostname()
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    ended_pid = int(ended.stdout)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live_start = Path(f"/proc/{live.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
        workers = {
            "just started": {"worker": f"{here}:{live.pid}"},
            "running": {"worker": f"{here}:{live.pid}", "process_start": live_start},
            "pid reused": {"worker": f"{here}:{live.pid}", "process_start": str(int(live_start) - 1)},
            "ended": {"worker": f"{here}:{ended_pid}", "process_start": live_start},
            "ended before its start was written": {"worker": f"{here}:{ended_pid}"},
            "another machine": {"worker": f"elsewhere-{here}:{ended_pid}"},
        }
        study = optuna.create_study(direction="maximize")
        for attrs in workers.values():
            study.add_trial(optuna.trial.create_trial(state=TrialState.RUNNING, user_attrs=attrs))
        failed = fail_dead_workers_trials(study)
    finally:
        live.kill()
        live.wait()
    assert [list(workers)[number] for number in failed] == ["pid reused", "ended", "ended before its start was written"]
    assert [trial.state for trial in study.get_trials()] == [TrialState.RUNNING] * 2 + [TrialState.FAIL] * 3 + [
        TrialState.RUNNING
    ]


@pytest.mark.slow
def test_a_tuning_job_resumes_after_its_processes_are_killed(tmp_path):
    """The app and the worker are killed mid-trial; the restarted app resumes the study: the trial left
    running is failed as interrupted, and the study goes on to its total."""
    script = (
        "import sys, time\n"
        "from agents.jobs.manager import JobManager\n"
        "from agents.tune.tuning import TuningSettings\n"
        "JobManager(sys.argv[1]).start_tuning(TuningSettings(game='Breakout', n_trials=1, n_timesteps=1000,\n"
        f"    n_eval_episodes=1, sampler='random', pruner='none', seed={CHEAP_SEED}))\n"
        "time.sleep(600)\n"
    )
    app = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, env=ONE_THREAD)
    jobs = JobManager(tmp_path)
    wait_for(lambda: ((jobs.status().get("progress") or {}).get("timesteps") or 0) >= 100)
    (worker,) = jobs.status()["workers"]
    app.kill()
    os.kill(int(worker.rsplit(":", 1)[1]), signal.SIGKILL)
    app.wait(timeout=30)
    assert jobs.status()["status"] == "running"  # what a restarted app finds

    assert jobs.resume_interrupted()
    status = jobs.wait(timeout=300)
    assert status["status"] == "finished", status.get("error")
    interrupted, complete = job_study(jobs).get_trials()
    assert interrupted.state == TrialState.FAIL and interrupted.user_attrs["interrupted"] is True
    assert interrupted.user_attrs["worker"] == worker
    assert complete.state == TrialState.COMPLETE and complete.user_attrs["worker"] != worker
    assert status["tuning"]["best_trial"] == complete.number and status["tuning"]["study_trials"] == 2


@pytest.mark.slow
def test_trials_from_the_pretrained_agent_start_from_its_weights(hf_cache, tmp_path, monkeypatch):
    """Each trial's model is the RL Zoo's objective's, with the sampled hyperparameters; it starts from
    the pretrained agent's Q-network (online and target), as Train's fine-tuning does."""
    loaded = []

    def spy(model, repo_id, checkpoint):
        _load_start_weights(model, repo_id, checkpoint)
        start = build_q_function(checkpoint, model.observation_space, model.action_space).network.state_dict()
        for network in (model.policy.q_net, model.policy.q_net_target):
            assert all(torch.equal(value, start[name]) for name, value in network.state_dict().items())
        loaded.append((repo_id, model.batch_size))

    monkeypatch.setattr("agents.tune.tuning._load_start_weights", spy)
    settings = TuningSettings(
        game="Breakout", start="pretrained", n_trials=1, n_timesteps=1000, n_eval_episodes=1, seed=CHEAP_SEED
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the other tests' processes, which share the cores
    try:
        result = run_study(settings, tmp_path)
    finally:
        torch.set_num_threads(threads)
    study = load_study(result.study, str(tmp_path / "tuning" / "optuna-journal.log"))
    assert result.study == f"dqn-{BREAKOUT}-pretrained-1000-steps" and study.user_attrs["start"] == "pretrained"
    assert loaded == [(f"sb3/dqn-{BREAKOUT}", result.best_hyperparameters["batch_size"])]


# A journal torn by a crash.


def optuna_journal(path: Path, trials: int = 3) -> list[bytes]:
    """A real journal, written by Optuna: a study of ``trials`` complete trials; its records."""
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    study = optuna.create_study(study_name="earlier", storage=storage, direction="maximize")
    for value in range(trials):
        trial = study.ask()
        trial.suggest_float("gamma", 0.9, 0.9999)
        trial.set_user_attr("worker", "elsewhere:1")
        study.tell(trial, value)
    return path.read_bytes().splitlines(keepends=True)


def optunas_own_view(path: Path, name: str) -> optuna.Study:
    """The study as Optuna reads the file, without the Arena's repair."""
    return optuna.load_study(
        study_name=name, storage=optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    )


def torn_files(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.torn-*"))


@pytest.mark.parametrize("written", ["one byte", "half", "all but its newline"])
def test_a_journal_torn_mid_record_is_mended_and_tuning_goes_on(tmp_path, written, capsys):
    path = tmp_path / "tuning" / "optuna-journal.log"
    path.parent.mkdir()
    records = optuna_journal(path)
    last = records[-1]  # the last trial's end: its state and value
    kept = {"one byte": 1, "half": len(last) // 2, "all but its newline": len(last) - 1}[written]
    os.truncate(path, sum(map(len, records[:-1])) + kept)  # what a crash mid-write leaves: the last record cut
    storage = open_storage(str(path))  # mends it
    (aside,) = torn_files(path)
    assert aside.read_bytes() == last[:kept]
    assert f"set aside in {aside.name}" in capsys.readouterr().err
    assert path.read_bytes() == b"".join(records[:-1])  # every whole record, as Optuna wrote it
    # Tuning goes on: a new trial of the earlier study and a new study, in the storage the Arena opened...
    earlier = optuna.load_study(study_name="earlier", storage=storage)
    trial = earlier.ask()
    earlier.tell(trial, 7)
    other = optuna.create_study(study_name="later", storage=storage, direction="maximize")
    other.tell(other.ask(), 1)
    # ...and Optuna itself reads back every whole record and what came after.
    earlier = optunas_own_view(path, "earlier")
    assert [t.value for t in earlier.trials] == [0, 1, None, 7]  # the torn record was the third trial's end
    assert [t.state for t in earlier.trials] == [TrialState.COMPLETE] * 2 + [TrialState.RUNNING, TrialState.COMPLETE]
    assert all(t.user_attrs == {"worker": "elsewhere:1"} and "gamma" in t.params for t in earlier.trials[:3])
    assert [t.value for t in optunas_own_view(path, "later").trials] == [1]
    assert all(line.endswith(b"\n") and json.loads(line) for line in path.read_bytes().splitlines(keepends=True))


def test_a_record_glued_onto_a_torn_one_is_kept_and_the_torn_bytes_set_aside(tmp_path):
    path = tmp_path / "optuna-journal.log"
    records = optuna_journal(path)
    os.truncate(path, sum(map(len, records[:-1])) + len(records[-1]) // 2)
    # A worker that opens the journal as Optuna does (as the Arena did) glues its record on, and cannot read it.
    unmended = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    with pytest.raises(AssertionError, match="Should not reach"):
        optuna.create_study(study_name="later", storage=unmended, direction="maximize")
    with pytest.raises(KeyError):  # the glued record is unreadable
        optunas_own_view(path, "later")
    open_storage(str(path))
    (aside,) = torn_files(path)
    assert aside.read_bytes() == records[-1][: len(records[-1]) // 2] + b"\n"
    assert [t.value for t in optunas_own_view(path, "earlier").trials] == [0, 1, None]
    later = optunas_own_view(path, "later")  # its glued record, kept
    later.tell(later.ask(), 1)
    assert [t.value for t in optunas_own_view(path, "later").trials] == [1]


def test_a_whole_journal_is_left_as_it_is(tmp_path):
    path = tmp_path / "optuna-journal.log"
    records = optuna_journal(path)
    open_storage(str(path))
    assert path.read_bytes() == b"".join(records) and not torn_files(path)


# What anonymous visitors read.


@pytest.mark.parametrize(
    "storage, described",
    [
        ("{tmp}/data/tuning/optuna-journal.log", "local journal file"),
        ("{tmp}/shared/team.log", "journal file team.log"),
        ("sqlite:///{tmp}/shared/studies.db", "sqlite database studies.db"),
    ],
)
def test_the_status_endpoints_say_no_server_path_or_password(tmp_path, storage, described):
    """``/tune_status`` and ``/train_status`` answer ``tune_status`` and ``JobManager.public_status``: the study's
    storage is described, the job's folders named, never a path of the server."""
    storage = storage.format(tmp=tmp_path)
    (tmp_path / "shared").mkdir()
    root = tmp_path / "data"
    jobs = JobManager(root)
    settings = TuningSettings(game="Breakout", study_name="visible", storage=storage)
    record = _new_record(
        settings, get_game("Breakout"), 0, step_costs=None, kind="tune", phase="failed", status="failed"
    )
    run = root / "jobs" / record.id / "logs" / "dqn" / f"{BREAKOUT}_1"
    replay = root / "jobs" / record.id / "replay" / "replay.mp4"
    jobs._update(record, run_folder=str(run), replay=str(replay), error=f"OSError: cannot write {run}/x.zip")
    (root / "current").write_text(record.id)
    study = open_study(settings, open_storage(storage))
    study.tell(study.ask(), state=TrialState.FAIL)
    answers = {
        "/tune_status": tune_status(jobs),
        "/train_status": jobs.public_status(),
        "job JSON": jobs.public_status(jobs.status()),
    }
    for endpoint, answer in answers.items():
        said = json.dumps(answer)
        assert str(tmp_path) not in said and "/data/" not in said, endpoint
        assert answer["settings"]["storage"] == described and answer["run_folder"] == f"{BREAKOUT}_1", endpoint
        assert answer["replay"] == "replay.mp4" and answer["error"].startswith("OSError: cannot write <data folder>/")
    assert [trial["state"] for trial in answers["/tune_status"]["trials"]] == ["failed"]  # the study, still read
    assert "in the " + described in status_markdown(answers["/tune_status"])


def test_a_database_url_is_described_without_its_user_password_or_host():
    url = "postgresql://arena:s3cret@db.internal.example:5432/optuna"
    assert described_storage(url) == "postgresql database optuna"
    assert storage_note() == storage_note()  # the page's note takes no path either
    assert str(Path.home()) not in storage_note() and "/" not in storage_note().split("(")[0]


def test_the_study_export_is_the_owners_on_a_space_and_says_when_there_is_none(tmp_path, monkeypatch):
    monkeypatch.setenv("SPACE_ID", "tester/atari-dqn-arena")
    monkeypatch.setenv("SPACE_AUTHOR_NAME", "tester")
    monkeypatch.delenv("ARENA_TRAIN_SECRET", raising=False)
    jobs = JobManager(tmp_path)
    with pytest.raises(AgentError, match="Only the owner of this Space may export the study: log in with Hugging Face"):
        export_tuning_study(jobs, "someone-else", "")
    with pytest.raises(AgentError, match="There is no tuning study with a finished trial to export yet: tune first"):
        export_tuning_study(jobs, "tester", "")


# A writer that really dies mid-record: the kernel's file size limit (RLIMIT_FSIZE) cuts its write a few
# thousand bytes into a long record and kills it with SIGXFSZ, lock still held, as a crash does.
CRASHING_WRITER = """
import os, resource, signal, sys
import optuna
signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # Python ignores it, to raise an OSError instead: die, as C does
path = sys.argv[1]
storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(path))
trial = optuna.load_study(study_name="earlier", storage=storage).ask()
limit = os.path.getsize(path) + 5000
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
trial.set_user_attr("notes", "x" * 100_000)
"""


@pytest.mark.slow
def test_a_writer_killed_mid_record_leaves_a_journal_that_tuning_mends_and_goes_on(tmp_path, capsys, monkeypatch):
    """The dead writer's lock is honoured for its whole grace period (30 s in the app, 2 s here), then broken."""
    monkeypatch.setattr(tuning, "JOURNAL_LOCK_GRACE_S", 2)
    path = tmp_path / "tuning" / "optuna-journal.log"
    path.parent.mkdir()
    optuna_journal(path)
    writer = subprocess.run([sys.executable, "-c", CRASHING_WRITER, str(path)], capture_output=True, timeout=120)
    assert writer.returncode == -signal.SIGXFSZ, writer.stderr[-2000:]
    torn = path.read_bytes()
    assert not torn.endswith(b"\n") and b'"notes":"xxx' in torn.rsplit(b"\n", 1)[1]  # the record cut mid-write
    started = time.monotonic()
    storage = open_storage(str(path))  # mends it, once the dead writer's lock is given up
    assert time.monotonic() - started >= 2
    (aside,) = torn_files(path)
    assert aside.read_bytes() == torn.rsplit(b"\n", 1)[1] and "set aside in" in capsys.readouterr().err
    earlier = optuna.load_study(study_name="earlier", storage=storage)
    earlier.tell(earlier.ask(), 7)
    assert [t.value for t in optunas_own_view(path, "earlier").trials] == [0, 1, 2, None, 7]
