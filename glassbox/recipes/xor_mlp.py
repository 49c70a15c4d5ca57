"""xor-mlp: no line separates XOR, so the perceptron never converges; one hidden tanh layer solves it."""

import os
import time

import numpy as np

from .. import nn, optim
from ..models.perceptron import Perceptron
from ..random import manual_seed, numpy_generator
from ..tensor import Tensor
from ..train import fit, predict
from ..train.plots import _pyplot
from .common import RunConfig, prepare_output, write_run
from .iris_perceptron import draw_decision_regions

NAME = "xor-mlp"
DESCRIPTION = "XOR: the perceptron never converges, a 2-H-1 tanh MLP (BCE, Adam) classifies all four points"
DEFAULT_EPOCHS = 300  # MLP epochs; each is one full-batch Adam step on the four points

# Knobs (module constants so that a test can shrink the run).
HIDDEN = 4
LR = 0.05
PERCEPTRON_EPOCHS = 100  # the perceptron's budget: it cycles forever on XOR, so any budget ends unconverged
CLOUD_PER_POINT = 40  # noisy copies of each XOR point, only to show how each model's regions generalise
CLOUD_NOISE = 0.15
LAST_LINES = 10  # the picture draws the perceptron's line after each of its last LAST_LINES updates
PRINT_EVERY = 50  # with verbose, print the first and every PRINT_EVERY-th epoch line (an epoch is one tiny step)

XOR_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_LABELS = np.array([0, 1, 1, 0])  # x1 XOR x2


def sparse_log(every):
    """A log function for fit that prints its 1st, (every)th, (2 * every)th ... line and drops the rest."""
    calls = [0]

    def log(line):
        calls[0] += 1
        if calls[0] == 1 or calls[0] % every == 0:
            print(line)

    return log


def build_model(hidden=HIDDEN):
    """(N, 2) -> (N, 1) logits: Linear(2, hidden), Tanh, Linear(hidden, 1)."""
    return nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, 1))


def noisy_cloud(rng, per_point=CLOUD_PER_POINT, noise=CLOUD_NOISE):
    """(points (4 * per_point, 2) float64, labels (4 * per_point,) int64 in {0, 1}): Gaussian noise of standard
    deviation `noise` around each XOR point, labelled like that point."""
    points = np.repeat(XOR_INPUTS, per_point, axis=0) + rng.normal(0.0, noise, (4 * per_point, 2))
    return points, np.repeat(XOR_LABELS, per_point)


def mlp_scores(model, points):
    """points (M, 2) -> logits (M,) float64, in eval mode without a graph."""
    return predict(model, Tensor._make(np.asarray(points, dtype=np.float32))).data[:, 0].astype(np.float64)


def plot_both(path, perceptron, last_updates, model, cloud, cloud_labels, title):
    """decision_boundaries.png. Left: the perceptron's final regions and, dashed, its line after each update in
    `last_updates` (trace entries (epoch, index, weight, bias); lines outside the box are not drawn). Right: the
    MLP's regions. Both: the noisy cloud as small dots, the four XOR points as large markers."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(10.5, 4.8))
    box = (-0.6, 1.6)
    panels = ((axes[0], perceptron.decision_function,
               f"perceptron: regions at the end; dashed: its line after\neach of its last {len(last_updates)} "
               "updates (it keeps cycling)"),
              (axes[1], lambda p: mlp_scores(model, p), f"MLP 2-{HIDDEN}-1 (tanh)"))
    for axis, score, name in panels:
        draw_decision_regions(axis, score, box, box)
        for label, color in ((1, "tab:blue"), (0, "tab:red")):
            axis.scatter(*cloud[cloud_labels == label].T, s=8, color=color, alpha=0.5)
            axis.scatter(*XOR_INPUTS[XOR_LABELS == label].T, s=160, color=color, edgecolors="k", linewidths=1.5,
                         marker="o" if label else "X", label=f"XOR = {label}")
        axis.set_xlabel("x1")
        axis.set_ylabel("x2")
        axis.set_aspect("equal")
        axis.set_title(name, fontsize=10)
        axis.legend(fontsize=8, loc="upper center")
    grid = np.linspace(*box, 200)
    gx, gy = np.meshgrid(grid, grid)
    for step, (_, _, weight, bias) in enumerate(last_updates):
        values = weight[0] * gx + weight[1] * gy + bias
        if values.min() < 0 < values.max():  # a zero weight puts the line at infinity: nothing to draw
            axes[0].contour(gx, gy, values, levels=[0.0], colors=[plt.cm.viridis(step / max(len(last_updates), 2))],
                            linestyles="dashed", linewidths=1.2)
    figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def run(config: RunConfig):
    out = prepare_output(config.out)
    manual_seed(config.seed)
    rng = numpy_generator()
    signs = 2 * XOR_LABELS - 1  # the perceptron's labels are -1 / +1
    perceptron = Perceptron(2)
    trace = []
    result = perceptron.fit(XOR_INPUTS, signs, max_epochs=PERCEPTRON_EPOCHS, rng=rng, trace=trace)
    last_updates = trace[-LAST_LINES:]
    perceptron_accuracy = float((perceptron.predict(XOR_INPUTS) == signs).mean())
    if config.verbose:
        print(f"{NAME}: perceptron {'converged' if result.converged else 'did not converge'} after "
              f"{result.updates} updates in {result.epochs} epochs; accuracy {perceptron_accuracy:.2f}")
    model = build_model()
    x = XOR_INPUTS.astype(np.float32)
    y = XOR_LABELS.astype(np.float32)[:, None]  # (4, 1) like the logits
    started = time.perf_counter()
    history = fit(model, (x, y), epochs=config.epochs or DEFAULT_EPOCHS, batch_size=len(x),
                  loss=nn.BCEWithLogitsLoss(), optimizer=optim.Adam(model.parameters(), lr=LR),
                  metrics=["accuracy"], verbose=config.verbose, log=sparse_log(PRINT_EVERY))
    seconds = time.perf_counter() - started
    mlp_accuracy = float(((mlp_scores(model, XOR_INPUTS) > 0) == XOR_LABELS).mean())
    cloud, cloud_labels = noisy_cloud(rng)
    metrics = {"perceptron_converged": bool(result.converged), "perceptron_updates": result.updates,
               "perceptron_epochs": result.epochs, "perceptron_accuracy": perceptron_accuracy,
               "mlp_accuracy": mlp_accuracy, "mlp_final_loss": history.history["loss"][-1],
               "mlp_epochs": len(history.epoch), "mlp_hidden": HIDDEN, "mlp_parameters": model.num_parameters(),
               "mlp_cloud_accuracy": float(((mlp_scores(model, cloud) > 0) == cloud_labels).mean()),
               "perceptron_cloud_accuracy": float(((perceptron.decision_function(cloud) > 0) == cloud_labels).mean()),
               "train_seconds": round(seconds, 3)}
    write_run(out, model, history, metrics, title=f"{NAME}: MLP accuracy {mlp_accuracy:.2f}")
    plot_both(os.path.join(out, "decision_boundaries.png"), perceptron, last_updates, model, cloud, cloud_labels,
              f"{NAME}: perceptron accuracy {perceptron_accuracy:.2f} (no line separates XOR), "
              f"MLP accuracy {mlp_accuracy:.2f}")
    return metrics
