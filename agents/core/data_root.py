"""Where the Arena's files are: the project's folder (its code, shipped agents and training logs), and the data
folder, which keeps what outlives a restart: jobs, studies and their runs."""

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the folder of app.py, where the command lines run


def data_root() -> Path:
    """``$ARENA_DATA_DIR``, else ``/data`` (a Space's persistent storage) if writable, else ``./arena-data``."""
    if os.getenv("ARENA_DATA_DIR"):
        return Path(os.environ["ARENA_DATA_DIR"])
    if os.path.isdir("/data") and os.access("/data", os.W_OK):
        return Path("/data/atari-dqn-arena")
    return Path("arena-data").resolve()
