"""The running app, called as users call it: through gradio_client and in a real browser."""

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError
from gradio_client.utils import Status
from playwright.sync_api import expect

from agents.core.catalog import GAMES
from tests import hub_cache
from tests.media import probe
from tests.processes import command_line, descendants, process_name
from tests.shipped import offline_default_game

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
EVALUATION_WORKER = "arena-eval"  # the name the app's evaluation workers take: what ps and top show
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


# What a page shows next may wait for the app's CPU, which on two cores the other tests share: a first page load
# was seen taking more than Playwright's default 5 s.
expect.set_options(timeout=15_000)

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def browser():
    """Debian's Chromium, driven by Playwright (the browser is not downloaded)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    return browser.new_page(viewport=DESKTOP)


def screenshot(page, tmp_path: Path, name: str) -> None:
    """A full-page screenshot; with ARENA_SCREENSHOTS=docs/ it also refreshes the README's."""
    shot = tmp_path / name
    page.screenshot(path=shot, full_page=True)
    if os.getenv("ARENA_SCREENSHOTS"):
        folder = Path(os.environ["ARENA_SCREENSHOTS"])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(shot.read_bytes())


@pytest.fixture(scope="module")
def client(app_url) -> Client:
    return Client(app_url, verbose=False)


def test_play_endpoint_returns_a_playable_video_the_csv_and_a_summary(client):
    video, csv, summary = client.predict(
        game="SpaceInvaders", repo_id="", seed=5, epsilon=0.01, max_steps=150, agent_view=False, api_name="/play"
    )
    assert summary["game"] == "SpaceInvaders" and summary["steps"] == 150 and summary["seed"] == 5
    stream = probe(video)
    assert Path(video).suffix == ".mp4" and stream["codec_name"] == "h264" and int(stream["nb_read_frames"]) == 150
    table = pd.read_csv(csv)
    assert len(table) == 150 and "q_FIRE" in table.columns


def test_only_the_documented_endpoints_are_public(client):
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    public = ["/compare", "/curves", "/evaluate", "/leaderboard", "/play", "/submit", "/train", "/train_cancel"]
    public += ["/train_status"]
    public += ["/tune", "/tune_cancel", "/tune_status"]
    assert sorted(endpoints) == public
    names = [p["parameter_name"] for p in endpoints["/play"]["parameters"]]
    assert names == ["game", "repo_id", "seed", "epsilon", "max_steps", "agent_view", "saliency"]


def test_the_api_and_the_command_line_play_one_game_for_one_seed(client, tmp_path):
    """Two processes, two ways in: same seed, same game, step for step."""
    _, csv, _ = client.predict(game="Pong", seed=4, epsilon=0.01, max_steps=200, api_name="/play")
    command = [sys.executable, "-m", "agents.play", "--game", "Pong", "--seed", "4", "--max-steps", "200"]
    run = subprocess.run([*command, "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    pd.testing.assert_frame_equal(pd.read_csv(csv), pd.read_csv(tmp_path / "steps.csv"))


def test_play_with_no_game_named_plays_the_first_that_can(client):
    _, _, summary = client.predict(max_steps=10, api_name="/play")
    assert summary["game"] == "SpaceInvaders" and summary["steps"] == 10  # cached here: the catalog's first


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"game": "Tetris"}, "Unknown game 'Tetris'"),
        ({"repo_id": "not a repo"}, "is not a Hub repo id"),
        (
            {"repo_id": "nobody/dqn-SpaceInvadersNoFrameskip-v4"},
            "nobody/dqn-SpaceInvadersNoFrameskip-v4.*not in the local",
        ),
        ({"game": "Breakout", "repo_id": "sb3/dqn-BreakoutNoFrameskip-v4", "max_steps": 10**7}, "max steps must be"),
        ({"epsilon": 7.0}, "epsilon must be a number from 0 to 1, not 7.0. It is a probability"),
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
    with pytest.raises(AppError, match="Training is off: this Space has no GPU"):  # SPACE_ID is set
        client.predict(game="Pong", start="scratch", api_name="/train")
    with pytest.raises(AppError, match="Only the owner of this Space may start or cancel"):
        client.predict(api_name="/train_cancel")


def test_tune_endpoints_report_and_refuse_without_a_gpu(client):
    assert client.predict(api_name="/tune_status")["status"] in ("none", "finished", "failed", "cancelled")
    with pytest.raises(AppError, match="Training is off: this Space has no GPU"):
        client.predict(game="Pong", n_trials=2, n_timesteps=1000, api_name="/tune")
    with pytest.raises(AppError, match="Only the owner of this Space may start or cancel"):
        client.predict(api_name="/tune_cancel")


@pytest.mark.browser
def test_browser_on_a_space_without_a_gpu_the_train_tab_says_so_and_offers_duplicate(app_url, page):
    page.goto(app_url)
    page.get_by_role("tab", name="Train").first.click()
    expect(page.get_by_text("Training is off: this Space has no GPU")).to_be_visible()
    expect(page.get_by_role("button", name="Duplicate")).to_be_visible()
    expect(page.get_by_role("button", name="Start training")).to_be_disabled()
    expect(page.get_by_role("button", name="Cancel")).to_be_disabled()
    expect(page.get_by_role("button", name="Push to the Hub")).to_be_disabled()
    expect(page.get_by_text("Log in with Hugging Face (above) to push")).to_be_visible()
    expect(page.get_by_text("No training job yet.")).to_be_visible()


