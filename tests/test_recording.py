"""train.recording: what `glassbox run` records for the dashboard, without changing the training itself."""

import json

import numpy as np

import glassbox as gb
from glassbox import nn
from glassbox.train import fit
from glassbox.train.recording import recording


def _train(epochs=2):
    gb.manual_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 5)).astype(np.float32), rng.integers(0, 3, size=64)
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Dropout(0.2), nn.BatchNorm1d(16), nn.Linear(16, 3))
    history = fit(model, (x, y), val=(x[:16], y[:16]), epochs=epochs, batch_size=16, loss="cross_entropy",
                  optimizer="adam", verbose=0)
    return model, history


def test_the_first_fit_is_recorded_and_trains_exactly_as_without(tmp_path):
    plain, plain_history = _train()
    with recording(tmp_path):
        recorded, recorded_history = _train()
        _train(epochs=1)  # a second fit in the same block is not recorded
    for a, b in zip(plain.state_dict().values(), recorded.state_dict().values()):
        np.testing.assert_array_equal(a.data, b.data)  # same dropout draws, same batch-norm statistics
    assert plain_history.history["val_loss"] == recorded_history.history["val_loss"]
    names = {p.name for p in tmp_path.iterdir()}
    assert {"live.jsonl", "diagnostics.json", "graph.svg", "graph.html", "graph.txt", "graph.json",
            "backprop_steps.json"} <= names
    events = [json.loads(line) for line in (tmp_path / "live.jsonl").read_text().splitlines()]
    assert events[0]["event"] == "begin" and events[0]["epochs"] == 2 and events[-1]["event"] == "end"
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [0, 1]  # the first fit's two epochs
    steps = json.loads((tmp_path / "backprop_steps.json").read_text())
    assert steps[-1]["done"] and set(steps[-1]["accumulated"]) >= {"0.weight", "4.bias"}


def test_without_a_recording_block_fit_adds_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _train(epochs=1)
    assert list(tmp_path.iterdir()) == []
