"""Learning-curve data: how an agent's score grew while it trained, as the RL Zoo plots it.

The RL Zoo draws two pictures of a run. ``rl_zoo3.plots.plot_train`` reads the SB3 ``Monitor`` logs
(``*.monitor.csv``, one row per training episode: reward ``r``, length ``l``, time ``t``) and plots the
moving average of the episode reward over the last 100 episodes (``--episode-window``, default 100) against
``cumsum(l)``, with SB3's ``results_plotter.window_func``, so the line starts at the 100th episode.
``rl_zoo3.plots.all_plots`` reads ``evaluations.npz`` (``timesteps``, ``results`` of shape
``(n_evals, n_episodes)``) and plots the mean over each evaluation's episodes against ``timesteps``.

One difference is deliberate. For Atari the RL Zoo wraps ``Monitor`` *inside* SB3's ``AtariWrapper``
(``make_vec_env`` applies ``wrapper_class`` after ``Monitor``), so ``l`` counts emulator frames, four per
agent step with the default ``frame_skip=4``: ``plot_train``'s x axis ends near 40M for a 10M-step run while
the evaluations end at 10M. Here ``timesteps`` is ``cumsum(l) // frame_skip`` (``frame_skip`` 4 for
``*NoFrameskip-*`` games, else 1, or as given), which puts both curves on the agent's step axis; it reads
slightly high (by 0.3 to 1.7 % on the RL Zoo's ten runs), as the no-op starts and the extra step after each lost
life are frames the agent did not choose. The raw ``cumsum(l)`` is kept as the ``frames`` column.

Three sources, all read without running anything they contain:

* :func:`shipped_curves`: the RL Zoo's own logs of the ten catalog agents, packed in ``training_logs/`` by
  ``python -m agents.curves.pack_logs`` (see ``training_logs/README.md``);
* :func:`run_curves`: a Train-tab run folder (``<log>/dqn/<EnvId>_<n>/``);
* :func:`hub_metrics_curves`: a Hub repo's ``train_eval_metrics.zip`` as ``rl_zoo3.push_to_hub`` makes it,
  read as hostile input: known member names only, bounded inflation, no pickles, numbers checked.
"""

import io
import json
import math
import re
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from agents.core.data_root import PROJECT_ROOT
from agents.core.errors import AgentError

WINDOW = 100
"""Episodes in the moving average: ``rl_zoo3.plots.plot_train``'s default window, SB3's ``EPISODES_WINDOW``."""

MAX_POINTS = 2000
"""Most episodes :func:`thin_episodes` keeps (and ``training_logs/`` holds per game)."""

TRAINING_LOGS = PROJECT_ROOT / "training_logs"
EVALUATIONS = "evaluations.npz"
MONITOR_NAME = re.compile(r"(?P<env>\d{1,4})\.(?:before-(?P<steps>\d{1,12})\.)?monitor\.csv")
ENV_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}-v\d{1,3}")
EPISODE_COLUMNS = ["timesteps", "score", "moving_average", "episode", "frames"]
EVALUATION_COLUMNS = ["timesteps", "mean", "std", "n"]

MiB = 1024 * 1024
MAX_ZIP_BYTES = 32 * MiB
"""Largest ``train_eval_metrics.zip`` read at all (the RL Zoo's 10M-step Atari runs make about 0.5 MB)."""
MAX_MEMBER_BYTES = 16 * MiB
"""Most bytes one member may inflate to, counted while inflating (the zip's own size fields are not trusted)."""
MAX_TOTAL_BYTES = 32 * MiB
"""Most bytes all members of one zip together (``evaluations.npz``'s inner arrays included) may inflate to."""
MAX_ZIP_ENTRIES = 256
"""Most entries a zip may list: counted from its end record before ``zipfile`` reads the directory."""
MAX_LOG_BYTES = MAX_MEMBER_BYTES
"""Largest monitor log or ``evaluations.npz`` read from a run folder."""
CHUNK = 64 * 1024
MAX_LINE = 4096
"""Longest header or column-names line of a monitor log (an SB3 one has about 80 characters)."""
MAX_EPISODE_LENGTH = 10**9