@pytest.mark.browser
def test_browser_picks_a_game_clicks_play_and_an_error_stays_on_the_page(app_url, page):
    page.goto(app_url)
    page.get_by_role("combobox", name="Game").click()
    page.get_by_role("option", name="Pong · cached").click()
    page.get_by_role("spinbutton", name="Step cap").fill("600")  # the slider's number box
    page.get_by_role("button", name="Play", exact=True).click()
    expect(page.get_by_role("button", name=re.compile("^Playing…"))).to_be_disabled()  # one game at a time
    page.wait_for_function(
        "() => { const v = document.querySelector('#gameplay video'); return v && !v.paused && v.currentTime > 1; }",
        timeout=60_000,
    )
    assert page.evaluate("() => document.querySelector('#gameplay video').videoWidth") == 692
    expect(page.get_by_text("Pong, played by")).to_be_visible(timeout=60_000)
    expect(page.locator("a[href$='steps.csv']").first).to_be_visible()
    expect(page.locator("a[href$='episode.mp4']").first).to_be_visible()
    expect(page.get_by_role("button", name="Play", exact=True)).to_be_enabled(timeout=60_000)  # and back after it

    page.get_by_label("Or any Hub repo").fill("definitely not a repo")
    page.get_by_role("button", name="Play", exact=True).click()
    message = page.get_by_text("is not a Hub repo id").first
    expect(message).to_be_visible(timeout=30_000)
    page.wait_for_timeout(8_000)  # a toast would have faded by now
    expect(message).to_be_visible()
    expect(page.get_by_text("are from the previous game")).to_be_visible()
    expect(page.locator("a[href$='steps.csv']").first).to_be_visible()  # the last game's files are still there
    assert page.get_by_text("Error", exact=True).count() == 0  # no red badges on the outputs


@pytest.mark.browser
def test_browser_the_game_follows_the_repo_id_typed(app_url, hf_cache, page):
    """A course student pastes their repo id, whose name is not the RL Zoo's: the game list shows its game (from
    its file) once the field is left, says why, and Play plays that game; through the API, the game is its own."""
    pong = "PongNoFrameskip-v4"
    model_zip = next((hf_cache / f"models--sb3--dqn-{pong}" / "snapshots").glob(f"*/dqn-{pong}.zip"))
    hub_cache.add_rl_zoo_repo(hf_cache, "student/my-pong-agent", pong, model_zip)
    page.goto(app_url)
    repo = page.get_by_label("Or any Hub repo").first  # typed at once: the page's load must not undo it
    repo.fill("student/my-pong-agent")
    repo.press("Tab")
    expect(page.get_by_text("The game is now Pong").first).to_be_visible(timeout=30_000)
    expect(page.get_by_text(f"its file dqn-{pong}.zip says so").first).to_be_visible()
    expect(page.get_by_role("combobox", name="Game").first).to_have_value("Pong · cached")
    page.get_by_role("spinbutton", name="Step cap").fill("100")
    page.get_by_role("button", name="Play", exact=True).click()
    expect(page.get_by_text("Pong, played by student/my-pong-agent").first).to_be_visible(timeout=60_000)
    summary = Client(app_url, verbose=False).predict(repo_id="student/my-pong-agent", max_steps=10, api_name="/play")[2]
    assert summary["game"] == "Pong"
    with pytest.raises(AppError, match="student/my-pong-agent plays Pong .*, not Breakout"):
        Client(app_url, verbose=False).predict(game="Breakout", repo_id="student/my-pong-agent", api_name="/play")


# On the page, in CSS pixels: the bottom of the last row of the current frame that is not the panel's
# background (read from the decoded frame drawn in a canvas), and the top of the video player's control bar.
LAST_DRAWN_ROW_AND_CONTROLS = """() => {
    const video = document.querySelector('#gameplay video');
    const canvas = document.createElement('canvas');
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    const context = canvas.getContext('2d');
    context.drawImage(video, 0, 0);
    const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
    let last = 0;
    for (let y = 0; y < canvas.height; y++) {
        for (let x = 0; x < canvas.width; x++) {
            const i = (y * canvas.width + x) * 4;
            if (Math.abs(pixels[i] - 18) + Math.abs(pixels[i + 1] - 18) + Math.abs(pixels[i + 2] - 28) > 60) {
                last = y;
                break;
            }
        }
    }
    const box = video.getBoundingClientRect();
    const scale = Math.min(box.width / canvas.width, box.height / canvas.height);
    const top = box.top + (box.height - canvas.height * scale) / 2;
    return [top + (last + 1) * scale, document.querySelector('#gameplay .controls').getBoundingClientRect().top];
}"""


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_browser_first_run_offline_with_an_empty_cache(first_run_app_url, browser, viewport, tmp_path):
    """What a newcomer meets on a fresh machine: the offline agent plays at the first click, an agent that
    is out of reach says which can play, and the Train tab speaks of this machine."""
    width = viewport["width"]
    shipped = f"{GAMES[offline_default_game()].title} · offline agent"  # the best of the shipped agents
    page = browser.new_page(viewport=viewport)
    page.goto(first_run_app_url)
    expect(page.get_by_role("combobox", name="Game")).to_have_value(shipped)
    expect(page.get_by_text("when the Hub is out of reach, the Arena's own offline agent")).to_be_visible()
    assert not page.locator("a[href$='steps.csv']").count()  # no empty file boxes before a game
    screenshot(page, tmp_path, f"first-run-{width}.png")

    page.get_by_role("spinbutton", name="Step cap").fill("1500")
    page.get_by_role("button", name="Play", exact=True).click()
    video = page.locator("#gameplay video")
    page.wait_for_function(
        "() => { const v = document.querySelector('#gameplay video'); return v && !v.paused && v.currentTime > 1; }",
        timeout=60_000,
    )
    page.wait_for_timeout(3_500)  # the scroll that follows the first segments
    expect(video).to_be_in_viewport(ratio=0.9)
    # On a phone the panel is drawn below the game, so its text keeps a readable size.
    assert page.evaluate("() => document.querySelector('#gameplay video').videoWidth") == (692 if width > 700 else 336)
    if width < 700:  # the player's control bar lies over the frame's bottom: the panel's last row is above it
        drawn_bottom, controls_top = page.evaluate(LAST_DRAWN_ROW_AND_CONTROLS)
        assert controls_top > 0 and drawn_bottom <= controls_top, (drawn_bottom, controls_top)
    expect(page.get_by_text("played by the Arena's offline agent")).to_be_visible(timeout=60_000)
    screenshot(page, tmp_path, f"play-{width}.png")
    page.get_by_role("button", name="How this agent learned").click()  # from the log shipped beside it
    expect(page.get_by_text("From the training log of the run the offline agent comes from")).to_be_visible(
        timeout=30_000
    )
    expect(page.get_by_text("Training episodes' scores")).to_be_visible()
    expect(page.get_by_text("Evaluations during training")).to_be_visible()
    page.get_by_text("Training episodes' scores").scroll_into_view_if_needed()
    screenshot(page, tmp_path, f"learned-offline-{width}.png")

    page.get_by_role("combobox", name="Game").click()
    page.get_by_role("option", name="Space Invaders · needs the Hub (not cached)").click()
    page.get_by_role("button", name="Play", exact=True).click()
    message = page.get_by_text(re.compile(r"Agents that can play here now: \w+ \(offline agent\)"))
    expect(message).to_be_visible(timeout=30_000)
    page.wait_for_timeout(8_000)
    expect(message).to_be_visible()
    screenshot(page, tmp_path, f"error-{width}.png")

    page.get_by_role("tab", name="Train").first.click()
    expect(page.get_by_text("This machine has no GPU")).to_be_visible()
    shown = page.locator("body").inner_text()  # what is visible: no Space-only wording or controls here
    assert "this Space" not in shown and "Duplicate" not in shown and "Log in" not in shown
    expect(page.get_by_role("combobox", name="Game").last).to_have_value(shipped)
    expect(page.get_by_text(re.compile(r"Time: (about (\d+ h )?\d+ min|under a minute)"))).to_be_visible(timeout=30_000)
    expect(page.get_by_role("button", name="Start training")).to_be_enabled()
    expect(page.get_by_role("button", name="Cancel")).to_be_disabled()
    expect(page.get_by_role("button", name="Push to the Hub")).to_be_disabled()
    expect(page.get_by_text("give this machine a Hugging Face token")).to_be_visible()
    screenshot(page, tmp_path, f"train-{width}.png")


