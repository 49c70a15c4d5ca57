"""digits-nas: a Hyperband architecture search (convolutional and dense networks) on the embedded 8x8 digits."""

import csv
import functools
import json
import math
import os
import shutil
import time

import numpy as np

from .. import automl, nn, optim
from ..data.datasets import train_test_split
from ..io import safetensors_io
from ..random import manual_seed
from ..train import evaluate, fit
from ..train.plots import _pyplot
from . import digits_cnn
from .common import RunConfig, prepare_output, write_metrics
from .digits_mlp import load_data

NAME = "digits-nas"
DESCRIPTION = ("Hyperband search over conv/dense architectures and training settings for the 8x8 digits, "
               "against the hand-designed digits-cnn (~3 minutes of CPU on 2 cores; best test accuracy ~0.99)")
# The budget unit: epochs = Hyperband's max_budget, the epochs of its longest trials (min_budget 1, eta 3). At 9 it
# runs 22 trials of 17 configs, 78 epochs in all (brackets 9x1 -> 3x3 -> 1x9, 5x3 -> 1x9, 3x9).
DEFAULT_EPOCHS = 9
ETA = 3
# Trials run in 2 worker processes (one per core). Measured on a loaded 2-core machine (load average ~7): the 22
# default trials took 409 s of summed trial time in 299 s of wall time; the last bracket (3 trials of 9 epochs) keeps
# only 2 busy at once, so the gain is below 2x.
WORKERS = 2
INPUT_SHAPE = (1, 8, 8)
NUM_CLASSES = 10


def search_space():
    """The searched space: 0-3 conv layers (8-64 channels, 3x3 or 5x5, each followed by a 2x2 max-pool) then 0-2
    dense layers (16-256 units), plus activation, normalisation, dropout and the training settings.

    Unlike image_classifier_space() (at least one conv layer) zero conv layers are allowed, so plain MLPs on the
    64 pixels compete with CNNs; the learning-rate range is narrowed to where Adam trains in a few epochs."""
    return automl.Space(
        layers=automl.Space(
            conv=automl.Repeat(automl.Space(channels=automl.Choice([8, 16, 32, 64]),
                                            kernel_size=automl.Choice([3, 5])), 0, 3),
            dense=automl.Repeat(automl.Space(units=automl.IntRange(16, 256, log=True)), 0, 2),
        ),
        activation=automl.Choice(["relu", "gelu", "tanh", "elu"]),
        norm=automl.Choice(["none", "batch"]),
        dropout=automl.FloatRange(0.0, 0.4),
        lr=automl.FloatRange(3e-4, 1e-2, log=True),
        batch_size=automl.Choice([32, 64, 128]),
        weight_decay=automl.FloatRange(1e-6, 1e-3, log=True),
    )


@functools.lru_cache(maxsize=4)
def splits(data=None, seed=0):
    """The digits-cnn split: (x_fit, y_fit, x_val, y_val, x_test, y_test), images (N, 1, 8, 8) float32 in 0..1.

    Test is 20% of the data (split seed `seed`), validation 15% of the rest (seed `seed + 1`), exactly as in
    digits_cnn.run, so the search never sees the test images and the digits-cnn reference is scored on the same
    test set. Cached: a worker process loads the data once for all its trials."""
    images, labels = load_data(data)
    x = (images / 16.0).astype(np.float32).reshape(-1, *INPUT_SHAPE)
    x_train, x_test, y_train, y_test = train_test_split(x, labels, test_fraction=0.2, seed=seed)
    x_fit, x_val, y_fit, y_val = train_test_split(x_train, y_train, test_fraction=0.15, seed=seed + 1)
    return x_fit, y_fit, x_val, y_val, x_test, y_test