@dataclass(frozen=True)
class LearningCurves:
    """An agent's training curves, ready to draw.

    ``episodes`` has one row per training episode (or per kept episode, for the thinned shipped logs), in
    training order: ``timesteps`` (agent steps at the episode's end, see the module doc), ``score`` (the
    episode's reward), ``moving_average`` (mean score of the last :data:`WINDOW` episodes, as SB3's
    ``window_func`` computes it; NaN for the first ``WINDOW - 1`` episodes, which ``plot_train`` does not
    draw either), ``episode`` (1-based number of the episode in training) and ``frames`` (``cumsum(l)``:
    ``plot_train``'s own x axis). It may be empty when only evaluations were logged.

    ``evaluations`` has one row per periodic evaluation: ``timesteps``, ``mean`` and ``std`` (NumPy's,
    ``ddof=0``, as SB3's ``EvalCallback`` reports it) of the evaluation episodes' scores, and ``n``, how many
    episodes; ``None`` when there were none.

    ``source`` is a sentence saying where the curves come from.
    """

    episodes: pd.DataFrame
    evaluations: pd.DataFrame | None
    source: str


# --- Shared computations -----------------------------------------------------------------------------


def default_frame_skip(env_id: str) -> int:
    """Emulator frames per agent step: 4 (``AtariWrapper``'s default) for ``*NoFrameskip-*`` games, else 1."""
    return 4 if "NoFrameskip" in env_id else 1


