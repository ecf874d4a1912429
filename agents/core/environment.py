"""Build an agent's Atari environment the way the RL Zoo does, from the repo's YAML files.

``config.yml`` names the environment wrapper and the frame stack the agent was trained with, and
``env_kwargs.yml`` the arguments of the environment itself. The RL Zoo reads both with PyYAML's
``UnsafeLoader`` and imports whatever wrapper class they name; these files come from strangers,
so here they are read with a safe loader that understands only the ``OrderedDict`` tag the RL Zoo
writes, and the wrapper is checked against an allow list before the RL Zoo's own
``create_test_env`` builds the environment. Channel order is then fixed as SB3 does when it
loads a model (``VecTransposeImage``), so the agent sees exactly what it saw in training.
"""

import contextlib
import functools
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ale_py
import gymnasium as gym
import yaml
from rl_zoo3.utils import create_test_env
from stable_baselines3.common.preprocessing import is_image_space, is_image_space_channels_first
from stable_baselines3.common.vec_env import VecEnv, VecTransposeImage

from agents.core.errors import AgentError

gym.register_envs(ale_py)

MAX_YAML_BYTES = 256 * 1024
ATARI_WRAPPER = "stable_baselines3.common.atari_wrappers.AtariWrapper"
ATARI_WRAPPER_KWARGS = {
    "noop_max": int,
    "frame_skip": int,
    "screen_size": int,
    "terminal_on_life_loss": bool,
    "clip_reward": bool,
    "action_repeat_probability": float,
}
ENV_KWARGS = {
    "repeat_action_probability": float,
    "full_action_space": bool,
    "mode": int,
    "difficulty": int,
    "max_num_frames_per_episode": int,
    "render_mode": str,
}
MAX_FRAME_STACK = 16


class _RLZooYamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader, plus the one Python tag the RL Zoo writes: an OrderedDict of pairs."""


def _ordered_dict(loader: _RLZooYamlLoader, node: yaml.Node) -> dict:
    (pairs,) = loader.construct_sequence(node, deep=True)
    if not all(isinstance(pair, list) and len(pair) == 2 for pair in pairs):
        raise yaml.constructor.ConstructorError(None, None, "an OrderedDict must be a list of pairs", node.start_mark)
    return {key: value for key, value in pairs}


_RLZooYamlLoader.add_constructor("tag:yaml.org,2002:python/object/apply:collections.OrderedDict", _ordered_dict)


def read_rl_zoo_yaml(path: Path | None) -> dict[str, Any]:
    """Read an RL Zoo YAML file (``config.yml``, ``env_kwargs.yml``) without running any of it."""
    if path is None:
        return {}
    text = Path(path).read_bytes()
    if len(text) > MAX_YAML_BYTES:
        raise AgentError(f"{Path(path).name} is {len(text)} bytes: too large to be an RL Zoo file.")
    try:
        content = yaml.load(text, Loader=_RLZooYamlLoader)
    except yaml.YAMLError as error:
        raise AgentError(
            f"{Path(path).name} is not plain RL Zoo YAML and was not loaded: {str(error).splitlines()[0]}"
        ) from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise AgentError(f"{Path(path).name} is not a mapping of settings.")
    return content


def _checked(settings: dict[str, Any], allowed: dict[str, type], where: str) -> dict[str, Any]:
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        raise AgentError(f"{where} has settings the Arena does not allow: {', '.join(map(str, unknown))}.")
    for key, value in settings.items():
        kind = allowed[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            if not (kind is float and isinstance(value, int) and not isinstance(value, bool)):
                raise AgentError(f"{where}: {key} should be a {kind.__name__}, not {value!r}.")
    return settings


def _atari_wrapper_setting(config: dict[str, Any]) -> Any:
    """The config's ``env_wrapper``, accepted only if it is SB3's AtariWrapper with sane arguments."""
    wrapper = config.get("env_wrapper")
    entries = wrapper if isinstance(wrapper, list) else [wrapper]
    if len(entries) != 1:
        raise AgentError("config.yml must name exactly one env_wrapper, SB3's AtariWrapper.")
    entry = entries[0]
    name, kwargs = next(iter(entry.items())) if isinstance(entry, dict) and len(entry) == 1 else (entry, {})
    if name != ATARI_WRAPPER:
        raise AgentError(
            f"config.yml asks for the environment wrapper {name!r}; the Arena only builds Atari agents "
            f"wrapped with {ATARI_WRAPPER}."
        )
    kwargs = _checked(kwargs or {}, ATARI_WRAPPER_KWARGS, "The AtariWrapper arguments in config.yml")
    if not 1 <= kwargs.get("frame_skip", 4) <= 8 or not 1 <= kwargs.get("screen_size", 84) <= 256:
        raise AgentError("config.yml's AtariWrapper frame_skip or screen_size is out of range.")
    return {ATARI_WRAPPER: kwargs} if kwargs else ATARI_WRAPPER


@dataclass(frozen=True)
class EnvSettings:
    """The checked settings an environment is built from."""

    env_id: str
    env_wrapper: Any
    frame_stack: int
    env_kwargs: dict[str, Any]

    @property
    def frame_skip(self) -> int:
        return self.env_wrapper[ATARI_WRAPPER].get("frame_skip", 4) if isinstance(self.env_wrapper, dict) else 4


@functools.lru_cache(maxsize=64)
def game_variations(env_id: str) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """The game modes and difficulties the emulator has for ``env_id``'s ROM, from the ALE itself, or None
    if ``env_id`` is not an ALE game (making it then fails with gymnasium's own words)."""
    try:
        game = gym.spec(env_id).kwargs.get("game")
    except gym.error.Error:
        return None
    if not game:
        return None
    ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)
    ale = ale_py.ALEInterface()
    ale.loadROM(ale_py.roms.get_rom_path(game))
    return tuple(ale.getAvailableModes()), tuple(ale.getAvailableDifficulties())


