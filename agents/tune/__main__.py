"""Command line: tune DQN's hyperparameters for a game with the RL Zoo's own optimizer.

    python -m agents.tune --game Breakout --trials 20 --timesteps 100000 --from scratch

Thin beside the library it calls, as the RL Zoo keeps ``train.py`` beside ``exp_manager.py``:
:mod:`agents.tune.tuning` runs the study. Workers on several machines given the same ``--storage`` and
``--study-name`` work on one study; ``--trials`` is the study's total.
"""

import argparse
import dataclasses
import json
import sys
import threading
from pathlib import Path

import optuna
from tqdm import tqdm

from agents.core.agent_files import GAME_OPTION_HELP
from agents.core.data_root import data_root
from agents.core.errors import AgentError
from agents.core.numbers import check_owner_settings
from agents.train.training import training_device
from agents.train.training_time import use_training_threads
from agents.tune.tuning import PRUNERS, SAMPLERS, STORAGE_VARIABLE, TuningProgress, TuningSettings, run_study

CLI_DESCRIPTION = f"""Tune DQN's hyperparameters for an Atari game with the RL Zoo's own optimizer
(its objective, samplers, pruners and DQN search space, but for net_arch, which
stays the Atari Q head). Trials keep the RL Zoo's Atari values for the rest, but
buffer_size is capped at the trial's steps and learning_starts at a tenth of them.
The study lives on --storage, else ${STORAGE_VARIABLE}, else a local journal file;
workers given the same storage and study name share it. The game is --from's repo's
when --game is left out. The last line printed is a JSON summary (game, study, ...)."""
CLI_EXAMPLES = """examples:
  python -m agents.tune --game Breakout --trials 3 --timesteps 2000 --from scratch
  python -m agents.tune --game Pong --trials 50 --timesteps 200000 \\
      --storage postgresql://user:password@db:5432/optuna --study-name pong-dqn  # on each machine"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m agents.tune",
        description=CLI_DESCRIPTION,
        epilog=CLI_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--game", default=None, help=GAME_OPTION_HELP)
    parser.add_argument("--trials", type=int, required=True, help="trials in the study, across all its workers")
    parser.add_argument("--timesteps", type=int, required=True, help="environment steps per trial")
    parser.add_argument(
        "--from",
        dest="start",
        default="scratch",
        help="scratch, pretrained (each trial starts from the game's sb3 agent) or a Hub repo id (default: scratch)",
    )
    parser.add_argument("--sampler", choices=SAMPLERS, default="tpe", help="the RL Zoo's sampler (default: tpe)")
    parser.add_argument("--pruner", choices=PRUNERS, default="median", help="the RL Zoo's pruner (default: median)")
    parser.add_argument("--eval-episodes", type=int, default=5, help="games per evaluation report (default: 5)")
    parser.add_argument(
        "--storage",
        default=None,
        help=f"an Optuna RDB URL or a journal file ending in .log (default: ${STORAGE_VARIABLE}, else "
        "<out>/tuning/optuna-journal.log)",
    )
    parser.add_argument(
        "--study-name",
        default=None,
        help="letters, digits, -, _ and . (at most 64); default: dqn-<EnvId>-<from>-<timesteps>-steps",
    )
    parser.add_argument("--seed", type=int, default=None, help="the sampler's seed (default: a random one)")
    parser.add_argument("--out", type=Path, default=None, help="the local storage's folder (default: the data folder)")
    return parser


def _show_progress(progress: TuningProgress, done: threading.Event) -> None:
    """A progress bar on stderr: the study's finished trials, and the current trial's steps."""
    with tqdm(total=progress.n_trials, unit="trial", file=sys.stderr, dynamic_ncols=True) as bar:
        while not done.wait(1):
            snapshot = progress.snapshot()
            bar.n = min(snapshot["study_done"], progress.n_trials)
            if snapshot["trial"] is not None:
                bar.set_postfix_str(
                    f"trial {snapshot['trial']}: {snapshot['timesteps']:,}/{snapshot['total_timesteps']:,} steps "
                    f"at {snapshot['steps_per_second']:.0f} steps/s"
                )
            bar.refresh()
        bar.n = min(progress.study_done, progress.n_trials)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the bar says it; the JSON line sums it up
    try:
        settings = TuningSettings(
            game=args.game,
            start=args.start,
            n_trials=args.trials,
            n_timesteps=args.timesteps,
            sampler=args.sampler,
            pruner=args.pruner,
            n_eval_episodes=args.eval_episodes,
            study_name=args.study_name,
            storage=args.storage,
            seed=args.seed,
        )
        check_owner_settings()  # the storage's heartbeat grace among them: said before the progress bar starts
        progress = TuningProgress(settings.n_trials, settings.n_timesteps)
        done = threading.Event()
        bar = threading.Thread(target=_show_progress, args=(progress, done), daemon=True)
        bar.start()
        try:
            result = run_study(settings, args.out or data_root(), progress)
        finally:
            done.set()
            bar.join()
    except AgentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(dataclasses.asdict(result)))
    return 0


if __name__ == "__main__":
    use_training_threads(training_device())  # a process that exists to train (not main(): tests call it in theirs)
    sys.exit(main())