def moving_average(scores: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """The mean of each run of ``window`` consecutive scores, aligned with the last of them; NaN before.

    The values are those of SB3's ``window_func(x, scores, window, np.mean)`` (the same strided view and
    ``np.mean``), padded in front so that they line up with the episodes.
    """
    scores = np.asarray(scores, dtype=np.float64)
    averages = np.full(scores.shape, np.nan)
    if len(scores) >= window:
        averages[window - 1 :] = np.lib.stride_tricks.sliding_window_view(scores, window).mean(axis=-1)
    return averages


def episode_table(lengths: np.ndarray, scores: np.ndarray, frame_skip: int) -> pd.DataFrame:
    """The ``episodes`` frame of :class:`LearningCurves` from every training episode's length and score."""
    if frame_skip < 1:
        raise AgentError(f"frame_skip must be at least 1, not {frame_skip}.")
    frames = np.cumsum(np.asarray(lengths, dtype=np.int64))
    scores = np.asarray(scores, dtype=np.float64)
    return pd.DataFrame(
        {
            "timesteps": frames // frame_skip,
            "score": scores,
            "moving_average": moving_average(scores),
            "episode": np.arange(1, len(scores) + 1, dtype=np.int64),
            "frames": frames,
        },
        columns=EPISODE_COLUMNS,
    )


def thin_episodes(episodes: pd.DataFrame, max_points: int = MAX_POINTS) -> pd.DataFrame:
    """At most ``max_points`` rows of an ``episodes`` frame, chosen so that the picture stays the same.

    With ``k = ceil((n - 1) / (max_points - 2))``, every ``k``-th episode counted back from the last one is
    kept, and the first one. Each kept row keeps its own raw score and its ``moving_average``, which was
    computed over *all* episodes before thinning: the average line is exact at every kept point (and moves
    by at most ``k`` episodes' worth between them), and the scores are a systematic 1-in-``k`` sample of
    the scatter, unbiased. The last episode (the final average) is always kept.
    """
    count, max_points = len(episodes), max(max_points, 3)
    if count <= max_points:
        return episodes.reset_index(drop=True)
    step = math.ceil((count - 1) / (max_points - 2))
    keep = np.arange(count - 1, -1, -step)[::-1]
    if keep[0] != 0:
        keep = np.concatenate([[0], keep])
    return episodes.iloc[keep].reset_index(drop=True)


def evaluation_table(timesteps: np.ndarray, results: np.ndarray) -> pd.DataFrame:
    """The ``evaluations`` frame from ``evaluations.npz``'s ``timesteps`` and ``results`` arrays."""
    results = np.asarray(results, dtype=np.float64)
    return pd.DataFrame(
        {
            "timesteps": np.asarray(timesteps).astype(np.int64),
            "mean": results.mean(axis=1),
            "std": results.std(axis=1),
            "n": np.full(len(results), results.shape[1], dtype=np.int64),
        },
        columns=EVALUATION_COLUMNS,
    )


class _Budget:
    """Bytes still allowed to be inflated from one input."""

    def __init__(self, total: int) -> None:
        self.left = total

    def spend(self, size: int, where: str) -> None:
        self.left -= size
        if self.left < 0:
            raise AgentError(f"{where}: the archive inflates to more than {MAX_TOTAL_BYTES // MiB} MiB: refused.")


# --- Parsing, strictly ----------------------------------------------------------------------------------


def _finite_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def parse_monitor_log(data: bytes, name: str) -> tuple[pd.DataFrame, float]:
    """An SB3 ``Monitor`` log's episodes (float columns ``r``, ``l``, ``t``) and its header's ``t_start``.

    Only complete lines count: text after the last newline is a row still being written and is left out.
    Other columns (``info_keywords``) are not read. Raises :class:`AgentError` if it is not a Monitor log
    of finite numbers with whole, positive episode lengths.
    """
    end = data.rfind(b"\n")
    header, _, body = data[: end + 1].partition(b"\n")
    if len(header) > MAX_LINE or len(body.partition(b"\n")[0]) > MAX_LINE:
        raise AgentError(f"{name} is not an SB3 Monitor log: its header lines are too long.")
    if end < 0 or not header.startswith(b"#"):
        raise AgentError(f"{name} is not an SB3 Monitor log: its first line should be a '#{{...}}' header.")
    try:
        meta = json.loads(header[1:])
    except (ValueError, RecursionError):
        raise AgentError(f"{name} is not an SB3 Monitor log: its header line is not JSON.") from None
    t_start = meta.get("t_start", 0.0) if isinstance(meta, dict) else None
    if not _finite_number(t_start):
        raise AgentError(f"{name} is not an SB3 Monitor log: its header has no numeric t_start.")
    try:
        frame = pd.read_csv(
            io.BytesIO(body),
            usecols=["r", "l", "t"],
            dtype={"r": "float64", "l": "float64", "t": "float64"},
            engine="c",
        )
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise AgentError(f"{name} is not an SB3 Monitor log of numbers 'r,l,t': {reason[:200]}") from None
    values = frame.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        raise AgentError(f"{name} has missing, NaN or infinite values: refused.")
    lengths = frame["l"].to_numpy()
    if ((lengths < 1) | (lengths > MAX_EPISODE_LENGTH) | (lengths != np.round(lengths))).any():
        raise AgentError(f"{name} has episode lengths 'l' that are not whole numbers from 1 to {MAX_EPISODE_LENGTH}.")
    return frame[["r", "l", "t"]], float(t_start)


def _npy_array(data: bytes, name: str) -> np.ndarray:
    """A plain numeric ``.npy`` array, its header checked before NumPy allocates anything."""
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, SyntaxError, TypeError, struct.error, EOFError) as error:
        raise AgentError(f"{name} is not a NumPy .npy array: {str(error)[:200]}") from None
    if dtype.hasobject or dtype.kind not in "iuf" or dtype.itemsize > 8:
        raise AgentError(f"{name} holds {dtype} values, not plain numbers: refused (it was not unpickled).")
    if len(shape) > 2 or math.prod(shape) * dtype.itemsize != len(data) - stream.tell():
        raise AgentError(f"{name}'s declared shape {shape} does not match its data.")
    array = np.load(io.BytesIO(data), allow_pickle=False)
    if not isinstance(array, np.ndarray):
        raise AgentError(f"{name} is not a single array.")
    if not np.isfinite(array).all():
        raise AgentError(f"{name} has NaN or infinite values: refused.")
    return array


