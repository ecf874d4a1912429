"""Maintainer tool: pack the RL Zoo's training logs of the catalog agents into ``training_logs/``.

    python -m agents.curves.pack_logs SOURCE_FOLDER OUT_FOLDER

``SOURCE_FOLDER`` is a checkout of DLR-RM/rl-trained-agents (MIT), or its ``dqn/`` folder: for each catalog
game it reads ``dqn/<EnvId>_1/0.monitor.csv`` and ``evaluations.npz``, the logs of the run whose agent the
Hub repo ``sb3/dqn-<EnvId>`` holds. For each game it writes to ``OUT_FOLDER``:

``<EnvId>.episodes.csv.gz``
    ``episode,frames,score,moving_average``: the training episodes, thinned to at most
    :data:`agents.curves.logs.MAX_POINTS` rows by :func:`agents.curves.logs.thin_episodes`, with the 100-episode
    moving average computed over *every* episode before thinning.
``<EnvId>.evaluations.csv.gz``
    ``timesteps,mean,std,n``: every periodic evaluation, in full.

and a ``README.md`` saying where they come from and what was thinned. The files are plain CSV, gzipped
with no time stamp, so packing the same logs again gives the same bytes.
"""

import argparse
import gzip
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from agents.core.catalog import GAMES
from agents.core.errors import AgentError
from agents.curves.logs import (
    EVALUATIONS,
    MAX_POINTS,
    WINDOW,
    default_frame_skip,
    episodes_from_monitor_logs,
    parse_evaluations,
    thin_episodes,
)

SOURCE_REPO = "DLR-RM/rl-trained-agents"
RUN = "1"
FLOAT_FORMAT = "%.10g"


def _write_csv_gz(frame: pd.DataFrame, path: Path) -> int:
    text = frame.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n")
    data = gzip.compress(text.encode(), compresslevel=9, mtime=0)
    path.write_bytes(data)
    return len(data)


def _largest_gap(full: pd.DataFrame, thinned: pd.DataFrame) -> float:
    """Largest distance between the full moving average and the line drawn through the thinned one."""
    drawn = full["moving_average"].notna()
    kept = thinned[thinned["moving_average"].notna()]
    if not drawn.any() or kept.empty:
        return 0.0
    line = np.interp(full.loc[drawn, "frames"], kept["frames"], kept["moving_average"])
    return float(np.abs(line - full.loc[drawn, "moving_average"]).max())


def pack_game(run_folder: Path, env_id: str, out: Path) -> dict[str, object]:
    """Pack one game's logs; returns what was written, for the README's table."""
    monitor = run_folder / "0.monitor.csv"
    episodes = episodes_from_monitor_logs({monitor.name: monitor.read_bytes()}, default_frame_skip(env_id))
    evaluations = parse_evaluations((run_folder / EVALUATIONS).read_bytes(), f"{run_folder.name}/{EVALUATIONS}")
    thinned = thin_episodes(episodes)
    size = _write_csv_gz(thinned[["episode", "frames", "score", "moving_average"]], out / f"{env_id}.episodes.csv.gz")
    if evaluations is not None:
        size += _write_csv_gz(evaluations, out / f"{env_id}.evaluations.csv.gz")
    return {
        "env_id": env_id,
        "episodes": len(episodes),
        "kept": len(thinned),
        "step": int(np.diff(thinned["episode"].to_numpy()[1:]).max()) if len(thinned) > 2 else 1,
        "frames": int(episodes["frames"].iloc[-1]),
        "evaluations": 0 if evaluations is None else len(evaluations),
        "eval_episodes": 0 if evaluations is None else int(evaluations["n"].iloc[0]),
        "final_average": float(episodes["moving_average"].iloc[-1]),
        "gap": _largest_gap(episodes, thinned),
        "gap_share": _largest_gap(episodes, thinned) / max(np.ptp(episodes["moving_average"].dropna()), 1e-9),
        "bytes": size,
    }