@pytest.mark.browser
def test_browser_trains_an_agent_and_watches_it_live(training_app_url, page):
    page.goto(training_app_url)
    page.get_by_role("tab", name="Train").first.click()
    expect(page.get_by_text("training runs on its CPU")).to_be_visible()
    for name, value in (("n_timesteps", "1000"), ("learning_starts", "500"), ("buffer_size", "1000")):
        page.get_by_role("spinbutton", name=name).fill(value)
    page.get_by_role("spinbutton", name="buffer_size").blur()
    expect(page.get_by_text("= 0.06 GB")).to_be_visible(timeout=60_000)  # once this machine is timed
    page.get_by_role("button", name="Start training").click()
    expect(page.get_by_text("Running", exact=True)).to_be_visible(timeout=30_000)
    expect(page.get_by_role("button", name="Cancel")).to_be_enabled()
    expect(page.get_by_role("button", name="Start training")).to_be_disabled()
    expect(page.get_by_text("Finished", exact=True)).to_be_visible(timeout=600_000)
    expect(page.get_by_text("Evaluation:")).to_be_visible()
    expect(page.locator("video").first).to_be_visible()
    expect(page.get_by_role("button", name="Cancel")).to_be_disabled()
    expect(page.get_by_role("button", name="Push to the Hub")).to_be_disabled()  # no token on this machine

    page.reload()  # a new visit shows the job that ran, and the form holds its settings
    page.get_by_role("tab", name="Train").first.click()
    expect(page.get_by_text("Finished", exact=True)).to_be_visible(timeout=30_000)
    expect(page.get_by_role("spinbutton", name="n_timesteps")).to_have_value("1000")
    expect(page.get_by_text("fine-tuning values but n_timesteps 1,000")).to_be_visible()

    page.get_by_role("button", name="Start training").click()  # a new job: the last one's replay goes
    expect(page.get_by_text("Running", exact=True)).to_be_visible(timeout=30_000)
    expect(page.locator("video")).to_have_count(0, timeout=10_000)
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_text("Cancelled", exact=True)).to_be_visible(timeout=120_000)


def test_python_app_py_says_what_it_does_and_serves_before_timing_the_machine(tmp_path):
    """A newcomer's ``python app.py``: a line at once, then what it is doing (the Hub, the machine), and the
    URL as soon as the page is served, before the training speed is timed."""
    import queue
    import threading
    import urllib.request

    from tests.conftest import free_port

    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"}
    env |= {"ARENA_DATA_DIR": str(tmp_path / "data"), "HF_HOME": str(tmp_path / "hf-home")}
    for name in ("SPACE_ID", "SPACE_AUTHOR_NAME", "HF_TOKEN"):
        env.pop(name, None)
    started = time.monotonic()
    app = subprocess.Popen(
        [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put((time.monotonic(), line.strip())) for line in app.stdout], daemon=True
    ).start()
    seen: list[str] = []
    try:
        while not any(line.startswith("Timed:") for line in seen):
            when, line = lines.get(timeout=180)
            seen.append(line)
            if len(seen) == 1:
                assert when - started < 15 and line.startswith("Atari DQN Arena: loading"), line
            if line.startswith("Open http://"):
                assert line == f"Open http://127.0.0.1:{port} in a browser."
                assert urllib.request.urlopen(f"http://127.0.0.1:{port}", timeout=10).status == 200  # served now
    finally:
        app.terminate()
        app.wait(timeout=30)
    said = [line for line in seen if not line.startswith(("A.L.E", "[Powered", "* To create"))]
    assert [line.split(":")[0].split("…")[0] for line in said] == [
        "Atari DQN Arena",
        "Checking which agents can play here",
        "Starting the web server",
        "* Running on local URL",
        "Open http",
        "Timing this machine's training speed for the Train tab's estimates (a few seconds)",
        "Timed",
    ], said


