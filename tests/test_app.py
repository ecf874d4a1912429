"""The running app, called as users call it: through gradio_client and in a real browser."""

import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError
from playwright.sync_api import expect

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture
def page():
    """A page in Debian's Chromium, driven by Playwright (the browser is not downloaded)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser.new_page(viewport={"width": 1400, "height": 1000})
        browser.close()


@pytest.fixture(scope="module")
def client(app_url) -> Client:
    return Client(app_url, verbose=False)


def probe_frames(video: str) -> int:
    command = ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-print_format", "json"]
    output = subprocess.run([*command, "-show_entries", "stream=nb_read_frames,codec_name", video], capture_output=True)
    stream = json.loads(output.stdout)["streams"][0]
    assert stream["codec_name"] == "h264"
    return int(stream["nb_read_frames"])


def test_play_endpoint_returns_a_playable_video_the_csv_and_a_summary(client):
    video, csv, summary = client.predict(
        game="SpaceInvaders", repo_id="", seed=5, epsilon=0.01, max_steps=150, agent_view=False, api_name="/play"
    )
    assert summary["game"] == "SpaceInvaders" and summary["steps"] == 150 and summary["seed"] == 5
    assert Path(video).suffix == ".mp4" and probe_frames(video) == 150
    table = pd.read_csv(csv)
    assert len(table) == 150 and "q_FIRE" in table.columns


def test_play_endpoint_is_listed_in_the_api(client):
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert "/play" in endpoints
    names = [p["parameter_name"] for p in endpoints["/play"]["parameters"]]
    assert names == ["game", "repo_id", "seed", "epsilon", "max_steps", "agent_view"]


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"game": "Tetris"}, "Unknown game 'Tetris'"),
        ({"repo_id": "not a repo"}, "is not a Hub repo id"),
        (
            {"repo_id": "nobody/dqn-SpaceInvadersNoFrameskip-v4"},
            "nobody/dqn-SpaceInvadersNoFrameskip-v4.*not in the local",
        ),
        ({"game": "Breakout", "repo_id": "sb3/dqn-BreakoutNoFrameskip-v4", "max_steps": 10**7}, "Max steps must be"),
        ({"epsilon": 7.0}, "Epsilon is a probability"),
        ({"seed": -3}, "seed must be"),
    ],
)
def test_bad_inputs_get_a_clear_error_and_the_app_keeps_serving(client, inputs, message):
    arguments = {
        "game": "SpaceInvaders",
        "repo_id": "",
        "seed": 0,
        "epsilon": 0.0,
        "max_steps": 20,
        "agent_view": False,
    }
    with pytest.raises(AppError, match=message):
        client.predict(**{**arguments, **inputs}, api_name="/play")
    _, _, summary = client.predict(**arguments, api_name="/play")
    assert summary["steps"] == 20


def test_train_endpoints_report_and_refuse_without_a_gpu(client):
    assert client.predict(api_name="/train_status") == {"status": "none"}
    with pytest.raises(AppError, match="Training is off: this Space has no GPU"):
        client.predict(game="Pong", start="scratch", api_name="/train")
    with pytest.raises(AppError, match="No training job is running"):
        client.predict(api_name="/train_cancel")


@pytest.mark.browser
def test_browser_train_tab_explains_why_training_is_off(app_url, page):
    page.goto(app_url)
    page.get_by_role("tab", name="Train").click()
    expect(page.get_by_text("Training is off: this Space has no GPU")).to_be_visible()
    expect(page.get_by_role("button", name="Start training")).to_be_disabled()
    expect(page.get_by_role("spinbutton", name="learning_starts")).to_have_value("100000")
    expect(page.get_by_text("No training job yet.")).to_be_visible()


@pytest.mark.browser
def test_browser_picks_a_game_clicks_play_and_watches_the_video(app_url, tmp_path, page):
    page.goto(app_url)
    page.get_by_role("combobox", name="Game").click()
    page.get_by_role("option", name="Pong").click()
    page.get_by_role("spinbutton", name="Step cap").fill("600")  # the slider's number box
    page.get_by_role("button", name="Play", exact=True).click()
    page.wait_for_function(
        "() => { const v = document.querySelector('video'); return v && !v.paused && v.currentTime > 1; }",
        timeout=60_000,
    )
    width = page.evaluate("() => document.querySelector('video').videoWidth")
    assert width == 692
    expect(page.get_by_text("Score")).to_be_visible(timeout=60_000)
    expect(page.locator("a[href$='steps.csv']").first).to_be_visible()
    expect(page.locator("a[href$='episode.mp4']").first).to_be_visible()
    expect(page.get_by_text("Pong, played by")).to_be_visible()
    shot = tmp_path / "play-tab.png"
    page.screenshot(path=shot, full_page=True)
    if os.getenv("ARENA_SCREENSHOT"):
        Path(os.environ["ARENA_SCREENSHOT"]).write_bytes(shot.read_bytes())

    page.get_by_label("Or any Hub repo").fill("definitely not a repo")
    page.get_by_role("button", name="Play", exact=True).click()
    expect(page.get_by_text("is not a Hub repo id").first).to_be_visible(timeout=30_000)


@pytest.mark.browser
def test_browser_trains_an_agent_and_watches_it_live(training_app_url, page):
    page.goto(training_app_url)
    page.get_by_role("tab", name="Train").click()
    expect(page.get_by_text("training runs on the CPU")).to_be_visible()
    for name, value in (("n_timesteps", "1000"), ("learning_starts", "500"), ("buffer_size", "1000")):
        page.get_by_role("spinbutton", name=name).fill(value)
    page.get_by_role("spinbutton", name="buffer_size").blur()
    expect(page.get_by_text("= 0.06 GB")).to_be_visible()
    page.get_by_role("button", name="Start training").click()
    expect(page.get_by_text("Running").first).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Finished").first).to_be_visible(timeout=600_000)
    expect(page.get_by_text("Evaluation:")).to_be_visible()
    expect(page.locator("video").first).to_be_visible()

    page.reload()  # a new visit shows the job that ran
    page.get_by_role("tab", name="Train").click()
    expect(page.get_by_text("Finished").first).to_be_visible(timeout=30_000)
