"""The board's HTTP server (glassbox.board.server) through real HTTP, its CLI, and the LiveLog callback in real fits."""

import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zlib

import numpy as np
import pytest

import glassbox as gb
import glassbox.nn as nn
from glassbox.board.server import make_server
from glassbox.train import Callback, fit
from glassbox.train.live_log import LiveLog

# ----- fixtures shared with test_board_browser.py ---------------------------------------------------------------------


def write_png(path, width=24, height=16, color=(40, 90, 200)):
    """A valid RGB PNG of one colour with a diagonal stripe, written by hand (zlib + CRC chunks, no imaging library)."""
    rows = b""
    for y in range(height):
        row = bytearray(b"\x00")  # filter type 0 (None) for each scanline
        for x in range(width):
            row += bytes((255, 255, 255)) if (x - y) % 8 == 0 else bytes(color)
        rows += bytes(row)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    with open(path, "wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) +
                     chunk(b"IEND", b""))


GRAPH_SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="220" height="120" viewBox="0 0 220 120">
  <g class="node" id="node-mul"><rect x="10" y="10" width="90" height="30" fill="#eef"/>
    <text x="20" y="30">MulBackward#1</text></g>
  <g class="node" id="node-sum"><rect x="120" y="70" width="90" height="30" fill="#efe"/>
    <text x="130" y="90">SumBackward#2</text></g>
  <line x1="100" y1="25" x2="120" y2="85" stroke="black"/>
  <script>window.graphScriptRan = true;</script>
  <rect x="0" y="0" width="5" height="5" onload="window.graphHandlerRan = true"/>
</svg>
"""


def summary(values, shape):
    """A step-dict summary (contract of issue 9) of a small list of numbers, by hand."""
    return {"shape": list(shape), "values": [float(v) for v in values], "truncated": False,
            "norm": float(np.linalg.norm(values))}


def backprop_steps():
    """The steps of loss = sum(a * b) for a = [1, 2], b = [3, 4], written by hand in the contract's format."""
    a, b = [1.0, 2.0], [3.0, 4.0]
    ones = [1.0, 1.0]
    return [
        {"index": 0, "node": "SumBackward#2", "op": "Sum", "words": "sum: every input element gets the upstream "
         "gradient unchanged", "symbols": "∂(Σx)/∂x = 1", "value": summary([11.0], []),
         "upstream": summary([1.0], []),
         "inputs": [{"name": "MulBackward#1", "local": "1", "grad": summary(ones, [2])}],
         "accumulated": {}, "done": False},
        {"index": 1, "node": "MulBackward#1", "op": "Mul", "words": "product: each input's gradient is the upstream "
         "gradient times the other input", "symbols": "∂(a·b)/∂a = b, ∂(a·b)/∂b = a",
         "value": summary([3.0, 8.0], [2]), "upstream": summary(ones, [2]),
         "inputs": [{"name": "a", "local": "b", "grad": summary(b, [2])},
                    {"name": "b", "local": "a", "grad": summary(a, [2])}],
         "accumulated": {"a": summary(b, [2]), "b": summary(a, [2])}, "done": True},
    ]


def make_fixture_run(run):
    """A run directory with the pictures, graph and backprop steps that recipes and helpers write (no live.jsonl)."""
    os.makedirs(run, exist_ok=True)
    write_png(os.path.join(run, "confusion_matrix.png"), color=(200, 60, 40))
    write_png(os.path.join(run, "samples.png"), width=32, height=32)
    with open(os.path.join(run, "graph.svg"), "w") as handle:
        handle.write(GRAPH_SVG)
    with open(os.path.join(run, "backprop_steps.json"), "w") as handle:
        json.dump(backprop_steps(), handle)


