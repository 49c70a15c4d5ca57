"""digits-autoencoder: the PCA baseline against a hand-made case, a short smoke run that checks every file and metric
against recomputations from the saved model, and (slow) the real run's claim: clearly below both baselines."""

import csv
import json

import numpy as np
import pytest

import glassbox as gb
from glassbox.data.datasets import load_digits, train_test_split
from glassbox.models.autoencoder import Autoencoder
from glassbox.recipes import digits_autoencoder
from glassbox.recipes.common import RunConfig

PNG = b"\x89PNG\r\n\x1a\n"
FILES = ("metrics.json", "history.csv", "model.safetensors", "curves.png", "reconstructions.png", "codes.png")
KEYS = {"test_reconstruction_mse", "baseline_mse", "pca2_mse", "code_size", "noise", "noise_level", "epochs",
        "final_val_loss", "seconds", "parameters", "train_examples", "val_examples", "test_examples"}


def test_pca_mse_is_exact_on_data_in_a_plane_and_the_residual_otherwise():
    rng = np.random.default_rng(0)
    plane = rng.standard_normal((2, 5))
    train = rng.standard_normal((50, 2)) @ plane + 3.0
    test = rng.standard_normal((20, 2)) @ plane + 3.0
    assert digits_autoencoder.pca_mse(train, test, 2) < 1e-20  # a 2-D affine subspace is reproduced exactly
    # with one component, the error is the test data's variance along the discarded direction, by hand:
    train = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    test = np.array([[1.0, 3.0]])
    assert digits_autoencoder.pca_mse(train, test, 1) == pytest.approx(9.0 / 2)


def _test_split(seed):
    images, labels = load_digits()
    x = (images / 16.0).astype(np.float32)
    _, x_test, _, y_test = train_test_split(x, labels, test_fraction=0.2, seed=seed)
    return x_test


def test_smoke_run_writes_every_file_and_consistent_metrics(tmp_path):
    out = tmp_path / "run"
    metrics = digits_autoencoder.run(RunConfig(epochs=2, seed=0, out=str(out), verbose=0))
    for name in FILES:
        assert (out / name).exists(), name
    for name in ("curves.png", "reconstructions.png", "codes.png"):
        assert (out / name).read_bytes()[:8] == PNG
    assert set(metrics) == KEYS and json.loads((out / "metrics.json").read_text()) == pytest.approx(metrics)
    x_test = _test_split(0)
    assert metrics["epochs"] == 2 and metrics["test_examples"] == len(x_test) and metrics["code_size"] == 2
    assert metrics["train_examples"] + metrics["val_examples"] + len(x_test) == 1797
    rows = list(csv.DictReader(open(out / "history.csv")))
    assert len(rows) == 2 and {"loss", "val_loss"} <= set(rows[0])
    # the test numbers, recomputed from the saved model and the documented split
    model = Autoencoder(64, digits_autoencoder.HIDDEN, digits_autoencoder.CODE_SIZE)
    model.load_state_dict(gb.load(out / "model.safetensors"))
    model.eval()
    with gb.no_grad():
        reconstruction = model(gb.tensor(x_test)).numpy().astype(np.float64)
    assert metrics["test_reconstruction_mse"] == pytest.approx(np.mean((reconstruction - x_test) ** 2), rel=1e-5)
    assert metrics["baseline_mse"] > metrics["pca2_mse"] > 0  # two components explain part of the variance


@pytest.mark.slow
def test_real_run_reconstructs_clearly_better_than_both_baselines(tmp_path):
    metrics = digits_autoencoder.run(RunConfig(seed=0, out=str(tmp_path), verbose=0))
    assert metrics["epochs"] == digits_autoencoder.DEFAULT_EPOCHS
    assert metrics["test_reconstruction_mse"] < 0.5 * metrics["baseline_mse"]  # the mean image
    assert metrics["test_reconstruction_mse"] < 0.75 * metrics["pca2_mse"]  # the best linear 2-D code
