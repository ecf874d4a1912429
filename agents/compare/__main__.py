"""Command line: two agents on the same game and seeds, a paired evaluation and a side-by-side video.

    python -m agents.compare --game Breakout --a sb3/dqn-BreakoutNoFrameskip-v4 --b runs/dqn/BreakoutNoFrameskip-v4_1 \\
        --episodes 10 --out out/compare
"""

import argparse
import json
import shutil
import sys
from pathlib import Path

from agents.compare.duel import arena_claims, contender, duel_to_folder, paired_evaluation, refuse_the_same_agent
from agents.core.agent_files import GAME_OPTION_HELP
from agents.core.errors import AgentError
from agents.core.repo_game import settle_game
from agents.evaluate.evaluation import add_protocol_arguments, check_evaluation_inputs, printed_games
from agents.play.episode import MAX_STEPS_LIMIT, segments_folder

CLI_DESCRIPTION = """Compare two agents on the same game and the same seeds: both play N seeded games
(each scored exactly as python -m agents.evaluate scores it alone), their difference
seed by seed with a 95% paired bootstrap interval, and a side-by-side video of the
first seed (DIR/compare.mp4). An agent is a Hub repo id (empty: the game's own) or a
training run's folder in the RL Zoo's layout; both must be of one game, which is
theirs when --game is left out. The last line printed is a JSON summary."""
CLI_EXAMPLES = """examples:
  python -m agents.compare --game Breakout --b sb3/qrdqn-BreakoutNoFrameskip-v4 --out out/c  # needs the Hub
  python -m agents.compare --game Breakout --b runs/dqn/BreakoutNoFrameskip-v4_1 --episodes 5 --out out/c"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m agents.compare",
        description=CLI_DESCRIPTION,
        epilog=CLI_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--game", default=None, help=GAME_OPTION_HELP)
    parser.add_argument("--a", default="", help="agent A: a Hub repo id or a run folder (default: the game's agent)")
    parser.add_argument(
        "--b",
        default="",
        help="agent B: a Hub repo id or a run folder (default: the game's agent, so A must then be another)",
    )
    add_protocol_arguments(parser)
    parser.add_argument("--out", type=Path, required=True, help="folder for compare.mp4")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    try:
        episodes, first_seed, epsilon, max_steps = check_evaluation_inputs(
            args.episodes, args.first_seed, args.epsilon, args.max_steps
        )
        game = settle_game(args.game, arena_claims(args.a, args.b, a_folders=True, b_folders=True))
        a, b = contender(game, args.a, folders=True), contender(game, args.b, folders=True)
        refuse_the_same_agent(a, b, "--b", ", or a training run's folder")
        print(f"{game.title}: A = {a.repo_id}, B = {b.repo_id}", file=sys.stderr)
        paired = paired_evaluation(a, b, episodes, first_seed, epsilon, max_steps, progress=printed_games())
        print(f"Rendering seed {first_seed} side by side", file=sys.stderr)
        video = duel_to_folder(a, b, args.out, first_seed, epsilon, min(max_steps, MAX_STEPS_LIMIT))
        shutil.rmtree(segments_folder(args.out), ignore_errors=True)
    except AgentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps({"game": game.key, **paired.summary(), "video": str(video)}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
