"""The iris-perceptron and xor-mlp recipes: their data and helpers by hand, smoke runs that write every file and
metric, and (slow) the real runs' claims."""

import json
import os

import numpy as np
import pytest

from glassbox.data.datasets import load_iris
from glassbox.io import safetensors_io
from glassbox.models.perceptron import Perceptron
from glassbox.recipes import iris_perceptron, xor_mlp
from glassbox.recipes.common import RunConfig


def test_setosa_data_is_two_sepal_features_with_plus_one_for_setosa():
    features, labels = load_iris()
    x, y = iris_perceptron.setosa_data()
    assert x.shape == (150, 2) and y.shape == (150,)
    np.testing.assert_array_equal(x, features[:, :2])
    assert (y == 1).sum() == 50 and np.all(y[labels == 0] == 1) and np.all(y[labels != 0] == -1)


def test_margin_and_radius_by_hand():
    p = Perceptron(2)
    p.weight[:], p.bias = [3.0, 0.0], 4.0  # ||(w, b)|| = 5
    x = np.array([[1.0, 2.0], [-2.0, 0.0]])
    y = np.array([1, -1])
    gamma, radius = iris_perceptron.margin_and_radius(p, x, y)
    # scores 7 and -2 -> y * score = 7, 2 -> gamma = 2 / 5; ||(x, 1)|| = sqrt(6), sqrt(5)
    assert gamma == pytest.approx(0.4) and radius == pytest.approx(np.sqrt(6))


def test_iris_smoke_run_writes_every_file(tmp_path):
    out = tmp_path / "iris"
    metrics = iris_perceptron.run(RunConfig(out=str(out), verbose=0))
    for name in ("metrics.json", "history.csv", "curves.png", "decision_boundary.png", "model.safetensors"):
        assert os.path.getsize(out / name) > 0, name
    saved = json.loads((out / "metrics.json").read_text())
    for key in ("converged", "updates", "epochs", "train_accuracy", "test_accuracy", "features", "margin", "radius",
                "weight", "bias"):
        assert key in saved and key in metrics, key
    assert saved["converged"] is True and saved["train_accuracy"] == 1.0 and saved["margin"] > 0
    rows = (out / "history.csv").read_text().splitlines()
    assert rows[0] == "epoch,updates" and len(rows) == saved["epochs"] + 1 and rows[-1].endswith(",0")
    assert sum(int(r.split(",")[1]) for r in rows[1:]) == saved["updates"]
    tensors = safetensors_io.load(out / "model.safetensors")
    np.testing.assert_allclose(tensors["weight"].data[0], saved["weight"])


def test_iris_budget_is_config_epochs(tmp_path):
    metrics = iris_perceptron.run(RunConfig(epochs=1, out=str(tmp_path), verbose=0))
    assert metrics["epochs"] == 1 and metrics["converged"] is False  # the first epoch always makes a mistake


def test_xor_mlp_is_the_documented_network_and_its_scores_match_a_hand_forward():
    model = xor_mlp.build_model(hidden=3)
    state = {k: v.data.astype(np.float64) for k, v in model.state_dict().items()}
    assert {k: v.shape for k, v in state.items()} == {"0.weight": (3, 2), "0.bias": (3,), "2.weight": (1, 3),
                                                      "2.bias": (1,)}
    points = np.array([[0.0, 0.0], [0.3, -1.2], [1.0, 1.0]])
    hand = np.tanh(points @ state["0.weight"].T + state["0.bias"]) @ state["2.weight"].T + state["2.bias"]
    np.testing.assert_allclose(xor_mlp.mlp_scores(model, points), hand[:, 0], rtol=1e-5, atol=1e-6)


def test_noisy_cloud_keeps_the_label_of_its_point():
    cloud, labels = xor_mlp.noisy_cloud(np.random.default_rng(0), per_point=200, noise=0.1)
    assert cloud.shape == (800, 2) and labels.shape == (800,)
    nearest = np.argmin(((cloud[:, None, :] - xor_mlp.XOR_INPUTS[None]) ** 2).sum(axis=2), axis=1)
    assert np.mean(xor_mlp.XOR_LABELS[nearest] == labels) > 0.99  # 0.1 noise rarely crosses the 0.5 midline
    assert xor_mlp.XOR_LABELS.tolist() == [int(a) ^ int(b) for a, b in xor_mlp.XOR_INPUTS]


def test_xor_smoke_run_writes_every_file(tmp_path, monkeypatch):
    monkeypatch.setattr(xor_mlp, "PERCEPTRON_EPOCHS", 20)
    monkeypatch.setattr(xor_mlp, "CLOUD_PER_POINT", 5)
    out = tmp_path / "xor"
    metrics = xor_mlp.run(RunConfig(epochs=3, out=str(out), verbose=0))
    for name in ("metrics.json", "history.csv", "curves.png", "decision_boundaries.png", "model.safetensors"):
        assert os.path.getsize(out / name) > 0, name
    saved = json.loads((out / "metrics.json").read_text())
    for key in ("perceptron_converged", "perceptron_updates", "perceptron_epochs", "perceptron_accuracy",
                "mlp_accuracy", "mlp_final_loss", "mlp_epochs", "mlp_cloud_accuracy", "perceptron_cloud_accuracy"):
        assert key in saved and key in metrics, key
    assert saved["perceptron_converged"] is False and saved["perceptron_epochs"] == 20
    assert saved["perceptron_accuracy"] <= 0.75 and saved["mlp_epochs"] == 3
    assert (out / "history.csv").read_text().count("\n") == 4  # header + 3 epochs


@pytest.mark.slow
def test_real_iris_run_converges_and_generalises(tmp_path):
    metrics = iris_perceptron.run(RunConfig(out=str(tmp_path), verbose=0))
    assert metrics["converged"] and metrics["train_accuracy"] == 1.0 and metrics["test_accuracy"] >= 0.9
    assert metrics["epochs"] < iris_perceptron.DEFAULT_EPOCHS


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_real_xor_run_mlp_solves_what_the_perceptron_cannot(tmp_path, seed):
    metrics = xor_mlp.run(RunConfig(out=str(tmp_path), seed=seed, verbose=0))
    assert metrics["perceptron_converged"] is False and metrics["perceptron_accuracy"] <= 0.75
    assert metrics["mlp_accuracy"] == 1.0 and metrics["mlp_final_loss"] < 0.05
    assert metrics["mlp_cloud_accuracy"] > 0.9
