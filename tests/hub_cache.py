"""Build a Hugging Face cache folder holding RL Zoo agent repos, made here with SB3.

The Hub cannot be reached from the test machines, so tests point ``HF_HUB_CACHE`` at a folder
laid out as ``huggingface_hub`` lays out its own cache (``models--OWNER--NAME/refs/main`` and
``snapshots/<commit>/<file>``) and run the real download code with ``HF_HUB_OFFLINE=1``.
"""

import hashlib
import io
import json
import zipfile
from pathlib import Path

import torch
from sb3_contrib import QRDQN
from stable_baselines3 import DQN

from agents.core.environment import env_settings, make_env

RL_ZOO_ATARI_CONFIG = """!!python/object/apply:collections.OrderedDict
- - - batch_size
    - 32
  - - buffer_size
    - 100000
  - - env_wrapper
    - - stable_baselines3.common.atari_wrappers.AtariWrapper
  - - exploration_final_eps
    - 0.01
  - - exploration_fraction
    - 0.1
  - - frame_stack
    - 4
  - - learning_rate
    - 0.0001
  - - learning_starts
    - 100000
  - - n_timesteps
    - 10000000.0
  - - optimize_memory_usage
    - false
  - - policy
    - CnnPolicy
  - - target_update_interval
    - 1000
  - - train_freq
    - 4
"""
RL_ZOO_ENV_KWARGS = "render_mode: rgb_array\n"


def atari_checkpoint(env_id: str, path: Path, algo: str = "dqn", seed: int = 0) -> Path:
    """Save a freshly initialised SB3 DQN (or QR-DQN) Atari agent, as ``model.save`` writes it."""
    env = make_env(
        env_settings(
            env_id, {"env_wrapper": "stable_baselines3.common.atari_wrappers.AtariWrapper", "frame_stack": 4}, {}
        ),
        seed,
    )
    algo_class = {"dqn": DQN, "qrdqn": QRDQN}[algo]
    kwargs = {"policy_kwargs": {"n_quantiles": 50}} if algo == "qrdqn" else {}
    model = algo_class("CnnPolicy", env, buffer_size=1, learning_starts=0, seed=seed, device="cpu", **kwargs)
    model.save(path)
    env.close()
    return Path(path)


def zip_with_weights(checkpoint_folder: Path, state_dict: dict[str, torch.Tensor], path: Path) -> Path:
    """Zip a real unzipped checkpoint (its ``data`` and version files) with ``policy.pth`` weights,
    in the order SB3 writes its members."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data", (checkpoint_folder / "data").read_bytes())
        buffer = io.BytesIO()
        torch.save(state_dict, buffer)
        archive.writestr("policy.pth", buffer.getvalue())
        for name in ("_stable_baselines3_version", "system_info.txt"):
            if (checkpoint_folder / name).exists():
                archive.writestr(name, (checkpoint_folder / name).read_bytes())
    return path


def add_repo(cache: Path, repo_id: str, files: dict[str, bytes | Path]) -> Path:
    """Put a model repo's files into a Hugging Face cache folder; returns its snapshot folder."""
    contents = {name: (value.read_bytes() if isinstance(value, Path) else value) for name, value in files.items()}
    commit = hashlib.sha1(
        json.dumps(sorted((n, hashlib.sha1(c).hexdigest()) for n, c in contents.items())).encode()
    ).hexdigest()
    repo_folder = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo_folder / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    for name, content in contents.items():
        (snapshot / name).write_bytes(content)
    (repo_folder / "refs").mkdir(exist_ok=True)
    (repo_folder / "refs" / "main").write_text(commit)
    return snapshot


def add_rl_zoo_repo(
    cache: Path,
    repo_id: str,
    env_id: str,
    model_zip: Path,
    algo: str = "dqn",
    mean_reward: float = 123.0,
    env_kwargs: str = RL_ZOO_ENV_KWARGS,
) -> Path:
    """An RL Zoo repo as ``rl_zoo3.push_to_hub`` lays it out, with ``model_zip`` as its checkpoint and
    ``env_kwargs`` as its ``env_kwargs.yml``."""
    results = {"mean_reward": mean_reward, "std_reward": 10.0, "is_deterministic": False, "n_eval_episodes": 10}
    return add_repo(
        cache,
        repo_id,
        {
            f"{algo}-{env_id}.zip": model_zip,
            "config.yml": RL_ZOO_ATARI_CONFIG.encode(),
            "env_kwargs.yml": env_kwargs.encode(),
            "results.json": json.dumps(results).encode(),
        },
    )
