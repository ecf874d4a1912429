"""After a visitor's game: their steps as a CSV, both games as MP4s with Play's panel, and the result.

The visitor's video is not recorded while they play (that would cost an encoder per game in real time): it
is drawn afterwards from a replay of their saved actions through Play's rollout, and the replay must give the
same frames (each step's fingerprint) and the same score as the live game, or the result is refused. The
agent's game is Play's, on the same seed, with Play's default exploration (ε = 0.01, as the RL Zoo scores).
"""

import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from agents.core.agent import Agent
from agents.core.errors import AgentError
from agents.play.rollout import play_episode
from agents.yourturn.session import LiveGame, replay_steps, use_one_torch_thread, write_video

AGENT_EPSILON = 0.01
KEEP_S = 3600  # how long a finished game's files and result wait for the page to fetch them
KEPT_GAMES = 64


@dataclass(frozen=True)
class GameResult:
    """A finished game: whose, on which seed, both scores, why it ended, and its files."""

    token: str
    game: str
    game_title: str
    repo_id: str
    seed: int
    score: float
    steps: int
    agent_score: float
    agent_steps: int
    ended: str
    agent_took_over: int  # steps the agent played for the visitor
    human_video: Path
    agent_video: Path
    csv: Path
    folder: Path
    finished_at: float

    def sentence(self) -> str:
        return f"You: {self.score:g} on seed {self.seed}. The agent, same seed: {self.agent_score:g}"


RECORDING_NICENESS = 10


def _yield_to_live_games() -> None:
    """Lower this thread's priority (Linux gives each thread its own; the ffmpeg it starts inherits it), so that
    recording a finished game never takes the cores from the games still being played. The thread is the
    recording's own and ends with it."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), RECORDING_NICENESS)
    except (AttributeError, OSError):
        pass  # not Linux: the recording shares the cores as it is


def finish(live: LiveGame, token: str, stop: threading.Event) -> GameResult:
    """Write the visitor's CSV and both videos (stopped by ``stop``: the folder is then removed)."""
    agent: Agent = live.agent
    use_one_torch_thread()
    _yield_to_live_games()
    folder = Path(tempfile.mkdtemp(prefix=f"yourturn-{token[:8]}-"))
    try:
        table = live.table()
        csv = folder / "your-steps.csv"
        table.to_csv(csv, index=False)
        actions = [int(action) for action in table["action"]]
        replayed: list[tuple[float, int]] = []

        def checked():
            for step, crc in replay_steps(agent, live.seed, actions, stop):
                replayed.append((step.score, crc))
                yield step

        human_video = write_video(agent, checked(), folder, "your-game.mp4", len(actions), stop)
        live_record = list(zip(table["score"], table["screen_crc32"], strict=True))
        if replayed != live_record:
            raise AgentError("The replay of your actions did not give the same game; nothing was recorded.")
        agent_steps: list = []

        def agent_game():
            for step in play_episode(agent.q_function, agent.settings, live.seed, AGENT_EPSILON, live.limits.max_steps):
                agent_steps.append(step.score)
                yield step

        agent_video = write_video(agent, agent_game(), folder, "agent-game.mp4", live.limits.max_steps, stop)
        return GameResult(
            token=token,
            game=agent.game.key,
            game_title=agent.game.title,
            repo_id=agent.repo_id,
            seed=live.seed,
            score=float(live.score),
            steps=live.steps,
            agent_score=float(agent_steps[-1]),
            agent_steps=len(agent_steps),
            ended=live.ended,
            agent_took_over=int((table["chosen_by"] == "agent").sum()),
            human_video=human_video,
            agent_video=agent_video,
            csv=csv,
            folder=folder,
            finished_at=time.time(),
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


class FinishedGames:
    """Finished games by token, for the tab to fetch (a token is unguessable: only its page knows it), each
    recorded on the human board at most once. Old ones are removed with their files."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._games: dict[str, GameResult] = {}
        self._claimed: set[str] = set()

    def add(self, result: GameResult) -> None:
        with self._lock:
            self._games[result.token] = result
            now = time.time()
            old = [t for t, r in self._games.items() if now - r.finished_at > KEEP_S]
            old += list(self._games)[: max(0, len(self._games) - len(old) - KEPT_GAMES)]
            for token in old:
                shutil.rmtree(self._games.pop(token).folder, ignore_errors=True)
                self._claimed.discard(token)

    def get(self, token: str) -> GameResult | None:
        with self._lock:
            return self._games.get(token)

    def claim(self, token: str) -> bool:
        """True the first time only: the game goes on the board once, however often its page asks."""
        with self._lock:
            if token not in self._games or token in self._claimed:
                return False
            self._claimed.add(token)
            return True


FINISHED = FinishedGames()
