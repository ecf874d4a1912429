"""Training: the RL Zoo run folder, fine-tuning from the Hub, the job manager, and the Hub upload."""

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from agents.core import access
from agents.core.agent import load_agent
from agents.core.checkpoint import read_checkpoint
from agents.core.errors import AgentError
from agents.core.hub import fetch_agent_files
from agents.core.run_folder import RunFolder
from agents.jobs.manager import JobManager
from agents.tabs.train import plan_note, push_training, start_training, training_curve
from agents.train import training_time
from agents.train.hyperparams import check_hyperparameters, check_memory, rl_zoo_atari_defaults
from agents.train.training import LiveProgress, TrainingSettings, train
from agents.train.training_time import PhaseClock, StepCosts
from tests import hub_cache
from tests.conftest import built_once

ROOT = Path(__file__).resolve().parents[1]
BREAKOUT = "BreakoutNoFrameskip-v4"
TINY = {"n_timesteps": 1000, "learning_starts": 500, "buffer_size": 1000}
HUB_FILES = {
    f"dqn-{BREAKOUT}.zip",
    f"dqn-{BREAKOUT}",
    "config.yml",
    "args.yml",
    "env_kwargs.yml",
    "results.json",
    "replay.mp4",
    "train_eval_metrics.zip",
    "README.md",
}


def train_from_the_command_line(out: Path) -> dict:
    command = [sys.executable, "-m", "agents.train", "--game", "Breakout", "--timesteps", "1000", "--out", str(out)]
    command += ["--learning-starts", "500", "--buffer-size", "1000", "--eval-freq", "500", "--save-freq", "500"]
    command += ["--n-eval-episodes", "2", "--learning-rate", "0.0005"]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def cli_run(hf_cache, tmp_path_factory) -> tuple[Path, dict]:
    """``python -m agents.train`` from the pretrained Breakout agent in the (offline) Hub cache."""
    return built_once(tmp_path_factory, "cli-run", train_from_the_command_line)


@pytest.mark.slow
def test_cli_writes_the_rl_zoo_run_folder(cli_run):
    out, summary = cli_run
    run = Path(summary["run"])
    assert run == out / "dqn" / f"{BREAKOUT}_1"
    for name in (f"{BREAKOUT}.zip", f"{BREAKOUT}/config.yml", f"{BREAKOUT}/args.yml", f"{BREAKOUT}/env_kwargs.yml"):
        assert (run / name).is_file(), name
    assert (run / "0.monitor.csv").is_file() and (run / "evaluations.npz").is_file()
    assert sorted(p.name for p in run.glob("rl_model_*_steps.zip")) == [
        "rl_model_1000_steps.zip",
        "rl_model_500_steps.zip",
    ]
    config = yaml.load((run / BREAKOUT / "config.yml").read_text(), Loader=yaml.UnsafeLoader)
    assert config["learning_rate"] == 0.0005 and config["buffer_size"] == 1000
    assert config["target_update_interval"] == rl_zoo_atari_defaults()["target_update_interval"]
    assert summary["device"] == "cpu" and summary["n_eval_episodes"] == 2


