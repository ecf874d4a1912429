"""Command line: play one game and write ``episode.mp4`` and ``steps.csv``.

    python -m agents.play --game SpaceInvaders --seed 0 --max-steps 2000 --epsilon 0 --out DIR

The last line printed is a JSON summary.
"""

import argparse
import json
import sys
from pathlib import Path

from agents.agent import load_agent
from agents.catalog import DEFAULT_GAME, GAMES
from agents.episode import MAX_STEPS_LIMIT, play_to_folder
from agents.errors import AgentError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agents.play", description=__doc__.splitlines()[0])
    parser.add_argument("--game", default=DEFAULT_GAME, help=f"one of {', '.join(GAMES)}")
    parser.add_argument("--repo-id", default=None, help="a Hub repo in the RL Zoo layout (default: sb3/dqn-<Game>)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epsilon", type=float, default=0.01, help="exploration rate (0 = greedy)")
    parser.add_argument("--max-steps", type=int, default=MAX_STEPS_LIMIT, help=f"at most {MAX_STEPS_LIMIT}")
    parser.add_argument("--agent-view", action="store_true", help="add the stacked 84x84 frames the agent sees")
    parser.add_argument("--out", type=Path, required=True, help="folder for episode.mp4 and steps.csv")
    args = parser.parse_args(argv)
    try:
        agent = load_agent(args.game, args.repo_id)
        result = play_to_folder(
            agent,
            args.out,
            seed=args.seed,
            epsilon=args.epsilon,
            max_steps=args.max_steps,
            agent_view=args.agent_view,
        )
    except AgentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result.summary()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
