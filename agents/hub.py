"""Download an RL Zoo agent's files from the Hugging Face Hub, or find them in the local cache.

The files are those ``rl_zoo3.push_to_hub`` uploads: ``<algo>-<EnvId>.zip``, ``config.yml``,
``env_kwargs.yml`` and ``results.json``. The Hub's own cache keeps them on disk; with
``HF_HUB_OFFLINE=1``, or when the Hub cannot be reached, the cached copies are used and a
missing file fails at once with a message that names the repo.
"""

import json
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from huggingface_hub import constants, hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HFValidationError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import validate_repo_id

from agents.errors import AgentError

ALGOS = ("dqn", "qrdqn")
ETAG_TIMEOUT_S = 5
REACH_TIMEOUT_S = 3


@dataclass(frozen=True)
class AgentFiles:
    """Local paths of one agent's files, all in one snapshot of the Hub cache."""

    repo_id: str
    algo: str
    model_zip: Path
    config: Path
    env_kwargs: Path | None
    results: Path | None
    offline: bool = False  # shipped with the Arena rather than fetched from the Hub

    def published_result(self) -> dict | None:
        """The evaluation the model card reports (``results.json``), if the repo has one."""
        if self.results is None:
            return None
        try:
            result = json.loads(self.results.read_text())
        except (OSError, ValueError):
            return None
        return result if isinstance(result, dict) else None


class HubUnavailable(AgentError):
    """The files are not in the local cache and the Hub cannot be reached."""


def check_repo_id(repo_id: str) -> str:
    """Return the repo id stripped, or explain why it is not one."""
    repo_id = (repo_id or "").strip()
    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise AgentError(f"{repo_id!r} is not a Hub repo id ({error}). Write it as OWNER/NAME.") from None
    if "/" not in repo_id:
        raise AgentError(f"{repo_id!r} is not a Hub repo id: write it as OWNER/NAME, e.g. sb3/dqn-PongNoFrameskip-v4.")
    return repo_id


def _connect(host: str, port: int) -> None:
    socket.create_connection((host, port), timeout=REACH_TIMEOUT_S).close()


def hub_reachable() -> bool:
    """Whether the Hub answers at all, found out in a few seconds.

    ``hf_hub_download`` retries a failed request with backoff for about 20 s a file before it
    falls back to the cache; when the Hub is out of reach, asking for cached files only
    (``local_files_only``) answers at once instead.
    """
    if constants.HF_HUB_OFFLINE:
        return False
    endpoint = urlparse(constants.ENDPOINT)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    # Name resolution has no timeout of its own, so the whole attempt runs under one.
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        pool.submit(_connect, endpoint.hostname or "", port).result(timeout=REACH_TIMEOUT_S + 1)
        return True
    except (OSError, FutureTimeout):
        return False
    finally:
        pool.shutdown(wait=False)


def _download(repo_id: str, filename: str, online: bool) -> Path:
    return Path(hf_hub_download(repo_id, filename, etag_timeout=ETAG_TIMEOUT_S, local_files_only=not online))


def _download_optional(repo_id: str, filename: str, online: bool) -> Path | None:
    try:
        return _download(repo_id, filename, online)
    except EntryNotFoundError:
        return None


def fetch_agent_files(repo_id: str, env_id: str) -> AgentFiles:
    """Download (or find in the cache) the files of the agent that ``repo_id`` holds for ``env_id``.

    Tries the RL Zoo's file names for DQN, then QR-DQN.
    """
    repo_id = check_repo_id(repo_id)
    online = hub_reachable()
    try:
        for algo in ALGOS:
            try:
                model_zip = _download(repo_id, f"{algo}-{env_id}.zip", online)
            except LocalEntryNotFoundError:
                if algo == ALGOS[-1]:
                    raise
                continue
            except EntryNotFoundError:
                continue
            return AgentFiles(
                repo_id=repo_id,
                algo=algo,
                model_zip=model_zip,
                config=_download(repo_id, "config.yml", online),
                env_kwargs=_download_optional(repo_id, "env_kwargs.yml", online),
                results=_download_optional(repo_id, "results.json", online),
            )
    except LocalEntryNotFoundError:
        raise HubUnavailable(
            f"The files of {repo_id} for {env_id} are not in the local Hugging Face cache, and the Hub "
            "cannot be reached (offline mode or no network). Connect to the Hub once to download them, "
            "or pick an agent that is already cached."
        ) from None
    except (RepositoryNotFoundError, RevisionNotFoundError):
        raise AgentError(
            f"The Hub has no model repo {repo_id} (or it is private or gated). Check the spelling of the repo id."
        ) from None
    except EntryNotFoundError:
        raise AgentError(f"{repo_id} has no config.yml: it is not in the RL Zoo layout.") from None
    except OSError as error:
        raise AgentError(f"Could not download {repo_id} from the Hub: {error}. Try again in a moment.") from None
    names = " or ".join(f"{algo}-{env_id}.zip" for algo in ALGOS)
    raise AgentError(
        f"{repo_id} holds no {names}: it is not an RL Zoo DQN or QR-DQN agent for {env_id}. "
        "Check that the repo and the game match."
    )