def parse_evaluations(data: bytes, name: str = EVALUATIONS, budget: _Budget | None = None) -> pd.DataFrame | None:
    """The ``evaluations`` frame from the bytes of an ``evaluations.npz``; ``None`` if it holds no evaluation.

    The ``.npz`` is itself a zip and is read as one: bounded inflation, ``timesteps.npy`` and ``results.npy``
    only, each a plain numeric array (never unpickled), ``timesteps`` 1-D whole numbers >= 0 and ``results``
    2-D with one row per timestep, all finite. Raises :class:`AgentError` otherwise.
    """
    budget = budget or _Budget(MAX_TOTAL_BYTES)
    arrays = {"timesteps.npy", "results.npy"}
    members = _read_zip_members(io.BytesIO(data), len(data), name, arrays.__contains__, budget)
    missing = arrays - set(members)
    if missing:
        raise AgentError(f"{name} has no {' or '.join(sorted(m[:-4] for m in missing))} array.")
    timesteps = _npy_array(members["timesteps.npy"], f"{name}'s timesteps")
    results = _npy_array(members["results.npy"], f"{name}'s results")
    if timesteps.size == 0 and results.size == 0:
        return None
    if timesteps.ndim != 1 or results.ndim != 2 or results.shape[0] != len(timesteps) or results.shape[1] < 1:
        raise AgentError(
            f"{name} should hold timesteps of shape (n,) and results of shape (n, episodes), "
            f"not {timesteps.shape} and {results.shape}."
        )
    if (timesteps < 0).any() or (timesteps != np.round(timesteps)).any() or (timesteps >= 2**62).any():
        raise AgentError(f"{name}'s timesteps are not whole numbers of steps.")
    return evaluation_table(timesteps, results)


# --- Bounded zip reading ---------------------------------------------------------------------------------


def _zip_entry_count(stream: BinaryIO, size: int, where: str) -> int:
    """How many entries a zip's end record lists, found as ``zipfile`` finds it, before it reads them all."""
    tail_size = min(size, 22 + 65535)
    stream.seek(size - tail_size)
    tail = stream.read(tail_size)
    at = len(tail) - 22 if tail[-22:-18] == b"PK\x05\x06" and tail[-2:] == b"\0\0" else tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise AgentError(f"{where} is not a zip archive.")
    locator = size - tail_size + at - 20
    if locator >= 0:
        stream.seek(locator)
        if stream.read(4) == b"PK\x06\x07":  # zipfile would take the entry count from a ZIP64 record instead
            raise AgentError(f"{where} is a ZIP64 archive, far larger than training logs: refused.")
    return struct.unpack("<4s4H2LH", tail[at : at + 22])[4]


def _read_zip_members(
    stream: BinaryIO, size: int, where: str, wanted: Callable[[str], bool], budget: _Budget
) -> dict[str, bytes]:
    """The wanted members of a zip, each inflated in chunks up to :data:`MAX_MEMBER_BYTES`; others unread."""
    if _zip_entry_count(stream, size, where) > MAX_ZIP_ENTRIES:
        raise AgentError(f"{where} lists more than {MAX_ZIP_ENTRIES} entries: refused.")
    stream.seek(0)
    found: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(stream) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_ZIP_ENTRIES:
                raise AgentError(f"{where} lists more than {MAX_ZIP_ENTRIES} entries: refused.")
            for info in infos:
                if not wanted(info.filename):
                    continue
                if info.filename in found:
                    raise AgentError(f"{where} holds {info.filename} twice: refused.")
                found[info.filename] = _inflate(archive, info, f"{where}'s {info.filename}", budget)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as error:
        raise AgentError(f"{where} is not a readable zip archive: {str(error)[:200]}") from None
    except ValueError as error:  # zlib.error and friends
        raise AgentError(f"{where} is not a readable zip archive: {str(error)[:200]}") from None
    return found


def _inflate(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, budget: _Budget) -> bytes:
    chunks: list[bytes] = []
    size = 0
    with archive.open(info) as member:
        while chunk := member.read(CHUNK):
            size += len(chunk)
            if size > MAX_MEMBER_BYTES:
                raise AgentError(f"{where} inflates to more than {MAX_MEMBER_BYTES // MiB} MiB: refused.")
            budget.spend(len(chunk), where)
            chunks.append(chunk)
    return b"".join(chunks)


