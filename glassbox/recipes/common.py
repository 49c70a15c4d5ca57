"""What every recipe shares: its run settings and writing a run directory (metrics.json, history.csv,
curves.png, model.safetensors, and for classifiers a confusion matrix and a grid of test predictions)."""

import csv
import json
import os
from dataclasses import dataclass

import numpy as np

from ..io import safetensors_io
from ..train import plots
from ..train.metrics import confusion_matrix


@dataclass
class RunConfig:
    """Settings from the command line: epochs (None = the recipe's default), seed, output directory,
    an optional data file replacing the embedded data (or a data set's folder), verbosity, and for recipes on large
    data sets the size of the training subset (None = the recipe's default, 0 = all)."""

    epochs: int = None
    seed: int = 0
    out: str = None
    data: str = None
    verbose: int = 1
    train_examples: int = None


def load_csv(path, columns, layout):
    """A user's --data file: a comma-separated table with `columns` columns (described by `layout`)."""
    table = np.loadtxt(path, delimiter=",", ndmin=2)
    if table.shape[1] != columns:
        raise ValueError(f"{path}: expected {layout} ({columns} columns), got shape {table.shape}")
    return table


def prepare_output(out):
    os.makedirs(out, exist_ok=True)
    return out


def write_history(history, path):
    """history.csv: one row per epoch, one column per logged quantity."""
    logs = history.history
    keys = list(logs)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch"] + keys)
        for row, epoch in enumerate(history.epoch):
            writer.writerow([epoch + 1] + [logs[k][row] for k in keys])


def write_metrics(metrics, path):
    """metrics.json with flat keys; numbers as plain floats/ints."""
    clean = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in metrics.items()}
    with open(path, "w") as handle:
        json.dump(clean, handle, indent=2, sort_keys=True)
        handle.write("\n")


def write_run(out, model, history, metrics, title):
    """The files every recipe writes."""
    write_metrics(metrics, os.path.join(out, "metrics.json"))
    write_history(history, os.path.join(out, "history.csv"))
    safetensors_io.save(model.state_dict(), os.path.join(out, "model.safetensors"))
    plots.plot_curves(history, os.path.join(out, "curves.png"), title=title)


def write_classification_pictures(out, predictions, labels, images, num_classes, image_shape):
    """confusion_matrix.png and examples.png (the first 32 test images with predicted and true class)."""
    matrix = confusion_matrix(predictions, labels, num_classes)
    plots.plot_confusion_matrix(matrix, os.path.join(out, "confusion_matrix.png"))
    shown = min(32, len(images))
    plots.plot_examples(np.asarray(images[:shown]).reshape(shown, *image_shape), labels[:shown],
                        predictions[:shown], os.path.join(out, "examples.png"))
    return matrix