def objective(config, epochs, trial_dir, data=None, seed=0):
    """Train build_model(config) on the fit split for `epochs` epochs, score it on the validation split.

    Adam(lr, weight_decay) with a cosine schedule over the trial's epochs and config["batch_size"]. Saves
    model.safetensors and config.json into trial_dir. Returns {"score": validation accuracy, "val_accuracy",
    "val_loss", "parameters"}. Top-level (with data/seed bound by functools.partial) so worker processes can pickle
    it."""
    x_fit, y_fit, x_val, y_val, _, _ = splits(data, seed)
    model = automl.build_model(config, INPUT_SHAPE, NUM_CLASSES)
    loss = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=float(config["lr"]), weight_decay=float(config["weight_decay"]))
    fit(model, (x_fit, y_fit), epochs=int(epochs), batch_size=int(config["batch_size"]), loss=loss,
        optimizer=optimizer, scheduler=optim.lr_scheduler.CosineAnnealingLR(optimizer, int(epochs)), verbose=0)
    val = evaluate(model, (x_val, y_val), loss=loss, metrics=["accuracy"])
    safetensors_io.save(model.state_dict(), os.path.join(trial_dir, "model.safetensors"))
    with open(os.path.join(trial_dir, "config.json"), "w") as handle:
        json.dump(config, handle, indent=1, sort_keys=True)
    return {"score": float(val["accuracy"]), "val_accuracy": float(val["accuracy"]), "val_loss": float(val["loss"]),
            "parameters": int(model.num_parameters())}


def load_trial_model(config, trial_dir):
    """The model a trial saved: build_model(config) with the weights of trial_dir/model.safetensors."""
    model = automl.build_model(config, INPUT_SHAPE, NUM_CLASSES)
    model.load_state_dict(safetensors_io.load(os.path.join(trial_dir, "model.safetensors")))
    return model


def summarize(config):
    """A one-line architecture summary, e.g. 'conv32k3-conv64k5 | dense120 | relu batch p=0.10 lr=2.1e-03 bs=64'."""
    layers = config["layers"]
    conv = "-".join(f"conv{c['channels']}k{c['kernel_size']}" for c in layers["conv"]) or "no-conv"
    dense = "-".join(f"dense{d['units']}" for d in layers["dense"]) or "no-dense"
    return (f"{conv} | {dense} | {config['activation']} {config['norm']} p={config['dropout']:.2f} "
            f"lr={config['lr']:.1e} bs={config['batch_size']} wd={config['weight_decay']:.0e}")


