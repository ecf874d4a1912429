"""The environment the RL Zoo's ``create_test_env`` builds for an Atari agent, as one object instead of fifteen.

``create_test_env`` stacks ale-py's ``AtariEnv``, gymnasium's checkers, SB3's ``Monitor``, the layers of SB3's
``AtariWrapper`` (sticky actions, noop reset, frame skip with a max over the last two frames, life loss as
episode end, fire on reset, grey 84×84 frames, reward clipping), ``DummyVecEnv``, ``VecFrameStack`` and the
channel-first ``VecTransposeImage`` SB3 adds when it loads a model. Each layer calls the next, copies its
observation and an ``info`` dict, and ``AtariEnv`` reads a full RGB screen after every emulator frame although
only the last two of each agent step are ever looked at.

:class:`FusedAtariEnv` does what those layers do, in their order, on the same emulator, the same random
stream and the same ``cv2`` calls, with none of that in between: each method below is one layer and says
which. The games are therefore the RL Zoo's, observation by observation (``tests/test_fused_env.py`` checks it
against ``create_test_env`` itself), at a fraction of the cost per step. One thing differs on purpose: after
game over nothing is reset (``DummyVecEnv`` would start a next game no one plays); a new game starts with
:meth:`FusedAtariEnv.reset` and its seed, on the same emulator, as a new ``create_test_env`` would.
"""

import functools
from collections.abc import Callable

import cv2
import gymnasium as gym
import numpy as np
from ale_py import Action, ALEInterface, LoggerMode, roms
from gymnasium import spaces
from gymnasium.utils import seeding

from agents.core.environment import ATARI_WRAPPER, EnvSettings
from agents.core.errors import AgentError

NOOP, FIRE = 0, 1


@functools.cache
def _rom_facts(rom: str, full_action_space: bool) -> tuple[tuple[Action, ...], tuple[int, int]]:
    """The game's actions as ``AtariEnv`` lists them and its screen's size, read once per process: reading them
    needs the ROM loaded (a tenth of a second; an emulator without one crashes when asked), and each game loads
    it again anyway when its seed is set."""
    ale = ALEInterface()
    ale.setLoggerMode(LoggerMode.Error)
    ale.loadROM(rom)
    actions = ale.getLegalActionSet() if full_action_space else ale.getMinimalActionSet()
    return tuple(actions), tuple(ale.getScreenDims())


