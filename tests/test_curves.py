"""Learning curves: the shipped RL Zoo logs, Train-tab run folders and Hub ``train_eval_metrics.zip`` files."""

import glob
import io
import os
import struct
import time
import tracemalloc
import warnings
import zipfile
import zlib
from pathlib import Path

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
from stable_baselines3.common.monitor import Monitor

from agents.core.catalog import GAMES
from agents.core.errors import AgentError
from agents.curves import logs as curves
from agents.curves.logs import LearningCurves, hub_metrics_curves, run_curves, shipped_curves
from tests.conftest import reference_path

MiB = 1024 * 1024
ENV_IDS = [game.env_id for game in GAMES.values()]


# --- The shipped RL Zoo logs ----------------------------------------------------------------------------


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_every_catalog_game_has_its_rl_zoo_curves(env_id):
    found = shipped_curves(env_id)
    assert isinstance(found, LearningCurves)
    episodes, evaluations = found.episodes, found.evaluations
    assert list(episodes.columns) == curves.EPISODE_COLUMNS
    assert 1 < len(episodes) <= curves.MAX_POINTS
    assert episodes["timesteps"].iloc[0] < 50_000  # the first episode ends near the start
    assert 9_500_000 < episodes["timesteps"].iloc[-1] < 10_500_000  # 10M steps, as the RL Zoo trained them
    assert (np.diff(episodes["timesteps"]) > 0).all() and (np.diff(episodes["episode"]) > 0).all()
    assert episodes["moving_average"].iloc[:-1].isna().sum() < curves.WINDOW
    assert np.isfinite(episodes["moving_average"].iloc[-1]) and np.isfinite(episodes["score"]).all()
    assert evaluations is not None and list(evaluations.columns) == curves.EVALUATION_COLUMNS
    assert evaluations["timesteps"].iloc[0] <= 50_000 and evaluations["timesteps"].iloc[-1] == 10_000_000
    assert (evaluations["std"] >= 0).all() and (evaluations["n"] >= 5).all()
    assert f"sb3/dqn-{env_id}" in found.source and "DLR-RM/rl-trained-agents" in found.source
    assert "MIT" in found.source