README = """# Training logs of the catalog agents

The RL Zoo's own training logs of the ten DQN agents the Arena's catalog plays, the agents of the Hub
repos `sb3/dqn-<Game>NoFrameskip-v4`, for the "How it learned" curves (`agents/curves/logs.py`,
`shipped_curves(env_id)`).

**Source**: [{source}](https://github.com/{source}) (MIT licence, Copyright (c) 2020 Antonin RAFFIN),
`dqn/<Game>NoFrameskip-v4_{run}/0.monitor.csv` (every training episode, written by SB3's `Monitor`) and
`dqn/<Game>NoFrameskip-v4_{run}/evaluations.npz` (written by SB3's `EvalCallback`). Made with
`python -m agents.curves.pack_logs <rl-trained-agents checkout> training_logs`; packing the same logs
again gives the same bytes.

## Files

- `<EnvId>.episodes.csv.gz`: `episode,frames,score,moving_average`, one row per kept training episode.
  `episode` is its 1-based number in training, `frames` the cumulative sum of the monitor's `l` at its
  end (the x axis `rl_zoo3.plots.plot_train` uses; for Atari these are emulator frames, 4 per agent step,
  so `agents/curves/logs.py` divides by 4 to put them on the evaluations' step axis), `score` its reward `r`,
  `moving_average` the mean `r` of the last {window} episodes (empty for the first {window_less}), computed from
  **all** episodes before thinning, with the same numbers as SB3's `window_func(..., {window}, np.mean)`.
- `<EnvId>.evaluations.csv.gz`: `timesteps,mean,std,n`, **every** evaluation, not thinned: the mean and
  standard deviation (NumPy's, ddof=0) of the `n` evaluation episodes' scores in `results`, at `timesteps`.

## What was thinned, and how

Only the training episodes, to at most {max_points} rows a game. With `k = ceil((n - 1) / ({max_points} - 2))`,
every `k`-th episode counted back from the last is kept, and the first. Each kept row keeps its own raw
score and its moving average over all episodes, so

- the moving-average line, which is what `plot_train` draws, is exact at every kept point, including the
  final one, and a line through the kept points stays within the "largest gap" below of the full one;
- the scores are a systematic 1-in-`k` sample of the training episodes: the scatter looks the same,
  sparser, with no bias towards good or bad episodes. (Binning by timestep into mean, min and max would
  draw summaries instead of episodes, which neither `plot_train` nor SB3's `plot_results` draws.)

The largest gap is in score points, and as a share of the range the moving average covers in training.

| game | episodes | kept | k | frames | evaluations (episodes each) | final 100-episode average | largest gap | bytes |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
{rows}
{licence}"""

LICENCE = """
## Licence of the source logs

These files are derived from DLR-RM/rl-trained-agents, whose `LICENSE` reads:

{text}
"""


def _licence(source: Path) -> str:
    """The source checkout's ``LICENSE``, quoted for the README (MIT asks that its notice go with copies)."""
    for folder in (source, source.parent):
        if (folder / "LICENSE").is_file():
            text = (folder / "LICENSE").read_text().strip()
            return LICENCE.format(text="\n".join(f"> {line}".rstrip() for line in text.splitlines()))
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a checkout of DLR-RM/rl-trained-agents, or its dqn/ folder")
    parser.add_argument("out", type=Path, help="where to write the packed logs (training_logs/)")
    args = parser.parse_args(argv)
    source = args.source / "dqn" if (args.source / "dqn").is_dir() else args.source
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for game in GAMES.values():
        run_folder = source / f"{game.env_id}_{RUN}"
        if not (run_folder / "0.monitor.csv").is_file():
            print(f"{game.env_id}: no {run_folder}/0.monitor.csv, skipped", file=sys.stderr)
            continue
        try:
            packed = pack_game(run_folder, game.env_id, args.out)
        except AgentError as error:
            print(f"{game.env_id}: {error}", file=sys.stderr)
            return 1
        rows.append(packed)
        print(
            f"{game.env_id}: {packed['episodes']} episodes, {packed['kept']} kept (k={packed['step']}), "
            f"{packed['evaluations']} evaluations, {packed['bytes']} bytes"
        )
    table = "\n".join(
        f"| {row['env_id']} | {row['episodes']:,} | {row['kept']:,} | {row['step']} | {row['frames']:,} "
        f"| {row['evaluations']:,} ({row['eval_episodes']}) | {row['final_average']:g} "
        f"| {row['gap']:.3g} ({row['gap_share']:.1%}) "
        f"| {row['bytes']:,} |"
        for row in sorted(rows, key=lambda row: str(row["env_id"]))
    )
    total = sum(int(row["bytes"]) for row in rows)
    table += f"\n| **all** | | | | | | | | **{total:,}** |"
    (args.out / "README.md").write_text(
        README.format(
            source=SOURCE_REPO,
            run=RUN,
            window=WINDOW,
            window_less=WINDOW - 1,
            max_points=MAX_POINTS,
            rows=table,
            licence=_licence(args.source),
        )
    )
    print(f"{len(rows)} games, {total} bytes, in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