# --- Monitor logs in training order ---------------------------------------------------------------------


def episodes_from_monitor_logs(logs: dict[str, bytes], frame_skip: int) -> pd.DataFrame:
    """Every training episode of a run, in order, from its monitor logs' names and bytes.

    Logs kept from before a restart (``0.before-<steps>.monitor.csv``) come first, by ``<steps>``, then the
    current ``0.monitor.csv``; ``timesteps`` run on across them (the cumulative sum of ``l``). Logs of
    several environments (``0.``, ``1.``, ... of a run with ``n_envs > 1``) are merged by wall-clock time
    (``t_start + t``), as SB3's ``load_results`` merges them.
    """
    generations: dict[float, list[pd.DataFrame]] = {}
    for name, data in logs.items():
        match = MONITOR_NAME.fullmatch(name)
        if match is None:
            raise AgentError(f"{name} is not named like an SB3 Monitor log.")
        frame, t_start = parse_monitor_log(data, name)
        generation = float(match["steps"]) if match["steps"] is not None else math.inf
        generations.setdefault(generation, []).append(frame.assign(wall=frame["t"] + t_start))
    ordered = []
    for generation in sorted(generations):
        frames = generations[generation]
        merged = frames[0] if len(frames) == 1 else pd.concat(frames).sort_values("wall", kind="mergesort")
        ordered.append(merged)
    if not ordered:
        return episode_table(np.empty(0), np.empty(0), frame_skip)
    everything = pd.concat(ordered, ignore_index=True)
    return episode_table(everything["l"].to_numpy(), everything["r"].to_numpy(), frame_skip)


def _is_metrics_member(name: str) -> bool:
    return name == EVALUATIONS or MONITOR_NAME.fullmatch(name) is not None


def _read_capped(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_LOG_BYTES + 1)
    except OSError as error:
        raise AgentError(f"Could not read {path.name}: {error.strerror or error}") from None
    if len(data) > MAX_LOG_BYTES:
        raise AgentError(f"{path.name} is larger than {MAX_LOG_BYTES // MiB} MiB: not read.")
    return data


# --- The three sources ------------------------------------------------------------------------------------


def shipped_curves(env_id: str) -> LearningCurves | None:
    """The RL Zoo's training curves of the agent ``sb3/dqn-<env_id>``, from ``training_logs/``.

    ``None`` for a game whose logs are not shipped (the ten catalog games are). The episodes are thinned
    (see :func:`thin_episodes`); their moving average was computed over every episode before thinning.
    """
    if not isinstance(env_id, str) or not ENV_ID.fullmatch(env_id):
        return None
    episodes_path = TRAINING_LOGS / f"{env_id}.episodes.csv.gz"
    evaluations_path = TRAINING_LOGS / f"{env_id}.evaluations.csv.gz"
    if not episodes_path.is_file():
        return None
    try:
        stored = pd.read_csv(episodes_path)
        episodes = pd.DataFrame(
            {
                "timesteps": stored["frames"].to_numpy(dtype=np.int64) // default_frame_skip(env_id),
                "score": stored["score"].to_numpy(dtype=np.float64),
                "moving_average": stored["moving_average"].to_numpy(dtype=np.float64),
                "episode": stored["episode"].to_numpy(dtype=np.int64),
                "frames": stored["frames"].to_numpy(dtype=np.int64),
            },
            columns=EPISODE_COLUMNS,
        )
        evaluations = None
        if evaluations_path.is_file():
            evaluations = pd.read_csv(evaluations_path).astype(
                {"timesteps": np.int64, "mean": np.float64, "std": np.float64, "n": np.int64}
            )[EVALUATION_COLUMNS]
    except (OSError, ValueError, KeyError, EOFError) as error:
        raise AgentError(f"The shipped training log of {env_id} is damaged: {str(error)[:200]}") from None
    total = int(episodes["episode"].iloc[-1]) if len(episodes) else 0
    drawn = "every one" if len(episodes) == total else f"{len(episodes):,} of them are drawn"
    source = (
        f"the RL Zoo's training log of sb3/dqn-{env_id} (DLR-RM/rl-trained-agents, MIT): {total:,} training "
        f"episodes, {drawn}, with the {WINDOW}-episode average taken over all of them"
    )
    return LearningCurves(episodes, evaluations, source)