def test_pong_learned_to_win():
    episodes = shipped_curves("PongNoFrameskip-v4").episodes
    averages = episodes["moving_average"].dropna()
    assert averages.iloc[0] < -19  # it starts by losing 21-0
    assert averages.iloc[-1] > 15  # and ends winning by about 20
    assert shipped_curves("PongNoFrameskip-v4").evaluations["mean"].iloc[-1] > 15


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_shipped_curves_are_the_reference_logs_thinned_honestly(env_id):
    folder = reference_path("rl-trained-agents", "dqn", f"{env_id}_1")
    log = pd.read_csv(folder / "0.monitor.csv", skiprows=1)
    # What rl_zoo3.plots.plot_train draws: ts2xy's x = cumsum(l) and window_func's 100-episode mean of r,
    # computed here another way (pandas' rolling mean) than agents.curves.logs does (NumPy's, as SB3 does).
    frames = np.cumsum(log["l"].to_numpy())
    scores = log["r"].to_numpy()
    averages = log["r"].rolling(100).mean().to_numpy()
    shipped = shipped_curves(env_id).episodes
    rows = shipped["episode"].to_numpy() - 1

    assert shipped["episode"].iloc[-1] == len(log)  # the last episode is kept
    np.testing.assert_array_equal(shipped["frames"], frames[rows])
    np.testing.assert_array_equal(shipped["timesteps"], frames[rows] // 4)
    np.testing.assert_allclose(shipped["score"], scores[rows], rtol=1e-9)
    drawn = rows >= 99
    assert shipped["moving_average"][~drawn].isna().all()
    np.testing.assert_allclose(shipped["moving_average"][drawn], averages[rows[drawn]], rtol=1e-9, atol=1e-9)
    assert shipped["moving_average"].iloc[-1] == pytest.approx(averages[-1], rel=1e-9)

    evaluations = np.load(folder / "evaluations.npz", allow_pickle=False)
    shipped_evaluations = shipped_curves(env_id).evaluations
    np.testing.assert_array_equal(shipped_evaluations["timesteps"], evaluations["timesteps"])
    np.testing.assert_allclose(shipped_evaluations["mean"], evaluations["results"].mean(axis=1), rtol=1e-9)
    np.testing.assert_allclose(shipped_evaluations["std"], evaluations["results"].std(axis=1), rtol=1e-8, atol=1e-9)
    assert (shipped_evaluations["n"] == evaluations["results"].shape[1]).all()


@pytest.mark.parametrize("env_id", ["CartPole-v1", "../PongNoFrameskip-v4", "", "Pong"])
def test_no_shipped_curves_for_other_names(env_id):
    assert shipped_curves(env_id) is None


def test_thinning_keeps_first_last_and_every_kth():
    episodes = curves.episode_table(np.full(10_001, 4), np.arange(10_001.0), frame_skip=4)
    thinned = curves.thin_episodes(episodes, max_points=1000)
    assert len(thinned) <= 1000
    assert thinned["episode"].iloc[0] == 1 and thinned["episode"].iloc[-1] == 10_001
    assert len(set(np.diff(thinned["episode"].to_numpy()[1:]))) == 1
    assert thinned["moving_average"].iloc[-1] == np.mean(np.arange(10_001.0)[-100:])
    assert curves.thin_episodes(episodes.iloc[:50], max_points=1000).equals(episodes.iloc[:50])


# --- Train-tab run folders --------------------------------------------------------------------------------


def _play_into_monitor(filename: Path, episodes: int, seed: int) -> list[tuple[float, int]]:
    """Random CartPole episodes through SB3's Monitor writing ``filename``; their (reward, length)."""
    env = Monitor(gym.make("CartPole-v1"), filename=str(filename))
    played = []
    env.action_space.seed(seed)
    env.reset(seed=seed)
    while len(played) < episodes:
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        if terminated or truncated:
            played.append((info["episode"]["r"], info["episode"]["l"]))
            env.reset()
    env.close()
    return played


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> tuple[Path, list[tuple[float, int]]]:
    """A run folder restarted twice: two logs kept from before the restarts, then the current one."""
    folder = tmp_path_factory.mktemp("logs") / "dqn" / "CartPole-v1_1"
    folder.mkdir(parents=True)
    first = _play_into_monitor(folder / "0.before-500", 50, seed=1)  # Monitor adds ".monitor.csv"
    second = _play_into_monitor(folder / "0.before-1000", 40, seed=2)
    current = _play_into_monitor(folder / "0", 40, seed=3)
    assert sorted(path.name for path in folder.iterdir()) == [
        "0.before-1000.monitor.csv",
        "0.before-500.monitor.csv",
        "0.monitor.csv",
    ]
    results = np.array([[10.0, 12.0, 14.0], [20.0, 22.0, 30.0]])
    np.savez(folder / "evaluations.npz", timesteps=np.array([500, 1000]), results=results, ep_lengths=results)
    return folder, first + second + current


def test_run_curves_run_on_across_restarts(run_folder):
    folder, played = run_folder
    found = run_curves(folder)
    rewards = np.array([reward for reward, _ in played])
    lengths = np.array([length for _, length in played])
    np.testing.assert_array_equal(found.episodes["timesteps"], np.cumsum(lengths))  # CartPole: 1 frame a step
    np.testing.assert_array_equal(found.episodes["score"], rewards)
    np.testing.assert_array_equal(found.episodes["episode"], np.arange(1, 131))
    assert found.episodes["moving_average"].iloc[:99].isna().all()
    assert found.episodes["moving_average"].iloc[-1] == pytest.approx(rewards[-100:].mean())
    assert found.evaluations.to_dict("list") == {
        "timesteps": [500, 1000],
        "mean": [12.0, 24.0],
        "std": pytest.approx([np.std([10, 12, 14]), np.std([20, 22, 30])]),
        "n": [3, 3],
    }
    assert "CartPole-v1_1" in found.source
    assert run_curves(folder, frame_skip=4).episodes["timesteps"].iloc[-1] == lengths.sum() // 4


def test_run_curves_leave_out_a_row_still_being_written(run_folder, tmp_path):
    folder, _ = run_folder
    copy = tmp_path / "CartPole-v1_1"
    copy.mkdir()
    for path in folder.iterdir():
        copy.joinpath(path.name).write_bytes(path.read_bytes())
    with open(copy / "0.monitor.csv", "a") as log:
        log.write("17.0,1")  # no newline yet
    pd.testing.assert_frame_equal(run_curves(copy).episodes, run_curves(folder).episodes)


def test_run_curves_without_logs(tmp_path):
    assert run_curves(tmp_path / "PongNoFrameskip-v4_1") is None
    (tmp_path / "PongNoFrameskip-v4_1").mkdir()
    assert run_curves(tmp_path / "PongNoFrameskip-v4_1") is None
    np.savez(tmp_path / "PongNoFrameskip-v4_1" / "evaluations.npz", timesteps=[10_000], results=[[1.0, 3.0]])
    only_evaluations = run_curves(tmp_path / "PongNoFrameskip-v4_1")
    assert only_evaluations.episodes.empty and only_evaluations.evaluations["mean"].tolist() == [2.0]


def test_run_curves_refuse_a_damaged_log(run_folder, tmp_path):
    copy = tmp_path / "CartPole-v1_2"
    copy.mkdir()
    (copy / "0.monitor.csv").write_text('#{"t_start": 1.0}\nr,l,t\n1.0,oops,2.0\n')
    with pytest.raises(AgentError, match="0.monitor.csv is not an SB3 Monitor log"):
        run_curves(copy)


# --- Hub train_eval_metrics.zip ----------------------------------------------------------------------------


def _zip_as_rl_zoo_pushes(log_path: Path, archive_path: Path) -> Path:
    """The lines of ``rl_zoo3.push_to_hub.package_to_hub`` that make ``train_eval_metrics.zip``."""
    with zipfile.ZipFile(archive_path, "w") as archive:
        if os.path.isfile(log_path / "evaluations.npz"):
            archive.write(log_path / "evaluations.npz", arcname="evaluations.npz")
        for monitor_file in glob.glob(f"{log_path}/*.csv"):
            archive.write(monitor_file, arcname=monitor_file.split(os.sep)[-1])
    return archive_path


def test_hub_metrics_read_back_as_the_run(run_folder, tmp_path):
    folder, _ = run_folder
    archive = _zip_as_rl_zoo_pushes(folder, tmp_path / "train_eval_metrics.zip")
    found = hub_metrics_curves(archive, "someone/dqn-CartPole-v1")
    from_run = run_curves(folder)
    pd.testing.assert_frame_equal(found.episodes, from_run.episodes)
    pd.testing.assert_frame_equal(found.evaluations, from_run.evaluations)
    assert "someone/dqn-CartPole-v1" in found.source


def test_hub_metrics_of_the_rl_zoo_pong_agent(tmp_path):
    folder = reference_path("rl-trained-agents", "dqn", "PongNoFrameskip-v4_1")
    archive = _zip_as_rl_zoo_pushes(folder, tmp_path / "train_eval_metrics.zip")
    found = hub_metrics_curves(archive, "sb3/dqn-PongNoFrameskip-v4")
    shipped = shipped_curves("PongNoFrameskip-v4")
    assert len(found.episodes) == shipped.episodes["episode"].iloc[-1]
    assert found.episodes["moving_average"].iloc[-1] == pytest.approx(shipped.episodes["moving_average"].iloc[-1])
    assert found.episodes["timesteps"].iloc[-1] == shipped.episodes["timesteps"].iloc[-1]
    pd.testing.assert_frame_equal(found.evaluations, shipped.evaluations, rtol=1e-9)


def test_hub_metrics_absent_or_empty(tmp_path):
    assert hub_metrics_curves(tmp_path / "missing.zip", "a/b") is None
    with zipfile.ZipFile(tmp_path / "empty.zip", "w"):
        pass
    assert hub_metrics_curves(tmp_path / "empty.zip", "a/b") is None


def _zip(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names, on purpose
        with zipfile.ZipFile(path, "w", compression=compression) as archive:
            for name, data in members.items() if isinstance(members, dict) else members:
                archive.writestr(name, data)
    return path


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


MONITOR = b'#{"t_start": 1614641279.4, "env_id": "PongNoFrameskip-v4"}\nr,l,t\n-21.0,3715,5.3\n-20.0,4000,9.1\n'
EVALUATIONS = _npz(timesteps=np.array([10_000, 20_000]), results=np.array([[-21.0, -20.0], [-19.0, -18.0]]))


def test_unknown_members_are_ignored_unread(tmp_path):
    clean = hub_metrics_curves(_zip(tmp_path / "clean.zip", {"0.monitor.csv": MONITOR}), "a/b")
    noisy = _zip(
        tmp_path / "noisy.zip",
        {
            "progress.csv": b"\xff not even text",
            "../../0.monitor.csv": b"junk",
            "logs/0.monitor.csv": b"junk",
            "0.monitor.csv": MONITOR,
            "evil.pkl": b"\x80\x04junk",
        },
    )
    pd.testing.assert_frame_equal(hub_metrics_curves(noisy, "a/b").episodes, clean.episodes)
    assert clean.evaluations is None
    assert clean.episodes["timesteps"].tolist() == [3715, 7715]  # no NoFrameskip in "a/b": 1 frame a step
    assert hub_metrics_curves(noisy, "sb3/dqn-PongNoFrameskip-v4").episodes["timesteps"].tolist() == [928, 1928]


class _Plant:
    """Unpickling this creates the file ``path``: what a hostile pickle would do, harmlessly."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return open, (str(self.path), "w")


def _pickled_evaluations(marker: Path) -> bytes:
    return _npz(timesteps=np.array([1, 2]), results=np.array([_Plant(marker), _Plant(marker)], dtype=object))


def test_a_pickle_in_the_evaluations_is_refused_unopened(tmp_path):
    control = tmp_path / "control-was-unpickled"
    np.load(io.BytesIO(_pickled_evaluations(control)), allow_pickle=True)["results"]  # the payload is live
    assert control.exists()

    marker = tmp_path / "hub-zip-was-unpickled"
    archive = _zip(tmp_path / "pickle.zip", {"evaluations.npz": _pickled_evaluations(marker)})
    with pytest.raises(AgentError, match="not plain numbers"):
        hub_metrics_curves(archive, "a/b")
    assert not marker.exists()
    inner = {"timesteps.npy": b"\x80\x04\x95junk", "results.npy": b"\x80\x04\x95junk"}
    archive = _zip(tmp_path / "raw.zip", {"evaluations.npz": _zip(tmp_path / "inner.npz", inner).read_bytes()})
    with pytest.raises(AgentError, match="not a NumPy .npy array"):
        hub_metrics_curves(archive, "a/b")


def _zeros_deflated(size: int) -> tuple[bytes, int]:
    """A raw deflate stream of ``size`` zero bytes (a whole number of MiB), about 1 KiB a MiB, and its CRC."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = b"\0" * MiB
    one = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)  # no reference to what came before
    crc = 0
    for _ in range(size // MiB):
        crc = zlib.crc32(block, crc)
    return one * (size // MiB) + compressor.flush(), crc


def _zip_one_deflated(name: str, deflated: bytes, crc: int, size: int) -> bytes:
    """A zip of one deflated member whose headers say it inflates to ``size`` bytes."""
    encoded = name.encode()
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(deflated), size, len(encoded), 0)
    central = struct.pack(
        "<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc, len(deflated), size, len(encoded), 0, 0, 0, 0, 0, 0
    )
    directory = central + encoded
    start = len(local) + len(encoded) + len(deflated)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(directory), start, 0)
    return local + encoded + deflated + directory + end


@pytest.fixture(scope="module")
def two_gb_of_zeros() -> tuple[bytes, int]:
    return _zeros_deflated(2048 * MiB)


def _refused_quickly_in_bounded_memory(archive: Path, match: str) -> None:
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(AgentError, match=match):
            hub_metrics_curves(archive, "a/b")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 10
    assert peak < 100 * MiB


@pytest.mark.parametrize("name", ["0.monitor.csv", "evaluations.npz"])
def test_a_decompression_bomb_is_refused(name, tmp_path, two_gb_of_zeros):
    deflated, crc = two_gb_of_zeros
    archive = tmp_path / "bomb.zip"
    archive.write_bytes(_zip_one_deflated(name, deflated, crc, 2048 * MiB))
    assert archive.stat().st_size < 3 * MiB
    with zipfile.ZipFile(archive) as check:  # a genuine zip, as any zip tool sees it
        assert check.getinfo(name).file_size == 2048 * MiB
        assert check.open(name).read(MiB) == b"\0" * MiB
    _refused_quickly_in_bounded_memory(archive, "inflates to more than 16 MiB")


def test_a_bomb_whose_headers_lie_is_refused(tmp_path, two_gb_of_zeros):
    deflated, crc = two_gb_of_zeros
    archive = tmp_path / "liar.zip"
    archive.write_bytes(_zip_one_deflated("0.monitor.csv", deflated, crc, 1000))  # "1000 bytes", it says
    _refused_quickly_in_bounded_memory(archive, "not a readable zip archive|not an SB3 Monitor log")


def test_a_bomb_inside_the_evaluations_npz_is_refused(tmp_path):
    deflated, crc = _zeros_deflated(64 * MiB)
    inner = _zip_one_deflated("results.npy", deflated, crc, 64 * MiB)
    archive = _zip(tmp_path / "nested.zip", {"evaluations.npz": inner})
    _refused_quickly_in_bounded_memory(archive, "inflates to more than 16 MiB")


def test_too_much_in_all_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(curves, "MAX_TOTAL_BYTES", 150)
    archive = _zip(tmp_path / "big.zip", {"0.monitor.csv": MONITOR, "1.monitor.csv": MONITOR})
    with pytest.raises(AgentError, match="the archive inflates to more than"):
        hub_metrics_curves(archive, "a/b")


@pytest.mark.parametrize(
    "members, match",
    [
        ({"0.monitor.csv": MONITOR.replace(b"-20.0,4000", b"nan,4000")}, "NaN or infinite"),
        ({"0.monitor.csv": MONITOR.replace(b"-20.0,4000", b"inf,4000")}, "NaN or infinite"),
        ({"0.monitor.csv": MONITOR.replace(b"-20.0,4000", b",4000")}, "NaN or infinite"),
        ({"0.monitor.csv": MONITOR.replace(b"3715", b"37.5")}, "whole numbers"),
        ({"0.monitor.csv": MONITOR.replace(b"3715", b"-3")}, "whole numbers"),
        ({"0.monitor.csv": MONITOR.replace(b"3715", b"__import__('os')")}, "numbers 'r,l,t'"),
        ({"0.monitor.csv": MONITOR.replace(b"r,l,t", b"r,x,t")}, "numbers 'r,l,t'"),
        ({"0.monitor.csv": MONITOR.split(b"\n", 1)[1]}, "header"),
        ({"0.monitor.csv": b'#{"t_start": "soon"}\nr,l,t\n'}, "t_start"),
        ({"0.monitor.csv": b"#" + b"[" * 4000 + b"\nr,l,t\n"}, "not JSON"),
        ({"0.monitor.csv": b'#{"t_start": 1}\nr,l,t' + b",x" * 1_000_000 + b"\n"}, "too long"),
        ({"evaluations.npz": _npz(timesteps=[1, 2], results=[[1.0], [np.nan]])}, "NaN or infinite"),
        ({"evaluations.npz": _npz(timesteps=[1, 2], results=[[1.0], [np.inf]])}, "NaN or infinite"),
        ({"evaluations.npz": _npz(timesteps=[1.0, np.inf], results=[[1.0], [2.0]])}, "NaN or infinite"),
        ({"evaluations.npz": _npz(timesteps=[1, 2], results=[[1.0]])}, "shape"),
        ({"evaluations.npz": _npz(timesteps=[1, 2], results=[1.0, 2.0])}, "shape"),
        ({"evaluations.npz": _npz(timesteps=[1.5, 2], results=[[1.0], [2.0]])}, "whole numbers"),
        ({"evaluations.npz": _npz(timesteps=[1, 2], results=np.array([["a"], ["b"]]))}, "not plain numbers"),
        ({"evaluations.npz": _npz(timesteps=[1, 2], results=np.array([[1 + 1j], [2]]))}, "not plain numbers"),
        ({"evaluations.npz": _npz(timesteps=[1, 2])}, "no results"),
        ({"evaluations.npz": b"not a zip at all"}, "not a zip archive"),
        ([("0.monitor.csv", MONITOR), ("0.monitor.csv", MONITOR)], "twice"),
    ],
)
def test_hostile_contents_are_refused_with_a_reason(members, match, tmp_path):
    with pytest.raises(AgentError, match=match):
        hub_metrics_curves(_zip(tmp_path / "hostile.zip", members), "a/b")


def test_an_npy_header_that_claims_a_huge_array_is_refused_before_allocating(tmp_path):
    huge = io.BytesIO()
    np.lib.format.write_array_header_1_0(huge, {"descr": "<f8", "fortran_order": False, "shape": (10**12, 10)})
    inner = _zip(tmp_path / "inner.npz", {"timesteps.npy": _npy(np.array([1])), "results.npy": huge.getvalue()})
    archive = _zip(tmp_path / "huge.zip", {"evaluations.npz": inner.read_bytes()})
    with pytest.raises(AgentError, match="does not match its data"):
        hub_metrics_curves(archive, "a/b")


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_not_a_zip_too_large_or_too_many_entries(tmp_path, monkeypatch):
    (tmp_path / "text.zip").write_text("hello")
    with pytest.raises(AgentError, match="not a zip archive"):
        hub_metrics_curves(tmp_path / "text.zip", "a/b")
    many = _zip(tmp_path / "many.zip", {f"{n}.txt": b"" for n in range(curves.MAX_ZIP_ENTRIES + 1)})
    with pytest.raises(AgentError, match="more than 256 entries"):
        hub_metrics_curves(many, "a/b")
    monkeypatch.setattr(curves, "MAX_ZIP_BYTES", 100)
    with pytest.raises(AgentError, match="not read"):
        hub_metrics_curves(_zip(tmp_path / "clean.zip", {"0.monitor.csv": MONITOR}), "a/b")


def test_a_zip64_directory_is_refused_before_zipfile_reads_it(tmp_path):
    small = _zip(tmp_path / "small.zip", {"0.monitor.csv": MONITOR}).read_bytes()
    body, end = small[:-22], small[-22:]
    directory_size, directory_start = struct.unpack("<2L", end[12:20])
    # A ZIP64 end record, which zipfile would believe over the ordinary one: a million entries, it says.
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, 10**6, 10**6, directory_size, directory_start)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, len(body), 1)
    (tmp_path / "zip64.zip").write_bytes(body + record + locator + end)
    with pytest.raises(AgentError, match="ZIP64"):
        hub_metrics_curves(tmp_path / "zip64.zip", "a/b")


