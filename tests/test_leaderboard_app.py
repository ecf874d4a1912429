"""The Leaderboard in the running app: a browser submits two agents, watches them leave the queue and finds them
ranked, and the same board after the app restarts (at 1280 px and 390 px); ``gradio_client`` calls ``/submit``
and ``/leaderboard``. A tiny protocol (2 games of at most 200 steps) keeps it quick."""

import re

import numpy as np
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError
from playwright.sync_api import expect

from tests.conftest import SPACE_VARIABLES, start_app
from tests.test_app import DESKTOP, PHONE, browser, screenshot  # noqa: F401 (browser: the fixture)

pytestmark = pytest.mark.slow

SETTINGS = {"ARENA_LEADERBOARD_GAMES": "2", "ARENA_LEADERBOARD_MAX_STEPS": "200"}
SPACE_INVADERS = "SpaceInvadersNoFrameskip-v4"
SUBMITTED = (f"tester/qrdqn-{SPACE_INVADERS}", f"sb3/dqn-{SPACE_INVADERS}")


class RestartableApp:
    """``python app.py`` as on a Space (where the board lives), on a data folder of its own, which a restart keeps."""

    def __init__(self, tmp_path_factory) -> None:
        self.factory, self.data = tmp_path_factory, tmp_path_factory.mktemp("leaderboard-data")
        self.running = None
        self.url = self.start()

    def start(self) -> str:
        self.running = start_app(self.factory, ARENA_DATA_DIR=str(self.data), **SPACE_VARIABLES, **SETTINGS)
        return next(self.running)

    def stop(self) -> None:
        next(self.running, None)

    def restart(self) -> None:
        self.stop()
        self.url = self.start()


@pytest.fixture(scope="module")
def leaderboard_app(hf_cache, tmp_path_factory):
    app = RestartableApp(tmp_path_factory)
    yield app
    app.stop()


def open_leaderboard(page, url: str) -> None:
    """The tab, from the tab bar, or on a phone from the tabs' overflow menu."""
    page.goto(url)
    expect(page.get_by_role("tab", name="Play")).to_be_visible(timeout=60_000)
    tab = page.get_by_role("tab", name="Leaderboard")
    if tab.count() and tab.first.is_visible():
        tab.first.click()
    else:
        page.get_by_role("button", name="More tabs").click()
        page.locator(".overflow-dropdown button", has_text="Leaderboard").click()
    expect(page.locator("#leaderboard-board")).to_be_visible()


def board_rows(page) -> list[list[str]]:
    """The board's cells as the page shows them, row by row (Gradio's table: ARIA rows, the first the header)."""
    rows = page.locator("#leaderboard-board [role=row]").all()[1:]
    return [[cell.inner_text().strip() for cell in row.get_by_role("gridcell").all()] for row in rows]


@pytest.mark.browser
def test_browser_submits_two_agents_finds_them_ranked_and_the_same_board_after_a_restart(
    leaderboard_app,
    browser,  # noqa: F811 (the fixture imported)
    tmp_path,
):
    page = browser.new_page(viewport=DESKTOP)
    open_leaderboard(page, leaderboard_app.url)
    for repo in SUBMITTED:
        page.get_by_label("Your agent's Hub repo").fill(repo)
        page.get_by_role("button", name="Submit", exact=True).click()
        expect(page.locator("#leaderboard-message")).to_contain_text(re.compile(rf"{repo} at \w+ is"), timeout=60_000)
    expect(page.locator("#leaderboard-queue")).to_contain_text(SUBMITTED[0])
    expect(page.locator("#leaderboard-queue")).not_to_contain_text("Space Invaders", timeout=240_000)  # all evaluated
    expect(page.locator("#leaderboard-board [role=row]")).to_have_count(
        4, timeout=30_000
    )  # header, and the random agent
    rows = board_rows(page)
    ranked = [next(repo for repo in (*SUBMITTED, "uniformly random agent") if repo in row[1]) for row in rows]
    assert [row[0] for row in rows] == ["1", "2", "3"] and set(SUBMITTED) <= set(ranked)
    # The right order: by the mean of the games the board publishes, computed here.
    published = Client(leaderboard_app.url, verbose=False).predict("SpaceInvaders", api_name="/leaderboard")["board"]
    means = {row["repo_id"]: np.mean(row["scores"]) for row in published}
    assert [means[repo] for repo in ranked] == sorted(means.values(), reverse=True)
    assert [row[4].split(" ±")[0] for row in rows] == [f"{means[repo]:.1f}" for repo in ranked]
    screenshot(page, tmp_path, "leaderboard-1280.png")

    # An entry opened: its games, seeds and the command that reruns it.
    top = next(row for row in published if row["repo_id"] == ranked[0])
    page.get_by_text("An entry: its games, seeds and best game").click()
    page.get_by_role("spinbutton", name="Entry (the board's last column)").fill(str(top["entry"]))
    page.get_by_role("button", name="Open", exact=True).click()
    expect(page.get_by_text(f"seeds {top['seeds'][0]}–{top['seeds'][-1]}, ε = {top['epsilon']:g}")).to_be_visible(
        timeout=30_000
    )
    expect(page.get_by_role("heading", name=re.compile(rf"Entry {top['entry']}: "))).to_be_visible()

    leaderboard_app.restart()
    for viewport in (DESKTOP, PHONE):
        page = browser.new_page(viewport=viewport)
        open_leaderboard(page, leaderboard_app.url)
        expect(page.locator("#leaderboard-board [role=row]")).to_have_count(4, timeout=30_000)
        assert board_rows(page) == rows
        screenshot(page, tmp_path, f"leaderboard-{viewport['width']}.png")


def test_submit_and_leaderboard_through_gradio_client(leaderboard_app):
    client = Client(leaderboard_app.url, verbose=False)
    receipt = client.predict(f"sb3/dqn-{SPACE_INVADERS}", "", api_name="/submit")
    assert receipt["entry"] >= 1 and re.search(rf"sb3/dqn-{SPACE_INVADERS} at \w+ ", receipt["message"])
    again = client.predict(f"sb3/dqn-{SPACE_INVADERS}", "SpaceInvaders", api_name="/submit")
    assert (again["new"], again["entry"]) == (False, receipt["entry"])
    with pytest.raises(AppError, match="is not a Hub repo id"):
        client.predict("not a repo", "", api_name="/submit")
    with pytest.raises(AppError, match="order must be one of"):
        client.predict("SpaceInvaders", "max", api_name="/leaderboard")
    board = client.predict("SpaceInvaders", "median", api_name="/leaderboard")
    assert board["protocol"] == "arena-v1-2games-cap200-eps0.01"
    ours = [row for row in board["board"] if row["entry"] == receipt["entry"]]
    if ours:  # evaluated already (the browser test's), else it is in the queue
        assert ours[0]["seeds"] and len(ours[0]["scores"]) == 2 and ours[0]["median"] == np.median(ours[0]["scores"])
    else:
        assert receipt["entry"] in [row["entry"] for row in board["queue"]]
    medians = [row["median"] for row in board["board"]]
    assert medians == sorted(medians, reverse=True) and [row["rank"] for row in board["board"]] == list(
        range(1, len(medians) + 1)
    )
