"""The digits-nas recipe: its search space builds valid models, its objective returns the validation accuracy of the
model it saved (checked by hand in NumPy), a tiny run writes every file and metric, and (slow) the real run."""

import csv
import json
import os

import numpy as np
import pytest

from glassbox import automl
from glassbox.io import safetensors_io
from glassbox.recipes import digits_nas
from glassbox.recipes.common import RunConfig
from glassbox.tensor import Tensor

METRIC_KEYS = {"best_val_accuracy", "best_test_accuracy", "best_test_loss", "best_parameters", "best_budget_epochs",
               "best_trial", "best_config", "best_summary", "trials", "failed_trials", "search_epochs",
               "search_seconds", "max_budget_epochs", "workers", "digits_cnn_test_accuracy",
               "digits_cnn_val_accuracy", "digits_cnn_parameters", "digits_cnn_epochs", "digits_cnn_seconds",
               "train_examples", "val_examples", "test_examples"}

LINEAR = {"layers": {"conv": [], "dense": []}, "activation": "relu", "norm": "none", "dropout": 0.0, "lr": 1e-2,
          "batch_size": 64, "weight_decay": 1e-5}


def test_search_space_builds_cnns_and_mlps():
    space = digits_nas.search_space()
    rng = np.random.default_rng(0)
    kinds = set()
    x = Tensor._make(np.zeros((2, 1, 8, 8), dtype=np.float32))
    for _ in range(40):
        config = space.sample(rng)
        space.validate(config)
        model = automl.build_model(config, digits_nas.INPUT_SHAPE, digits_nas.NUM_CLASSES)
        model.eval()
        assert model(x).shape == (2, 10)
        kinds.add(bool(config["layers"]["conv"]))
    assert kinds == {True, False}  # both CNNs and dense-only networks are searched


def test_splits_match_digits_cnn():
    x_fit, y_fit, x_val, y_val, x_test, y_test = digits_nas.splits(None, 0)
    # 1797 digits: 20% test (ceil), 15% of the remaining 1438 for validation
    assert (len(x_fit), len(x_val), len(x_test)) == (1222, 216, 359)
    assert x_fit.shape[1:] == (1, 8, 8) and x_fit.dtype == np.float32
    assert 0.0 <= x_fit.min() and x_fit.max() <= 1.0
    assert len(y_fit) + len(y_val) + len(y_test) == 1797


def test_objective_returns_the_saved_models_validation_accuracy(tmp_path):
    result = digits_nas.objective(LINEAR, 2, str(tmp_path))
    _, _, x_val, y_val, _, _ = digits_nas.splits(None, 0)
    # The model is Flatten -> Linear(64, 10): score its saved weights by hand.
    state = safetensors_io.load(os.path.join(tmp_path, "model.safetensors"))
    weight, bias = np.asarray(state["1.weight"].data), np.asarray(state["1.bias"].data)
    assert weight.shape == (10, 64) and bias.shape == (10,)
    logits = x_val.reshape(len(x_val), 64).astype(np.float64) @ weight.T + bias
    by_hand = float(np.mean(logits.argmax(axis=1) == y_val))
    assert result["score"] == pytest.approx(by_hand, abs=1e-12)
    assert result["val_accuracy"] == result["score"]
    assert result["parameters"] == 64 * 10 + 10
    assert by_hand > 0.8  # two epochs of softmax regression on the digits: well above chance (0.1)
    with open(os.path.join(tmp_path, "config.json")) as handle:
        assert json.load(handle) == LINEAR


def test_summarize():
    config = dict(LINEAR, layers={"conv": [{"channels": 16, "kernel_size": 3}], "dense": [{"units": 40}]})
    assert digits_nas.summarize(config) == "conv16k3 | dense40 | relu none p=0.00 lr=1.0e-02 bs=64 wd=1e-05"


def test_smoke_run_writes_every_file_and_metric(tmp_path):
    out = str(tmp_path / "run")
    metrics = digits_nas.run(RunConfig(epochs=1, out=out, verbose=0))
    assert set(metrics) == METRIC_KEYS
    # max_budget 1 < eta 3: Hyperband repeated eta times, 3 trials of 1 epoch
    assert metrics["trials"] == 3 and metrics["search_epochs"] == 3 and metrics["failed_trials"] == 0
    assert metrics["digits_cnn_epochs"] == 2 and metrics["max_budget_epochs"] == 1
    files = set(os.listdir(out))
    assert {"metrics.json", "leaderboard.csv", "accuracy_vs_parameters.png", "model.safetensors", "search",
            "best_config.json", "digits_cnn"} <= files
    assert {"trials.jsonl", "search.json", "trials"} <= set(os.listdir(os.path.join(out, "search")))
    assert "metrics.json" in os.listdir(os.path.join(out, "digits_cnn"))
    with open(os.path.join(out, "metrics.json")) as handle:
        assert set(json.load(handle)) == METRIC_KEYS
    with open(os.path.join(out, "leaderboard.csv")) as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["id"]) for r in rows] == [0, 1, 2]
    assert all(r["status"] == "done" and r["budget_epochs"] == "1" for r in rows)
    # The reported best is the leaderboard's highest validation accuracy, with its parameter count and config.
    best = max(rows, key=lambda r: float(r["val_accuracy"]))
    assert metrics["best_val_accuracy"] == pytest.approx(float(best["val_accuracy"]))
    assert metrics["best_parameters"] == int(best["parameters"])
    config = json.loads(metrics["best_config"])
    assert config == json.loads(best["config"])
    # model.safetensors is the best trial's model: reloaded, it gives the reported test accuracy.
    model = digits_nas.load_trial_model(config, out)
    _, _, _, _, x_test, y_test = digits_nas.splits(None, 0)
    model.eval()
    predictions = model(Tensor._make(x_test)).data.argmax(axis=1)
    assert metrics["best_test_accuracy"] == pytest.approx(float(np.mean(predictions == y_test)))
    assert metrics["digits_cnn_parameters"] == 21482
    assert 0.0 <= metrics["digits_cnn_test_accuracy"] <= 1.0


@pytest.mark.slow
def test_real_run_finds_an_accurate_architecture(tmp_path):
    metrics = digits_nas.run(RunConfig(out=str(tmp_path), verbose=0))
    # Hyperband(1, 9, eta 3): 22 trials, 78 epochs. Seed 0 measured: best trial 12 (conv32k5-conv16k5, dense 172-17,
    # 9 epochs) val 0.991, test 0.986 with 28423 parameters; digits-cnn test 0.994 (21482 parameters).
    assert metrics["trials"] == 22 and metrics["search_epochs"] == 78 and metrics["failed_trials"] == 0
    assert metrics["best_test_accuracy"] >= 0.95
    assert metrics["digits_cnn_test_accuracy"] >= 0.97
