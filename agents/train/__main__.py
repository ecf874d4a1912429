"""Command line: train (or fine-tune) a DQN Atari agent as the RL Zoo does, score it, and stage or push it.

    python -m agents.train --game Breakout --timesteps 1000 --learning-starts 500 --buffer-size 1000 --out runs/

Thin beside the library it calls, as the RL Zoo keeps ``train.py`` beside ``exp_manager.py``:
:mod:`agents.train.training` trains, :mod:`agents.evaluate.evaluation` scores,
:mod:`agents.train.publish` stages and uploads.
"""

import argparse
import json
import os
import sys
from pathlib import Path

from huggingface_hub import get_token

from agents.core.agent_files import GAME_OPTION_HELP
from agents.core.errors import AgentError
from agents.core.repo_game import resolve_game
from agents.core.run_folder import RunFolder
from agents.train.hyperparams import EDITABLE, fast_n_envs, fast_preset, rl_zoo_atari_defaults, start_values
from agents.train.publish import hub_repo_id, hub_username, publish_run
from agents.train.training import (
    PrintedProgress,
    TrainingSettings,
    evaluate_run,
    start_repo_id,
    train,
    training_device,
)
from agents.train.training_time import PhaseClock, use_training_threads

CLI_DESCRIPTION = """Train (or fine-tune) a DQN Atari agent with the RL Zoo's experiment manager
and its DQN Atari hyperparameters, then score it over seeded games, render a
replay, and stage (or push) it in the RL Zoo's Hub layout. The last line
printed is a JSON summary.

From a trained agent (--from pretrained or a repo), values not given are
fine-tuning values (epsilon from 0.05, learning once the agent's own play has
filled learning_starts transitions, 500,000 steps); from scratch, the RL Zoo's."""
CLI_EXAMPLES = """examples:
  python -m agents.train --game Breakout --timesteps 1000 --learning-starts 500 --buffer-size 1000 --out runs/
  python -m agents.train --game Pong --timesteps 500000 --learning-starts 20000 --out runs/  # needs the Hub
  python -m agents.train --game Breakout --timesteps 1000000 --out runs/ --push  # needs the Hub and a token
  python -m agents.train --game Pong --from scratch --timesteps 10000000 --fast --out runs/  # a GPU, many cores
  python -m agents.train --game Pong --from scratch --timesteps 2000000 --out runs/pong --resume  # after a stop"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m agents.train",
        description=CLI_DESCRIPTION,
        epilog=CLI_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--game", default=None, help=GAME_OPTION_HELP)  # resolved by resolve_game
    parser.add_argument("--timesteps", type=int, required=True, help="environment steps to train for")
    parser.add_argument("--out", type=Path, required=True, help="RL Zoo log folder for the run, e.g. runs/")
    parser.add_argument(
        "--from",
        dest="start",
        default="pretrained",
        help="pretrained (the game's sb3 agent, or its offline agent when the Hub is out of reach), scratch, "
        "or a Hub repo id (default: pretrained)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed of the run (default: 0)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the newest run of this game under --out from its last readable checkpoint (its weights, "
        "step count and exploration schedule; the replay memory is refilled): the same command with --resume",
    )
    parser.add_argument("--eval-freq", type=int, default=25_000, help="steps between evaluations (default: 25000)")
    parser.add_argument("--save-freq", type=int, default=50_000, help="steps between checkpoints (default: 50000)")
    parser.add_argument("--n-eval-episodes", type=int, default=5, help="seeded games scored at the end (default: 5)")
    parser.add_argument(
        "--push",
        nargs="?",
        const="",
        metavar="OWNER/NAME",
        help="upload the result to the Hub, as OWNER/NAME or, with no value, as <you>/dqn-<EnvId>; the token "
        "is this machine's (HF_TOKEN or hf auth login)",
    )
    parser.add_argument(
        "--fast",
        nargs="?",
        type=int,
        const=0,
        metavar="N_ENVS",
        help="the fast preset: N_ENVS environments (default: one per core, a divisor of target_update_interval) "
        "stepped in parallel processes, gradient_steps scaled to keep the RL Zoo's gradient steps per transition, "
        "and cuDNN autotuning and TF32 on a GPU",
    )
    for name, rule in EDITABLE.items():
        if name != "n_timesteps":
            meaning = f"{rule.meaning} (RL Zoo: {rl_zoo_atari_defaults()[name]})"
            parser.add_argument(f"--{name.replace('_', '-')}", type=rule.kind, help=meaning)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {name: getattr(args, name) for name in EDITABLE if name != "n_timesteps"}
    overrides = {name: value for name, value in overrides.items() if value is not None}
    try:
        game = resolve_game(args.game, start_repo_id(args.start))
        if args.fast is not None:
            values = {**start_values(args.start), **overrides}
            fast = fast_preset(values, args.fast or fast_n_envs(values, os.cpu_count() or 1))
            overrides |= {"n_envs": fast["n_envs"], "gradient_steps": fast["gradient_steps"]}
        settings = TrainingSettings(
            game=game.key,
            start=args.start,
            hyperparameters={**overrides, "n_timesteps": args.timesteps},
            seed=args.seed,
            eval_freq=args.eval_freq,
            n_eval_episodes=args.n_eval_episodes,
            save_freq=args.save_freq,
        )
        token = get_token() if args.push is not None else None
        if args.push is not None and not token:
            raise AgentError("Pushing needs a Hugging Face token: set HF_TOKEN or run `hf auth login` first.")
        repo_id = args.push or (hub_repo_id(hub_username(token), game.env_id) if args.push is not None else None)
        print(f"Training {game.env_id} on {training_device()}", file=sys.stderr)
        resume_run = RunFolder.latest(args.out, game.env_id) if args.resume else None
        if resume_run is not None and not resume_run.checkpoints():
            raise AgentError(f"{resume_run.path} has no checkpoint to resume from: start it again without --resume.")
        # A progress bar on a terminal; piped or logged, where a bar shows only at its end, a line every few seconds.
        bar = sys.stderr.isatty()
        lines = None
        if not bar:
            values = settings.resolved_hyperparameters()
            lines = PrintedProgress(args.timesteps, PhaseClock(values, None, own_play=args.start != "scratch"))
        run = train(settings, args.out, progress=lines, resume_run=resume_run, show_progress_bar=bar)
        print(f"Evaluating over {args.n_eval_episodes} games and rendering a replay", file=sys.stderr)
        evaluation, replay = evaluate_run(run, run.path / "replay", args.n_eval_episodes)
        staged, pushed = publish_run(run, evaluation, replay.video, run.path / "hub", repo_id, token)
    except AgentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    summary = {"game": game.key, "run": str(run.path), "device": training_device(), **evaluation.results_json()}
    print(json.dumps({**summary, "replay": str(replay.video), "hub_folder": str(staged), "pushed": pushed}))
    return 0


if __name__ == "__main__":
    use_training_threads(training_device())  # a process that exists to train (not main(): tests call it in theirs)
    sys.exit(main())
