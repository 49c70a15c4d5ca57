"""The recipes through `glassbox run`: smoke runs with 2 epochs check every file of the run directory against
independent recomputations; the real runs (slow) check the numbers the README reports."""

import csv
import json

import numpy as np
import pytest

import glassbox as gb
import glassbox.nn as nn
from glassbox import cli
from glassbox.data.datasets import load_diabetes, load_digits, train_test_split
from glassbox.recipes import DEFAULT_RECIPE, RECIPES, diabetes_mlp, digits_mlp
from glassbox.train import evaluate, predict

PNG = b"\x89PNG\r\n\x1a\n"


def run(recipe, out, *args):
    code = cli.main(["run", recipe, "--out", str(out), *args])
    assert code == 0
    with open(out / "metrics.json") as handle:
        return json.load(handle)


def history_rows(out):
    with open(out / "history.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def assert_png(path):
    assert path.read_bytes()[:8] == PNG, path


def test_every_recipe_is_registered():
    assert set(RECIPES) == {"digits-cnn", "digits-mlp", "diabetes-mlp", "digits-transfer", "shapes-segmentation",
                            "iris-perceptron", "xor-mlp", "digits-rbm", "digits-dbn",
                            "digits-autoencoder", "digits-vae", "digits-gan", "digits-nas",
                            "cartpole-dqn", "cartpole-pg", "highway-dqn",
                            "word2vec", "text-lstm", "sequence-bilstm", "seq2seq-dates", "mnist-cnn", "fashion-cnn",
                            "cifar10-resnet"}
    assert DEFAULT_RECIPE == "digits-cnn"  # the issue-4 default: `glassbox run` trains the CNN
    for name, recipe in RECIPES.items():
        assert recipe.NAME == name and recipe.DESCRIPTION and recipe.DEFAULT_EPOCHS > 0


# ----- digits-mlp ----------------------------------------------------------------------------------------------------

def digits_split(images, labels, seed=0):
    """The recipe's documented split: 20% test, then 15% of the rest for validation, pixels scaled to 0..1."""
    x_train, x_test, y_train, y_test = train_test_split(images / 16.0, labels, test_fraction=0.2, seed=seed)
    return x_train, x_test, y_train, y_test


def test_digits_mlp_smoke(tmp_path, capsys):
    out = tmp_path / "digits"
    metrics = run("digits-mlp", out, "--epochs", "2")
    printed = capsys.readouterr().out
    assert sum(line.startswith("Epoch ") for line in printed.splitlines()) == 2  # one summary line per epoch
    assert json.loads(printed[printed.index("{"):printed.rindex("}") + 1]) == metrics

    for key in ("test_accuracy", "test_loss", "epochs", "seconds", "parameters"):
        assert key in metrics, key
    assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in metrics.values())  # flat numbers
    assert metrics["epochs"] == 2
    assert metrics["parameters"] == (64 * 256 + 256) + (256 * 128 + 128) + (128 * 10 + 10)
    assert metrics["seconds"] >= 0
    assert metrics["test_examples"] == round(1797 * 0.2)
    assert metrics["train_examples"] + metrics["val_examples"] == 1797 - round(1797 * 0.2)

    rows = history_rows(out)
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(rows[0])
    assert metrics["best_val_loss"] == pytest.approx(min(float(row["val_loss"]) for row in rows))
    for name in ("curves.png", "confusion_matrix.png", "examples.png"):
        assert_png(out / name)

    # the saved model, loaded into the recipe's architecture, reproduces the reported test numbers
    model = digits_mlp.build_model()
    model.load_state_dict(gb.load(out / "model.safetensors"))
    _, x_test, _, y_test = digits_split(*load_digits())
    logits = predict(model, x_test.astype(np.float32)).data.astype(np.float64)
    shifted = logits - logits.max(1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    assert metrics["test_accuracy"] == pytest.approx(np.mean(logits.argmax(1) == y_test), abs=1e-12)
    assert metrics["test_loss"] == pytest.approx(-log_probs[np.arange(len(y_test)), y_test].mean(), rel=1e-5)


def test_digits_mlp_quiet_prints_only_the_results(tmp_path, capsys):
    run("digits-mlp", tmp_path, "--epochs", "1", "--quiet")
    printed = capsys.readouterr().out
    assert not any(line.startswith(("Epoch ", "glassbox run")) for line in printed.splitlines())
    assert printed.lstrip().startswith("{")


def test_digits_mlp_with_a_csv_file(tmp_path):
    images, labels = load_digits()
    chosen = np.random.default_rng(1).permutation(len(labels))[:300]
    table = np.concatenate([images[chosen].astype(np.int64), labels[chosen, None]], axis=1)
    data = tmp_path / "digits.csv"
    np.savetxt(data, table, fmt="%d", delimiter=",")
    metrics = run("digits-mlp", tmp_path / "out", "--epochs", "2", "--data", str(data), "--quiet", "--seed", "5")
    assert metrics["test_examples"] == 60 and metrics["train_examples"] + metrics["val_examples"] == 240
    model = digits_mlp.build_model()
    model.load_state_dict(gb.load(tmp_path / "out" / "model.safetensors"))
    _, x_test, _, y_test = digits_split(images[chosen], labels[chosen], seed=5)
    accuracy = evaluate(model, (x_test.astype(np.float32), y_test), metrics=["accuracy"])["accuracy"]
    assert metrics["test_accuracy"] == pytest.approx(accuracy)


def test_the_seed_changes_the_run_and_fixes_it(tmp_path):
    a = run("digits-mlp", tmp_path / "a", "--epochs", "1", "--quiet", "--seed", "1")
    b = run("digits-mlp", tmp_path / "b", "--epochs", "1", "--quiet", "--seed", "1")
    c = run("digits-mlp", tmp_path / "c", "--epochs", "1", "--quiet", "--seed", "2")
    assert a["test_loss"] == b["test_loss"]
    assert a["test_loss"] != c["test_loss"]


# ----- diabetes-mlp --------------------------------------------------------------------------------------------------

def least_squares_r2(x_train, y_train, x_test, y_test):
    """Ordinary least squares with an intercept on centred data (normal equations), R^2 by its definition."""
    x_train, y_train = x_train.astype(np.float64), y_train.astype(np.float64)
    x_mean, y_mean = x_train.mean(0), y_train.mean()
    xc = x_train - x_mean
    beta = np.linalg.solve(xc.T @ xc, xc.T @ (y_train - y_mean))
    predicted = (x_test.astype(np.float64) - x_mean) @ beta + y_mean
    y_test = y_test.astype(np.float64)
    return 1 - ((y_test - predicted) ** 2).sum() / ((y_test - y_test.mean()) ** 2).sum()


def diabetes_model():
    return nn.Sequential(nn.Linear(10, 16), nn.Tanh(), nn.Linear(16, 1))


def check_diabetes_run(out, metrics, features, target, seed):
    for key in ("test_r2", "baseline_r2", "test_mae", "test_loss", "epochs", "seconds", "parameters"):
        assert key in metrics, key
    assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in metrics.values())
    assert metrics["parameters"] == 10 * 16 + 16 + 16 + 1
    x_train, x_test, y_train, y_test = train_test_split(features, target, test_fraction=0.2, seed=seed)
    assert metrics["test_examples"] == len(y_test) and metrics["train_examples"] == len(y_train)
    assert metrics["baseline_r2"] == pytest.approx(least_squares_r2(x_train, y_train, x_test, y_test), abs=1e-6)

    # the saved model reproduces test_r2 and test_mae (standardised with the training statistics, as documented)
    model = diabetes_model()
    model.load_state_dict(gb.load(out / "model.safetensors"))
    mean, std = x_train.mean(0), x_train.std(0) + 1e-8
    scaled = predict(model, ((x_test - mean) / std).astype(np.float32)).data[:, 0].astype(np.float64)
    predicted = scaled * y_train.std() + y_train.mean()
    y = y_test.astype(np.float64)
    r2 = 1 - ((y - predicted) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert metrics["test_r2"] == pytest.approx(r2, abs=1e-5)
    assert metrics["test_mae"] == pytest.approx(np.abs(predicted - y).mean(), rel=1e-5)
    rows = history_rows(out)
    assert len(rows) == metrics["epochs"]
    assert {"loss", "r2", "mae", "val_loss", "val_r2", "val_mae"} <= set(rows[0])
    for name in ("curves.png", "predictions.png"):
        assert_png(out / name)


def test_diabetes_mlp_smoke(tmp_path):
    out = tmp_path / "diabetes"
    metrics = run("diabetes-mlp", out, "--epochs", "2", "--quiet")
    assert metrics["epochs"] == 2
    check_diabetes_run(out, metrics, *load_diabetes(), seed=0)


def test_diabetes_mlp_with_a_csv_file(tmp_path):
    features, target = load_diabetes()
    features, target = features[:200], target[:200]
    data = tmp_path / "diabetes.csv"
    np.savetxt(data, np.concatenate([features, target[:, None]], axis=1), delimiter=",", fmt="%.9g")
    out = tmp_path / "out"
    metrics = run("diabetes-mlp", out, "--epochs", "3", "--data", str(data), "--quiet", "--seed", "4")
    assert metrics["epochs"] == 3 and metrics["test_examples"] == 40
    check_diabetes_run(out, metrics, features, target, seed=4)


def test_diabetes_mlp_rejects_a_csv_of_the_wrong_shape(tmp_path, capsys):
    data = tmp_path / "bad.csv"
    np.savetxt(data, np.ones((5, 4)), delimiter=",")
    assert cli.main(["run", "diabetes-mlp", "--data", str(data), "--out", str(tmp_path / "out"), "--quiet"]) == 1
    assert "11 columns" in capsys.readouterr().err


# ----- the real runs -------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_digits_mlp_real_run(tmp_path):
    metrics = run("digits-mlp", tmp_path, "--quiet")
    assert metrics["test_accuracy"] >= 0.97, metrics
    assert 1 <= metrics["epochs"] <= digits_mlp.DEFAULT_EPOCHS


@pytest.mark.slow
def test_diabetes_mlp_real_run(tmp_path):
    metrics = run("diabetes-mlp", tmp_path, "--quiet")
    assert metrics["test_r2"] > 0.4, metrics
    assert metrics["epochs"] <= diabetes_mlp.DEFAULT_EPOCHS
    check_diabetes_run(tmp_path, metrics, *load_diabetes(), seed=0)
