"""Command line: play one game and write episode.mp4 and steps.csv.

    python -m agents.play --game Breakout --seed 0 --max-steps 2000 --epsilon 0 --out out/breakout

The last line printed is a JSON summary.
"""

import argparse
import json
import sys
from pathlib import Path

from agents.core.agent import load_agent
from agents.core.agent_files import GAME_OPTION_HELP
from agents.core.errors import AgentError
from agents.core.hub import printed_progress
from agents.play.episode import MAX_STEPS_LIMIT, play_to_folder, saliency_cost

CLI_DESCRIPTION = """Play one whole Atari game with a DQN agent from the Hub (or the Arena's
offline agent) and write episode.mp4, the gameplay with the agent's Q-values
beside it, and steps.csv, one row per step, into the --out folder (with
--saliency, also saliency.npz: maps (steps, 84, 84) float32 and their steps). The last
line printed is a JSON summary (game, repo, seed, steps, score, terminated,
seconds); errors go to stderr with exit status 2."""
CLI_EXAMPLES = """examples:
  python -m agents.play --game Breakout --seed 0 --max-steps 2000 --epsilon 0 --out out/breakout
  python -m agents.play --game SpaceInvaders --out out/space-invaders  # needs the Hub (or its cache)
  python -m agents.play --repo-id OWNER/dqn-PongNoFrameskip-v4 --out out/pong  # Pong, by its name; needs the Hub"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m agents.play",
        description=CLI_DESCRIPTION,
        epilog=CLI_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--game", default=None, help=GAME_OPTION_HELP)  # resolved by resolve_game
    parser.add_argument(
        "--repo-id", default=None, help="a Hub repo in the RL Zoo layout (default: sb3/dqn-<Game>NoFrameskip-v4)"
    )
    parser.add_argument("--seed", type=int, default=0, help="the game's seed: same seed, same game (default: 0)")
    parser.add_argument("--epsilon", type=float, default=0.01, help="exploration rate, 0 = greedy (default: 0.01)")
    parser.add_argument(
        "--max-steps", type=int, default=MAX_STEPS_LIMIT, help=f"step cap, at most {MAX_STEPS_LIMIT} (default)"
    )
    parser.add_argument("--agent-view", action="store_true", help="add the stacked 84x84 frames the agent sees")
    parser.add_argument("--stacked", action="store_true", help="draw the Q-value panel below the game (for phones)")
    parser.add_argument(
        "--saliency",
        action="store_true",
        help="lay where the agent looks over the game (perturbation saliency) and write saliency.npz; slow: a map "
        "is about 290 passes of the network, so the game takes many times longer (the estimate is printed first)",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for episode.mp4 and steps.csv")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        agent = load_agent(args.game, args.repo_id, printed_progress())
        if args.saliency:
            print(saliency_cost(args.max_steps), file=sys.stderr, flush=True)
        result = play_to_folder(
            agent,
            args.out,
            seed=args.seed,
            epsilon=args.epsilon,
            max_steps=args.max_steps,
            agent_view=args.agent_view,
            stacked=args.stacked,
            saliency=args.saliency,
        )
    except AgentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result.summary()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
