"""Command line: how an agent learned, as the RL Zoo logged its training.

    python -m agents.curves --game Pong --out out/pong-curves

Writes ``episodes.csv`` (timesteps, score, moving average of the last 100 episodes) and
``evaluations.csv`` (timesteps, mean, std, n) into ``--out``, and prints a JSON summary last.
"""

import argparse
import json
import sys
from pathlib import Path

from agents.core.agent_files import GAME_OPTION_HELP, game_or_default
from agents.core.errors import AgentError
from agents.core.repo_game import resolve_game
from agents.curves.agent_curves import repo_curves, run_folder_curves


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m agents.curves",
        description="How an agent learned: the training episodes' scores and the evaluations the RL Zoo logged, "
        "for the game's sb3 agent (shipped logs), a Hub repo with train_eval_metrics.zip, or a run folder.",
    )
    parser.add_argument("--game", default=None, help=GAME_OPTION_HELP)
    parser.add_argument("--repo-id", default=None, help="a Hub repo in the RL Zoo layout (default: the game's sb3 one)")
    parser.add_argument("--run", type=Path, default=None, help="a training run's folder, <log>/dqn/<EnvId>_<n>")
    parser.add_argument("--out", type=Path, default=None, help="folder for episodes.csv and evaluations.csv")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.run is not None:
            game = game_or_default(args.run.name.rsplit("_", 1)[0])
            repo = f"local run {args.run.name}"
            curves, note = run_folder_curves(args.run)
        else:
            game = resolve_game(args.game, args.repo_id)
            repo = args.repo_id or game.repo_id
            curves, note = repo_curves(game, args.repo_id)
        if curves is not None and args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            curves.episodes[["timesteps", "score", "moving_average"]].to_csv(args.out / "episodes.csv", index=False)
            if curves.evaluations is not None:
                curves.evaluations.to_csv(args.out / "evaluations.csv", index=False)
    except (AgentError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    summary = {"game": game.key, "repo": repo, "source": note}
    if curves is not None:
        average = curves.episodes["moving_average"].dropna()
        last = curves.evaluations.iloc[-1] if curves.evaluations is not None else None
        summary |= {
            "episodes": len(curves.episodes),
            "timesteps": int(curves.episodes["timesteps"].iloc[-1]) if len(curves.episodes) else 0,
            "final_moving_average": float(average.iloc[-1]) if len(average) else None,
            "evaluations": 0 if last is None else len(curves.evaluations),
            "last_evaluation": None if last is None else {"timesteps": int(last["timesteps"]), "mean": last["mean"]},
        }
    print(json.dumps(summary, ensure_ascii=False))
    return 0 if curves is not None else 1


if __name__ == "__main__":
    sys.exit(main())