@pytest.mark.slow
def test_rl_zoo_enjoy_runs_the_folder_unchanged(cli_run):
    out, _ = cli_run
    command = [sys.executable, "-m", "rl_zoo3.enjoy", "--algo", "dqn", "--env", BREAKOUT, "-f", str(out)]
    run = subprocess.run([*command, "--no-render", "-n", "200"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]


@pytest.mark.slow
def test_cli_stages_the_hub_repo_as_rl_zoo_push_to_hub_does(cli_run):
    _, summary = cli_run
    staged = Path(summary["hub_folder"])
    assert {p.name for p in staged.iterdir()} == HUB_FILES
    results = json.loads((staged / "results.json").read_text())
    assert results["n_eval_episodes"] == 2 and results["mean_reward"] == summary["mean_reward"]
    card = (staged / "README.md").read_text()
    metadata = yaml.safe_load(card.split("---")[1])
    metric = metadata["model-index"][0]["results"][0]["metrics"][0]
    assert metric["type"] == "mean_reward" and metric["value"].startswith(f"{results['mean_reward']:.2f} +/- ")
    with zipfile.ZipFile(staged / "train_eval_metrics.zip") as archive:
        assert set(archive.namelist()) == {"evaluations.npz", "0.monitor.csv"}
    assert {p.name for p in (staged / f"dqn-{BREAKOUT}").iterdir()} >= {"data", "policy.pth"}


@pytest.mark.slow
def test_a_pushed_repo_plays_in_the_play_tab(cli_run, hf_cache, tmp_path):
    _, summary = cli_run
    staged = Path(summary["hub_folder"])
    files = {p.name: p for p in staged.iterdir() if p.is_file()}
    hub_cache.add_repo(hf_cache, "alice/dqn-BreakoutNoFrameskip-v4", files)
    agent = load_agent("Breakout", "alice/dqn-BreakoutNoFrameskip-v4")
    assert agent.published_result["mean_reward"] == summary["mean_reward"]
    from agents.play.episode import play_to_folder

    assert play_to_folder(agent, tmp_path, seed=0, epsilon=0.0, max_steps=30).steps == 30


@pytest.mark.slow
def test_fine_tuning_starts_from_the_hub_agents_weights(hf_cache, tmp_path):
    settings = TrainingSettings(
        game="Breakout", start="pretrained", hyperparameters={**TINY, "learning_starts": 5000}, eval_freq=-1
    )
    run = train(settings, tmp_path)
    assert run == RunFolder.latest(tmp_path, BREAKOUT) and run.path == tmp_path / "dqn" / f"{BREAKOUT}_1"
    hub_weights = read_checkpoint(fetch_agent_files("sb3/dqn-BreakoutNoFrameskip-v4", BREAKOUT).model_zip).state_dict
    trained = read_checkpoint(run.model_zip).state_dict
    for name, value in hub_weights.items():
        if name.startswith("q_net."):
            torch.testing.assert_close(trained[name], value)
            torch.testing.assert_close(trained[name.replace("q_net.", "q_net_target.", 1)], value)


class DenormalWatch(LiveProgress):
    """Whether the CPU keeps a denormal float through a product, at each gradient step of a run."""

    def __init__(self, total_timesteps: int) -> None:
        super().__init__(total_timesteps, PhaseClock(TINY, costs=None))
        self.kept: set[bool] = set()

    def _on_step(self) -> bool:
        if self.model.num_timesteps > self.model.learning_starts:
            self.kept.add(float(torch.tensor([1e-39]) * 1.0) != 0.0)
        return super()._on_step()


def test_training_flushes_denormal_floats_and_puts_the_switch_back(tmp_path):
    """Adam's second moments decay below float32's normal range, where a CPU computes many times slower: a
    Pong run fell from 110 to 80 steps/s over 400,000 steps. While a run learns, such numbers are zeros."""
    short = {**TINY, "learning_starts": 900}  # 25 gradient steps
    watch = DenormalWatch(short["n_timesteps"])
    train(TrainingSettings(game="Breakout", start="scratch", hyperparameters=short, eval_freq=-1), tmp_path, watch)
    assert watch.kept == {False}  # at every gradient step
    assert float(torch.tensor([1e-39]) * 1.0) != 0.0  # the process's switch is put back


@pytest.mark.slow
def test_start_from_a_qrdqn_repo_is_refused(hf_cache, tmp_path):
    settings = TrainingSettings(
        game="SpaceInvaders", start="tester/qrdqn-SpaceInvadersNoFrameskip-v4", hyperparameters=TINY, eval_freq=-1
    )
    with pytest.raises(AgentError, match="QRDQN agent; training fine-tunes DQN agents only"):
        train(settings, tmp_path)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"learning_rate": -1.0}, "learning_rate must be a number from 1e-07 to 0.1, not -1.0"),
        ({"buffer_size": 2.5}, "buffer_size must be a whole number"),
        ({"n_timesteps": float("inf")}, "n_timesteps must be a whole number from 1,000 to 50,000,000, not inf"),
        ({"tau": 0.9}, "Unknown hyperparameter 'tau'"),
        ({"n_envs": 0}, "n_envs must be a whole number from 1 to 64, not 0"),
        ({"batch_size": True}, "batch_size must be a whole number from 1 to 4,096, not True"),
    ],
)
def test_absurd_hyperparameters_are_refused(values, message):
    with pytest.raises(AgentError, match=message):
        check_hyperparameters(values)


def test_a_replay_memory_that_does_not_fit_is_refused_before_starting():
    with pytest.raises(AgentError, match=r"needs 56\.4 GB.*Lower buffer_size"):
        check_memory({**rl_zoo_atari_defaults(), "buffer_size": 1_000_000})
    fits = plan_note({"buffer_size": 100_000}, wait=False)  # the memory part: no need to time the machine
    assert "5.64 GB" in fits and "so it fits" in fits
    assert "does not fit" in plan_note({"buffer_size": 10_000_000}, wait=False)


