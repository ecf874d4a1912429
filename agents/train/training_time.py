"""How long a training run will take on this machine: measured step costs, an estimate before the
start, and a time left that follows the run's two phases.

A DQN run has two phases with very different speeds: random play until ``learning_starts`` (an
environment step, nothing else), then acting with the network and, every ``train_freq`` steps,
``gradient_steps`` gradient steps on a batch from the replay memory. The costs of the three are
measured once here, with the Atari environment the agents play in and SB3's own Q-network on the
training device, so the estimate is this machine's, not a guess.
"""

import dataclasses
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import torch
from stable_baselines3 import DQN
from stable_baselines3.common.callbacks import BaseCallback

from agents.core.data_root import PROJECT_ROOT
from agents.core.environment import ATARI_WRAPPER, env_settings, make_env
from agents.core.kept_measurement import KeptMeasurement
from agents.train.hyperparams import replay_ratio

MEASURED_GAME = "PongNoFrameskip-v4"
MEASURED_STEPS = 300
MEASURED_TRAIN_FREQ = 4
MEASURED_GRADIENT_STEPS = 32
MEASURED_BATCH = 32
MEASURING_TIMEOUT_S = 300  # a machine so loaded that the timing takes longer gets no estimate


@dataclass(frozen=True)
class StepCosts:
    """Seconds per environment step (random play; acting with the network) and per gradient step of
    ``MEASURED_BATCH`` transitions, measured on this machine."""

    random_step: float
    acting_step: float
    gradient_step: float
    device: str

    def learning_step(self, hyperparameters: dict[str, Any]) -> float:
        """Seconds per environment step once learning has started (its share of the gradient steps
        included; a gradient step's cost is taken as proportional to the batch size)."""
        batch_share = int(hyperparameters["batch_size"]) / MEASURED_BATCH
        acting = self.acting_step / parallel_environments(hyperparameters)
        return acting + replay_ratio(hyperparameters) * self.gradient_step * batch_share

    def first_phase_step(self, hyperparameters: dict[str, Any], own_play: bool = False) -> float:
        """Seconds per environment step before learning starts: random play, or with ``own_play`` (a
        trained start) the agent acting with its network."""
        step = self.acting_step if own_play else self.random_step
        return step / parallel_environments(hyperparameters)

    def estimate_seconds(self, hyperparameters: dict[str, Any], done: int = 0, own_play: bool = False) -> float:
        """Seconds to train from step ``done`` to ``n_timesteps`` (``own_play``: see :meth:`first_phase_step`)."""
        total = int(hyperparameters["n_timesteps"])
        learning_starts = min(int(hyperparameters["learning_starts"]), total)
        random_steps = max(0, learning_starts - done)
        learning_steps = max(0, total - max(learning_starts, done))
        random_play = random_steps * self.first_phase_step(hyperparameters, own_play)
        return random_play + learning_steps * self.learning_step(hyperparameters)


def parallel_environments(hyperparameters: dict[str, Any]) -> int:
    """Environments that step at the same time: one per core at most. Their speed-up is estimated, not
    measured: the measurement steps one environment."""
    return max(1, min(int(hyperparameters.get("n_envs", 1)), os.cpu_count() or 1))


def use_training_threads(device: str) -> None:
    """Give this process torch's thread count for training on ``device``: on a CPU, one core fewer than the
    machine has (at least one), so that the environment and the app's visitors keep a core. Torch's threads
    wait on each other at every operation: beside one busy process, two of them on two cores ran several
    times slower than one, and at a speed that changed from run to run (``bench/train_speed.py --load 1``).
    A process-wide setting, so only for processes that exist to train: the job's worker, the command
    lines, and the timing below, so that what is timed is what a job runs."""
    if device == "cpu":
        torch.set_num_threads(max(1, (os.cpu_count() or 1) - 1))


def measure_step_costs_apart(device: str) -> StepCosts:
    """:func:`measure_step_costs` in a process of its own with the training processes' threads: the app's
    torch settings stay as they are, and the timing is of what a job runs."""
    command = [sys.executable, "-m", "agents.train.training_time", device]
    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=MEASURING_TIMEOUT_S)
    if done.returncode != 0:
        raise RuntimeError(f"Timing this machine's training failed: {done.stderr.strip()[-500:]}")
    return StepCosts(**json.loads(done.stdout.strip().splitlines()[-1]))