def write_leaderboard(trials, path):
    """leaderboard.csv: one row per trial in trial order (id, status, budget, val accuracy, parameters, seconds,
    architecture summary, config JSON)."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "status", "budget_epochs", "val_accuracy", "val_loss", "parameters", "seconds",
                         "summary", "config"])
        for t in trials:
            r = t.result or {}
            writer.writerow([t.id, t.status, t.budget, r.get("val_accuracy", ""), r.get("val_loss", ""),
                             r.get("parameters", ""), round(t.seconds, 3), summarize(t.config),
                             json.dumps(t.config, sort_keys=True)])


def plot_accuracy_vs_parameters(trials, best, reference, path):
    """Every finished trial as a point (validation accuracy against parameters, log x), coloured by its budget in
    epochs, a circle for a CNN and a square for a dense-only net; the best trial ringed and digits-cnn (its final
    validation accuracy) a star. reference: (parameters, val_accuracy)."""
    plt = _pyplot()
    done = [t for t in trials if t.status == "done"]
    budgets = sorted({t.budget for t in done})
    cmap = plt.get_cmap("viridis")
    fig, ax = plt.subplots(figsize=(9, 4.8))
    for i, budget in enumerate(budgets):
        colour = cmap(i / max(1, len(budgets) - 1))
        for is_conv, marker in ((True, "o"), (False, "s")):
            pts = [t for t in done if t.budget == budget and bool(t.config["layers"]["conv"]) == is_conv]
            if pts:
                kind = "CNN" if is_conv else "dense only"
                ax.scatter([t.result["parameters"] for t in pts], [t.result["val_accuracy"] for t in pts],
                           color=colour, marker=marker, alpha=0.8, label=f"{budget} epochs, {kind}")
    ax.scatter([best.result["parameters"]], [best.result["val_accuracy"]], s=220, facecolors="none",
               edgecolors="red", linewidths=2, label=f"best (trial {best.id})")
    ax.scatter([reference[0]], [reference[1]], s=220, marker="*", color="orange", edgecolors="black",
               label="digits-cnn (hand-designed)")
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("validation accuracy")
    ax.set_title(f"{NAME}: {len(done)} trials")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))  # outside: the points fill the axes
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _last_val_accuracy(history_csv):
    with open(history_csv) as handle:
        rows = list(csv.DictReader(handle))
    return float(rows[-1]["val_accuracy"])


def run(config: RunConfig):
    out = prepare_output(config.out)
    manual_seed(config.seed)
    max_budget = config.epochs or DEFAULT_EPOCHS
    # With max_budget < eta Hyperband is a single bracket of one config: repeat it so that eta configs still compete.
    iterations = 1 if max_budget >= ETA else ETA
    strategy = automl.Hyperband(1, max_budget, eta=ETA, iterations=iterations)
    search_dir = os.path.join(out, "search")
    if os.path.exists(search_dir):  # a fresh search each run (Search would otherwise resume the old log)
        shutil.rmtree(search_dir)
    search = automl.Search(search_space(), functools.partial(objective, data=config.data, seed=config.seed),
                           strategy, directory=search_dir, workers=WORKERS, seed=config.seed, on_error="record")
    started = time.perf_counter()
    search.run()
    search_seconds = time.perf_counter() - started
    search.save_summary()
    best = search.best()
    if config.verbose:
        for t in search.trials:
            print(f"trial {t.id:3d}  {t.budget:2d} ep  val {((t.result or {}).get('val_accuracy', math.nan)):.4f}  "
                  f"{t.seconds:6.1f}s  {summarize(t.config)}")
        print(f"search: {len(search.trials)} trials in {search_seconds:.1f}s; best trial {best.id}: "
              f"{summarize(best.config)}")

    # The best trial's own saved weights, scored once on the held-out test split.
    _, _, _, _, x_test, y_test = splits(config.data, config.seed)
    model = load_trial_model(best.config, best.trial_dir)
    test = evaluate(model, (x_test, y_test), loss=nn.CrossEntropyLoss(), metrics=["accuracy"])
    shutil.copyfile(os.path.join(best.trial_dir, "model.safetensors"), os.path.join(out, "model.safetensors"))
    with open(os.path.join(out, "best_config.json"), "w") as handle:
        json.dump(best.config, handle, indent=1, sort_keys=True)

    # The hand-designed reference on the same split: digits-cnn's own recipe, its epochs scaled like the search's
    # budget (its default 20 when this recipe runs at its default).
    reference_epochs = max(1, round(digits_cnn.DEFAULT_EPOCHS * max_budget / DEFAULT_EPOCHS))
    reference_out = os.path.join(out, "digits_cnn")
    reference = digits_cnn.run(RunConfig(epochs=reference_epochs, seed=config.seed, out=reference_out,
                                         data=config.data, verbose=0))
    reference_val = _last_val_accuracy(os.path.join(reference_out, "history.csv"))

    write_leaderboard(search.trials, os.path.join(out, "leaderboard.csv"))
    plot_accuracy_vs_parameters(search.trials, best, (reference["parameters"], reference_val),
                                os.path.join(out, "accuracy_vs_parameters.png"))
    metrics = {
        "best_val_accuracy": best.result["val_accuracy"],
        "best_test_accuracy": float(test["accuracy"]),
        "best_test_loss": float(test["loss"]),
        "best_parameters": best.result["parameters"],
        "best_budget_epochs": best.budget,
        "best_trial": best.id,
        "best_config": json.dumps(best.config, sort_keys=True),
        "best_summary": summarize(best.config),
        "trials": len(search.trials),
        "failed_trials": sum(t.status != "done" for t in search.trials),
        "search_epochs": sum(t.budget for t in search.trials),
        "search_seconds": round(search_seconds, 3),
        "max_budget_epochs": max_budget,
        "workers": WORKERS,
        "digits_cnn_test_accuracy": reference["test_accuracy"],
        "digits_cnn_val_accuracy": reference_val,
        "digits_cnn_parameters": reference["parameters"],
        "digits_cnn_epochs": reference["epochs"],
        "digits_cnn_seconds": reference["seconds"],
        "train_examples": reference["train_examples"],
        "val_examples": reference["val_examples"],
        "test_examples": reference["test_examples"],
    }
    write_metrics(metrics, os.path.join(out, "metrics.json"))
    if config.verbose:
        print(f"best: val {metrics['best_val_accuracy']:.4f} test {metrics['best_test_accuracy']:.4f} "
              f"({metrics['best_parameters']} parameters); digits-cnn: test "
              f"{metrics['digits_cnn_test_accuracy']:.4f} ({metrics['digits_cnn_parameters']} parameters)")
    return metrics