class Board:
    """A board server on an ephemeral port, serving in a thread."""

    def __init__(self, runs_dir, **kwargs):
        self.server = make_server(runs_dir, host="127.0.0.1", port=0, **kwargs)
        self.url = self.server.url.rstrip("/")
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def get(self, path):
        """(status, content type, body bytes) of GET path."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:
                return response.status, response.headers["Content-Type"], response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers["Content-Type"], error.read()

    def json(self, path):
        status, content_type, body = self.get(path)
        assert status == 200, (path, status, body)
        assert content_type == "application/json"
        return json.loads(body)


@pytest.fixture
def runs_dir(tmp_path):
    path = tmp_path / "runs"
    path.mkdir()
    return path


@pytest.fixture
def board(runs_dir):
    server = Board(runs_dir)
    yield server
    server.close()


def write_lines(path, records, tail=""):
    with open(path, "w") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
        handle.write(tail)


# ----- run listing ---------------------------------------------------------------------------------------------------


def test_runs_listing_statuses_and_files(board, runs_dir):
    now = time.time()
    begin = {"event": "begin", "time": now, "epochs": 2, "steps_per_epoch": 3, "recipe": None}
    (runs_dir / "done").mkdir()
    write_lines(runs_dir / "done" / "live.jsonl", [begin, {"event": "end", "time": now}])
    write_png(runs_dir / "done" / "samples.png")
    (runs_dir / "done" / "model.safetensors").write_bytes(b"weights are not served")
    (runs_dir / "going").mkdir()
    write_lines(runs_dir / "going" / "live.jsonl", [begin], tail='{"event": "bat')  # a line being written
    (runs_dir / "stale").mkdir()
    write_lines(runs_dir / "stale" / "live.jsonl", [begin])
    os.utime(runs_dir / "stale" / "live.jsonl", (now - 3600, now - 3600))  # began an hour ago, never ended
    (runs_dir / "recipe").mkdir()
    (runs_dir / "recipe" / "metrics.json").write_text('{"accuracy": 0.9}')
    (runs_dir / "old").mkdir()
    (runs_dir / "old" / "history.csv").write_text("epoch,loss\n1,0.5\n")
    (runs_dir / "not-a-run").mkdir()
    (runs_dir / "not-a-run" / "notes.txt").write_text("no run files here")
    (runs_dir / "stray.json").write_text("{}")

    runs = {run["name"]: run for run in board.json("/api/runs")}
    assert set(runs) == {"done", "going", "stale", "recipe", "old"}
    assert runs["done"]["status"] == "finished"
    assert runs["going"]["status"] == "running"
    assert runs["stale"]["status"] == "unknown"
    assert runs["recipe"]["status"] == "finished"
    assert runs["old"]["status"] == "unknown"
    assert runs["done"]["has"] == ["live.jsonl", "samples.png"]  # weights are not among the servable files
    assert all(isinstance(run["modified"], float) for run in runs.values())
    order = [run["modified"] for run in board.json("/api/runs")]
    assert order == sorted(order, reverse=True)
    files = board.json("/api/runs/done/files")
    assert [f["name"] for f in files] == ["live.jsonl", "samples.png"]
    assert files[1]["size"] == os.path.getsize(runs_dir / "done" / "samples.png")


def test_missing_runs_directory_lists_nothing(tmp_path):
    server = Board(tmp_path / "does-not-exist")
    try:
        assert server.json("/api/runs") == []
    finally:
        server.close()


# ----- live tail -----------------------------------------------------------------------------------------------------


def test_live_tail_is_incremental_and_waits_for_partial_lines(board, runs_dir):
    run = runs_dir / "r"
    run.mkdir()
    live = run / "live.jsonl"
    first = [{"event": "begin", "time": 1.0, "epochs": 1, "steps_per_epoch": 4, "recipe": "x"},
             {"event": "batch", "time": 2.0, "epoch": 0, "batch": 0, "step": 0, "loss": 2.5}]
    complete = "".join(json.dumps(r) + "\n" for r in first)
    partial = '{"event": "batch", "time": 3.0, "epoch": 0, "batch": 1, "st'
    live.write_text(complete + partial)

    answer = board.json("/api/runs/r/live?since=0")
    assert answer["events"] == first
    assert answer["offset"] == len(complete.encode())  # the partial line is not consumed
    assert answer["reset"] is False and answer["more"] is False

    again = board.json(f"/api/runs/r/live?since={answer['offset']}")
    assert again["events"] == [] and again["offset"] == answer["offset"]

    with open(live, "a") as handle:  # the writer finishes the line, then a garbage line and a NaN (Python's json)
        handle.write('ep": 1, "loss": 2.0}\n' + "not json\n" + '{"event": "epoch", "time": 4.0, "epoch": 0, '
                     '"loss": NaN}\n')
    rest = board.json(f"/api/runs/r/live?since={answer['offset']}")
    assert rest["events"] == [{"event": "batch", "time": 3.0, "epoch": 0, "batch": 1, "step": 1, "loss": 2.0},
                              {"event": "epoch", "time": 4.0, "epoch": 0, "loss": None}]
    assert rest["offset"] == os.path.getsize(live)

    # A new training run rewrote the file (shorter than the reader's offset): start again from the top.
    write_lines(live, first[:1])
    restarted = board.json(f"/api/runs/r/live?since={rest['offset']}")
    assert restarted["reset"] is True
    assert restarted["events"] == first[:1]


def test_live_bad_offset_and_missing_file(board, runs_dir):
    (runs_dir / "r").mkdir()
    (runs_dir / "r" / "metrics.json").write_text("{}")
    assert board.get("/api/runs/r/live?since=-3")[0] == 400
    assert board.get("/api/runs/r/live?since=abc")[0] == 400
    status, content_type, body = board.get("/api/runs/r/live")
    assert status == 404 and content_type == "application/json" and "live.jsonl" in json.loads(body)["error"]


# ----- JSON views of the run files -----------------------------------------------------------------------------------


def test_history_metrics_and_json_files(board, runs_dir):
    run = runs_dir / "r"
    run.mkdir()
    (run / "history.csv").write_text("epoch,loss,val_loss,note\n1,0.9,1.1,a\n2,0.5,,b\n3,nan,0.7,c\n")
    (run / "metrics.json").write_text('{"accuracy": 0.93, "loss": NaN}')
    diagnostics = {"layers": [{"name": "fc", "type": "Linear", "activation": {"mean": [0.1], "std": [1.0],
                   "dead_fraction": [None], "saturated_fraction": [None]}, "grad_norm": [0.2], "update_ratio": [1e-3]}],
                   "steps": [10], "warnings": []}
    (run / "diagnostics.json").write_text(json.dumps(diagnostics))
    (run / "backprop_steps.json").write_text(json.dumps(backprop_steps()))
    finder = {"lrs": [1e-4, 1e-3, 1e-2], "losses": [2.0, 1.5, 3.0], "smoothed": [2.0, 1.8, 2.1],
              "suggested_lr": 1e-3, "reason": "steepest descent"}
    (run / "lr_finder.json").write_text(json.dumps(finder))

    assert board.json("/api/runs/r/history") == {"epoch": [1.0, 2.0, 3.0], "loss": [0.9, 0.5, None],
                                                 "val_loss": [1.1, None, 0.7], "note": ["a", "b", "c"]}
    assert board.json("/api/runs/r/metrics") == {"accuracy": 0.93, "loss": None}
    assert board.json("/api/runs/r/diagnostics") == diagnostics
    assert board.json("/api/runs/r/backprop") == backprop_steps()
    assert board.json("/api/runs/r/lr_finder") == finder
    (run / "diagnostics.json").write_text("{broken")
    status, _, body = board.get("/api/runs/r/diagnostics")
    assert status == 404 and "not valid JSON" in json.loads(body)["error"]
    os.remove(run / "lr_finder.json")
    assert board.get("/api/runs/r/lr_finder")[0] == 404


# ----- files, static, and what must never be served -----------------------------------------------------------------


def test_files_are_served_with_their_content_types(board, runs_dir):
    run = runs_dir / "r"
    make_fixture_run(run)
    (run / "graph.html").write_text("<!doctype html><title>graph</title>")
    (run / "graph.txt").write_text("MulBackward#1\n  a\n  b\n")
    (run / "metrics.json").write_text("{}")
    expected = {"confusion_matrix.png": "image/png", "graph.svg": "image/svg+xml",
                "graph.html": "text/html; charset=utf-8", "graph.txt": "text/plain; charset=utf-8",
                "backprop_steps.json": "application/json"}
    for name, content_type in expected.items():
        status, served_type, body = board.get(f"/runs/r/files/{name}")
        assert (status, served_type) == (200, content_type), name
        assert body == (run / name).read_bytes()
    assert board.get("/runs/r/files/samples.png")[2][:8] == b"\x89PNG\r\n\x1a\n"


def test_static_page_and_assets(board):
    status, content_type, body = board.get("/")
    assert (status, content_type) == (200, "text/html; charset=utf-8")
    for needed in (b'id="runs"', b'id="tab-images"', b'id="step-next"'):
        assert needed in body
    for asset in ("board.js", "charts.js", "backprop.js"):  # every script the page loads is served
        assert f"/static/{asset}".encode() in body
        assert board.get(f"/static/{asset}")[:2] == (200, "text/javascript; charset=utf-8")
    assert b"/static/board.css" in body and board.get("/static/board.css")[1] == "text/css; charset=utf-8"
    assert board.get("/static/server.py")[0] == 404
    assert board.get("/static/..%2Fserver.py")[0] == 404
    assert board.get("/static/../server.py")[0] == 404


SECRET = "the secret outside the runs directory"


@pytest.fixture
def hostile(runs_dir, tmp_path):
    """A run 'r' plus things around it that a request must never reach."""
    (tmp_path / "secret.txt").write_text(SECRET)
    (runs_dir / "secret.txt").write_text(SECRET)  # in the runs directory, but not inside a run
    run = runs_dir / "r"
    make_fixture_run(run)
    (run / "metrics.json").write_text("{}")
    (run / "model.safetensors").write_text(SECRET)  # not a servable type
    (run / "sub").mkdir()
    (run / "sub" / "inner.txt").write_text(SECRET)  # not directly inside the run
    os.symlink(tmp_path / "secret.txt", run / "link.txt")
    outside = tmp_path / "outside-run"
    outside.mkdir()
    (outside / "metrics.json").write_text("{}")
    (outside / "notes.txt").write_text(SECRET)
    os.symlink(outside, runs_dir / "linked-run")
    return tmp_path


@pytest.mark.parametrize("path", [
    "/runs/r/files/../secret.txt",
    "/runs/r/files/../../secret.txt",
    "/runs/r/files/%2e%2e/secret.txt",
    "/runs/r/files/%2e%2e%2fsecret.txt",
    "/runs/r/files/..%2F..%2Fsecret.txt",
    "/runs/r/files/..%5C..%5Csecret.txt",
    "/runs/%2e%2e/files/secret.txt",
    "/runs/r/files//etc/passwd",
    "/runs/r/files/%2Fetc%2Fpasswd",
    "/runs/r/files/sub/inner.txt",
    "/runs/r/files/sub%2Finner.txt",
    "/runs/r/files/link.txt",
    "/runs/r/files/model.safetensors",
    "/runs/linked-run/files/notes.txt",
    "/api/runs/linked-run/metrics",
    "/api/runs/%2e%2e/metrics",
    "/api/runs/..%2Fr/metrics",
    "/runs/r/files/graph.svg%00.txt",
])
def test_path_traversal_is_refused(board, hostile, path):
    status, content_type, body = board.get(path)
    assert status == 404, path
    assert content_type == "application/json"
    assert SECRET.encode() not in body


def test_symlinked_run_is_not_listed(board, hostile):
    assert [run["name"] for run in board.json("/api/runs")] == ["r"]


def test_unknown_run_and_page_are_404(board, runs_dir):
    (runs_dir / "r").mkdir()
    (runs_dir / "r" / "metrics.json").write_text("{}")
    for path in ("/api/runs/nope/live", "/api/runs/nope/metrics", "/runs/nope/files/a.png", "/api/runs/r/unknown",
                 "/api/nothing", "/runs/r/files/missing.png", "/favicon.ico"):
        status, content_type, body = board.get(path)
        assert status == 404, path
        assert "error" in json.loads(body)


def test_server_is_read_only(board, runs_dir):
    (runs_dir / "r").mkdir()
    (runs_dir / "r" / "metrics.json").write_text("{}")
    request = urllib.request.Request(board.url + "/api/runs/r/metrics", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=10)
    assert error.value.code == 501
    assert (runs_dir / "r" / "metrics.json").read_text() == "{}"


# ----- LiveLog in real fits ------------------------------------------------------------------------------------------


def tiny_data(n=20, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], dtype=np.float32)).reshape(n, 1)
    return x, y


def read_events(path):
    with open(path) as handle:
        return [json.loads(line) for line in handle]


def test_livelog_writes_the_contract_events_during_fit(tmp_path):
    gb.manual_seed(0)
    model = nn.Linear(3, 1)
    x, y = tiny_data(20)
    optimizer = gb.optim.SGD(model.parameters(), lr=0.05)
    history = fit(model, (x, y), epochs=2, batch_size=4, loss="mse", optimizer=optimizer,
                  metrics=["mae"], callbacks=[LiveLog(tmp_path / "run", min_interval=0, recipe="tiny")], verbose=0)
    events = read_events(tmp_path / "run" / "live.jsonl")
    kinds = [e["event"] for e in events]
    assert kinds == ["begin"] + ["batch"] * 5 + ["epoch"] + ["batch"] * 5 + ["epoch"] + ["end"]
    begin = events[0]
    assert begin["epochs"] == 2 and begin["steps_per_epoch"] == 5 and begin["recipe"] == "tiny"
    batches = [e for e in events if e["event"] == "batch"]
    assert [e["step"] for e in batches] == list(range(10))
    assert [(e["epoch"], e["batch"]) for e in batches] == [(k // 5, k % 5) for k in range(10)]
    epochs = [e for e in events if e["event"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [0, 1]
    for e in epochs:  # every batch has 4 examples: the epoch loss is the plain mean of its batch losses
        mean = np.mean([b["loss"] for b in batches if b["epoch"] == e["epoch"]])
        assert e["loss"] == pytest.approx(mean, rel=1e-6)
    for key in ("loss", "mae", "lr"):
        assert [e[key] for e in epochs] == pytest.approx(history.history[key])
    times = [e["time"] for e in events]
    assert times == sorted(times)


def test_livelog_throttles_batches_but_keeps_each_epochs_last(tmp_path):
    model = nn.Linear(3, 1)
    fit(model, tiny_data(24), epochs=2, batch_size=4, loss="mse", optimizer="sgd",
        callbacks=[LiveLog(tmp_path, min_interval=3600)], verbose=0)
    batches = [(e["epoch"], e["batch"]) for e in read_events(tmp_path / "live.jsonl") if e["event"] == "batch"]
    assert batches == [(0, 0), (0, 5), (1, 5)]  # the first, then only the last of each epoch


def test_livelog_non_finite_loss_is_null(tmp_path):
    def exploding_step(trainer, batch):
        return {"loss": float("nan"), "grad_norm": float("inf"), "name": "not a number"}

    fit(nn.Linear(3, 1), tiny_data(8), epochs=1, batch_size=4, train_step=exploding_step,
        callbacks=[LiveLog(tmp_path, min_interval=0)], verbose=0)
    text = (tmp_path / "live.jsonl").read_text()
    assert "NaN" not in text and "Infinity" not in text
    batch = [e for e in read_events(tmp_path / "live.jsonl") if e["event"] == "batch"][0]
    assert batch["loss"] is None and batch["grad_norm"] is None and "name" not in batch


def test_livelog_fresh_file_per_fit_but_appends_when_resuming(tmp_path):
    run, checkpoint = tmp_path / "run", str(tmp_path / "state.ckpt")
    old = run / "live.jsonl"
    run.mkdir()
    old.write_text('{"event": "begin", "time": 0}\n')  # a previous run's file: a new fit starts afresh

    def train(epochs, **kwargs):
        gb.manual_seed(0)
        model = nn.Linear(3, 1)
        fit(model, tiny_data(8), epochs=epochs, batch_size=4, loss="mse", optimizer="sgd",
            callbacks=[LiveLog(run, min_interval=0)], checkpoint=checkpoint, verbose=0, **kwargs)

    train(1)
    assert [e["event"] for e in read_events(old)] == ["begin", "batch", "batch", "epoch", "end"]
    train(2, resume_from=checkpoint)
    events = read_events(old)
    assert [e["event"] for e in events] == ["begin", "batch", "batch", "epoch", "end",
                                            "begin", "batch", "batch", "epoch", "end"]
    assert [e["step"] for e in events if e["event"] == "batch"] == [0, 1, 2, 3]  # steps continue after resuming
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [0, 1]


def test_board_sees_a_livelog_run_as_running_then_finished(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    server = Board(runs)
    seen = []

    class AskTheBoard(Callback):
        def on_epoch_end(self, epoch, logs=None):
            listing = server.json("/api/runs")
            tail = server.json("/api/runs/live-run/live?since=0")
            seen.append((listing[0]["status"], [e["event"] for e in tail["events"]]))

    try:
        fit(nn.Linear(3, 1), tiny_data(8), epochs=1, batch_size=4, loss="mse", optimizer="sgd",
            callbacks=[LiveLog(runs / "live-run", min_interval=0), AskTheBoard()], verbose=0)
        assert seen == [("running", ["begin", "batch", "batch", "epoch"])]
        assert server.json("/api/runs")[0]["status"] == "finished"
    finally:
        server.close()


def test_livelog_rejects_negative_interval(tmp_path):
    with pytest.raises(ValueError, match="LiveLog: min_interval"):
        LiveLog(tmp_path, min_interval=-1)


# ----- the command ---------------------------------------------------------------------------------------------------


def start_cli(*args):
    code = "import sys; from glassbox.board.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_cli_serves_prints_the_url_and_stops_on_ctrl_c(runs_dir):
    (runs_dir / "r").mkdir()
    (runs_dir / "r" / "metrics.json").write_text("{}")
    process = start_cli(str(runs_dir), "--port", "0", "--no-browser")
    try:
        line = process.stdout.readline()
        assert "http://127.0.0.1:" in line, line + process.stderr.read()
        url = line[line.index("http://"):].split()[0].rstrip("/")
        with urllib.request.urlopen(url + "/api/runs", timeout=10) as response:
            assert [run["name"] for run in json.loads(response.read())] == ["r"]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        assert "stopped" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_cli_errors(runs_dir):
    blocker = Board(runs_dir)  # holds a port, so the command cannot take it
    try:
        port = str(blocker.server.server_address[1])
        process = start_cli(str(runs_dir), "--port", port, "--no-browser")
        out, err = process.communicate(timeout=20)
        assert process.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in err
    finally:
        blocker.close()
    process = start_cli("--port", "99999")
    _, err = process.communicate(timeout=20)
    assert process.returncode == 2 and "port number" in err and len(err.strip().splitlines()) == 1


def test_live_tail_in_chunks_reassembles_the_file(board, runs_dir, monkeypatch):
    import glassbox.board.server as server_module

    monkeypatch.setattr(server_module, "LIVE_CHUNK", 150)  # a few lines per answer
    (runs_dir / "r").mkdir()
    records = [{"event": "batch", "time": float(k), "epoch": 0, "batch": k, "step": k, "loss": 1.0 / (k + 1)}
               for k in range(30)]
    write_lines(runs_dir / "r" / "live.jsonl", records)
    events, offset, answers = [], 0, 0
    while True:
        answer = board.json(f"/api/runs/r/live?since={offset}")
        events += answer["events"]
        offset, answers = answer["offset"], answers + 1
        if not answer["more"]:
            break
    assert events == records
    assert answers > 5 and offset == os.path.getsize(runs_dir / "r" / "live.jsonl")


def test_requests_for_another_host_name_are_refused(board, runs_dir):
    """DNS rebinding: a page of evil.example resolving to 127.0.0.1 sends Host: evil.example."""
    import http.client

    (runs_dir / "r").mkdir()
    (runs_dir / "r" / "metrics.json").write_text('{"accuracy": 1}')
    port = board.server.server_address[1]
    for host, expected in ((f"evil.example:{port}", 403), ("evil.example", 403), (f"localhost:{port}", 200),
                           (f"127.0.0.1:{port}", 200)):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.putrequest("GET", "/api/runs/r/metrics", skip_host=True)
        connection.putheader("Host", host)
        connection.endheaders()
        response = connection.getresponse()
        body = response.read()
        connection.close()
        assert response.status == expected, host
        assert (b"accuracy" in body) == (expected == 200)
