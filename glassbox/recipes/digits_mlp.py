"""digits-mlp: a feed-forward classifier for the 8x8 handwritten digits (the default recipe)."""

import time

import numpy as np

from .. import nn, optim
from ..data.datasets import load_digits, train_test_split
from ..random import manual_seed
from ..tensor import Tensor
from ..train import EarlyStopping, evaluate, fit, predict
from .common import RunConfig, load_csv, prepare_output, write_classification_pictures, write_run

NAME = "digits-mlp"
DESCRIPTION = "MLP 64-256-128-10 with dropout on the embedded 8x8 digits (classification)"
DEFAULT_EPOCHS = 60


def load_data(path=None):
    """(images, labels): the embedded digits, or a CSV file in the same format (64 pixel columns 0..16, label)."""
    if path is None:
        return load_digits()
    table = load_csv(path, 65, "rows of 64 pixel values and a label")
    return table[:, :64].astype(np.float32), table[:, 64].astype(np.int64)


def build_model():
    return nn.Sequential(
        nn.Linear(64, 256), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(256, 128), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(128, 10),
    )


def run(config: RunConfig):
    out = prepare_output(config.out)
    manual_seed(config.seed)
    images, labels = load_data(config.data)
    x = images / 16.0  # pixels 0..16 -> 0..1
    x_train, x_test, y_train, y_test = train_test_split(x, labels, test_fraction=0.2, seed=config.seed)
    x_fit, x_val, y_fit, y_val = train_test_split(x_train, y_train, test_fraction=0.15, seed=config.seed + 1)
    model = build_model()
    loss = nn.CrossEntropyLoss()
    started = time.perf_counter()
    history = fit(model, (x_fit, y_fit), val=(x_val, y_val), epochs=config.epochs or DEFAULT_EPOCHS,
                  batch_size=32, loss=loss, optimizer=optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4),
                  metrics=["accuracy"], verbose=config.verbose,
                  callbacks=[EarlyStopping("val_loss", patience=10, restore_best_weights=True)])
    seconds = time.perf_counter() - started
    test = evaluate(model, (x_test, y_test), loss=loss, metrics=["accuracy"])
    predictions = predict(model, Tensor._make(x_test)).data.argmax(axis=1)
    metrics = {"test_accuracy": test["accuracy"], "test_loss": test["loss"], "epochs": len(history.epoch),
               "seconds": round(seconds, 3), "parameters": model.num_parameters(),
               "train_examples": len(x_fit), "val_examples": len(x_val), "test_examples": len(x_test),
               "best_val_loss": min(history.history["val_loss"])}
    write_run(out, model, history, metrics, title=f"{NAME}: test accuracy {test['accuracy']:.3f}")
    write_classification_pictures(out, predictions, y_test, x_test, 10, (8, 8))
    return metrics