def measure_step_costs(device: str) -> StepCosts:
    """Time SB3's own DQN learning on this machine, about three seconds on a 2-core CPU: random play,
    then acting with one gradient step every 4 steps (as the RL Zoo trains), and gradient steps alone;
    acting is what the second costs beyond its share of the third."""
    settings = env_settings(MEASURED_GAME, {"env_wrapper": ATARI_WRAPPER, "frame_stack": 4}, {})
    env = make_env(settings, seed=0)
    clock = _StepClock()
    try:
        model = DQN(
            "CnnPolicy",
            env,
            buffer_size=2 * MEASURED_STEPS,
            learning_starts=MEASURED_STEPS,
            batch_size=MEASURED_BATCH,
            train_freq=MEASURED_TRAIN_FREQ,
            exploration_initial_eps=0.0,
            exploration_final_eps=0.0,
            device=device,
            seed=0,
        )
        model.learn(2 * MEASURED_STEPS, callback=clock, log_interval=None)
        _synchronize(device)
        started = time.perf_counter()
        model.train(gradient_steps=MEASURED_GRADIENT_STEPS, batch_size=MEASURED_BATCH)
        _synchronize(device)
        gradient_step = (time.perf_counter() - started) / MEASURED_GRADIENT_STEPS
    finally:
        env.close()
    # The first steps of each phase (start-up, first allocations) are left out of its time.
    warm_up = MEASURED_STEPS // 4
    random_step = clock.seconds_per_step(warm_up, MEASURED_STEPS)
    learning_step = clock.seconds_per_step(MEASURED_STEPS + warm_up, 2 * MEASURED_STEPS)
    acting_step = max(learning_step - gradient_step / MEASURED_TRAIN_FREQ, random_step)
    return StepCosts(random_step, acting_step, gradient_step, device)


class _StepClock(BaseCallback):
    """When each step of a ``learn`` call ended."""

    def __init__(self) -> None:
        super().__init__()
        self.times: dict[int, float] = {}

    def _on_step(self) -> bool:
        self.times[self.num_timesteps] = time.perf_counter()
        return True

    def seconds_per_step(self, first: int, last: int) -> float:
        return (self.times[last] - self.times[first]) / (last - first)


def _synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


MEASUREMENT_KEPT_S = 600.0  # then measured again when next needed: the machine's load changes
_timings: dict[str, KeptMeasurement[StepCosts]] = {}  # by device


def step_costs(device: str, wait: bool = True) -> StepCosts | None:
    """This machine's step costs on ``device``, measured when first needed and again when needed once
    the last measurement is older than ``MEASUREMENT_KEPT_S`` (the load it met may be gone, or new);
    with ``wait`` False, the last measurement, or None before the first (or while none succeeded)."""
    timing = _timings.setdefault(device, KeptMeasurement())
    if not wait:
        return timing.last()
    try:
        return timing.get(lambda: measure_step_costs_apart(device), MEASUREMENT_KEPT_S)
    except (RuntimeError, subprocess.TimeoutExpired):  # no timing now: the last one, if any, and next time again
        return timing.last()


def format_duration(seconds: float) -> str:
    """``under a minute``, ``about 12 min``, ``about 3 h 05 min``: never "0 min"."""
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min"
    return f"about {minutes // 60} h {minutes % 60:02d} min"


class PhaseClock:
    """Time left in a run, from the speed measured in its current phase (random play, then learning).

    Averaging over the whole run would count the fast random phase in the learning phase's speed,
    and the time left would climb once learning starts; within a phase the speed is steady.
    Before learning starts, the learning phase is predicted from the measured step costs, scaled by
    how this run's random play compares with the measured one.
    """

    def __init__(self, hyperparameters: dict[str, Any], costs: StepCosts | None, own_play: bool = False) -> None:
        self.hyperparameters = hyperparameters
        self.costs = costs
        self.own_play = own_play  # a trained start: the agent's own play, not random play, until learning starts
        self.total = int(hyperparameters["n_timesteps"])
        self.learning_starts = min(int(hyperparameters["learning_starts"]), self.total)
        self.phase_started: tuple[float, int] | None = None  # (time, steps) when the current phase began
        self.scale = 1.0  # how much slower than measured this run goes, from its random play

    def update(self, timesteps: int, now: float | None = None) -> None:
        """Called at every step: the clock starts at the first, and again when learning starts."""
        now = time.monotonic() if now is None else now
        if self.phase_started is None or self.phase_started[1] < self.learning_starts <= timesteps:
            self.phase_started = (now, timesteps)

    def seconds_left(self, timesteps: int, now: float | None = None) -> float | None:
        """Seconds until ``n_timesteps``; None while nothing is known."""
        now = time.monotonic() if now is None else now
        if self.phase_started is None or timesteps <= self.phase_started[1]:
            if self.costs is None:
                return None
            return self.costs.estimate_seconds(self.hyperparameters, timesteps, self.own_play) * self.scale
        started, start_steps = self.phase_started
        seconds_per_step = (now - started) / (timesteps - start_steps)
        if start_steps >= self.learning_starts:
            return (self.total - timesteps) * seconds_per_step
        random_left = (self.learning_starts - timesteps) * seconds_per_step
        learning_steps = self.total - self.learning_starts
        if self.costs is None:  # no prediction of the learning phase: at least the random one's speed
            return random_left + learning_steps * seconds_per_step
        self.scale = seconds_per_step / self.costs.first_phase_step(self.hyperparameters, self.own_play)
        return random_left + learning_steps * self.costs.learning_step(self.hyperparameters) * self.scale


if __name__ == "__main__":  # measure_step_costs_apart: python -m agents.train.training_time DEVICE
    use_training_threads(sys.argv[1])
    print(json.dumps(dataclasses.asdict(measure_step_costs(sys.argv[1]))))
