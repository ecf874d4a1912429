"""Your turn's live game over its websocket, without a browser: the protocol, the replay of the saved actions
through the RL Zoo's own environment (frame for frame, and the score), the line of visitors, idleness, and a
dropped connection freeing what the game held. Games of a few dozen steps keep it quick."""

import json
import tempfile
import threading
import time
import zlib

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from fastapi import FastAPI
from fastapi.testclient import TestClient
from rl_zoo3.utils import create_test_env
from stable_baselines3.common.atari_wrappers import MaxAndSkipEnv

from agents.core.agent import load_agent
from agents.core.errors import AgentError
from agents.yourturn import __main__ as yourturn_cli
from agents.yourturn import human_board, route
from agents.yourturn.keys import FIRE, LEFT, RIGHT, UP, key_map
from agents.yourturn.results import FINISHED
from agents.yourturn.session import GAME_FRAME, HEADER, PANEL, Limits, use_one_torch_thread


@pytest.fixture
def client(monkeypatch, tmp_path):
    monkeypatch.setenv("ARENA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(route, "LOBBY", route.Lobby(Limits(games=1, max_steps=40, idle_s=30)))
    monkeypatch.setattr(route, "MAX_QUEUED_FRAMES", 100_000)  # a test reading slowly on a busy machine gets them all
    app = FastAPI()
    route.register(app)
    with TestClient(app) as test_client:
        # This process's other children (the apps a whole test session starts) are not the games'.
        test_client.children_before = route.status()["child_processes"]
        yield test_client


def receive_until(ws, kind: str, frames: list | None = None, limit: int = 2000) -> dict:
    """Messages until one of ``kind``; binary frames go to ``frames``."""
    for _ in range(limit):
        message = ws.receive()
        if message.get("bytes") is not None:
            if frames is not None:
                frames.append(message["bytes"])
            continue
        if message.get("type") == "websocket.close":
            raise AssertionError(f"closed before {kind}")
        news = json.loads(message["text"])
        if news["type"] == kind:
            return news
        if news["type"] == "error":
            raise AssertionError(news["message"])
    raise AssertionError(f"no {kind} message")


def wait_until_free(client: TestClient, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = route.status()
        held = status["playing"] + status["waiting"] + status["threads"] + status["envs"]
        if held == 0 and status["child_processes"] <= client.children_before:
            return status
        time.sleep(0.05)
    raise AssertionError(f"still held after {timeout} s: {route.status()} {[t.name for t in threading.enumerate()]}")


def replay_with_the_rl_zoo(env_id: str, seed: int, actions: list[int]) -> tuple[list[int], float, list[np.ndarray]]:
    """The actions through ``rl_zoo3``'s own test environment (as ``rl_zoo3.enjoy`` builds it), not the Arena's
    code: each step's screen fingerprint, the score (the Monitor's unclipped rewards), and each step's last two
    frames pooled as SB3's ``MaxAndSkipEnv`` pools them."""
    env = create_test_env(
        env_id,
        n_envs=1,
        stats_path=".",
        seed=seed,
        hyperparams={
            "env_wrapper": "stable_baselines3.common.atari_wrappers.AtariWrapper",
            "frame_stack": 4,
            "normalize": False,
        },
        env_kwargs={"render_mode": "rgb_array"},
    )
    ale = env.get_attr("ale")[0]
    max_and_skip = env.venv.envs[0]
    while not isinstance(max_and_skip, MaxAndSkipEnv):
        max_and_skip = max_and_skip.env
    env.reset()
    crcs, score, pooled = [], 0.0, []
    for action in actions:
        _, _, _, infos = env.step(np.array([action]))
        crcs.append(zlib.crc32(np.ascontiguousarray(ale.getScreenRGB()).data))
        pooled.append(max_and_skip._obs_buffer.max(axis=0))
        score = infos[0]["episode"]["r"] if "episode" in infos[0] else float(sum(env.get_attr("rewards")[0]))
    env.close()
    return crcs, score, pooled


def test_a_game_over_the_websocket_replays_frame_for_frame_through_the_rl_zoo(client, capsys, tmp_path):
    frames: list[bytes] = []
    with client.websocket_connect(route.WS_PATH) as ws:
        ws.send_json({"type": "start", "game": "Breakout", "seed": 3})
        started = receive_until(ws, "started")
        assert started["controls"] == ["LEFT", "RIGHT", "FIRE"] and started["fps"] == 60
        for key_id, bits in enumerate([FIRE, RIGHT, RIGHT | UP, LEFT, 0], start=1):
            ws.send_json({"type": "keys", "bits": bits, "id": key_id})
            receive_until(ws, "step", frames)
            receive_until(ws, "step", frames)
        ws.send_json({"type": "control", "agent": True})
        finishing = receive_until(ws, "finishing", frames)
        over = receive_until(ws, "over", frames)
    assert finishing["ended"] == "step cap"
    # Each step, the agent's panel (a JPEG) and its four emulator frames (PNGs), answering the key messages in order.
    headers = [HEADER.unpack(frame[: HEADER.size]) for frame in frames]
    kinds = [kind for kind, *_ in headers]
    assert kinds == [PANEL, *[GAME_FRAME] * 4] * 40
    magic = {PANEL: b"\xff\xd8", GAME_FRAME: b"\x89PNG"}
    assert all(frame[HEADER.size :].startswith(magic[kind]) for frame, kind in zip(frames, kinds, strict=True))
    answered = [answers for kind, _, answers, _ in headers if kind == GAME_FRAME]
    assert answered == sorted(answered) and answered[-1] == 5
    assert [number for kind, number, _, _ in headers if kind == GAME_FRAME] == list(range(1, 161))
    assert started["layout"] == {"size": [692, 420], "game": [0, 0, 320, 420], "panel": [320, 0, 372, 420]}
    result = FINISHED.get(over["token"])
    table = pd.read_csv(result.csv)
    assert len(table) == 40 and set(table["chosen_by"]) == {"visitor", "agent"}
    assert {"action", "chosen_by", "reward", "score", "q_NOOP", "q_FIRE", "q_RIGHT", "q_LEFT"} <= set(table.columns)
    agent = load_agent("Breakout")
    visitor = table[table["chosen_by"] == "visitor"]["action"].tolist()
    assert set(visitor) <= {agent.action_names.index(name) for name in ("NOOP", "FIRE", "RIGHT", "LEFT")}
    crcs, score, pooled = replay_with_the_rl_zoo(agent.settings.env_id, 3, table["action"].tolist())
    assert crcs == table["screen_crc32"].tolist() and score == result.score == table["score"].iloc[-1]
    # Each frame shown is pooled with the one before it: a step's last is the RL Zoo's own pooled frame.
    shown = [frame[HEADER.size :] for frame, kind in zip(frames, kinds, strict=True) if kind == GAME_FRAME]
    for step, expected in enumerate(pooled):
        png = np.frombuffer(shown[4 * step + 3], np.uint8)
        assert np.array_equal(cv2.cvtColor(cv2.imdecode(png, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB), expected), step
    assert over["sentence"] == f"You: {result.score:g} on seed 3. The agent, same seed: {result.agent_score:g}"
    assert result.human_video.stat().st_size > 1000 and result.agent_video.stat().st_size > 1000
    wait_until_free(client)
    # The command line replays the saved game through Play's pipeline: the same game; one action changed, not.
    capsys.readouterr()  # what the RL Zoo printed above ("Stacking 4 frames")
    assert yourturn_cli.main(["replay", str(result.csv), "--game", "Breakout", "--seed", "3"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["same_game"] and answer["steps"] == 40 and answer["score"] == result.score
    table.loc[4:, "action"] = [3 if action != 3 else 2 for action in table.loc[4:, "action"]]  # LEFT, else RIGHT
    table.to_csv(tmp_path / "changed.csv", index=False)
    assert yourturn_cli.main(["replay", str(tmp_path / "changed.csv"), "--game", "Breakout", "--seed", "3"]) == 1
    assert json.loads(capsys.readouterr().out)["first_different_step"] >= 4


def test_one_torch_thread_for_a_game_leaves_the_process_as_it_was():
    torch.ones(1) + 1  # this thread has run an operation: its count is its own from now on
    before, seen = torch.get_num_threads(), {}

    def game_thread() -> None:
        use_one_torch_thread()
        seen["game"] = torch.get_num_threads()

    def later_thread() -> None:
        seen["later"] = torch.get_num_threads()

    for target in (game_thread, later_thread):
        thread = threading.Thread(target=target)
        thread.start()
        thread.join()
    assert seen == {"game": 1, "later": before} and torch.get_num_threads() == before


def test_keys_map_to_the_games_own_actions():
    breakout = ("NOOP", "FIRE", "RIGHT", "LEFT")
    mapping = key_map(breakout)
    assert [breakout[mapping[bits]] for bits in (0, UP, UP | RIGHT, FIRE | LEFT, LEFT)] == [
        "NOOP",
        "NOOP",
        "RIGHT",
        "FIRE",
        "LEFT",
    ]


def test_a_dropped_connection_frees_the_game_and_the_next_in_line_starts(client):
    with client.websocket_connect(route.WS_PATH) as first:
        first.send_json({"type": "start", "game": "Breakout", "seed": 0})
        receive_until(first, "started")
        with client.websocket_connect(route.WS_PATH) as second:
            second.send_json({"type": "start", "game": "Breakout", "seed": 1})
            queued = receive_until(second, "queued")
            assert queued["position"] == 1 and 0 < queued["starts_within_s"] <= 40 / 15 + 1
            assert route.status()["playing"] == 1 and route.status()["threads"] >= 1
            first.close()
            receive_until(second, "started")
            second.close()
    wait_until_free(client)


def test_a_page_gone_while_its_game_is_recorded_stops_the_recording_and_its_ffmpeg(client, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the recording's folder goes
    with client.websocket_connect(route.WS_PATH) as ws:
        ws.send_json({"type": "start", "game": "Breakout", "seed": 2})
        receive_until(ws, "finishing")
        deadline = time.monotonic() + 10
        while not list(tmp_path.glob("yourturn-*/*.mp4")) and time.monotonic() < deadline:
            time.sleep(0.01)  # the recording has begun: its ffmpeg is running
        assert route.status()["child_processes"] > client.children_before
    status = wait_until_free(client)
    assert status["child_processes"] <= client.children_before and list(tmp_path.glob("yourturn-*")) == []


def test_an_idle_game_pauses_then_ends(client, monkeypatch):
    monkeypatch.setattr(route, "LOBBY", route.Lobby(Limits(games=1, max_steps=1000, idle_s=0.6)))
    with client.websocket_connect(route.WS_PATH) as ws:
        ws.send_json({"type": "start", "game": "Breakout", "seed": 0})
        receive_until(ws, "paused")
        assert receive_until(ws, "finishing")["ended"] == "idle"
        receive_until(ws, "over")
    wait_until_free(client)


def test_a_bad_start_is_refused(client):
    with client.websocket_connect(route.WS_PATH) as ws:
        ws.send_json({"type": "start", "game": "Tetris", "seed": 0})
        message = ws.receive_json()
    assert message["type"] == "error" and "Unknown game" in message["message"]
    wait_until_free(client)


def test_the_human_board_is_per_game_and_best_first(tmp_path):
    url = f"sqlite:///{tmp_path / 'board.sqlite3'}"
    human_board.record("Breakout", "alice", 1, 5, 100, 9, 0, url=url)
    human_board.record("Breakout", "", 2, 12, 100, 3, 10, url=url)
    human_board.record("Pong", "bob", 1, 99, 100, 3, 0, url=url)
    rows = human_board.board("Breakout", url=url)
    assert [(row["rank"], row["name"], row["score"]) for row in rows] == [(1, "anonymous", 12), (2, "alice", 5)]


def test_the_line_is_bounded_and_first_come_first_served():
    lobby = route.Lobby(Limits(games=1, max_steps=150, idle_s=60))
    tickets = [lobby.join() for _ in range(route.MAX_WAITING)]
    with pytest.raises(AgentError, match="already waiting"):
        lobby.join()
    assert not lobby.try_start(tickets[1]) and lobby.try_start(tickets[0]) and not lobby.try_start(tickets[1])
    assert lobby.news(tickets[1]) == {"type": "queued", "position": 1, "games": 1, "starts_within_s": 10}
    lobby.leave(tickets[0])
    assert lobby.try_start(tickets[1])