class FusedAtariEnv:
    """One Atari game as ``create_test_env`` + ``VecTransposeImage`` play it, for one environment (not a VecEnv).

    :meth:`reset` with a seed starts the game that seed gives; :meth:`step` plays one agent step. Observations
    are ``(frame_stack, screen_size, screen_size)`` uint8, the newest frame last, a new array each time, laid out
    in memory as SB3's are: channels innermost (``VecFrameStack`` stacks on the last axis, ``VecTransposeImage``
    returns a transposed view). Torch keeps that layout and convolves it with other kernels than a contiguous
    array's, so the Q-values are stock SB3's to the last bit only from the same layout.
    """

    def __init__(self, settings: EnvSettings) -> None:
        kwargs = {**gym.spec(settings.env_id).kwargs, **settings.env_kwargs}
        wrapper = settings.env_wrapper[ATARI_WRAPPER] if isinstance(settings.env_wrapper, dict) else {}
        unsupported = {k: v for k, v in kwargs.items() if k in ("obs_type", "continuous", "sound_obs") and v}
        if kwargs.get("obs_type", "rgb") != "rgb" or not isinstance(kwargs.get("frameskip", 1), int) or unsupported:
            raise AgentError(f"{settings.env_id} is not an RGB Atari environment with a fixed frame skip.")
        # ale-py's AtariEnv.__init__, less the first ROM load (the seeded reset loads it again anyway)
        self.ale = ALEInterface()
        self.ale.setLoggerMode(LoggerMode.Error)
        self.ale.setFloat("repeat_action_probability", kwargs.get("repeat_action_probability", 0.25))
        if kwargs.get("max_num_frames_per_episode") is not None:
            self.ale.setInt("max_num_frames_per_episode", kwargs["max_num_frames_per_episode"])
        self.ale.setBool("sound_obs", False)
        self._rom = roms.get_rom_path(kwargs["game"])
        self._mode, self._difficulty = kwargs.get("mode"), kwargs.get("difficulty")
        self._frames_per_atari_step = kwargs.get("frameskip", 1)
        self._action_set, screen_dims = _rom_facts(self._rom, kwargs.get("full_action_space", False))
        self.np_random = np.random.default_rng()  # replaced by the seeded one at the first reset, as AtariEnv's
        self.action_meanings = [action.name for action in self._action_set]
        # SB3's AtariWrapper's arguments, with its defaults
        self._sticky = float(wrapper.get("action_repeat_probability", 0.0))
        self._noop_max = wrapper.get("noop_max", 30)
        self._skip = wrapper.get("frame_skip", 4)
        self._life_loss_ends = wrapper.get("terminal_on_life_loss", True)
        self._fire_reset = "FIRE" in self.action_meanings
        if self._fire_reset and (self.action_meanings[FIRE] != "FIRE" or len(self.action_meanings) < 3):
            raise AgentError(f"{settings.env_id}'s actions do not fit SB3's FireResetEnv: {self.action_meanings}.")
        if (self._sticky > 0 or self._noop_max > 0) and self.action_meanings[NOOP] != "NOOP":
            raise AgentError(f"{settings.env_id}'s first action is not NOOP, as SB3's AtariWrapper requires.")
        self._size = wrapper.get("screen_size", 84)
        self._screens = np.zeros((2, *screen_dims, 3), np.uint8)  # MaxAndSkipEnv's _obs_buffer
        self._stack = np.zeros((self._size, self._size, max(settings.frame_stack, 1)), np.uint8)  # VecFrameStack's
        self.observation_space = spaces.Box(0, 255, self._stack.shape[::-1], np.uint8)
        self.action_space = spaces.Discrete(len(self._action_set))
        self.rewards: list[float] = []  # the game's rewards so far, unclipped, one per frame (SB3's Monitor's)
        self.on_frame: Callable[[], None] | None = None  # called after each AtariEnv frame (Your turn shows them)

    def _load_game(self) -> None:
        """``AtariEnv.load_game``."""
        self.ale.loadROM(self._rom)
        if self._mode is not None:
            self.ale.setMode(self._mode)
        if self._difficulty is not None:
            self.ale.setDifficulty(self._difficulty)

    # The layers, innermost first.

    def _atari_reset(self, seed: int | None) -> np.ndarray:
        """StickyActionEnv.reset, Monitor.reset, AtariEnv.reset: the seed, if any, seeds both the emulator and
        the random stream the wrappers draw from (``AtariEnv.seed_game``), then the ROM is loaded again."""
        self._sticky_action = NOOP
        self.rewards = []
        self._episode_over = False
        if seed is not None:
            np_seed, ale_seed = np.random.SeedSequence(seed).generate_state(n_words=2)
            self.np_random, _ = seeding.np_random(int(np_seed))
            self.ale.setInt("random_seed", np.int32(ale_seed))
            self._load_game()
        self.ale.reset_game()
        return self.ale.getScreenRGB()

    def _frame(self, action: int) -> tuple[bool, bool]:
        """StickyActionEnv.step, Monitor.step, AtariEnv.step: one AtariEnv step, its screen left unread."""
        if self._sticky <= 0 or self.np_random.random() >= self._sticky:  # no draw without StickyActionEnv
            self._sticky_action = action
        ale_action = self._action_set[self._sticky_action]
        reward = 0.0
        for _ in range(self._frames_per_atari_step):
            reward += self.ale.act(ale_action, 1.0)
        terminated, truncated = self.ale.game_over(with_truncation=False), self.ale.game_truncated()
        self.rewards.append(float(reward))
        self._episode_over = terminated or truncated
        if self.on_frame is not None:
            self.on_frame()
        return terminated, truncated

    def _noop_reset(self, seed: int | None) -> np.ndarray:
        """NoopResetEnv.reset: 1 to ``noop_max`` NOOP frames, drawn from the game's random stream."""
        screen = self._atari_reset(seed)
        if self._noop_max <= 0:
            return screen
        for _ in range(self.np_random.integers(1, self._noop_max + 1)):
            if any(self._frame(NOOP)):
                self._atari_reset(seed)
        return self.ale.getScreenRGB()

    def _skip_step(self, action: int) -> tuple[np.ndarray, bool, bool]:
        """MaxAndSkipEnv.step: the action for ``frame_skip`` frames, the max of the last two screens (kept between
        steps, as its buffer is, when the game ends earlier)."""
        if self._skip <= 1:
            terminated, truncated = self._frame(action)
            return self.ale.getScreenRGB(), terminated, truncated
        terminated = truncated = False
        for i in range(self._skip):
            terminated, truncated = self._frame(action)
            if i >= self._skip - 2:
                self.ale.getScreenRGB(self._screens[i - self._skip + 2])
            if terminated or truncated:
                break
        return np.maximum(self._screens[0], self._screens[1]), terminated, truncated

    def _life_step(self, action: int) -> tuple[np.ndarray, bool, bool]:
        """EpisodicLifeEnv.step: a lost life ends the episode (not the game)."""
        screen, terminated, truncated = self._skip_step(action)
        if self._life_loss_ends:
            self._was_real_done = terminated or truncated
            lives = self.ale.lives()
            if 0 < lives < self._lives:
                terminated = True
            self._lives = lives
        return screen, terminated, truncated

    def _life_reset(self, seed: int | None) -> np.ndarray:
        """EpisodicLifeEnv.reset: after a lost life, one NOOP step instead of a new game."""
        if not self._life_loss_ends:
            return self._noop_reset(seed)
        if self._was_real_done:
            screen = self._noop_reset(seed)
        else:
            screen, terminated, truncated = self._skip_step(NOOP)
            if terminated or truncated:
                screen = self._noop_reset(seed)
        self._lives = self.ale.lives()
        return screen

    def _fire_reset_chain(self, seed: int | None) -> np.ndarray:
        """FireResetEnv.reset (for games with FIRE): FIRE, then action 2, each restarting if it ends."""
        if not self._fire_reset:
            return self._life_reset(seed)
        self._life_reset(seed)
        for action in (FIRE, 2):
            screen, terminated, truncated = self._life_step(action)
            if terminated or truncated:
                self._life_reset(seed)
        return screen

    def _warp(self, screen: np.ndarray) -> np.ndarray:
        """WarpFrame.observation."""
        grey = cv2.cvtColor(screen, cv2.COLOR_RGB2GRAY)
        return cv2.resize(grey, (self._size, self._size), interpolation=cv2.INTER_AREA)

    # DummyVecEnv, VecFrameStack and VecTransposeImage.

    def reset(self, seed: int) -> np.ndarray:
        """A new game, as a new ``create_test_env(..., seed=seed)`` starts it; its first observation."""
        self._screens[:] = 0
        self._lives, self._was_real_done = 0, True
        self._stack[:] = 0
        self._stack[..., -1] = self._warp(self._fire_reset_chain(seed))
        return self._observation()

    def step(self, action: int) -> tuple[np.ndarray, float | None]:
        """One agent step: the next observation, and the game's score (the Monitor's episode return, unclipped)
        if the game ended in it (game over or the emulator's frame cap), else None. After a lost life the
        episode restarts inside the step, as DummyVecEnv restarts it, and the stack starts again from zeros."""
        screen, terminated, truncated = self._life_step(action)
        if self._episode_over:
            return self._observation(), round(sum(self.rewards), 6)
        if terminated or truncated:
            screen = self._fire_reset_chain(None)
            self._stack[:] = 0
        else:
            self._stack[..., :-1] = self._stack[..., 1:]
        self._stack[..., -1] = self._warp(screen)
        return self._observation(), None

    def _observation(self) -> np.ndarray:
        """VecTransposeImage's view of the stack (a copy of it: the stack changes at the next step)."""
        return self._stack.copy().transpose(2, 0, 1)