def test_a_space_without_a_gpu_trains_only_when_allowed(monkeypatch, tmp_path):
    monkeypatch.delenv(access.CPU_TRAINING_VARIABLE, raising=False)
    available, reason = access.training_available()
    assert available and "This machine has no GPU" in reason  # off a Space, whoever runs it decides
    monkeypatch.setenv("SPACE_ID", "alice/atari-dqn-arena")
    available, reason = access.training_available()
    assert not available and "Duplicate the Space" in reason
    with pytest.raises(AgentError, match="Training is off"):
        start_training(JobManager(tmp_path), "Pong", "scratch", 0, TINY)
    monkeypatch.setenv(access.CPU_TRAINING_VARIABLE, "1")
    assert access.training_available()[0]


def test_on_a_space_only_the_owner_or_the_secret_may_train(monkeypatch, tmp_path):
    monkeypatch.setenv(access.CPU_TRAINING_VARIABLE, "1")
    assert access.may_control_training(None, None)  # off a Space: whoever runs it
    monkeypatch.setenv("SPACE_ID", "alice/atari-dqn-arena")
    monkeypatch.setenv("SPACE_AUTHOR_NAME", "alice")
    monkeypatch.setenv(access.SECRET_VARIABLE, "s3cret")
    assert access.may_control_training("alice", None)
    assert access.may_control_training(None, "s3cret")
    assert not access.may_control_training("mallory", "guess")
    assert not access.may_control_training(None, None)
    with pytest.raises(AgentError, match="Only the owner of this Space"):
        start_training(JobManager(tmp_path), "Pong", "scratch", 0, TINY, "mallory", "guess")


@pytest.mark.slow
def test_job_runs_in_the_background_refuses_a_second_and_reports(hf_cache, tmp_path, monkeypatch):
    jobs = JobManager(tmp_path)
    settings = TrainingSettings(game="Breakout", start="scratch", hyperparameters=TINY, eval_freq=-1)
    threads_before = torch.get_num_threads()
    status = jobs.start(settings)
    assert status["status"] == "running" and status["device"] == "cpu"
    with pytest.raises(AgentError, match="already running: Breakout: training"):
        jobs.start(settings)
    status = jobs.wait(timeout=600)
    assert status["status"] == "finished", status.get("error")
    assert status["progress"]["timesteps"] == 1000 and status["progress"]["episodes"]
    assert status["progress"]["torch_threads"] == max(1, os.cpu_count() - 1)  # a core left to the app, not 2 waiting
    assert torch.get_num_threads() == threads_before  # the app's own setting is untouched
    assert len(status["evaluation"]["scores"]) == 5 and Path(status["replay"]).is_file()
    curve = training_curve(status)
    assert set(curve["series"]) == {"episode score", "mean of the last 20"}

    calls = []

    class FakeHfApi:
        """Stands in for the Hub, the one thing the tests cannot reach: records the upload."""

        def __init__(self, token=None):
            calls.append(("token", token))

        def create_repo(self, **kwargs):
            calls.append(("create_repo", kwargs))
            return f"https://huggingface.co/{kwargs['repo_id']}"

        def upload_folder(self, **kwargs):
            calls.append(("upload_folder", kwargs, sorted(p.name for p in Path(kwargs["folder_path"]).iterdir())))

    monkeypatch.setattr("agents.train.publish.HfApi", FakeHfApi)
    # On a Space the job's model is its owner's: anyone else, logged in or not, is refused before any upload.
    monkeypatch.setenv("SPACE_ID", "alice/atari-dqn-arena")
    monkeypatch.setenv("SPACE_AUTHOR_NAME", "alice")
    monkeypatch.setenv(access.SECRET_VARIABLE, "s3cret")
    refusal = r"^Only the owner of this Space may push this Space's training job to the Hub: log in .* as alice"
    for username, token, secret in ((None, None, ""), ("mallory", "hf_token_of_mallory", ""), ("mallory", "t", "no")):
        with pytest.raises(AgentError, match=refusal):
            push_training(jobs, username, token, secret)
    assert calls == [] and jobs.status().get("pushed") is None
    assert "pushed to" in push_training(jobs, "bob", "hf_token_of_bob", "s3cret").lower()  # the owner's secret
    assert calls[0] == ("token", "hf_token_of_bob") and calls[1][1]["repo_id"] == "bob/dqn-BreakoutNoFrameskip-v4"
    calls.clear()
    url = push_training(jobs, "alice", "hf_token_of_alice").split()[2].rstrip(".")
    assert url == "https://huggingface.co/alice/dqn-BreakoutNoFrameskip-v4"
    assert calls[0] == ("token", "hf_token_of_alice")
    assert calls[1] == (
        "create_repo",
        {"repo_id": "alice/dqn-BreakoutNoFrameskip-v4", "repo_type": "model", "exist_ok": True},
    )
    name, kwargs, uploaded = calls[2]
    assert name == "upload_folder" and kwargs["repo_id"] == "alice/dqn-BreakoutNoFrameskip-v4"
    assert set(uploaded) == HUB_FILES
    assert "-orga alice" in (Path(kwargs["folder_path"]) / "README.md").read_text()