def test_a_packed_offline_agent_ships_its_runs_log_and_shows_its_curves(tmp_path):
    """``pack_offline`` ships the run's monitor log and evaluations beside the agent; the Play tab's curves of the
    offline agent are then SB3's own reading of that log (``load_results``) and the evaluations' arrays."""
    from stable_baselines3 import DQN
    from stable_baselines3.common.monitor import load_results

    from agents.core.agent import agent_from_files
    from agents.core.agent_files import offline_agent_files
    from agents.core.catalog import get_game
    from agents.core.run_folder import RunFolder
    from agents.curves.agent_curves import curves_for, offline_curves
    from agents.evaluate.evaluation import Evaluation
    from agents.train.pack_offline import stage_offline_agent

    env_id = "BreakoutNoFrameskip-v4"
    shipped = offline_agent_files(env_id)
    run_path = tmp_path / "runs" / "dqn" / f"{env_id}_1"
    (run_path / env_id).mkdir(parents=True)
    (run_path / f"{env_id}.zip").write_bytes(shipped.model_zip.read_bytes())
    (run_path / env_id / "config.yml").write_bytes(shipped.config.read_bytes())
    (run_path / env_id / "env_kwargs.yml").write_bytes(shipped.env_kwargs.read_bytes())
    _play_into_monitor(run_path / "0", 30, seed=4)  # a real SB3 Monitor log
    timesteps, results = np.array([500, 1000]), np.array([[1.0, 3.0], [6.0, 8.0]])
    np.savez(run_path / "evaluations.npz", timesteps=timesteps, results=results, ep_lengths=results)
    run = RunFolder(run_path, env_id)
    scores = Evaluation(scores=[5.0, 7.0], seeds=[0, 1], epsilon=0.01)
    out = stage_offline_agent(run, run.model_zip, scores, scores, "python -m agents.train ...", tmp_path / env_id)

    DQN.load(out / f"dqn-{env_id}.zip", device="cpu", buffer_size=1)  # still stock SB3's file
    found, said = offline_curves(out, env_id)  # what curves_for reads for an offline agent in that folder
    assert said.startswith("From the training log of the run the offline agent comes from")
    monitor = load_results(str(run_path))
    assert found.episodes["score"].tolist() == monitor["r"].tolist()
    assert found.episodes["timesteps"].tolist() == (monitor["l"].cumsum() // 4).tolist()  # 4 frames a step
    assert found.evaluations["timesteps"].tolist() == timesteps.tolist()
    assert found.evaluations["mean"].tolist() == results.mean(axis=1).tolist()
    assert "train_eval_metrics.zip" in (out / "TRAINING.md").read_text()

    # The shipped Breakout agent's own log, as the Play tab shows it, against SB3's reading of the files it ships.
    shipped_log = tmp_path / "shipped-log"
    with zipfile.ZipFile(shipped.model_zip.parent / "train_eval_metrics.zip") as metrics:
        metrics.extractall(shipped_log)
    its_own, said = curves_for(agent_from_files(shipped, get_game("Breakout")))
    assert said.startswith("From the training log of the run the offline agent comes from")
    assert its_own.episodes["score"].tolist() == load_results(str(shipped_log))["r"].tolist()
    with np.load(shipped_log / "evaluations.npz") as evaluations:
        assert its_own.evaluations["timesteps"].tolist() == evaluations["timesteps"].tolist()
        assert its_own.evaluations["mean"].tolist() == evaluations["results"].mean(axis=1).tolist()
    nothing, said = offline_curves(tmp_path / "no-log", env_id)  # an offline agent shipped without its log
    assert nothing is None and "training log is not shipped" in said
