"""The live game's one connection: a websocket route on the app's own server, beside Gradio's.

Gradio's events (a queue, then server-sent events) answer in steps of tens of milliseconds and carry no key
presses back while a function runs; a websocket carries frames one way and keys the other on one connection,
within a millisecond on the server. The protocol (JSON text, and binary frames):

- page → server, first: ``{"type": "start", "game": "Breakout", "seed": 4, "stacked": false}``; then
  ``{"type": "keys", "bits": 9, "id": 17}`` whenever the held controls change (bits of
  :mod:`agents.yourturn.keys`; ``id`` counts the page's key messages) and ``{"type": "control", "agent": true}``
  to hand the game to the agent (``false`` takes it back).
- server → page: ``loading``, ``queued`` (place in line, and within how many seconds a game ends at the
  latest), ``started`` (the game's controls and pace), then per step a ``step`` message and two binary frames
  (:data:`agents.yourturn.session.HEADER`, then a JPEG of the game with the agent's panel), ``paused`` and
  ``resumed`` when the visitor is idle, ``finishing`` (both games being recorded), then ``over`` with the result's
  token, or ``error``; then it closes.

A closed connection stops its game (and the recording, if it was being made) and frees its environment and
threads within a step. At most ``Limits.games`` games (and recordings) run at once; the others wait in line.
"""

import asyncio
import os
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from agents.core.agent import load_agent
from agents.core.catalog import GAMES
from agents.core.errors import AgentError
from agents.core.numbers import MAX_SEED
from agents.play.episode import ATARI_FPS
from agents.yourturn.keys import ALL_BITS, controls_used
from agents.yourturn.results import FINISHED, finish
from agents.yourturn.session import Limits, LiveGame, open_envs

WS_PATH, STATUS_PATH = "/yourturn/ws", "/yourturn/status"
START_TIMEOUT_S = 30
QUEUE_NEWS_S = 1.0
MAX_QUEUED_FRAMES = 16  # 60 frames and 15 panels a second: a page 0.4 s behind loses frames, the game keeps its pace
THREAD_PREFIX = "yourturn-"
MAX_WAITING = 40  # as Gradio's queue: past this many in line, a visitor is told to come back


class Lobby:
    """Who plays and who waits: at most ``limits.games`` holders at once, the rest in line, first come first
    served. A holder keeps its place while its game is recorded."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self.holders: dict[object, LiveGame | None] = {}
        self.line: list[object] = []

    def join(self) -> object:
        """A place at the end of the line (refused when the line is full)."""
        ticket = object()
        with self._lock:
            if len(self.line) >= MAX_WAITING:
                raise AgentError(f"{MAX_WAITING} visitors are already waiting for a game: please come back later.")
            self.line.append(ticket)
        return ticket

    def try_start(self, ticket: object) -> bool:
        with self._lock:
            if self.line and self.line[0] is ticket and len(self.holders) < self.limits.games:
                self.line.pop(0)
                self.holders[ticket] = None
                return True
            return False

    def hold(self, ticket: object, live: LiveGame) -> None:
        with self._lock:
            self.holders[ticket] = live

    def leave(self, ticket: object) -> None:
        with self._lock:
            self.holders.pop(ticket, None)
            if ticket in self.line:
                self.line.remove(ticket)

    def news(self, ticket: object) -> dict[str, Any]:
        """For one in line: their place, and within how many seconds a game ends at the latest (its step cap)."""
        with self._lock:
            place = self.line.index(ticket) + 1 if ticket in self.line else 0
            lefts = sorted(live.seconds_left if live else self.limits.max_steps / 15 for live in self.holders.values())
        free_in = lefts[place - 1] if 0 < place <= len(lefts) else None
        return {
            "type": "queued",
            "position": place,
            "games": self.limits.games,
            "starts_within_s": None if free_in is None else round(free_in),
        }

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {"games": self.limits.games, "playing": len(self.holders), "waiting": len(self.line)}


LOBBY = Lobby(Limits.from_environment())


def _child_processes() -> int:
    """This process's children (ffmpeg while a game is recorded), from ``/proc`` where there is one."""
    me, count = str(os.getpid()), 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            count += stat.read_text().rsplit(")", 1)[1].split()[1] == me
        except (OSError, IndexError):
            continue
    return count


def status() -> dict[str, int]:
    """What the live games hold now: games and their threads (``yourturn-*``), who waits, and for a test's
    count, all of this process's threads and child processes."""
    threads = sum(thread.name.startswith(THREAD_PREFIX) for thread in threading.enumerate())
    totals = {"envs": open_envs(), "process_threads": threading.active_count(), "child_processes": _child_processes()}
    return LOBBY.counts() | {"threads": threads} | totals


