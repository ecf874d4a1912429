"""One evaluation worker, started by :func:`agents.evaluate.evaluation.evaluate` (not meant to be run by hand).

    python -m agents.evaluate.worker '{"files": {...}, "game": "Pong", "seeds": [0, 2], "epsilon": 0.01, ...}'

Loads the agent from its files with the Arena's safe loader, plays its share of the seeds with the
Play pipeline's rollout on one thread, and reports on stdout, one JSON object a line: ``{"steps": n}``
now and then, ``{"steps": n, "seed", "score", "length", "game_over"}`` when a game ends, or
``{"error": message}``.
"""

import json
import sys
from pathlib import Path

import torch

from agents.core.agent import agent_from_files
from agents.core.catalog import get_game
from agents.core.errors import AgentError
from agents.core.hub import AgentFiles
from agents.play.rollout import play_games

REPORT_EVERY = 500  # steps between progress reports


def report(message: dict) -> None:
    print(json.dumps(message), flush=True)


def main(argv: list[str] | None = None) -> int:
    spec = json.loads((argv or sys.argv[1:])[0])
    files = AgentFiles(
        **{
            k: Path(v) if k in ("model_zip", "config", "env_kwargs", "results") and v else v
            for k, v in spec["files"].items()
        }
    )
    torch.set_num_threads(1)  # one core per worker: this process's own setting
    try:
        agent = agent_from_files(files, get_game(spec["game"]))
        steps = 0
        games = play_games(
            agent.q_function, agent.settings, spec["seeds"], spec["epsilon"], spec["max_steps"], spec["slots"], False
        )
        for seed, step in games:
            steps += 1
            if step.game_over or step.index + 1 >= spec["max_steps"]:
                report(
                    {
                        "steps": steps,
                        "seed": seed,
                        "score": step.score,
                        "length": step.index + 1,
                        "game_over": step.game_over,
                    }
                )
                steps = 0
            elif steps >= REPORT_EVERY:
                report({"steps": steps})
                steps = 0
    except AgentError as error:
        report({"error": f"{files.repo_id}: {error}"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
