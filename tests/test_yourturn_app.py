"""Your turn in the running app, played in Chromium: scripted key presses at 1280 px and the on-screen buttons at
390 px, each game's saved actions then replayed through the RL Zoo's own environment (frame for frame, and the
score); and a tab closed mid-game frees what its game held on the server within 5 s. Games are capped at 150
steps (10 s) to keep it short."""

import io
import json
import re
import time
import urllib.request

import pandas as pd
import pytest
from playwright.sync_api import expect

from tests.conftest import SPACE_VARIABLES, start_app
from tests.test_app import DESKTOP, PHONE, browser, screenshot  # noqa: F401 (browser: the fixture)
from tests.test_yourturn import replay_with_the_rl_zoo

pytestmark = [pytest.mark.slow, pytest.mark.browser]

STEPS = 150
SETTINGS = {"ARENA_YOURTURN_MAX_STEPS": str(STEPS), "ARENA_YOURTURN_GAMES": "2"}


@pytest.fixture(scope="module")
def yourturn_url(hf_cache, tmp_path_factory):
    yield from start_app(tmp_path_factory, **SPACE_VARIABLES, **SETTINGS)


def status(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/yourturn/status", timeout=10) as answer:
        return json.load(answer)


def open_yourturn(page, url: str) -> None:
    """The tab, from the tab bar, or on a phone from the tabs' overflow menu (six tabs do not fit at 390 px)."""
    page.goto(url)
    expect(page.get_by_role("tab", name="Play")).to_be_visible(timeout=60_000)
    tab = page.get_by_role("tab", name="Your turn")
    if tab.count() and tab.first.is_visible():
        tab.first.click()
    else:
        page.get_by_role("button", name="More tabs").click()
        page.locator(".overflow-dropdown button", has_text="Your turn").click()
    expect(page.locator("#yourturn-start")).to_be_visible()
    page.wait_for_function("window.arenaYourTurn !== undefined")  # the tab's script has run


def start(page, seed: int) -> dict:
    page.locator("#yourturn-seed input").fill(str(seed))
    page.locator("#yourturn-start").click()
    page.wait_for_function("window.arenaYourTurn?.stats.state === 'playing'", timeout=60_000)
    return page.evaluate("window.arenaYourTurn.stats.started")


def finished_steps(page, url: str, seed: int) -> tuple[pd.DataFrame, float]:
    """Once the game is over: the page's sentence, the CSV it offers, and the score the sentence says."""
    page.wait_for_function("window.arenaYourTurn.stats.state === 'over'", timeout=120_000)
    result = page.locator("#yourturn-result")
    expect(result).to_contain_text(re.compile(rf"You: -?[\d.]+ on seed {seed}\. The agent, same seed: -?[\d.]+"))
    score = float(re.search(r"You: (-?[\d.]+)", result.inner_text())[1])
    link = page.locator("#yourturn-csv a[href]")
    expect(link).to_be_visible(timeout=30_000)
    csv = page.request.get(link.first.get_attribute("href")).body()
    return pd.read_csv(io.BytesIO(csv)), score


def check_replay(started: dict, seed: int, table: pd.DataFrame, score: float) -> None:
    """The saved actions, through the RL Zoo's environment: the same frames, step by step, and the same score."""
    assert len(table) == STEPS
    crcs, replayed_score, _ = replay_with_the_rl_zoo(f"{started['game']}NoFrameskip-v4", seed, table["action"].tolist())
    assert crcs == table["screen_crc32"].tolist()
    assert replayed_score == score == table["score"].iloc[-1]


def names_played(started: dict, table: pd.DataFrame, who: str) -> set[str]:
    return {started["actions"][action] for action in table[table["chosen_by"] == who]["action"]}


def test_keyboard_game_at_1280_replays_frame_for_frame(yourturn_url, browser, tmp_path):  # noqa: F811
    page = browser.new_page(viewport=DESKTOP)
    open_yourturn(page, yourturn_url)
    started = start(page, seed=4)
    assert "FIRE" in started["controls"] and "RIGHT" in started["controls"]
    for key in ("Space", "ArrowRight", "ArrowLeft", "Space", "ArrowRight"):
        page.keyboard.down(key)
        time.sleep(0.4)
        page.keyboard.up(key)
    page.keyboard.press("a")  # the agent plays for a second, then the visitor again
    time.sleep(1.0)
    page.keyboard.press("a")
    page.keyboard.down("ArrowLeft")
    screenshot(page, tmp_path, "yourturn-1280.png")
    time.sleep(0.5)
    page.keyboard.up("ArrowLeft")
    assert page.evaluate("window.arenaYourTurn.stats.latencies.length") >= 5
    table, score = finished_steps(page, yourturn_url, 4)
    assert {"FIRE", "RIGHT", "LEFT"} <= names_played(started, table, "visitor")
    assert len(names_played(started, table, "agent")) >= 1
    check_replay(started, 4, table, score)
    board = page.locator("#yourturn-board")
    expect(board).to_contain_text("anonymous")


def test_on_screen_buttons_at_390_replay_frame_for_frame(yourturn_url, browser, tmp_path):  # noqa: F811
    page = browser.new_page(viewport=PHONE, has_touch=True)
    open_yourturn(page, yourturn_url)
    started = start(page, seed=7)
    expect(page.locator(".yt-pad")).to_be_in_viewport(ratio=1)  # the page brings the game and its buttons in sight
    time.sleep(1)  # once its smooth scroll is over
    for control in ("FIRE", "RIGHT", "LEFT", "RIGHT"):
        box = page.locator(f".yt-pad button[data-control={control}]").bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        time.sleep(0.4)
        page.mouse.up()
    page.locator(".yt-canvas").scroll_into_view_if_needed()
    screenshot(page, tmp_path, "yourturn-390.png")
    table, score = finished_steps(page, yourturn_url, 7)
    assert {"FIRE", "RIGHT", "LEFT"} <= names_played(started, table, "visitor")
    check_replay(started, 7, table, score)


def test_closing_the_tab_mid_game_frees_its_server_resources(yourturn_url, browser):  # noqa: F811
    page = browser.new_page(viewport=DESKTOP)
    open_yourturn(page, yourturn_url)
    before = status(yourturn_url)
    assert before["playing"] == before["threads"] == before["envs"] == 0
    start(page, seed=1)
    page.keyboard.press("ArrowRight")
    during = status(yourturn_url)
    assert during["playing"] == 1 and during["threads"] >= 1 and during["envs"] == 1
    page.close()
    closed = time.monotonic()
    while True:
        now = status(yourturn_url)
        freed = now["playing"] == now["threads"] == now["envs"] == 0
        if freed and now["process_threads"] <= before["process_threads"]:
            break
        assert time.monotonic() - closed < 5, f"still held 5 s after the tab closed: {now} (before: {before})"
        time.sleep(0.1)
    assert now["child_processes"] <= before["child_processes"]