def run_curves(run_folder: Path, frame_skip: int | None = None) -> LearningCurves | None:
    """The curves of a Train-tab run, from its folder ``<log>/dqn/<EnvId>_<n>/``.

    Reads ``0.before-<steps>.monitor.csv`` (kept from before restarts), ``0.monitor.csv`` and
    ``evaluations.npz``, with the same checks as :func:`hub_metrics_curves`. A row still being written
    at the end of a log is left out. ``frame_skip`` defaults to :func:`default_frame_skip` of the env id
    in the folder's name. ``None`` if the folder holds neither monitor logs nor evaluations; raises
    :class:`AgentError` if one of them cannot be read.
    """
    run_folder = Path(run_folder)
    env_id = run_folder.name.rsplit("_", 1)[0]
    if not run_folder.is_dir():
        return None
    logs = {
        path.name: _read_capped(path)
        for path in run_folder.glob("*.monitor.csv")
        if MONITOR_NAME.fullmatch(path.name) and path.is_file()
    }
    evaluations_path = run_folder / EVALUATIONS
    evaluations = parse_evaluations(_read_capped(evaluations_path)) if evaluations_path.is_file() else None
    if not logs and evaluations is None:
        return None
    episodes = episodes_from_monitor_logs(logs, frame_skip or default_frame_skip(env_id))
    return LearningCurves(episodes, evaluations, f"the training log of the local run {run_folder.name}")


def hub_metrics_curves(zip_path: Path, repo_id: str, frame_skip: int | None = None) -> LearningCurves | None:
    """The curves in a Hub repo's ``train_eval_metrics.zip``, read as hostile input.

    ``rl_zoo3.push_to_hub`` zips the run's ``evaluations.npz`` and every ``*.csv`` of the run folder (its
    monitor logs) under their bare names. Only ``evaluations.npz`` and members named like monitor logs
    (``<n>.monitor.csv``, ``<n>.before-<steps>.monitor.csv``) are read; any other member is ignored,
    unread. The zip may be at most :data:`MAX_ZIP_BYTES` and list :data:`MAX_ZIP_ENTRIES` entries; each
    member is inflated in chunks and refused past :data:`MAX_MEMBER_BYTES` (:data:`MAX_TOTAL_BYTES` in all),
    whatever the zip's headers say; arrays are loaded with ``allow_pickle=False`` after their header is
    checked; every number must be finite. ``frame_skip`` defaults to :func:`default_frame_skip` of the env
    id at the end of ``repo_id`` (``sb3/dqn-PongNoFrameskip-v4``).

    ``None`` if the file is absent or holds neither monitor logs nor evaluations; :class:`AgentError`
    saying what is wrong for anything else.
    """
    zip_path = Path(zip_path)
    where = f"{repo_id}'s {zip_path.name}"
    if not zip_path.is_file():
        return None
    size = zip_path.stat().st_size
    if size > MAX_ZIP_BYTES:
        raise AgentError(f"{where} is {size / MiB:.0f} MiB, more than {MAX_ZIP_BYTES // MiB} MiB: not read.")
    budget = _Budget(MAX_TOTAL_BYTES)
    try:
        with open(zip_path, "rb") as handle:
            members = _read_zip_members(handle, size, where, _is_metrics_member, budget)
    except OSError as error:
        raise AgentError(f"Could not read {where}: {error.strerror or error}") from None
    evaluations = None
    if EVALUATIONS in members:
        evaluations = parse_evaluations(members.pop(EVALUATIONS), f"{where}'s {EVALUATIONS}", budget)
    if not members and evaluations is None:
        return None
    env_id = repo_id.rsplit("/", 1)[-1].split("-", 1)[-1]
    episodes = episodes_from_monitor_logs(members, frame_skip or default_frame_skip(env_id))
    return LearningCurves(episodes, evaluations, f"the training log that {repo_id} holds in train_eval_metrics.zip")