def test_train_from_the_pretrained_agent_offline_uses_the_shipped_one(first_run_app_url):
    """A newcomer's machine (offline, empty cache): /train with no game and "pretrained" fine-tunes the
    best shipped agent (the default game offline), within a deadline."""
    client = Client(first_run_app_url, verbose=False)
    with pytest.raises(AppError, match=r"checkpoint interval \(save_freq\) must be a whole number from 100"):
        client.predict(save_freq=3, api_name="/train")
    status = client.predict(n_timesteps=1000, learning_starts=500, buffer_size=1000, save_freq=500, api_name="/train")
    assert status["game"] == offline_default_game() and status["settings"]["start"] == "pretrained"
    assert status["settings"]["save_freq"] == 500
    deadline = time.monotonic() + 300
    while (status := client.predict(api_name="/train_status"))["status"] == "running":
        assert time.monotonic() < deadline, status
        time.sleep(2)
    assert status["status"] == "finished", status.get("error")
    assert status["results"]["n_eval_episodes"] == 5


@pytest.mark.slow
def test_a_games_files_are_pruned_from_the_app_and_gradios_cache(hf_cache, tmp_path_factory):
    """Disk use stays bounded: with ``ARENA_KEEP_OUTPUTS_S=3``, a game's video and CSV leave Gradio's
    cache within a few seconds, and its episode folder goes when the next game starts."""
    from tests.conftest import start_app

    gradio_cache, temp = tmp_path_factory.mktemp("gradio-cache"), tmp_path_factory.mktemp("tmp")
    app = start_app(tmp_path_factory, ARENA_KEEP_OUTPUTS_S="3", GRADIO_TEMP_DIR=str(gradio_cache), TMPDIR=str(temp))
    client = Client(next(app), verbose=False)
    try:
        client.predict(game="SpaceInvaders", max_steps=30, api_name="/play")
        served = [path for path in gradio_cache.rglob("*") if path.suffix in (".mp4", ".csv")]
        episodes = list((temp / "atari-dqn-arena").iterdir())
        assert served and len(episodes) == 1
        deadline = time.monotonic() + 30
        while any(path.exists() for path in served) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not [path for path in served if path.exists()], "Gradio's copies were not pruned"
        client.predict(game="SpaceInvaders", max_steps=30, api_name="/play")
        assert not episodes[0].exists() and len(list((temp / "atari-dqn-arena").iterdir())) == 1
    finally:
        next(app, None)


