"""Command line: score an agent over seeded games, with its protocol, beside its card and the RL Zoo's benchmark.

python -m agents.evaluate --game Breakout --episodes 10 --first-seed 0 --epsilon 0.01 --out out/eval
"""

import argparse
import json
import sys
from pathlib import Path

from agents.core.agent_files import GAME_OPTION_HELP, find_agent_files
from agents.core.errors import AgentError
from agents.core.hub import printed_progress
from agents.core.repo_game import resolve_game
from agents.evaluate.benchmark import evaluation_summary
from agents.evaluate.evaluation import add_protocol_arguments, evaluate_files, printed_games, write_evaluation

CLI_DESCRIPTION = """Play N seeded games with an agent (over this machine's cores, no video) and report
its scores: mean ± std, median, min, max and mean − std, beside the model card's
results.json and the RL Zoo's published benchmark. Progress goes to stderr; the
last line printed is a JSON summary; with --out, results.json (as the RL Zoo
writes it) and games.csv (a row per game) are written there."""
CLI_EXAMPLES = """examples:
  python -m agents.evaluate --game Breakout --episodes 10 --out out/eval
  python -m agents.evaluate --game SpaceInvaders --episodes 20 --epsilon 0  # needs the Hub (or its cache)"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m agents.evaluate",
        description=CLI_DESCRIPTION,
        epilog=CLI_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--game", default=None, help=GAME_OPTION_HELP)
    parser.add_argument("--repo-id", default=None, help="a Hub repo in the RL Zoo layout (default: the game's sb3 one)")
    parser.add_argument("--revision", default=None, help="the repo's commit to evaluate (default: its newest)")
    add_protocol_arguments(parser)
    parser.add_argument("--out", type=Path, default=None, help="folder for results.json and games.csv")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    try:
        game = resolve_game(args.game, args.repo_id)
        # The files only: each worker loads the agent itself, so the games start without waiting for this process.
        files = find_agent_files(game, args.repo_id, printed_progress(), args.revision)
        print(f"Evaluating {files.repo_id} on {game.env_id}", file=sys.stderr)
        evaluation = evaluate_files(
            files, game, args.episodes, args.epsilon, args.max_steps, args.first_seed, progress=printed_games()
        )
        written = write_evaluation(evaluation, args.out) if args.out else None
    except AgentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    summary = evaluation_summary(files, game, evaluation) | {"files": [str(path) for path in written or []]}
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