def wait_for_steps(jobs: JobManager, steps: int, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while (jobs.status()["progress"] or {}).get("timesteps", 0) < steps:
        assert time.monotonic() < deadline and jobs.running(), jobs.status()
        time.sleep(0.5)


@pytest.mark.slow
def test_a_job_can_be_cancelled(hf_cache, tmp_path):
    jobs = JobManager(tmp_path)
    jobs.start(TrainingSettings(game="Breakout", start="scratch", hyperparameters={**TINY, "n_timesteps": 50_000}))
    wait_for_steps(jobs, 200)
    jobs.cancel()
    status = jobs.wait(timeout=120)
    assert status["status"] == "cancelled" and status["progress"]["timesteps"] < 50_000


@pytest.mark.slow
def test_a_job_cancelled_as_it_starts_is_cancelled_not_failed(hf_cache, tmp_path):
    """The cancel can reach the worker before it has set up its own handling of it."""
    jobs = JobManager(tmp_path)
    jobs.start(TrainingSettings(game="Breakout", start="scratch", hyperparameters=TINY))
    jobs.cancel()
    status = jobs.wait(timeout=120)
    assert status["status"] == "cancelled", status.get("error")


@pytest.mark.slow
def test_a_training_process_that_dies_is_marked_failed_at_once_and_the_next_job_starts(hf_cache, tmp_path):
    """As an out-of-memory kill or a crash in native code would end it: the app, in another process,
    says why within seconds and stays usable."""
    jobs = JobManager(tmp_path)
    long_job = TrainingSettings(game="Breakout", start="scratch", hyperparameters={**TINY, "n_timesteps": 50_000})
    jobs.start(long_job)
    wait_for_steps(jobs, 100)
    os.kill(jobs.process.pid, signal.SIGKILL)
    status = jobs.wait(timeout=10)
    assert status["status"] == "failed" and "killed (SIGKILL)" in status["error"] and "memory" in status["error"]
    assert not jobs.running()
    jobs.start(long_job)
    wait_for_steps(jobs, 100)
    jobs.cancel()
    assert jobs.wait(timeout=120)["status"] == "cancelled"


@pytest.mark.slow
def test_a_job_resumes_from_its_last_checkpoint_after_a_restart(hf_cache, tmp_path):
    """Kill the process that runs a job; a new process resumes it from its checkpoint to the end."""
    script = (
        "import sys, time\n"
        "from agents.jobs.manager import JobManager\n"
        "from agents.train.training import TrainingSettings\n"
        "jobs = JobManager(sys.argv[1])\n"
        "jobs.start(TrainingSettings(game='Breakout', start='scratch', eval_freq=-1, save_freq=250,\n"
        "    hyperparameters={'n_timesteps': 1000, 'learning_starts': 250, 'buffer_size': 1000,\n"
        "                     'exploration_fraction': 1.0}))\n"
        "time.sleep(600)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, env=os.environ.copy())
    deadline = time.monotonic() + 300
    while not list(tmp_path.glob("jobs/*/logs/dqn/*/rl_model_500_steps.zip")):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.1)
    time.sleep(0.5)  # mid-way to the next checkpoint, 250 steps on: killed within 0.6 s of this one
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert JobManager(tmp_path).status()["status"] == "running"  # what a restarted app finds

    jobs = JobManager(tmp_path)
    assert jobs.resume_interrupted()
    status = jobs.wait(timeout=600)
    assert status["status"] == "finished", status.get("error")
    run = Path(status["run_folder"])
    assert run.name == f"{BREAKOUT}_1"
    assert sorted(p.name for p in run.glob("rl_model_*_steps.zip")) == [
        "rl_model_1000_steps.zip",
        "rl_model_750_steps.zip",
    ]
    assert list(run.glob("0.before-*.monitor.csv")), "the first part's training log is kept"
    assert status["progress"]["timesteps"] == 1000
    model = read_checkpoint(run / f"{BREAKOUT}.zip")
    assert model.num_timesteps == 1000
    assert np.isfinite(status["results"]["mean_reward"])
    # The exploration schedule goes on where it was: ε falls linearly from 1 to 0.01 over all 1,000 steps,
    # so at step 750 (250 steps after the restart) it is 1 - 0.99 × 750/1000, not a restarted schedule's.
    with zipfile.ZipFile(run / "rl_model_750_steps.zip") as archive:
        data = json.loads(archive.read("data"))
    assert data["num_timesteps"] == 750
    assert data["exploration_rate"] == pytest.approx(1 - 0.99 * 750 / 1000, abs=0.002)
    # No gradient step on the empty replay memory of a restart: the restored policy first plays
    # min(learning_starts, buffer_size) = 250 steps into it, so steps 750 to 1,000 learn (every 4th).
    with zipfile.ZipFile(run / f"{BREAKOUT}.zip") as archive:
        assert json.loads(archive.read("data"))["_n_updates"] == pytest.approx((1000 - 750) / 4, abs=2)


@pytest.mark.slow
def test_a_failed_start_leaves_no_run_folder(hf_cache, tmp_path):
    breakout_zip = fetch_agent_files("sb3/dqn-BreakoutNoFrameskip-v4", BREAKOUT).model_zip
    hub_cache.add_rl_zoo_repo(hf_cache, "tester/dqn-PongNoFrameskip-v4", "PongNoFrameskip-v4", breakout_zip)
    out = tmp_path / "runs"
    command = [sys.executable, "-m", "agents.train", "--game", "Pong", "--timesteps", "1000", "--out", str(out)]
    for start, message in (
        ("nobody/dqn-PongNoFrameskip-v4", "not in the local Hugging Face cache"),  # refused before anything is made
        ("tester/dqn-PongNoFrameskip-v4", "actions"),  # 4 actions for Pong's 6: refused once the model is built
    ):
        run = subprocess.run([*command, "--from", start], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert run.returncode == 2 and message in run.stderr, run.stderr[-2000:]
        assert not out.exists()


@pytest.mark.slow
def test_fine_tuning_starts_from_the_shipped_agent_when_the_hub_is_out_of_reach(tmp_path):
    """An empty cache and no network: "pretrained" is Breakout's offline agent, whose weights the run starts from."""
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "empty-cache"), "HF_HUB_OFFLINE": "1"}
    command = [
        sys.executable,
        "-m",
        "agents.train",
        "--game",
        "Breakout",
        "--timesteps",
        "1000",
        "--learning-starts",
        "2000",
        "--out",
        "runs",
    ]
    command += ["--buffer-size", "1000", "--eval-freq", "-1", "--n-eval-episodes", "1"]
    run = subprocess.run(command, cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["game"] == "Breakout"
    shipped = read_checkpoint(ROOT / "offline_agents" / BREAKOUT / f"dqn-{BREAKOUT}.zip").state_dict
    trained = read_checkpoint(tmp_path / summary["run"] / f"{BREAKOUT}.zip").state_dict
    for name, value in shipped.items():
        if name.startswith("q_net."):  # no gradient step before learning_starts: the weights are the shipped ones
            torch.testing.assert_close(trained[name], value)


def test_the_estimate_times_the_machine_again_once_its_last_timing_is_old(monkeypatch):
    """Timed once at start-up and kept, the estimate followed whatever load the machine had then (off
    tenfold): a timing older than ``MEASUREMENT_KEPT_S`` is redone when an estimate is next needed."""
    timings = []

    def timed(device: str) -> StepCosts:
        timings.append(device)
        return StepCosts(float(len(timings)), 1.0, 1.0, device)

    monkeypatch.setattr(training_time, "measure_step_costs_apart", timed)
    monkeypatch.setattr(training_time, "_timings", {})
    assert training_time.step_costs("cpu", wait=False) is None  # a page poll never waits for a timing
    first = training_time.step_costs("cpu")
    assert training_time.step_costs("cpu") is first and training_time.step_costs("cpu", wait=False) is first
    monkeypatch.setattr(training_time, "MEASUREMENT_KEPT_S", 0.0)
    assert training_time.step_costs("cpu", wait=False) is first
    assert training_time.step_costs("cpu").random_step == 2.0 and timings == ["cpu", "cpu"]


def test_the_machine_is_timed_in_a_process_of_its_own_with_the_jobs_threads():
    """The timing runs what a job runs (torch's threads as in the job's worker) without changing the app's
    process-wide torch settings; what it measures is SB3's own DQN learning, so all three costs are real."""
    threads_before = torch.get_num_threads()
    costs = training_time.measure_step_costs_apart("cpu")
    assert torch.get_num_threads() == threads_before
    assert 0 < costs.random_step < costs.acting_step + costs.gradient_step and costs.device == "cpu"
    assert costs.gradient_step > costs.random_step  # a batch of 32 through the Q-network, backward: dearer than a frame