@pytest.mark.browser
def test_browser_shows_the_download_from_a_slow_hub_then_plays(tmp_path_factory, browser, tmp_path):
    """The Hub path as a visitor meets it: an agent that is not cached comes from a Hub that takes 1.5 s
    per answer (a local server answering like the Hub's file endpoints), the megabytes in the progress bar."""
    from tests.conftest import start_app
    from tests.fake_hub import FakeHub
    from tests.test_online import PONG, pong_files

    with FakeHub() as hub:
        hub.add_repo(f"sb3/dqn-{PONG}", pong_files(tmp_path))
        hub.delay_s = 1.5
        empty_cache = str(tmp_path_factory.mktemp("empty-cache"))
        app = start_app(tmp_path_factory, **hub.client_env(), HF_HUB_CACHE=empty_cache)
        try:
            page = browser.new_page(viewport=DESKTOP)
            page.goto(next(app))
            page.get_by_role("combobox", name="Game").click()
            page.get_by_role("option", name="Pong · from the Hub").click()
            page.get_by_role("spinbutton", name="Step cap").fill("300")
            page.get_by_role("button", name="Play", exact=True).click()
            expect(page.get_by_text("Downloading the model from the Hub").first).to_be_visible(timeout=30_000)
            screenshot(page, tmp_path, "download-1280.png")
            expect(page.get_by_text(f"Pong, played by sb3/dqn-{PONG}")).to_be_visible(timeout=90_000)
        finally:
            next(app, None)


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_browser_evaluates_an_agent(app_url, browser, viewport, tmp_path):
    page = browser.new_page(viewport=viewport)
    page.goto(app_url)
    page.get_by_role("tab", name="Evaluate").click()
    page.get_by_role("combobox", name="Game").click()
    page.get_by_role("option", name="Breakout · cached").click()
    page.get_by_role("spinbutton", name="Games").fill("4")
    page.get_by_role("spinbutton", name="Step cap per game").fill("300")
    page.get_by_role("button", name="Evaluate", exact=True).click()
    expect(page.get_by_role("button", name=re.compile("^Evaluating…"))).to_be_disabled()  # one evaluation at a time
    expect(page.get_by_role("heading", name=re.compile(r"± [\d.]+ over 4 games"))).to_be_visible(timeout=120_000)
    expect(page.get_by_text("mean − std")).to_be_visible()
    expect(page.get_by_text("the model card, 123.0 ± 10.0 over 10 games")).to_be_visible()
    expect(page.get_by_text("the RL Zoo's benchmark for its own DQN agent (10M steps), 358.3 ± 62.0")).to_be_visible()
    expect(page.locator("a[href$='results.json']").first).to_be_visible()
    expect(page.locator("a[href$='games.csv']").first).to_be_visible()
    expect(page.locator("#evaluate-plot canvas, #evaluate-plot svg").first).to_be_visible(timeout=30_000)
    screenshot(page, tmp_path, f"evaluate-{viewport['width']}.png")

    page.get_by_role("spinbutton", name="Games").fill("1000")
    page.get_by_role("button", name="Evaluate", exact=True).click()
    expect(page.get_by_text("number of games must be a whole number from 1 to 100, not 1000")).to_be_visible(
        timeout=30_000
    )


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_browser_compares_two_agents_side_by_side_and_never_one_with_itself(app_url, browser, viewport, tmp_path):
    """B left empty is A's agent: refused, saying what to give as B. With another B, the two play side by side in
    one streamed video; while they do, the button says so and cannot start another, and comes back when done."""
    page = browser.new_page(viewport=viewport)
    page.goto(app_url)
    page.get_by_role("tab", name="Compare").click()
    page.get_by_role("combobox", name="Game").click()
    page.get_by_role("option", name="Space Invaders · cached").click()
    b = page.get_by_role("textbox", name="Agent B: a Hub repo")
    expect(b).to_have_attribute("placeholder", "empty: the game's sb3 agent too, so A must be another")
    page.get_by_role("spinbutton", name="Seeds").fill("2")
    page.get_by_role("spinbutton", name="Step cap per game").fill("300")
    page.get_by_role("button", name="Compare", exact=True).click()
    refusal = page.get_by_text("A and B are the same agent (sb3/dqn-SpaceInvadersNoFrameskip-v4, the same files)")
    expect(refusal).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Give another agent as B: another Hub repo of a Space Invaders agent")).to_be_visible()
    expect(page.get_by_role("button", name="Compare", exact=True)).to_be_enabled(timeout=10_000)
    page.screenshot(path=tmp_path / f"compare-same-{viewport['width']}.png", full_page=True)

    b.fill("tester/qrdqn-SpaceInvadersNoFrameskip-v4")
    page.get_by_role("button", name="Compare", exact=True).click()
    busy = page.get_by_role("button", name=re.compile("^Comparing…"))
    expect(busy).to_be_disabled(timeout=5_000)
    expect(refusal).to_have_count(0)  # the last press's refusal went with the press
    verdict = page.get_by_role("heading", name=re.compile(r"mean difference B − A .*95% interval"))
    expect(verdict).to_be_visible(timeout=180_000)
    expect(page.get_by_role("button", name="Compare", exact=True)).to_be_enabled(timeout=10_000)
    expect(busy).to_have_count(0)
    page.wait_for_function(
        "() => { const v = document.querySelector('#duel video'); return v && v.currentTime > 1; }", timeout=90_000
    )
    assert page.evaluate("() => document.querySelector('#duel video').videoWidth") >= 640
    expect(page.get_by_text("tester/qrdqn-SpaceInvadersNoFrameskip-v4").first).to_be_visible()
    expect(page.locator("a[href$='compare.mp4']").first).to_be_visible()
    expect(page.locator("#compare-plot canvas, #compare-plot svg").first).to_be_visible(timeout=30_000)
    screenshot(page, tmp_path, f"compare-{viewport['width']}.png")


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_browser_play_clears_the_last_error_and_says_what_saliency_costs(app_url, browser, viewport, tmp_path):
    """A new game does not stream under the last press's error; ticking "where the agent looks" says, before the
    game, how slow it makes it here."""
    page = browser.new_page(viewport=viewport)
    page.goto(app_url)
    page.get_by_role("combobox", name="Game").click()
    page.get_by_role("option", name="Breakout · cached").click()
    page.get_by_role("spinbutton", name="Step cap").fill("400")
    page.get_by_label("Or any Hub repo").fill("definitely not a repo")
    page.get_by_role("button", name="Play", exact=True).click()
    error = page.get_by_text("is not a Hub repo id").first
    expect(error).to_be_visible(timeout=30_000)
    page.get_by_label("Or any Hub repo").fill("")
    page.get_by_role("button", name="Play", exact=True).click()
    page.wait_for_function(
        "() => { const v = document.querySelector('#gameplay video'); return v && v.currentTime > 0.5; }",
        timeout=60_000,
    )
    expect(error).to_have_count(0)  # gone while the new game streams, not only at its end
    expect(page.get_by_text("Breakout, played by")).to_be_visible(timeout=60_000)

    looks = page.get_by_label("Show where the agent looks")
    expect(page.get_by_text("Slow: a map is about 290 passes of the network")).to_be_visible()
    looks.check()
    cost = page.get_by_text(re.compile(r"Slow: a map takes \d+ ms on this machine now"))
    expect(cost).to_be_visible(timeout=30_000)
    expect(cost).to_contain_text("for its step cap of 400 steps")
    page.get_by_role("spinbutton", name="Step cap").fill("2000")
    page.get_by_role("spinbutton", name="Step cap").blur()
    expect(cost).to_contain_text("for its step cap of 2,000 steps", timeout=30_000)
    page.screenshot(path=tmp_path / f"saliency-cost-{viewport['width']}.png", full_page=True)
    looks.uncheck()
    expect(cost).to_have_count(0, timeout=30_000)


@pytest.mark.browser
def test_browser_shows_how_the_agent_on_screen_learned(app_url, page, tmp_path):
    page.goto(app_url)
    page.get_by_role("combobox", name="Game").click()
    page.get_by_role("option", name="Pong · cached").click()
    page.get_by_role("spinbutton", name="Step cap").fill("100")
    page.get_by_role("button", name="Play", exact=True).click()
    expect(page.get_by_text("Pong, played by")).to_be_visible(timeout=60_000)
    page.get_by_role("button", name="How this agent learned").click()
    expect(page.get_by_text("From the RL Zoo's training log of sb3/dqn-PongNoFrameskip-v4")).to_be_visible()
    expect(page.get_by_text("Training episodes' scores")).to_be_visible()
    expect(page.get_by_text("Evaluations during training")).to_be_visible()
    page.get_by_text("Training episodes' scores").scroll_into_view_if_needed()
    screenshot(page, tmp_path, "learned-1280.png")


@pytest.mark.browser
def test_browser_shows_where_the_agent_looks(app_url, page, tmp_path):
    page.goto(app_url)
    page.get_by_role("combobox", name="Game").click()
    page.get_by_role("option", name="Breakout · cached").click()
    page.get_by_role("spinbutton", name="Step cap").fill("120")
    page.get_by_label("Show where the agent looks").check()
    expect(page.get_by_text("for its step cap of 120 steps")).to_be_visible(timeout=30_000)  # said before the game
    page.get_by_role("button", name="Play", exact=True).click()
    page.wait_for_function(
        "() => { const v = document.querySelector('#gameplay video'); return v && v.currentTime > 1; }",
        timeout=60_000,
    )
    expect(page.get_by_text("Where it looks")).to_be_visible(timeout=60_000)
    summary = page.get_by_role("button", name="Summary (JSON)")
    summary.click()
    expect(page.get_by_text('"saliency_every"')).to_be_visible()
    page.evaluate("() => { const v = document.querySelector('#gameplay video'); v.pause(); v.currentTime = 3; }")
    screenshot(page, tmp_path, "saliency-1280.png")