def _check_variation(env_id: str, kwargs: dict[str, Any]) -> None:
    """A ``mode`` or ``difficulty`` the game has, or an AgentError naming the valid ones (the ALE's own
    refusal, once the environment is being made, is a bare ``RuntimeError: Invalid game mode requested``)."""
    if "mode" not in kwargs and "difficulty" not in kwargs:
        return
    variations = game_variations(env_id)
    if variations is None:
        return
    for key, valid in zip(("mode", "difficulty"), variations, strict=True):
        if key in kwargs and kwargs[key] not in valid:
            raise AgentError(
                f"env_kwargs.yml asks for {key} {kwargs[key]}, which {env_id} does not have: its "
                f"{'modes' if key == 'mode' else 'difficulties'} are {', '.join(map(str, valid))}."
            )


def env_settings(env_id: str, config: dict[str, Any], env_kwargs: dict[str, Any]) -> EnvSettings:
    """Check an agent's RL Zoo settings and keep only what building its environment needs."""
    frame_stack = config.get("frame_stack", 0)
    if not isinstance(frame_stack, int) or isinstance(frame_stack, bool) or not 0 <= frame_stack <= MAX_FRAME_STACK:
        raise AgentError(f"config.yml's frame_stack must be a whole number from 0 to {MAX_FRAME_STACK}.")
    if config.get("normalize") or config.get("vec_env_wrapper"):
        raise AgentError("config.yml asks for observation normalisation or a VecEnv wrapper: not an Atari DQN agent.")
    kwargs = _checked(dict(env_kwargs), ENV_KWARGS, "env_kwargs.yml")
    _check_variation(env_id, kwargs)
    kwargs["render_mode"] = "rgb_array"
    return EnvSettings(env_id, _atari_wrapper_setting(config), frame_stack, kwargs)


def make_env(settings: EnvSettings, seed: int) -> VecEnv:
    """One environment, built by the RL Zoo's ``create_test_env`` as ``rl_zoo3.enjoy`` builds it."""
    hyperparams = {"env_wrapper": settings.env_wrapper, "frame_stack": settings.frame_stack, "normalize": False}
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # it prints "Stacking 4 frames"
            env = create_test_env(
                settings.env_id,
                n_envs=1,
                # A stats path turns on the frame stack; with normalize False nothing is read from it.
                stats_path=str(Path.cwd()),
                seed=seed,
                hyperparams=hyperparams,
                env_kwargs=settings.env_kwargs,
            )
    except gym.error.Error as error:
        raise AgentError(f"Could not build {settings.env_id}: {error}") from None
    if is_image_space(env.observation_space) and not is_image_space_channels_first(env.observation_space):
        env = VecTransposeImage(env)
    return env
