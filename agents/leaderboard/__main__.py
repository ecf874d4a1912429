"""Command line: submit an agent to the Leaderboard, show a game's board, or run an evaluation worker.

python -m agents.leaderboard submit --repo-id you/dqn-PongNoFrameskip-v4
python -m agents.leaderboard show --game Pong
python -m agents.leaderboard worker --database postgresql://user@host/arena
"""

import argparse
import dataclasses
import json
import sys

from agents.core.catalog import GAMES
from agents.core.errors import AgentError
from agents.core.numbers import check_owner_settings
from agents.leaderboard import store
from agents.leaderboard.board import ORDERS, queue_rows, ranking, submit
from agents.leaderboard.protocol import current_protocol
from agents.leaderboard.worker import run_worker

DATABASE_HELP = (
    f"SQLAlchemy URL of the board's database (default: ${store.DATABASE_VARIABLE}, else SQLite in the data folder)"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m agents.leaderboard",
        description=f"The Leaderboard, on its protocol: {current_protocol().describe()}. Prints JSON.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    commands = parser.add_subparsers(dest="command", required=True)
    submitting = commands.add_parser("submit", help="check an agent and queue it on its game's board")
    submitting.add_argument("--repo-id", required=True, help="a Hub repo in the RL Zoo layout (DQN or QR-DQN)")
    submitting.add_argument("--game", default=None, help=f"one of {', '.join(GAMES)} (default: the repo's)")
    showing = commands.add_parser("show", help="a game's board, ranked, and the queue")
    showing.add_argument("--game", required=True, help=f"one of {', '.join(GAMES)}")
    showing.add_argument("--order", default="mean", choices=list(ORDERS.values()), help="what ranks (default: mean)")
    working = commands.add_parser("worker", help="evaluate submissions from the queue")
    working.add_argument("--drain", action="store_true", help="stop once the queue is empty (default: wait for more)")
    for command in (submitting, showing, working):
        command.add_argument("--database", default=None, help=DATABASE_HELP)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        check_owner_settings()  # the protocol in --help and every command's limits: a bad one said, not a traceback
        args = build_parser().parse_args(argv)
        url = store.database_url(args.database)
        if args.command == "submit":
            answer = submit(args.repo_id, args.game, url=url).answer()
        elif args.command == "show":
            answer = {
                "protocol": current_protocol().name,
                "board": ranking(args.game, args.order, url),
                "queue": queue_rows(url),
            }
        else:
            answer = dataclasses.asdict(run_worker(url, drain=args.drain))
    except AgentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(answer, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