async def _in_thread(name: str, function: Callable, *args: Any) -> Any:
    """``function(*args)`` in a named thread of its own (so that ``status`` counts it), awaited."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def run() -> None:
        try:
            outcome, error = function(*args), None
        except BaseException as caught:
            outcome, error = None, caught

        def settle() -> None:
            if future.cancelled():
                return
            future.set_exception(error) if error else future.set_result(outcome)

        loop.call_soon_threadsafe(settle)

    threading.Thread(target=run, name=f"{THREAD_PREFIX}{name}", daemon=True).start()
    return await asyncio.shield(future)


def _start_request(message: dict) -> tuple[str, int, bool]:
    game, seed = message.get("game"), message.get("seed", 0)
    if game not in GAMES:
        raise AgentError(f"Unknown game {game!r}: one of {', '.join(GAMES)}.")
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise AgentError(f"The seed must be a whole number from 0 to {MAX_SEED}.")
    return game, seed, bool(message.get("stacked", False))


async def _read(websocket: WebSocket, live: LiveGame) -> None:
    """The page's key presses and hand-overs, until it goes."""
    while True:
        message = await websocket.receive_json()
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "keys" and isinstance(message.get("bits"), int) and isinstance(message.get("id"), int):
            live.controls.keys(message["bits"] & ALL_BITS, message["id"])
        elif kind == "control":
            live.controls.hand_over(bool(message.get("agent")))


async def _write(websocket: WebSocket, outbox: asyncio.Queue) -> None:
    while True:
        item = await outbox.get()
        if isinstance(item, bytes):
            await websocket.send_bytes(item)
        else:
            await websocket.send_json(item)


def _sender(loop: asyncio.AbstractEventLoop, outbox: asyncio.Queue) -> Callable[[bytes | dict], None]:
    """What a game's thread calls to send: frames beyond :data:`MAX_QUEUED_FRAMES` waiting are dropped."""

    def put(item: bytes | dict) -> None:
        if isinstance(item, dict) or outbox.qsize() < MAX_QUEUED_FRAMES * 2:
            outbox.put_nowait(item)

    return lambda item: loop.call_soon_threadsafe(put, item)


async def play_socket(websocket: WebSocket) -> None:
    """One visitor's game, from the start message to the result (see the module's protocol)."""
    await websocket.accept()
    ticket: object | None = None
    stop_recording = threading.Event()
    live: LiveGame | None = None
    tasks: list[asyncio.Task] = []
    try:
        message = await asyncio.wait_for(websocket.receive_json(), START_TIMEOUT_S)
        game, seed, stacked = _start_request(message if isinstance(message, dict) else {})
        await websocket.send_json({"type": "loading", "game": game})
        agent = await _in_thread("load", load_agent, game)
        ticket = LOBBY.join()
        while not LOBBY.try_start(ticket):
            await websocket.send_json(LOBBY.news(ticket))
            try:  # a page that goes while in line leaves the line
                await asyncio.wait_for(websocket.receive_text(), QUEUE_NEWS_S)
            except TimeoutError:
                pass
        loop = asyncio.get_running_loop()
        outbox: asyncio.Queue = asyncio.Queue()
        token = secrets.token_urlsafe(16)
        hello = {
            "type": "started",
            "game": game,
            "title": agent.game.title,
            "repo": agent.repo_id,
            "seed": seed,
            "controls": controls_used(agent.action_names),
            "actions": list(agent.action_names),
            "fps": ATARI_FPS,  # every emulator frame (agents.yourturn.session)
            "max_steps": LOBBY.limits.max_steps,
            "idle_s": LOBBY.limits.idle_s,
        }
        live = LiveGame(agent, seed, LOBBY.limits, _sender(loop, outbox), stacked, hello)
        LOBBY.hold(ticket, live)
        tasks = [asyncio.create_task(_read(websocket, live)), asyncio.create_task(_write(websocket, outbox))]
        played = asyncio.create_task(_in_thread("game", live.play))
        done, _ = await asyncio.wait([played, *tasks], return_when=asyncio.FIRST_COMPLETED)
        if played not in done:  # the page went (or could not be written to): the game stops
            live.stop()
            await played
            return
        await played
        while not outbox.empty():  # the last frames, then the news
            await asyncio.sleep(0.01)
        if live.error is not None:
            raise live.error
        if live.steps == 0:
            raise AgentError("The game ended before its first step: there is nothing to record.")
        await websocket.send_json({"type": "finishing", "ended": live.ended, "score": live.score})
        recording = asyncio.create_task(_in_thread("record", finish, live, token, stop_recording))
        done, _ = await asyncio.wait([recording, tasks[0]], return_when=asyncio.FIRST_COMPLETED)
        if recording not in done:
            stop_recording.set()
            await asyncio.gather(recording, return_exceptions=True)
            return
        result = recording.result()
        FINISHED.add(result)
        await websocket.send_json(
            {
                "type": "over",
                "token": token,
                "sentence": result.sentence(),
                "score": result.score,
                "agent_score": result.agent_score,
                "ended": result.ended,
            }
        )
        await websocket.close()
    except (WebSocketDisconnect, RuntimeError, ConnectionError):
        pass  # the page went: everything is freed below
    except (AgentError, TimeoutError, ValueError) as error:
        await _say_error(websocket, str(error) or "No start message came.")
    except Exception as error:
        await _say_error(websocket, f"The game failed: {type(error).__name__}: {error}")
    finally:
        if live is not None:
            live.stop()
        stop_recording.set()
        for task in tasks:
            task.cancel()
        if ticket is not None:
            LOBBY.leave(ticket)


async def _say_error(websocket: WebSocket, message: str) -> None:
    try:
        await websocket.send_json({"type": "error", "message": message})
        await websocket.close()
    except Exception:
        pass


def register(app: FastAPI) -> None:
    """Add the live game's websocket and its status to ``app`` (Gradio's own FastAPI app, once launched)."""
    app.add_api_websocket_route(WS_PATH, play_socket)
    app.add_api_route(STATUS_PATH, status, methods=["GET"])
