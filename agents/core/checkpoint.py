"""Load an SB3 DQN or sb3-contrib QR-DQN checkpoint without unpickling anything from it.

An SB3 checkpoint is a zip with a JSON ``data`` file, whose Python objects (spaces, schedules,
the policy class) are cloudpickle blobs beside a readable summary, and ``policy.pth``, a torch
state dict. A checkpoint from the Hub is a stranger's file, so this module reads only the readable
JSON fields, builds the network with SB3's own policy classes from spaces that the caller takes
from the environment, and loads the weights with ``torch.load(weights_only=True)``, which accepts
tensors and plain containers only. It reads SB3 1.x files (old gym, Python 3.7/3.8 pickles) and
SB3 2.x files alike, since neither pickle is ever opened.
"""

import contextlib
import io
import json
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from gymnasium import spaces
from sb3_contrib.qrdqn import policies as qrdqn_policies
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.dqn import policies as dqn_policies

from agents.core.errors import AgentError

# Bounds that real Atari DQN checkpoints never approach (a Nature-CNN DQN: 1.7M parameters, 7 MB of
# weights, about 30 kB of data), so that a hostile file is refused before it costs memory.
MAX_DATA_BYTES = 16 * 1024 * 1024
MAX_WEIGHTS_BYTES = 128 * 1024 * 1024
MAX_VERSION_BYTES = 256
MAX_PARAMETERS = 32_000_000
LOCAL_HEADER = struct.Struct("<4s5H3I2H")  # a zip member's local header, before its name and extra field
MAX_ACTIONS = 1024  # Atari has 18 at most
MAX_OBSERVATION_SIZE = 4096
POLICY_MODULES = {
    "stable_baselines3.dqn.policies": "dqn",
    "sb3_contrib.qrdqn.policies": "qrdqn",
}
# The network inside each policy that maps observations to action values.
Q_NETWORK_ATTRIBUTE = {"dqn": "q_net", "qrdqn": "quantile_net"}
POLICY_CLASSES = {
    ("dqn", True): dqn_policies.CnnPolicy,
    ("dqn", False): dqn_policies.MlpPolicy,
    ("qrdqn", True): qrdqn_policies.CnnPolicy,
    ("qrdqn", False): qrdqn_policies.MlpPolicy,
}
READABLE_POLICY_KWARGS = ("net_arch", "n_quantiles", "normalize_images", "features_extractor_kwargs")


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint says about itself, read without executing any of it."""

    algo: str
    observation_shape: tuple[int, ...]
    n_actions: int
    policy_kwargs: dict[str, Any]
    sb3_version: str
    num_timesteps: int | None
    state_dict: dict[str, torch.Tensor]


class QFunction:
    """The checkpoint's Q-network: a batch of observations in, one value per action out.

    For QR-DQN the value of an action is the mean of its quantiles, as sb3-contrib acts on.
    """

    def __init__(self, network: torch.nn.Module, algo: str, n_actions: int) -> None:
        self.network = network.eval()
        self.algo = algo
        self.n_actions = n_actions

    @torch.inference_mode()
    def __call__(self, observations: np.ndarray) -> np.ndarray:
        values = self.network(torch.as_tensor(observations))
        if self.algo == "qrdqn":
            values = values.mean(dim=1)
        return values.numpy()


def _read_member(archive: zipfile.ZipFile, raw: BinaryIO, name: str, limit: int) -> bytes:
    """A member's bytes, of which no more than ``limit`` are ever inflated, whatever the zip's headers
    say: ``zipfile`` inflates a member's whole deflated stream before its CRC check refuses a member
    larger than its header claims (a decompression bomb of a few MB can cost gigabytes)."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise AgentError(f"The checkpoint is incomplete: it has no {name!r}.") from None
    if info.file_size > limit:
        raise AgentError(f"The checkpoint's {name!r} is {info.file_size} bytes, more than the {limit} allowed.")
    raw.seek(info.header_offset)
    header = raw.read(LOCAL_HEADER.size)
    if len(header) < LOCAL_HEADER.size or not header.startswith(b"PK\x03\x04"):
        raise AgentError(f"The checkpoint's {name!r} entry is damaged.")
    fields = LOCAL_HEADER.unpack(header)
    method, name_length, extra_length = fields[3], fields[9], fields[10]
    raw.seek(info.header_offset + LOCAL_HEADER.size + name_length + extra_length)
    compressed = raw.read(min(info.compress_size, limit + limit // 100 + 1024))
    try:
        if method == info.compress_type == zipfile.ZIP_STORED:
            content = compressed[: limit + 1]
        elif method == info.compress_type == zipfile.ZIP_DEFLATED:
            content = zlib.decompressobj(-zlib.MAX_WBITS).decompress(compressed, limit + 1)
        else:
            raise AgentError(f"The checkpoint's {name!r} is compressed in a way Stable-Baselines3 never writes.")
    except zlib.error:
        raise AgentError(f"The checkpoint's {name!r} is damaged (its compressed data is invalid).") from None
    if len(content) != info.file_size or zlib.crc32(content) != info.CRC:
        raise AgentError(
            f"The checkpoint's {name!r} holds more or other data than its zip header says: the file is damaged "
            "or crafted, and was not read further."
        )
    return content


def _check_torch_archive(weights: bytes) -> None:
    """``policy.pth`` as ``torch.save`` writes it: a zip whose records are all stored uncompressed.
    torch's own reader would inflate a compressed record whole, with no cap; a stored one is no larger
    than the (capped) file that holds it."""
    try:
        records = zipfile.ZipFile(io.BytesIO(weights)).infolist()
    except zipfile.BadZipFile:
        raise AgentError(
            "The checkpoint's weights (policy.pth) are not in torch's zip format, which Stable-Baselines3 "
            "has written since its first release."
        ) from None
    for record in records:
        local_method = struct.unpack_from("<H", weights, record.header_offset + 8)[0]
        if (record.compress_type, local_method) != (zipfile.ZIP_STORED, zipfile.ZIP_STORED):
            raise AgentError(
                f"The checkpoint's policy.pth has a compressed record ({record.filename}); torch.save never "
                "writes one, so it was not read."
            )


def _space_field(data: dict, space: str, *fields: str) -> Any:
    entry = data.get(space)
    if not isinstance(entry, dict):
        raise AgentError(f"The checkpoint's data has no readable {space}.")
    for field in fields:
        if field in entry:
            return entry[field]
    raise AgentError(f"The checkpoint's {space} does not say its {' or '.join(fields)}.")


def _as_shape(value: Any) -> tuple[int, ...]:
    """SB3 writes a space's shape as a JSON list, or as its repr, e.g. ``(4, 84, 84)``."""
    try:
        sizes = value if isinstance(value, list) else re.findall(r"\d+", str(value)[:200])
        shape = tuple(int(size) for size in sizes)
    except (TypeError, ValueError, OverflowError):
        shape = ()
    if not 1 <= len(shape) <= 4 or not all(1 <= size <= MAX_OBSERVATION_SIZE for size in shape):
        raise AgentError(f"The checkpoint's observation shape {str(value)[:80]} is not one a DQN agent plays with.")
    return shape


def _readable_policy_kwargs(data: dict) -> dict[str, Any]:
    """The policy settings that are plain JSON; pickled ones (classes, functions) are left out."""
    kwargs = data.get("policy_kwargs") or {}
    if not isinstance(kwargs, dict) or ":serialized:" in kwargs:
        return {}
    return {key: kwargs[key] for key in READABLE_POLICY_KWARGS if key in kwargs}


def read_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint zip's readable metadata and its weights, executing nothing from it."""
    try:
        with open(path, "rb") as raw, zipfile.ZipFile(raw) as archive:
            data_bytes = _read_member(archive, raw, "data", MAX_DATA_BYTES)
            weights_bytes = _read_member(archive, raw, "policy.pth", MAX_WEIGHTS_BYTES)
            version = (
                _read_member(archive, raw, "_stable_baselines3_version", MAX_VERSION_BYTES).decode(errors="replace")
                if "_stable_baselines3_version" in archive.namelist()
                else "unknown"
            ).strip()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as error:
        raise AgentError(f"The checkpoint {Path(path).name} is not a readable zip file ({error}).") from None
    try:
        data = json.loads(data_bytes)
    except (ValueError, RecursionError):
        raise AgentError("The checkpoint's data file is not JSON: it was not written by Stable-Baselines3.") from None
    if not isinstance(data, dict):
        raise AgentError("The checkpoint's data file is not a JSON object: it was not written by Stable-Baselines3.")

    policy_class = data.get("policy_class")
    module = policy_class.get("__module__") if isinstance(policy_class, dict) else None
    if module not in POLICY_MODULES:
        raise AgentError(
            f"The checkpoint's policy comes from {module or 'an unknown module'}: it is not a DQN or QR-DQN "
            "agent. The Arena plays Stable-Baselines3 DQN and sb3-contrib QR-DQN agents."
        )
    try:
        n_actions = int(_space_field(data, "action_space", "n"))
    except (TypeError, ValueError, OverflowError):
        raise AgentError("The checkpoint's action space is not discrete: it is not a DQN agent.") from None
    if not 1 <= n_actions <= MAX_ACTIONS:
        raise AgentError(f"The checkpoint says it has {n_actions} actions; a DQN agent has 1 to {MAX_ACTIONS}.")

    _check_torch_archive(weights_bytes)
    try:
        state_dict = torch.load(io.BytesIO(weights_bytes), map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a corrupt or hostile file
        raise AgentError(
            f"The checkpoint's weights (policy.pth) could not be read as plain tensors: {error}".splitlines()[0]
        ) from None
    if not isinstance(state_dict, dict) or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise AgentError("The checkpoint's policy.pth is not a state dict of tensors.")
    broken = [name for name, value in state_dict.items() if value.is_floating_point() and not value.isfinite().all()]
    if broken:
        raise AgentError(
            f"The checkpoint's weights hold NaN or infinite values ({', '.join(broken[:3])}): the training that "
            "wrote it diverged. Pick an earlier checkpoint or another agent."
        )

    num_timesteps = data.get("num_timesteps")
    return Checkpoint(
        algo=POLICY_MODULES[module],
        observation_shape=_as_shape(_space_field(data, "observation_space", "_shape", "shape")),
        n_actions=n_actions,
        policy_kwargs=_readable_policy_kwargs(data),
        sb3_version=version,
        num_timesteps=num_timesteps if isinstance(num_timesteps, int) else None,
        state_dict=state_dict,
    )


def _n_quantiles(state_dict: dict[str, torch.Tensor], n_actions: int) -> int:
    last_bias = [v for k, v in state_dict.items() if k.startswith("quantile_net.") and k.endswith(".bias")][-1]
    return int(last_bias.shape[0]) // n_actions


class _NoOptimizer:
    """What SB3's policy gets as its optimizer here: nothing. The Arena never trains a loaded network, and making
    any of torch's optimizers imports torch's compiler (a second of CPU in every fresh process, each evaluation
    worker's included)."""

    def __init__(self, params: Any, **kwargs: Any) -> None:
        pass


def _build_policy(
    policy_class: type, observation_space: spaces.Box, action_space: spaces.Discrete, kwargs: dict, meta: bool = False
):
    """SB3's policy for these settings; with ``meta``, on PyTorch's meta device, where nothing is allocated
    (SB3 moves each network to the policy's device, which it reads from parameters it has not yet made)."""
    if meta:
        policy_class = type(
            policy_class.__name__, (policy_class,), {"device": property(lambda _: torch.device("meta"))}
        )
    try:
        with torch.device("meta") if meta else contextlib.nullcontext():
            return policy_class(observation_space, action_space, lambda _: 0.0, optimizer_class=_NoOptimizer, **kwargs)
    except (TypeError, ValueError, AssertionError, RuntimeError) as error:
        raise AgentError(f"The checkpoint's policy settings {kwargs} are not valid: {error}") from None


def _small_by_construction(checkpoint: Checkpoint, observation_space: spaces.Box) -> bool:
    """Whether the network can be built for real without being counted first on the meta device: a DQN with
    SB3's default settings is the Nature CNN and a 512-unit layer, under ``MAX_PARAMETERS`` for any observation
    the Arena's environment gives (at most 16 frames of 256×256; ``tests/test_checkpoint.py`` counts the largest
    on the meta device). Counting there costs a second of a fresh process (torch imports its symbolic shapes
    for it), paid by every evaluation worker."""
    return checkpoint.algo == "dqn" and not checkpoint.policy_kwargs and is_image_space(observation_space)


def build_q_function(checkpoint: Checkpoint, observation_space: spaces.Box, action_space: spaces.Discrete) -> QFunction:
    """Build SB3's policy network for the environment's spaces and load the checkpoint's weights into it."""
    if checkpoint.n_actions != action_space.n:
        raise AgentError(
            f"The checkpoint was trained with {checkpoint.n_actions} actions but this game has "
            f"{action_space.n}: it is an agent for another game or action set."
        )
    if checkpoint.observation_shape != observation_space.shape:
        raise AgentError(
            f"The checkpoint expects observations of shape {checkpoint.observation_shape} but the environment "
            f"gives {observation_space.shape}: its config.yml does not match its weights."
        )
    kwargs = dict(checkpoint.policy_kwargs)
    if checkpoint.algo == "qrdqn":
        kwargs["n_quantiles"] = _n_quantiles(checkpoint.state_dict, checkpoint.n_actions)
    policy_class = POLICY_CLASSES[(checkpoint.algo, is_image_space(observation_space))]
    attribute = Q_NETWORK_ATTRIBUTE[checkpoint.algo]
    prefix = f"{attribute}."
    weights = {k.removeprefix(prefix): v for k, v in checkpoint.state_dict.items() if k.startswith(prefix)}
    network = None
    if _small_by_construction(checkpoint, observation_space):
        skeleton = network = getattr(_build_policy(policy_class, observation_space, action_space, kwargs), attribute)
    else:
        # The network the settings describe is first built on PyTorch's meta device, which allocates
        # nothing: its size and shapes are checked before any memory is spent on it.
        skeleton = getattr(_build_policy(policy_class, observation_space, action_space, kwargs, meta=True), attribute)
    shapes = {name: tuple(value.shape) for name, value in skeleton.state_dict().items()}
    parameters = sum(int(np.prod(shape)) for shape in shapes.values())
    if parameters > MAX_PARAMETERS:
        raise AgentError(
            f"The checkpoint's policy settings {kwargs} describe a network of {parameters:,} parameters; an "
            f"Atari DQN has about 1.7 million, and the Arena builds none above {MAX_PARAMETERS:,}."
        )
    given = {name: tuple(value.shape) for name, value in weights.items()}
    if shapes != given:
        wrong = sorted(set(shapes) ^ set(given)) or [name for name in shapes if shapes[name] != given[name]]
        name = wrong[0]
        raise AgentError(
            f"The checkpoint's weights do not fit a {checkpoint.algo.upper()} network for this game: {name} is "
            f"{given.get(name, 'missing')} in the file and {shapes.get(name, 'absent')} in the network."
        )
    if network is None:
        network = getattr(_build_policy(policy_class, observation_space, action_space, kwargs), attribute)
    try:
        network.load_state_dict(weights, strict=True)
    except RuntimeError as error:
        detail = " ".join(line.strip() for line in str(error).splitlines()[:2])
        raise AgentError(
            f"The checkpoint's weights do not fit a {checkpoint.algo.upper()} network for this game: {detail}"
        ) from None
    return QFunction(network, checkpoint.algo, checkpoint.n_actions)
