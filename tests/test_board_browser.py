"""The board's page in a real headless Chromium (Playwright): a training run in progress is watched live, and the
Images, Graph, Backprop, Diagnostics and LR finder views work. Screenshots go to tests/artifacts/board/."""

import json
import os
import shutil
import threading
import time

import numpy as np
import pytest
from test_board_server import Board, make_fixture_run, tiny_data, write_png

import glassbox as gb
import glassbox.nn as nn
from glassbox.train import Callback, fit
from glassbox.train.live_log import LiveLog

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = os.path.join(os.path.dirname(__file__), "artifacts", "board")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]

# Under CI, tests/install.sh has installed both: a missing one is a broken set-up, not a reason to skip.
if os.environ.get("CI") == "true":
    import playwright.sync_api as sync_api  # noqa: F401

    assert os.path.exists(CHROMIUM), f"no Chromium at {CHROMIUM}: tests/install.sh should have installed it"
else:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh page; JavaScript errors on it fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("response", lambda response: errors.append(f"{response.status} {response.url}")
            if response.status >= 400 else None)
    yield page
    context.close()
    assert errors == [], errors


def screenshot(page, name):
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, name), full_page=True)


class SlowAndStoppable(Callback):
    """Sleeps after each batch so the run lasts while the browser watches it; stops when `stop` is set."""

    def __init__(self, stop, seconds=0.2):
        self.stop, self.seconds = stop, seconds

    def on_train_batch_end(self, batch, logs=None):
        time.sleep(self.seconds)
        if self.stop.is_set():
            self.trainer.stop_training = True


