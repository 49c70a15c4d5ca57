"""Diagnose a bad run: train a digits MLP with a learning rate that is far too high, read the warnings, find a
better rate with the LR finder, and train again. Both runs land in runs/ for `glassbox board`.

    python examples/diagnose_bad_run.py && glassbox board runs
"""

import os

import glassbox as gb
from glassbox import nn, optim
from glassbox.data.datasets import load_digits, train_test_split
from glassbox.train import Diagnostics, LiveLog, find_lr, fit
from glassbox.train.recording import RunSnapshot


def build():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))


def train(directory, lr, x, y, epochs=15):
    """fit with the dashboard's callbacks: live log, diagnostics, and the graph of the first batch."""
    gb.manual_seed(0)
    model = build()
    history = fit(model, (x, y), validation_split=0.2, epochs=epochs, batch_size=32, loss="cross_entropy",
                  optimizer=optim.SGD(model.parameters(), lr=lr, momentum=0.9), metrics=["accuracy"],
                  callbacks=[LiveLog(directory), Diagnostics(directory), RunSnapshot(directory)])
    return model, history


def main(runs="runs"):
    images, labels = load_digits()
    x, _, y, _ = train_test_split(images / 16, labels, test_fraction=0.2, seed=0)
    print("== a learning rate of 1.0 with momentum 0.9: far too high")
    _, history = train(os.path.join(runs, "bad-lr"), 1.0, x, y)
    print(f"validation accuracy: {history.history['val_accuracy'][-1]:.3f}")
    print("\n== the LR finder's sweep")
    gb.manual_seed(0)
    model = build()
    result = find_lr(model, (x, y), "cross_entropy", optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    result.save(os.path.join(runs, "fixed-lr"))
    print(f"suggested learning rate: {result.suggested_lr:.3g} ({result.reason})")
    print("\n== the same model with the suggested rate")
    _, history = train(os.path.join(runs, "fixed-lr"), result.suggested_lr, x, y)
    print(f"validation accuracy: {history.history['val_accuracy'][-1]:.3f}")


if __name__ == "__main__":
    main()
