"""digits-rbm: a smoke run with a tiny RBM checks every file and metric; the real run (slow) checks the claim."""

import json

import numpy as np
import pytest

from glassbox.io import load
from glassbox.recipes import digits_rbm
from glassbox.recipes.common import RunConfig

PNG = b"\x89PNG\r\n\x1a\n"
KEYS = ("test_pseudo_likelihood", "test_reconstruction_error", "untrained_pseudo_likelihood",
        "untrained_reconstruction_error", "train_pseudo_likelihood", "train_reconstruction_error", "epochs",
        "hidden_units", "seconds")


def test_smoke_run_writes_every_file(tmp_path, monkeypatch):
    monkeypatch.setattr(digits_rbm, "HIDDEN", 12)
    monkeypatch.setattr(digits_rbm, "SAMPLE_STEPS", 3)
    metrics = digits_rbm.run(RunConfig(epochs=2, seed=0, out=str(tmp_path), verbose=0))
    with open(tmp_path / "metrics.json") as handle:
        saved = json.load(handle)
    assert saved == pytest.approx(metrics)
    for key in KEYS:
        assert key in saved, key
    assert saved["epochs"] == 2 and saved["hidden_units"] == 12
    assert saved["test_pseudo_likelihood"] < 0 and saved["test_reconstruction_error"] > 0
    for picture in ("filters.png", "samples.png", "curves.png"):
        assert (tmp_path / picture).read_bytes()[:8] == PNG, picture
    weights = load(tmp_path / "model.safetensors")
    assert weights["weight"].shape == (64, 12)
    rows = (tmp_path / "history.csv").read_text().strip().splitlines()
    assert rows[0] == "epoch,test_reconstruction_error,test_pseudo_likelihood" and len(rows) == 3


@pytest.mark.slow
def test_real_run_learns_the_digits(tmp_path):
    m = digits_rbm.run(RunConfig(out=str(tmp_path), verbose=0))
    # Training must beat the untrained RBM by a wide margin on held-out digits, on both monitors.
    assert m["test_pseudo_likelihood"] > m["untrained_pseudo_likelihood"] + 20
    assert m["test_reconstruction_error"] < m["untrained_reconstruction_error"] / 5
    # No overfitting worth the name: 100 hidden units, 1438 training digits.
    assert abs(m["train_pseudo_likelihood"] - m["test_pseudo_likelihood"]) < 2
    weights = load(tmp_path / "model.safetensors")["weight"].data
    assert np.isfinite(weights).all()