@pytest.fixture
def live_run(tmp_path):
    """A runs directory whose run 'live-run' is training in a background thread (LiveLog writing live.jsonl)."""
    runs = tmp_path / "runs"
    run = runs / "live-run"
    make_fixture_run(run)  # pictures, graph.svg, backprop_steps.json in the contract's formats
    stop, failures = threading.Event(), []

    def train():
        try:
            gb.manual_seed(0)
            model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1))
            fit(model, tiny_data(20), val=tiny_data(8, seed=1), epochs=60, batch_size=4, loss="mse",
                optimizer=gb.optim.SGD(model.parameters(), lr=0.02), metrics=["mae"],
                callbacks=[LiveLog(run, min_interval=0.1), SlowAndStoppable(stop)], verbose=0)
        except Exception as error:  # reported by the test, not lost in the thread
            failures.append(error)

    thread = threading.Thread(target=train, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not (run / "live.jsonl").exists() and time.time() < deadline:
        time.sleep(0.05)
    yield runs
    stop.set()
    thread.join(20)
    assert not thread.is_alive() and failures == []


def path_points(page, selector):
    """How many points the first path matching `selector` draws (its M/L commands)."""
    d = page.locator(selector).first.get_attribute("d") or ""
    return sum(d.count(c) for c in "ML")


def test_watch_a_run_in_progress(page, live_run):
    board = Board(live_run)
    try:
        page.goto(board.url + "/")
        item = page.locator('.run-item[data-name="live-run"]')
        item.wait_for()
        assert item.get_attribute("data-status") == "running"
        item.locator("button").click()
        assert page.locator("#run-title").inner_text() == "live-run"

        # The batch-loss line of the loss chart grows while the run trains.
        batch_line = '#curve-loss svg path.line[data-series="loss (batch)"]'
        page.wait_for_function(f"""() => {{
            const path = document.querySelector('{batch_line}');
            return path && Number(path.dataset.points) >= 3; }}""")
        before = path_points(page, batch_line)
        page.wait_for_function(f"""(before) => {{
            const path = document.querySelector('{batch_line}');
            return (path.getAttribute('d').match(/[ML]/g) || []).length > before; }}""", arg=before, timeout=8000)
        after = path_points(page, batch_line)
        assert after > before >= 3
        page.wait_for_selector('#curve-loss svg path.line[data-series="val_loss"]')  # an epoch has ended
        assert page.locator("#curve-mae").count() == 1
        screenshot(page, "curves_live.png")

        # Images: every picture of the run, with a caption, loaded by the browser.
        page.click("#tab-images")
        images = page.locator("#images img")
        images.first.wait_for()
        assert images.count() == 2
        page.wait_for_function("""() => [...document.querySelectorAll('#images img')]
            .every((img) => img.complete && img.naturalWidth > 0)""")
        widths = images.evaluate_all("(imgs) => imgs.map((img) => img.naturalWidth)")
        assert sorted(widths) == [24, 32]  # the fixtures' real sizes
        assert "confusion matrix" in page.locator("#images figcaption").first.inner_text().lower()
        screenshot(page, "images.png")

        # Graph: the SVG is in the page, without the script or the event handler it carried.
        page.click("#tab-graph")
        page.wait_for_selector("#graph svg")
        assert "MulBackward#1" in page.locator("#graph svg").inner_html()
        assert page.locator("#graph svg script").count() == 0
        assert page.locator("#graph svg [onload]").count() == 0
        assert page.evaluate("() => window.graphScriptRan === undefined && window.graphHandlerRan === undefined")
        screenshot(page, "graph.png")

        # Backprop: step through the hand-written steps.
        page.click("#tab-backprop")
        page.wait_for_function("() => document.querySelector('#step-index').dataset.index === '0'")
        assert page.locator("#step-index").inner_text() == "Step 1 of 2"
        assert "SumBackward#2" in page.locator("#backprop h3").inner_text()
        assert page.locator("#step-prev").is_disabled()
        page.click("#step-next")
        assert page.locator("#step-index").inner_text() == "Step 2 of 2"
        assert page.locator("#step-index").get_attribute("data-index") == "1"
        assert "MulBackward#1" in page.locator("#backprop h3").inner_text()
        assert "∂(a·b)/∂a = b" in page.locator("#backprop .symbols").inner_text()
        rows = page.locator("#backprop table.accumulated tbody tr")
        assert rows.count() == 2 and "updated" in rows.first.inner_text()
        assert page.locator("#step-next").is_disabled()
        page.keyboard.press("ArrowLeft")
        assert page.locator("#step-index").inner_text() == "Step 1 of 2"
        page.click("#step-next")
        screenshot(page, "backprop.png")
        assert "#run=live-run&tab=backprop" in page.url
    finally:
        board.close()


@pytest.fixture
def finished_run(tmp_path):
    """A finished recipe-style run: history.csv, metrics.json, diagnostics.json, lr_finder.json and a picture."""
    run = tmp_path / "runs" / "finished"
    run.mkdir(parents=True)
    (run / "history.csv").write_text("epoch,loss,accuracy,val_loss,val_accuracy,lr\n"
                                     "1,1.2,0.55,1.3,0.5,0.1\n2,0.8,0.7,0.9,0.66,0.1\n3,0.5,0.82,0.7,0.74,0.01\n")
    (run / "metrics.json").write_text(json.dumps({"test_accuracy": 0.74, "epochs": 3}))
    diagnostics = {
        "layers": [
            {"name": "features.0", "type": "Conv2d", "activation": {"mean": [0.2, 0.1], "std": [1.1, 0.9],
             "dead_fraction": [0.1, 0.62], "saturated_fraction": [None, None]}, "grad_norm": [0.5, 0.3],
             "update_ratio": [0.002, 0.001]},
            {"name": "classifier", "type": "Linear", "activation": {"mean": [0.0, 0.05], "std": [2.0, 1.7],
             "dead_fraction": [None, None], "saturated_fraction": [None, None]}, "grad_norm": [1.5, 1.2],
             "update_ratio": [0.003, 0.002]}],
        "steps": [10, 20],
        "warnings": [{"kind": "dead_relus", "message": "Most ReLUs after features.0 output zero for every input.",
                      "evidence": "62% of the units were zero on every example of the last batch", "epoch": 1,
                      "step": 20, "layer": "features.0"}]}
    (run / "diagnostics.json").write_text(json.dumps(diagnostics))
    lrs = np.logspace(-5, 0, 30)
    losses = 2.0 - np.tanh((np.log10(lrs) + 3) * 1.5) + np.where(lrs > 0.1, 10 * lrs, 0)
    finder = {"lrs": lrs.tolist(), "losses": losses.tolist(), "smoothed": losses.tolist(),
              "suggested_lr": 1e-3, "reason": "the loss falls fastest around 1e-3"}
    (run / "lr_finder.json").write_text(json.dumps(finder))
    write_png(run / "lr_finder.png")
    yield tmp_path / "runs"
    shutil.rmtree(run)


def test_finished_run_history_diagnostics_and_lr_finder(page, finished_run):
    board = Board(finished_run)
    try:
        page.goto(board.url + "/#run=finished&tab=diagnostics")
        page.wait_for_selector("#diagnostics .warning")
        warning = page.locator("#diagnostics .warning").first.inner_text()
        assert "Dead ReLUs" in warning and "62%" in warning and "layer features.0" in warning
        rows = page.locator("#diagnostics table.layers tbody tr")
        assert rows.count() == 2
        assert "62 %" in rows.first.inner_text()  # the last sample of dead_fraction, as a percentage
        assert page.locator("#tab-backprop").is_hidden()  # no backprop_steps.json in this run
        screenshot(page, "diagnostics.png")

        page.click("#tab-curves")
        path = page.locator('#curve-loss svg path.line[data-series="val_loss"]')
        path.wait_for()
        assert path.get_attribute("data-points") == "3"
        assert page.locator("#curve-accuracy svg path.line").count() == 2
        assert "test accuracy" in page.locator("#run-metrics").inner_text()
        screenshot(page, "curves_history.png")

        page.click("#tab-lr")
        page.wait_for_selector("#curve-lr-finder svg line.mark", state="attached")
        assert page.locator("#curve-lr-finder svg path.line").count() == 2
        assert "0.001" in page.locator("#lr-finder .suggestion").inner_text()
        screenshot(page, "lr_finder.png")
    finally:
        board.close()
