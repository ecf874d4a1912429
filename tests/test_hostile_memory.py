"""A stranger's checkpoint cannot exhaust memory: each hostile file is refused, with its reason, by a
process whose peak memory stays under 1.5 GB and which takes under 10 s. Each was measured to cost
gigabytes (or to get the app OOM-killed) before its check existed."""

import io
import json
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest
from stable_baselines3 import DQN

from agents.core.environment import env_settings, make_env

ROOT = Path(__file__).resolve().parents[1]
PEAK_MB, SECONDS = 1500, 10
BOMB_BYTES = 1600 * 1024 * 1024  # zeros, deflated to about 7 MB
LOADER = """
import resource, sys, time
started = time.perf_counter()
from agents.core.agent import agent_from_files
from agents.core.catalog import get_game
from agents.core.errors import AgentError
from agents.core.hub import AgentFiles
try:
    files = AgentFiles("hostile/repo", "dqn", sys.argv[1], sys.argv[2], None, None)
    agent_from_files(files, get_game("SpaceInvaders"))
    print("LOADED")
except AgentError as error:
    print("REFUSED", error)
print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def raw_zip(path: Path, entries: list[tuple[str, int, bytes, int, int]]) -> Path:
    """A zip written byte by byte, so that its headers can say what they like: (name, method, payload,
    declared size, declared CRC) per member."""
    out, central = bytearray(), bytearray()
    for name, method, payload, size, crc in entries:
        offset, encoded = len(out), name.encode()
        out += struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc, len(payload), size, len(encoded), 0)
        out += encoded + payload
        fields = (20, 20, 0, method, 0, 0x21, crc, len(payload), size, len(encoded), 0, 0, 0, 0, 0, offset)
        central += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", *fields) + encoded
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), len(out), 0)
    path.write_bytes(bytes(out + central + end))
    return path


def stored(name: str, content: bytes) -> tuple[str, int, bytes, int, int]:
    return name, zipfile.ZIP_STORED, content, len(content), zlib.crc32(content)


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """1.6 GB of zeros as a raw deflate stream."""
    compressor, chunk = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS), bytes(16 * 1024 * 1024)
    return b"".join([*(compressor.compress(chunk) for _ in range(BOMB_BYTES // len(chunk))), compressor.flush()])


@pytest.fixture(scope="module")
def members(tmp_path_factory) -> dict[str, bytes]:
    """A real SB3 DQN Space Invaders checkpoint's members."""
    folder = tmp_path_factory.mktemp("real")
    settings = env_settings(
        "SpaceInvadersNoFrameskip-v4",
        {"env_wrapper": "stable_baselines3.common.atari_wrappers.AtariWrapper", "frame_stack": 4},
        {},
    )
    DQN("CnnPolicy", make_env(settings, 0), buffer_size=1, device="cpu").save(folder / "model.zip")
    with zipfile.ZipFile(folder / "model.zip") as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    from tests.hub_cache import RL_ZOO_ATARI_CONFIG

    path = tmp_path_factory.mktemp("config") / "config.yml"
    path.write_text(RL_ZOO_ATARI_CONFIG)
    return path


def with_policy_kwargs(members: dict[str, bytes], **policy_kwargs) -> dict[str, bytes]:
    data = json.loads(members["data"])
    data["policy_kwargs"] = policy_kwargs
    return {**members, "data": json.dumps(data).encode()}


def load_in_a_process(path: Path, config: Path) -> tuple[str, float, float]:
    run = subprocess.run(
        [sys.executable, "-c", LOADER, str(path), str(config)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    *_, verdict, numbers = run.stdout.strip().splitlines()
    seconds, peak_mb = map(float, numbers.split())
    return verdict, seconds, peak_mb


def hostile_files(tmp_path: Path, members: dict[str, bytes], bomb: bytes) -> dict[str, tuple[Path, str]]:
    """Each hostile checkpoint, with the reason it must be refused for."""

    def zip_of(name: str, replaced: dict[str, bytes], bombed: tuple[str, int] | None = None) -> Path:
        entries = [stored(member, content) for member, content in replaced.items() if not bombed or member != bombed[0]]
        if bombed:
            entries.append((bombed[0], zipfile.ZIP_DEFLATED, bomb, bombed[1], 0))
        return raw_zip(tmp_path / f"{name}.zip", entries)

    weights = zipfile.ZipFile(io.BytesIO(members["policy.pth"]))
    records = [(info.filename, weights.read(info.filename)) for info in weights.infolist()]
    largest = max(records, key=lambda record: len(record[1]))[0]
    inner = raw_zip(
        tmp_path / "policy.pth",
        [stored(name, content) for name, content in records if name != largest]
        + [(largest, zipfile.ZIP_DEFLATED, bomb, BOMB_BYTES, 0)],
    )
    return {
        "a huge features_dim": (
            zip_of("features", with_policy_kwargs(members, features_extractor_kwargs={"features_dim": 1_000_000})),
            "describe a network of 3,143,",
        ),
        "a huge net_arch": (zip_of("net-arch", with_policy_kwargs(members, net_arch=[20_000, 20_000])), "parameters"),
        "a version bomb": (
            zip_of("version", members, ("_stable_baselines3_version", BOMB_BYTES)),
            "'_stable_baselines3_version' is 1677721600 bytes",
        ),
        "a data member whose header lies": (zip_of("data", members, ("data", 30_000)), "more or other data than"),
        "a deflated record in policy.pth": (
            zip_of("record", {**members, "policy.pth": inner.read_bytes()}),
            "compressed record",
        ),
    }


CASES = [
    "a huge features_dim",
    "a huge net_arch",
    "a version bomb",
    "a data member whose header lies",
    "a deflated record in policy.pth",
]


@pytest.mark.parametrize("case", CASES)
def test_a_hostile_checkpoint_is_refused_within_bounded_memory_and_time(case, tmp_path, members, bomb, config):
    path, reason = hostile_files(tmp_path, members, bomb)[case]
    verdict, seconds, peak_mb = load_in_a_process(path, config)
    assert verdict.startswith("REFUSED") and reason in verdict, verdict
    assert peak_mb < PEAK_MB and seconds < SECONDS, f"{peak_mb:.0f} MB, {seconds:.1f} s"


def test_the_same_loader_in_a_process_loads_a_real_checkpoint(tmp_path, members, config):
    """The measurement itself: an honest file loads, so the refusals above are the checks' doing."""
    path = raw_zip(tmp_path / "real.zip", [stored(name, content) for name, content in members.items()])
    verdict, _, peak_mb = load_in_a_process(path, config)
    assert verdict == "LOADED" and peak_mb < PEAK_MB
