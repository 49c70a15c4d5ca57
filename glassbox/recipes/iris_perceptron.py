"""iris-perceptron: Rosenblatt's perceptron separates setosa from the other irises by sepal length and width."""

import os
import time

import numpy as np

from ..data.datasets import IRIS_CLASSES, IRIS_FEATURES, load_iris, train_test_split
from ..io import safetensors_io
from ..models.perceptron import Perceptron
from ..random import manual_seed, numpy_generator
from ..train import plots
from ..train.plots import _pyplot
from .common import RunConfig, prepare_output, write_metrics

NAME = "iris-perceptron"
DESCRIPTION = "Rosenblatt's 1958 perceptron rule: setosa against the rest on two iris features (decision boundary)"
DEFAULT_EPOCHS = 1000  # the budget: the rule stops by itself at the first epoch without a mistake

# Sepal length and width (not the petal sizes, which separate setosa by a wide margin): setosa is still linearly
# separable from the others on them, but by a narrow margin, so the rule has some work to do.
FEATURES = (0, 1)
POSITIVE_CLASS = 0  # setosa: label +1; versicolor and virginica: -1
LEARNING_RATE = 1.0


def setosa_data():
    """(x (150, 2) float64 in cm, y (150,) int64 in {-1, +1}): the two FEATURES, +1 for setosa."""
    features, labels = load_iris()
    return features[:, list(FEATURES)].astype(np.float64), np.where(labels == POSITIVE_CLASS, 1, -1)


def margin_and_radius(perceptron, x, y):
    """(gamma, R) of the perceptron's line in the augmented space (x, 1) where the bias is one more weight:
    gamma = min_i y_i (w . x_i + b) / ||(w, b)|| (> 0 once it separates the data), R = max_i ||(x_i, 1)||, the two
    numbers of Novikoff's bound (R / gamma*)^2 (gamma* is the best margin of any separator, >= this gamma)."""
    norm = np.sqrt(perceptron.weight @ perceptron.weight + perceptron.bias ** 2)
    gamma = float(np.min(y * perceptron.decision_function(x)) / norm) if norm > 0 else 0.0
    radius = float(np.sqrt((x ** 2).sum(axis=1) + 1.0).max())
    return gamma, radius


def draw_decision_regions(axis, score, x_range, y_range, resolution=300, colors=("#f6c9c9", "#c9d9f6")):
    """Shade where score(points (M, 2)) -> (M,) is <= 0 (first colour) and > 0 (second colour) over the box
    x_range x y_range, and draw the boundary score = 0 as a black line."""
    gx, gy = np.meshgrid(np.linspace(*x_range, resolution), np.linspace(*y_range, resolution))
    values = np.asarray(score(np.stack([gx.ravel(), gy.ravel()], axis=1)), dtype=np.float64).reshape(gx.shape)
    axis.contourf(gx, gy, (values > 0).astype(float), levels=[-0.5, 0.5, 1.5], colors=list(colors))
    if values.min() < 0 < values.max():
        axis.contour(gx, gy, values, levels=[0.0], colors="black", linewidths=1.5)
    axis.set_xlim(*x_range)
    axis.set_ylim(*y_range)


def plot_boundary(path, perceptron, mean, std, x_train, y_train, x_test, y_test, title):
    """decision_boundary.png: the regions and line of the perceptron in cm, train points filled, test hollow."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6.2, 4.8))
    x_all = np.concatenate([x_train, x_test])
    low, high = x_all.min(axis=0) - 0.4, x_all.max(axis=0) + 0.4
    draw_decision_regions(axis, lambda p: perceptron.decision_function((p - mean) / std), (low[0], high[0]),
                          (low[1], high[1]))
    for label, color, name in ((1, "tab:blue", IRIS_CLASSES[POSITIVE_CLASS]), (-1, "tab:red", "other")):
        train, test = x_train[y_train == label], x_test[y_test == label]
        axis.scatter(train[:, 0], train[:, 1], s=22, color=color, edgecolors="k", linewidths=0.4,
                     label=f"{name} (train)")
        axis.scatter(test[:, 0], test[:, 1], s=38, facecolors="none", edgecolors=color, linewidths=1.4,
                     label=f"{name} (test)")
    axis.set_xlabel(IRIS_FEATURES[FEATURES[0]])
    axis.set_ylabel(IRIS_FEATURES[FEATURES[1]])
    axis.set_title(title, fontsize=10)
    axis.legend(fontsize=8, loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def run(config: RunConfig):
    out = prepare_output(config.out)
    manual_seed(config.seed)
    x, y = setosa_data()
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_fraction=0.2, seed=config.seed, stratify=y)
    # Standardised with the training statistics: centred data lets a line through near the origin separate it, which
    # keeps R / gamma (and so the number of updates) small; raw centimetres need hundreds of epochs.
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    z_train, z_test = (x_train - mean) / std, (x_test - mean) / std
    perceptron = Perceptron(len(FEATURES), learning_rate=LEARNING_RATE)
    budget = config.epochs or DEFAULT_EPOCHS
    started = time.perf_counter()
    result = perceptron.fit(z_train, y_train, max_epochs=budget, rng=numpy_generator())
    seconds = time.perf_counter() - started
    if config.verbose:
        state = "converged" if result.converged else "did not converge"
        print(f"{NAME}: {state} after {result.updates} updates in {result.epochs} epochs")
    gamma, radius = margin_and_radius(perceptron, z_train, y_train)
    train_accuracy = float((perceptron.predict(z_train) == y_train).mean())
    test_accuracy = float((perceptron.predict(z_test) == y_test).mean())
    metrics = {"converged": bool(result.converged), "updates": result.updates, "epochs": result.epochs,
               "train_accuracy": train_accuracy, "test_accuracy": test_accuracy,
               "features": [IRIS_FEATURES[i] for i in FEATURES], "positive_class": IRIS_CLASSES[POSITIVE_CLASS],
               "weight": perceptron.weight.tolist(), "bias": float(perceptron.bias),
               "margin": gamma, "radius": radius,
               "train_examples": len(x_train), "test_examples": len(x_test), "train_seconds": round(seconds, 4)}
    write_metrics(metrics, os.path.join(out, "metrics.json"))
    with open(os.path.join(out, "history.csv"), "w") as handle:
        handle.write("epoch,updates\n")
        handle.writelines(f"{epoch + 1},{made}\n" for epoch, made in enumerate(perceptron.updates_per_epoch))
    plots.plot_curves({"updates": perceptron.updates_per_epoch}, os.path.join(out, "curves.png"),
                      title=f"{NAME}: mistakes (updates) per epoch")
    safetensors_io.save(perceptron.state_dict(), os.path.join(out, "model.safetensors"),
                        metadata={"features": ",".join(IRIS_FEATURES[i] for i in FEATURES),
                                  "mean": ",".join(map(str, mean)), "std": ",".join(map(str, std))})
    plot_boundary(os.path.join(out, "decision_boundary.png"), perceptron, mean, std, x_train, y_train, x_test,
                  y_test, f"{NAME}: {result.updates} updates, {result.epochs} epochs, "
                          f"test accuracy {test_accuracy:.3f}")
    return metrics