def test_curves_endpoint_offline(client):
    """Shipped logs need no model: Pong's come whatever the cache holds; a repo with no log says so."""
    curves = client.predict(game="Pong", repo_id="", api_name="/curves")
    assert curves["source"].startswith("From the RL Zoo's training log of sb3/dqn-PongNoFrameskip-v4")
    assert curves["episodes"][-1]["moving_average"] > 15 and curves["evaluations"][-1]["timesteps"] == 10_000_000
    none = client.predict(game="SpaceInvaders", repo_id="tester/qrdqn-SpaceInvadersNoFrameskip-v4", api_name="/curves")
    assert none["episodes"] == [] and "has no `train_eval_metrics.zip`" in none["source"]


def test_evaluate_and_compare_endpoints(client):
    results, games, summary = client.predict(game="Breakout", episodes=3, max_steps=200, api_name="/evaluate")
    assert summary["seeds"] == [0, 1, 2] and len(summary["episode_steps"]) == 3 and len(summary["verdicts"]) == 2
    assert json.loads(Path(results).read_text())["n_eval_episodes"] == 3 and Path(games).read_text().startswith("seed,")
    qrdqn = "tester/qrdqn-SpaceInvadersNoFrameskip-v4"
    video, comparison = client.predict(game="SpaceInvaders", b=qrdqn, episodes=2, max_steps=150, api_name="/compare")
    assert comparison["b"]["repo"] == "tester/qrdqn-SpaceInvadersNoFrameskip-v4" and len(comparison["a"]["scores"]) == 2
    assert int(probe(video)["width"]) >= 640 and "95% interval" in comparison["verdict"]
    with pytest.raises(AppError, match="is not a Hub repo id"):
        client.predict(game="Breakout", b="/etc", episodes=2, api_name="/compare")


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_browser_tune_as_a_newcomer_meets_it(training_app_url, browser, viewport, tmp_path):
    """The sampler seed starts empty (a random one, as its hint says); the best-trial buttons wait for a completed
    trial; after Cancel the page gives one account of the trials; on a phone the trials table keeps its headers
    whole and scrolls sideways."""
    width = viewport["width"]
    page = browser.new_page(viewport=viewport)
    page.goto(training_app_url)
    page.get_by_role("tab", name="Train").first.click()
    page.get_by_role("tab", name="Tune").click()
    seed = page.get_by_role("spinbutton", name="Sampler seed")
    expect(page.get_by_text("empty: a random one")).to_be_visible()
    expect(page.get_by_role("button", name="Start tuning")).to_be_enabled(timeout=30_000)  # the load filled the form
    expect(seed).to_have_value("")
    use_best = page.get_by_role("button", name="Train with the best parameters")
    export = page.get_by_role("button", name="Export the study")
    page.get_by_role("spinbutton", name="Trials").fill("2")
    page.get_by_role("spinbutton", name="Steps per trial").fill("50000")  # long enough to cancel mid-trial
    page.get_by_role("spinbutton", name="Evaluation games per report").fill("1")
    page.get_by_role("textbox", name="Study name").fill(f"newcomer-{width}")
    page.get_by_role("radio", name="random").check()
    page.get_by_role("radio", name="none").check()
    page.get_by_role("button", name="Start tuning").click()
    expect(page.get_by_text("0 of 2 trials complete, 1 running (trial 0)")).to_be_visible(timeout=120_000)
    expect(page.get_by_text("No trial has completed yet")).to_be_visible()
    expect(use_best).to_be_disabled()
    expect(export).to_be_disabled()
    page.get_by_role("button", name="Cancel").last.click()
    expect(page.get_by_text("Cancelled", exact=True)).to_be_visible(timeout=120_000)
    expect(page.get_by_text("0 of 2 trials complete, 1 cancelled (trial 0)")).to_be_visible()
    expect(page.get_by_text("No trial completed before the study was cancelled")).to_be_visible()
    expect(page.locator("#tune-trials").get_by_role("gridcell", name="cancelled", exact=True)).to_be_visible()
    shown = page.locator("body").inner_text()
    assert "trials done" not in shown and "failed (cancelled)" not in shown
    expect(use_best).to_be_disabled()
    expect(export).to_be_disabled()
    study = Client(training_app_url, verbose=False).predict(api_name="/tune_status")
    assert study["settings"]["seed"] is None  # the study ran with a random seed, not 0

    page.locator("#tune-trials").scroll_into_view_if_needed()
    heights = page.eval_on_selector_all("#tune-trials th", "cells => cells.map(c => c.getBoundingClientRect().height)")
    assert heights and max(heights) < 60, heights  # one line each, not a letter a line
    if width < 700:
        scrolls = page.eval_on_selector_all(
            "#tune-trials *",
            "els => els.some(e => e.scrollWidth > e.clientWidth + 50 && "
            "['auto', 'scroll'].includes(getComputedStyle(e).overflowX))",
        )
        assert scrolls  # the columns that do not fit are a sideways scroll away
    page.screenshot(path=tmp_path / f"tune-cancelled-{width}.png", full_page=True)


