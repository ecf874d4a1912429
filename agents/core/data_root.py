"""Where the Arena keeps what outlives a restart: jobs, studies and their runs."""

import os
from pathlib import Path


def data_root() -> Path:
    """``$ARENA_DATA_DIR``, else ``/data`` (a Space's persistent storage) if writable, else ``./arena-data``."""
    if os.getenv("ARENA_DATA_DIR"):
        return Path(os.environ["ARENA_DATA_DIR"])
    if os.path.isdir("/data") and os.access("/data", os.W_OK):
        return Path("/data/atari-dqn-arena")
    return Path("arena-data").resolve()
