"""digits-cnn: a 2-epoch smoke run checks every file of the run directory against independent recomputations (the
saved model reloads and reproduces the test numbers); the real run (slow) checks the accuracy the README reports."""

import csv
import json

import numpy as np
import pytest

import glassbox as gb
from glassbox import cli
from glassbox.data.datasets import load_digits, train_test_split
from glassbox.recipes import RECIPES, digits_cnn
from glassbox.recipes.common import RunConfig

PNG = b"\x89PNG\r\n\x1a\n"
PICTURES = ("curves.png", "confusion_matrix.png", "examples.png", "filters.png", "feature_maps.png")


def assert_png(path):
    assert path.read_bytes()[:8] == PNG, path


def digits_test_split(images, labels, seed):
    """The documented test split: 20% of the digits, pixels / 16 as (N, 1, 8, 8)."""
    x = (images / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    _, x_test, _, y_test = train_test_split(x, labels, test_fraction=0.2, seed=seed)
    return x_test, y_test




def reloaded_numbers(out, x_test, y_test):
    """Accuracy and mean cross-entropy of the saved model on the test split, computed in float64 from its logits."""
    model = digits_cnn.build_model()
    model.load_state_dict(gb.load(out / "model.safetensors"))
    model.eval()
    with gb.no_grad():
        logits = model(gb.tensor(x_test)).numpy().astype(np.float64)
    shifted = logits - logits.max(1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    return np.mean(logits.argmax(1) == y_test), -log_probs[np.arange(len(y_test)), y_test].mean()


def test_digits_cnn_smoke(tmp_path):
    out = tmp_path / "run"
    metrics = digits_cnn.run(RunConfig(epochs=2, seed=0, out=str(out), verbose=0))
    assert json.loads((out / "metrics.json").read_text()) == pytest.approx(metrics)
    for key in ("test_accuracy", "test_loss", "epochs", "seconds", "parameters", "train_examples", "val_examples",
                "test_examples", "best_val_loss"):
        assert key in metrics, key
    assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in metrics.values())
    assert metrics["epochs"] == 2 and metrics["seconds"] > 0
    assert metrics["test_examples"] == round(1797 * 0.2)
    assert metrics["train_examples"] + metrics["val_examples"] == 1797 - round(1797 * 0.2)
    # conv weights without bias (BN follows), BN weight+bias, and the dense layer
    assert metrics["parameters"] == (32 * 9) + 2 * 32 + (64 * 32 * 9) + 2 * 64 + (64 * 2 * 2 * 10 + 10)

    with open(out / "history.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert metrics["best_val_loss"] == pytest.approx(min(float(row["val_loss"]) for row in rows))
    for name in PICTURES:
        assert_png(out / name)

    accuracy, loss = reloaded_numbers(out, *digits_test_split(*load_digits(), seed=0))
    assert metrics["test_accuracy"] == pytest.approx(accuracy, abs=1e-12)
    assert metrics["test_loss"] == pytest.approx(loss, rel=1e-5)


def test_digits_cnn_model_shapes_and_state_dict_keys():
    model = digits_cnn.build_model()
    assert model(gb.zeros(3, 1, 8, 8)).shape == (3, 10)
    keys = set(model.state_dict())
    assert {"features.0.weight", "features.1.running_mean", "features.4.weight", "classifier.2.weight"} <= keys
    assert "features.0.bias" not in keys


def test_digits_cnn_with_a_csv_file_through_the_cli(tmp_path, monkeypatch):
    images, labels = load_digits()
    chosen = np.random.default_rng(1).permutation(len(labels))[:300]
    table = np.concatenate([images[chosen].astype(np.int64), labels[chosen, None]], axis=1)
    data = tmp_path / "digits.csv"
    np.savetxt(data, table, fmt="%d", delimiter=",")
    monkeypatch.setitem(RECIPES, digits_cnn.NAME, digits_cnn)  # registered or not, the CLI can run it
    out = tmp_path / "out"
    assert cli.main(["run", "digits-cnn", "--epochs", "1", "--data", str(data), "--out", str(out), "--quiet",
                     "--seed", "5"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_examples"] == 60 and metrics["train_examples"] + metrics["val_examples"] == 240
    accuracy, loss = reloaded_numbers(out, *digits_test_split(images[chosen], labels[chosen], seed=5))
    assert metrics["test_accuracy"] == pytest.approx(accuracy, abs=1e-12)
    assert metrics["test_loss"] == pytest.approx(loss, rel=1e-5)
    for name in PICTURES:
        assert_png(out / name)


def test_digits_cnn_rejects_a_csv_of_the_wrong_shape(tmp_path):
    data = tmp_path / "bad.csv"
    np.savetxt(data, np.ones((5, 64)), delimiter=",")
    with pytest.raises(ValueError, match="65 columns"):
        digits_cnn.run(RunConfig(epochs=1, out=str(tmp_path / "out"), data=str(data), verbose=0))


def test_the_seed_fixes_the_run(tmp_path, monkeypatch):
    for writer in ("write_classification_pictures", "write_conv_pictures"):  # slow, and checked above
        monkeypatch.setattr(digits_cnn, writer, lambda *args: None)
    a = digits_cnn.run(RunConfig(epochs=1, seed=3, out=str(tmp_path / "a"), verbose=0))
    b = digits_cnn.run(RunConfig(epochs=1, seed=3, out=str(tmp_path / "b"), verbose=0))
    assert a["test_loss"] == b["test_loss"]
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_digits_cnn_real_run(tmp_path, seed):
    metrics = digits_cnn.run(RunConfig(seed=seed, out=str(tmp_path), verbose=0))
    assert metrics["test_accuracy"] >= 0.985, metrics
    assert metrics["epochs"] <= digits_cnn.DEFAULT_EPOCHS
    accuracy, _ = reloaded_numbers(tmp_path, *digits_test_split(*load_digits(), seed=seed))
    assert metrics["test_accuracy"] == pytest.approx(accuracy, abs=1e-12)