@pytest.mark.browser
def test_browser_tunes_hyperparameters_and_trains_with_the_best(training_app_url, page, tmp_path):
    """A two-trial study from the Tune tab: the trials, the best one, Optuna's plots, the exports, and the
    best values carried into the Train form."""
    page.goto(training_app_url)
    page.get_by_role("tab", name="Train").first.click()
    page.get_by_role("tab", name="Tune").click()
    expect(page.get_by_role("button", name="Start tuning")).to_be_enabled(timeout=30_000)  # the load filled the form
    page.get_by_role("textbox", name="Study name").fill("best-of-two")  # not the last test's study, which it shows
    page.get_by_role("spinbutton", name="Trials").fill("2")
    page.get_by_role("spinbutton", name="Steps per trial").fill("1000")
    page.get_by_role("spinbutton", name="Evaluation games per report").fill("1")
    page.get_by_role("spinbutton", name="Sampler seed").fill("1019")  # its first random trials are cheap
    page.get_by_role("radio", name="random").check()
    page.get_by_role("radio", name="none").check()
    page.get_by_role("button", name="Start tuning").click()
    expect(page.get_by_role("button", name="Cancel").last).to_be_enabled(timeout=30_000)
    expect(page.get_by_text("Finished", exact=True)).to_be_visible(timeout=600_000)
    expect(page.get_by_text("Best: trial")).to_be_visible()
    screenshot(page, tmp_path, "tune.png")
    expect(page.get_by_text("2 of 2 trials complete").last).to_be_visible()
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    page.get_by_role("button", name="Export the study").click()
    expect(page.locator("a[href*='-trials.csv']")).to_be_visible(timeout=30_000)
    expect(page.locator("a[href*='-dqn.yml']")).to_be_visible()
    page.get_by_role("button", name="Train with the best parameters").click()
    expect(page.get_by_text("The form holds the best trial's values")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("spinbutton", name="n_timesteps")).to_be_visible()
    expect(page.get_by_text("the RL Zoo's DQN values for Atari")).to_be_visible()  # the study started from scratch

    study = Client(training_app_url, verbose=False).predict(api_name="/tune_status")  # and through the API
    assert study["kind"] == "tune" and study["status"] == "finished" and len(study["trials"]) == 2
    assert study["best"]["value"] == max(trial["value"] for trial in study["trials"])


def app_process(url: str) -> int:
    """The pid of the app serving ``url``: the ``app.py`` whose environment names its port (read in /proc,
    a source outside the app)."""
    port = url.rsplit(":", 1)[1]
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            if len(command) > 1 and command[1] == b"app.py":
                if f"GRADIO_SERVER_PORT={port}".encode() in (entry / "environ").read_bytes().split(b"\0"):
                    return int(entry.name)
        except (OSError, ValueError):
            continue
    raise AssertionError(f"no app.py serves {url}")


def request_processes(url: str) -> list[str]:
    """The processes under the app that a request starts, each as its name and command line: evaluation workers
    (forks of the app's worker server, under the name they take) and ffmpeg encoders."""
    found = []
    for pid in descendants(app_process(url)):
        named, command = process_name(pid), command_line(pid)
        if named == EVALUATION_WORKER or "ffmpeg" in command:
            found.append(f"{named}: {command[:80]}")
    return found


def wait_for(condition, timeout: float, every: float = 0.1):
    """``condition()``'s first true value within ``timeout`` seconds, else its last value."""
    deadline = time.monotonic() + timeout
    while not (value := condition()) and time.monotonic() < deadline:
        time.sleep(every)
    return value


def assert_stops_within_5_s(url: str, what: str) -> None:
    ended = time.monotonic()
    left = wait_for(lambda: not request_processes(url), 5.0) or request_processes(url)
    assert left is True, f"{what}: still running {time.monotonic() - ended:.1f} s after the request ended: {left}"


def test_a_cancelled_evaluation_stops_its_workers_at_once(app_url):
    """At the Space's budget (6 games of up to 100,000 steps), cancelled from gradio_client, twice: each request's
    workers are gone within 5 s, and the app then answers a small evaluation as before."""
    client = Client(app_url, verbose=False)
    for _ in range(2):
        job = client.submit(game="Breakout", episodes=6, max_steps=100_000, api_name="/evaluate")
        started = wait_for(lambda: request_processes(app_url), 60)
        assert started and all(process.startswith(f"{EVALUATION_WORKER}:") for process in started)
        job.cancel()
        assert_stops_within_5_s(app_url, "a cancelled /evaluate")
    _, _, summary = client.predict(game="Breakout", episodes=2, max_steps=100, api_name="/evaluate")
    assert summary["seeds"] == [0, 1] and not request_processes(app_url)


def test_a_cancelled_comparison_stops_its_encoder_and_workers(app_url):
    client = Client(app_url, verbose=False)
    qrdqn = "tester/qrdqn-SpaceInvadersNoFrameskip-v4"  # two different agents: the same one twice is refused
    job = client.submit(game="SpaceInvaders", b=qrdqn, episodes=2, max_steps=100_000, api_name="/compare")
    assert wait_for(lambda: any("ffmpeg" in command for command in request_processes(app_url)), 60)
    time.sleep(1)  # well into the duel's video
    job.cancel()
    assert_stops_within_5_s(app_url, "a cancelled /compare")


@pytest.mark.browser
def test_browser_a_page_closed_during_evaluate_stops_its_workers(app_url, browser):
    page = browser.new_page(viewport=DESKTOP)
    page.goto(app_url)
    page.get_by_role("tab", name="Evaluate").click()
    page.get_by_role("combobox", name="Game").click()
    page.get_by_role("option", name="Breakout · cached").click()
    page.get_by_role("spinbutton", name="Games").fill("6")  # the Space's budget: 600,000 steps
    page.get_by_role("spinbutton", name="Step cap per game").fill("100000")
    page.get_by_role("button", name="Evaluate", exact=True).click()
    assert wait_for(lambda: request_processes(app_url), 60)
    page.close()
    assert_stops_within_5_s(app_url, "Evaluate on a closed page")


