"""The Arena's fused environment against the RL Zoo's own: ``create_test_env`` (stock SB3 wrappers, ``DummyVecEnv``,
``VecFrameStack``) with SB3's ``VecTransposeImage``, as ``rl_zoo3.enjoy`` plays a model. Every observation, every
Monitor reward, the step the game ends on and its score must be the same, for several seeds and games, one fused
environment reused across the seeds, with the default AtariWrapper and with unusual settings."""

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
from rl_zoo3.utils import create_test_env
from stable_baselines3.common.vec_env import VecTransposeImage

from agents.core.environment import env_settings
from agents.core.fused_env import FusedAtariEnv

ROOT = Path(__file__).resolve().parents[1]
ATARI_WRAPPER = "stable_baselines3.common.atari_wrappers.AtariWrapper"


def rl_zoo_env(env_id: str, seed: int, config: dict, env_kwargs: dict):
    with contextlib.redirect_stdout(io.StringIO()):  # "Stacking 4 frames"
        env = create_test_env(
            env_id,
            n_envs=1,
            stats_path=str(ROOT),  # turns on the frame stack; nothing is read from it
            seed=seed,
            hyperparams={**config, "normalize": False},
            env_kwargs={**env_kwargs, "render_mode": "rgb_array"},  # ale-py 0.12.1: a second env without it can crash
        )
    return VecTransposeImage(env)


def play_both(fused: FusedAtariEnv, env_id: str, seed: int, config: dict, env_kwargs: dict, max_steps: int) -> str:
    """Play one game on both with the same actions (runs of one action, often changed at random, so that lives
    are lost and games end); fail at the first difference. Returns how the game ended."""
    reference = rl_zoo_env(env_id, seed, config, env_kwargs)
    rng = np.random.default_rng(seed)
    try:
        assert np.array_equal(reference.reset()[0], fused.reset(seed)), f"{env_id} seed {seed}: first observation"
        action = 0
        for step in range(max_steps):
            if rng.random() < 0.3:
                action = int(rng.integers(reference.action_space.n))
            expected, _, _, infos = reference.step(np.array([action]))
            observation, score = fused.step(action)
            where = f"{env_id} seed {seed} step {step}"
            assert ("episode" in infos[0]) == (score is not None), where
            if score is not None:
                assert score == infos[0]["episode"]["r"], where
                return "game over"
            assert np.array_equal(observation, expected[0]), where
            assert observation.strides == expected[0].strides, where  # the layout torch convolves (see FusedAtariEnv)
            assert fused.rewards == reference.get_attr("rewards")[0], where
        return "cap"
    finally:
        reference.close()


@pytest.mark.parametrize("env_id", ["BreakoutNoFrameskip-v4", "PongNoFrameskip-v4", "SpaceInvadersNoFrameskip-v4"])
def test_the_rl_zoos_games_observation_by_observation(env_id):
    config = {"env_wrapper": ATARI_WRAPPER, "frame_stack": 4}
    fused = FusedAtariEnv(env_settings(env_id, config, {}))
    ends = [play_both(fused, env_id, seed, config, {}, max_steps=400) for seed in (0, 1, 7)]
    if env_id == "BreakoutNoFrameskip-v4":
        assert "game over" in ends  # five lives lost: every reset path was taken


@pytest.mark.parametrize(
    ("env_id", "wrapper", "frame_stack", "env_kwargs"),
    [
        (  # no noops, two frames a step, a lost life not an episode's end, smaller frames, two stacked
            "BreakoutNoFrameskip-v4",
            {"noop_max": 0, "frame_skip": 2, "terminal_on_life_loss": False, "screen_size": 64},
            2,
            {},
        ),
        (  # SB3's sticky actions and the ALE's, three frames a step, no frame stack
            "SpaceInvadersNoFrameskip-v4",
            {"action_repeat_probability": 0.25, "frame_skip": 3},
            0,
            {"repeat_action_probability": 0.25},
        ),
        (  # every frame, all 18 actions, another mode and difficulty, and the emulator's frame cap ends the game
            "SpaceInvadersNoFrameskip-v4",
            {"frame_skip": 1, "noop_max": 5},
            1,
            {"full_action_space": True, "mode": 2, "difficulty": 1, "max_num_frames_per_episode": 300},
        ),
    ],
)
def test_unusual_settings_too(env_id, wrapper, frame_stack, env_kwargs):
    config = {"env_wrapper": {ATARI_WRAPPER: wrapper}, "frame_stack": frame_stack}
    fused = FusedAtariEnv(env_settings(env_id, config, env_kwargs))
    ends = [play_both(fused, env_id, seed, config, env_kwargs, max_steps=350) for seed in (3, 4)]
    if "max_num_frames_per_episode" in env_kwargs:
        assert ends == ["game over", "game over"]  # at frame 300, as the Monitor ends it
