"""Command line: replay a visitor's saved game (the Your turn tab's CSV) through Play's pipeline, or show a game's
people's board. Prints JSON.

python -m agents.yourturn replay your-steps.csv --game Breakout --seed 4 --video replay.mp4
python -m agents.yourturn board --game Breakout
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

import pandas as pd

from agents.core.agent import load_agent
from agents.core.catalog import GAMES
from agents.core.errors import AgentError
from agents.yourturn import human_board
from agents.yourturn.session import replay_steps, write_video


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m agents.yourturn",
        description="A visitor's game from the Your turn tab, replayed; or a game's people's board. Prints JSON.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    commands = parser.add_subparsers(dest="command", required=True)
    replaying = commands.add_parser("replay", help="replay a game's saved actions and check its frames and score")
    replaying.add_argument("csv", type=Path, help="the game's CSV, as the tab gives it (your-steps.csv)")
    replaying.add_argument("--game", required=True, help=f"one of {', '.join(GAMES)}")
    replaying.add_argument("--seed", type=int, required=True, help="the game's seed")
    replaying.add_argument("--video", type=Path, default=None, help="also draw the game with the panel to this MP4")
    showing = commands.add_parser("board", help="a game's best human scores")
    showing.add_argument("--game", required=True, help=f"one of {', '.join(GAMES)}")
    return parser


def replay(csv: Path, game: str, seed: int, video: Path | None) -> dict:
    """The saved actions through Play's rollout: does each step's frame and score match the CSV's?"""
    table = pd.read_csv(csv)
    agent = load_agent(game)
    replayed: list[tuple[float, int]] = []

    def steps():
        for step, crc in replay_steps(agent, seed, table["action"].astype(int).tolist()):
            replayed.append((step.score, crc))
            yield step

    if video is not None:
        with tempfile.TemporaryDirectory() as folder:
            drawn = write_video(agent, steps(), Path(folder), "replay.mp4", len(table))
            Path(video).write_bytes(drawn.read_bytes())
    else:
        for _ in steps():
            pass
    recorded = list(zip(table["score"].astype(float), table["screen_crc32"].astype(int), strict=True))
    first_difference = next((i for i, (a, b) in enumerate(zip(replayed, recorded, strict=True)) if a != b), None)
    return {
        "game": agent.game.key,
        "seed": seed,
        "steps": len(replayed),
        "score": replayed[-1][0] if replayed else 0.0,
        "csv_score": float(table["score"].iloc[-1]) if len(table) else 0.0,
        "same_game": first_difference is None,
        "first_different_step": first_difference,
        **({"video": str(video)} if video is not None else {}),
    }


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "replay":
            answer = replay(args.csv, args.game, args.seed, args.video)
        else:
            answer = {"game": args.game, "board": human_board.board(args.game)}
    except (AgentError, OSError, KeyError, ValueError) as error:
        print(json.dumps({"error": str(error)}), file=sys.stderr)
        return 2
    print(json.dumps(answer))
    return 0 if answer.get("same_game", True) else 1


if __name__ == "__main__":
    sys.exit(main())
