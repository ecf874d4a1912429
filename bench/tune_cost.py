"""What a tuning trial costs: the Arena's tuner (``python -m agents.tune``) against the RL Zoo's own
``python -m rl_zoo3.train -optimize``, one trial of the same budget, on this machine, in one run.

    python bench/tune_cost.py [--steps 4000] [--game Breakout] [--seed 2]

Both sides run one trial with the random sampler and the same seed, so they sample the same
hyperparameters (the RL Zoo's also samples net_arch, last, which the Arena keeps at the Atari Q head),
no pruner, one evaluation of ``--eval-episodes`` games at the end. The RL Zoo is given the Arena's caps
(``buffer_size`` the trial's steps, ``learning_starts`` a tenth of them), without which a trial shorter
than its 100,000 steps of random play would never learn. Each side runs at two lengths and its steps/s
is the difference, so start-up (imports, the study's storage) counts on neither side.

The default seed samples a cheap trial (batch_size 4, a gradient step every 5 steps) so that the bench
runs in minutes on a CPU; the RL Zoo's search space reaches batch_size 2048, whose trials cost hundreds
of times more on either side. On a machine shared with other work, ``OMP_NUM_THREADS=1`` keeps
PyTorch's threads from waiting on each other, which can slow both sides tenfold and unevenly.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import optuna  # noqa: E402
import torch  # noqa: E402

from agents.core.catalog import get_game  # noqa: E402
from agents.train.training import training_device  # noqa: E402
from agents.tune.tuning import load_study  # noqa: E402


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - started


def rl_zoo_command(env_id: str, steps: int, seed: int, episodes: int, folder: Path) -> list[str]:
    command = [sys.executable, "-m", "rl_zoo3.train", "--algo", "dqn", "--env", env_id, "-f", str(folder)]
    command += ["-optimize", "--n-trials", "1", "-n", str(steps), "--sampler", "random", "--pruner", "none"]
    command += ["--seed", str(seed), "--eval-episodes", str(episodes), "--n-evaluations", "1", "--no-optim-plots"]
    command += ["--device", training_device(), "--storage", str(folder / "journal.log"), "--study-name", "bench"]
    return command + ["-params", f"buffer_size:{steps}", f"learning_starts:{steps // 10}"]


def arena_command(game: str, steps: int, seed: int, episodes: int, folder: Path) -> list[str]:
    command = [sys.executable, "-m", "agents.tune", "--game", game, "--trials", "1", "--timesteps", str(steps)]
    command += ["--sampler", "random", "--pruner", "none", "--seed", str(seed), "--eval-episodes", str(episodes)]
    return command + ["--study-name", "bench", "--out", str(folder)]


def rl_zoo_params(folder: Path) -> dict:
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(folder / "journal.log")))
    return optuna.load_study(study_name="bench", storage=storage).trials[0].params


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python bench/tune_cost.py",
        description="Steps/s of a tuning trial: python -m agents.tune against python -m rl_zoo3.train -optimize, "
        "the same trial, on this machine, in one run.",
    )
    parser.add_argument("--steps", type=int, default=4000, help="steps of the longer trial (default: 4000)")
    parser.add_argument("--warm-up", type=int, default=2000, help="steps of the shorter trial (default: 2000)")
    parser.add_argument("--game", default="Breakout", help="the Atari game (default: Breakout)")
    parser.add_argument("--seed", type=int, default=2, help="the sampler's seed, both sides (default: 2, cheap)")
    parser.add_argument("--eval-episodes", type=int, default=1, help="games of the evaluation (default: 1)")
    args = parser.parse_args()
    env_id = get_game(args.game).env_id
    work = Path(tempfile.mkdtemp(prefix="arena-tune-bench-"))
    lengths = (args.warm_up, args.steps)

    zoo, ours = [], []
    for n in lengths:  # the two sides in turns, so that a machine busy for a while slows both
        zoo.append(timed(rl_zoo_command(env_id, n, args.seed, args.eval_episodes, work / f"zoo-{n}")))
        ours.append(timed(arena_command(args.game, n, args.seed, args.eval_episodes, work / f"arena-{n}")))
    extra = args.steps - args.warm_up
    zoo_rate, ours_rate = extra / (zoo[1] - zoo[0]), extra / (ours[1] - ours[0])

    zoo_params = rl_zoo_params(work / f"zoo-{args.steps}")
    storage = str(work / f"arena-{args.steps}" / "tuning" / "optuna-journal.log")
    arena_params = load_study("bench", storage).trials[0].params
    same = {k: v for k, v in zoo_params.items() if k != "net_arch"} == arena_params
    device = training_device()
    name = torch.cuda.get_device_name(0) if device == "cuda" else f"{os.cpu_count()} CPU cores"
    threads = os.getenv("OMP_NUM_THREADS", "default")
    print(f"device: {device} ({name}, torch threads: {threads}); {env_id}; one trial, seed {args.seed}")
    print(f"sampled: {arena_params} (RL Zoo: the same{'' if same else ' NOT'}, and net_arch {zoo_params['net_arch']})")
    print(f"whole trials: RL Zoo {zoo[0]:.0f} s / {zoo[1]:.0f} s, Arena {ours[0]:.0f} s / {ours[1]:.0f} s ({lengths})")
    print(f"python -m rl_zoo3.train -optimize:  {zoo_rate:7.1f} steps/s over steps {args.warm_up}-{args.steps}")
    print(f"python -m agents.tune:              {ours_rate:7.1f} steps/s")
    print(f"ratio (Arena / RL Zoo):             {ours_rate / zoo_rate:7.2f}x")


if __name__ == "__main__":
    main()