def test_on_a_space_heavy_requests_have_a_stated_budget_and_take_turns(client, app_url):
    """Over the budget: refused with it in the message, the form saying it beforehand. An evaluation and a
    comparison from two visitors at once take turns (they share the queue's batch lane): the comparison is told its
    place and starts only once the evaluation is done."""
    with pytest.raises(AppError, match=r"10,000,000 agent steps .*at most 600,000\. At this step cap at most 6 games"):
        client.predict(game="Breakout", episodes=100, max_steps=100_000, api_name="/evaluate")
    config = json.loads(urllib.request.urlopen(f"{app_url}/config", timeout=30).read())
    infos = {component["props"].get("info") for component in config["components"]}
    assert "On this Space, games × step cap may be at most 600,000 agent steps." in infos
    evaluation = Client(app_url, verbose=False).submit(game="Breakout", episodes=2, max_steps=800, api_name="/evaluate")
    wait_for(lambda: evaluation.status().code == Status.PROCESSING, 30, every=0.02)
    qrdqn = "tester/qrdqn-SpaceInvadersNoFrameskip-v4"
    comparison = Client(app_url, verbose=False).submit(
        game="SpaceInvaders", b=qrdqn, episodes=1, max_steps=200, api_name="/compare"
    )
    places, evaluation_done, comparison_started = [], None, None
    while not comparison.done():
        status = comparison.status()
        if status.code == Status.IN_QUEUE and status.rank is not None:
            places.append(status.rank)
        if evaluation_done is None and evaluation.done():
            evaluation_done = time.monotonic()
        if comparison_started is None and status.code in (Status.PROCESSING, Status.ITERATING, Status.PROGRESS):
            comparison_started = time.monotonic()
        time.sleep(0.02)
    assert evaluation.result()[2]["seeds"] == [0, 1] and comparison.result()
    assert places, "the waiting visitor was not told their place in the queue"
    # The client sees each answer through a thread of its own: under load, the evaluation's end reached it 0.7 s
    # after the comparison's start (a -n 3 run). Run at once, the comparison would start seconds before that end.
    assert evaluation_done is not None and comparison_started >= evaluation_done - 2, "they ran at once"


def call_event(url: str, dependency: dict, data: list) -> dict:
    """Call one registered event by its ``fn_index`` as the page does, with a session of its own and no login:
    through the queue (``/queue/join``, then the answer on ``/queue/data``), or ``/run/predict`` if unqueued.
    Returns the answer: ``{"success": ..., "output": {"data": [...]}}`` or an error."""
    session = f"probe{dependency['id']}x{time.monotonic_ns()}"
    body = {"data": data, "fn_index": dependency["id"], "session_hash": session, "event_data": None}
    body["trigger_id"] = dependency["targets"][0][0] if dependency["targets"] else None
    post = urllib.request.Request(
        f"{url}/gradio_api/{'queue/join' if dependency.get('queue') is not False else 'run/predict'}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        answer = json.loads(urllib.request.urlopen(post, timeout=60).read())
    except urllib.error.HTTPError as error:
        return {"success": False, "output": {"error": error.read().decode()[:500]}}
    if dependency.get("queue") is False:
        return {"success": True, "output": answer}
    with urllib.request.urlopen(f"{url}/gradio_api/queue/data?session_hash={session}", timeout=120) as stream:
        for line in stream:
            if line.startswith(b"data: "):
                message = json.loads(line[6:])
                if message.get("msg") == "process_completed":
                    return message
    raise AssertionError(f"no answer from fn_index {dependency['id']}")


OWNER_ONLY = {  # (tab, button) -> what the anonymous visitor must be told
    ("Train", "Start training"): "Only the owner of this Space may start or cancel training",
    ("Train", "Cancel"): "Only the owner of this Space may start or cancel training",
    ("Train", "Push to the Hub as <you>/dqn-<EnvId>"): "Only the owner of this Space may push this Space's training",
    ("Tune", "Start tuning"): "Only the owner of this Space may start or cancel training",
    ("Tune", "Cancel"): "Only the owner of this Space may start or cancel training",
    ("Tune", "Export the study"): "Only the owner of this Space may export the study",
}


def test_every_event_called_by_fn_index_by_an_anonymous_visitor_on_a_space_is_gated(space_training_app_url):
    """Each registered event, by its fn_index as the page calls it, with the page's own values (games and step
    caps made small): the owner-only ones (start, cancel, push, export of Train and Tune) refuse with the reason,
    and afterwards no job runs and nothing was exported (read from the app's data folder)."""
    url = space_training_app_url
    config = json.loads(urllib.request.urlopen(f"{url}/config", timeout=30).read())
    components = {component["id"]: component for component in config["components"]}
    small = {"Games": 1, "Seeds": 1, "Step cap": 10, "Step cap per game": 10}

    def value(component_id: int):
        props = components[component_id].get("props", {})
        return small.get(props.get("label"), props.get("value"))

    def tab_of(component_id: int) -> str:
        """The tab a button sits in: the nearest tab above it in the layout."""
        parents = {}

        def walk(node: dict, tab: str) -> None:
            props = components.get(node["id"], {}).get("props", {})
            here = props.get("label", tab) if components.get(node["id"], {}).get("type") == "tabitem" else tab
            parents[node["id"]] = here
            for child in node.get("children", []):
                walk(child, here)

        walk(config["layout"], "")
        return parents.get(component_id, "")

    refused, called = set(), 0
    for dependency in config["dependencies"]:
        if not dependency.get("backend_fn"):
            continue
        answer = call_event(url, dependency, [value(component) for component in dependency["inputs"]])
        called += 1
        trigger = dependency["targets"][0][0] if dependency["targets"] else None
        button = components.get(trigger, {})
        key = (tab_of(trigger), button.get("props", {}).get("value")) if button.get("type") == "button" else None
        if key in OWNER_ONLY:
            said = json.dumps(answer.get("output"))
            assert OWNER_ONLY[key] in said, f"{key} (fn_index {dependency['id']}) did not refuse: {said[:400]}"
            refused.add(key)
    missing = set(OWNER_ONLY) - refused
    assert not missing, f"owner-only events not found among the {called} called: {missing}"
    status = Client(url, verbose=False).predict(api_name="/train_status")
    assert status["status"] == "none", status
    data = next(
        entry.split(b"=", 1)[1].decode()
        for entry in (Path("/proc") / str(app_process(url)) / "environ").read_bytes().split(b"\0")
        if entry.startswith(b"ARENA_DATA_DIR=")
    )
    assert not list(Path(data).rglob("*trials*.csv")) and not list(Path(data).rglob("*.yml"))
