"""diabetes-mlp: feed-forward regression of disease progression from 10 baseline measurements, next to a
least-squares linear baseline computed on the same split."""

import time

import numpy as np

from .. import nn, optim
from ..data.datasets import load_diabetes, train_test_split
from ..random import manual_seed
from ..tensor import Tensor
from ..train import EarlyStopping, evaluate, fit, plots, predict
from ..train.metrics import r2_score
from .common import RunConfig, load_csv, prepare_output, write_run

NAME = "diabetes-mlp"
DESCRIPTION = "MLP 10-16-1 (tanh) regression on the embedded diabetes data, next to a least-squares baseline"
DEFAULT_EPOCHS = 500


def load_data(path=None):
    """(features (442, 10), target (442,)): the embedded data, or a CSV with 10 feature columns and the target."""
    if path is None:
        return load_diabetes()
    table = load_csv(path, 11, "10 feature columns and a target")
    return table[:, :10].astype(np.float32), table[:, 10].astype(np.float32)


def least_squares_r2(x_train, y_train, x_test, y_test):
    """Test R^2 of ordinary least squares with an intercept: the baseline a network has to beat."""
    design = np.hstack([x_train, np.ones((len(x_train), 1))]).astype(np.float64)
    coefficients, *_ = np.linalg.lstsq(design, y_train.astype(np.float64), rcond=None)
    predicted = np.hstack([x_test, np.ones((len(x_test), 1))]) @ coefficients
    return r2_score(predicted, y_test)


def run(config: RunConfig):
    out = prepare_output(config.out)
    manual_seed(config.seed)
    features, target = load_data(config.data)
    x_train, x_test, y_train, y_test = train_test_split(features, target, test_fraction=0.2, seed=config.seed)
    # Standardise with training statistics only, so no test information leaks into the model.
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-8
    y_mean, y_std = y_train.mean(), y_train.std()
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    t_train = ((y_train - y_mean) / y_std).reshape(-1, 1).astype(np.float32)
    t_test = ((y_test - y_mean) / y_std).reshape(-1, 1).astype(np.float32)
    # 442 patients: a small network with strong weight decay; the relation is close to linear, which is why the
    # least-squares baseline is a serious competitor here.
    model = nn.Sequential(nn.Linear(10, 16), nn.Tanh(), nn.Linear(16, 1))
    loss = nn.MSELoss()
    started = time.perf_counter()
    history = fit(model, (x_train.astype(np.float32), t_train), validation_split=0.15,
                  epochs=config.epochs or DEFAULT_EPOCHS, batch_size=32, loss=loss,
                  optimizer=optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1), metrics=["r2", "mae"],
                  verbose=config.verbose,
                  callbacks=[EarlyStopping("val_loss", patience=50, restore_best_weights=True)])
    seconds = time.perf_counter() - started
    test = evaluate(model, (x_test.astype(np.float32), t_test), loss=loss, metrics=["r2", "mae"])
    predicted = predict(model, Tensor._make(x_test.astype(np.float32))).data.reshape(-1) * y_std + y_mean
    metrics = {"test_r2": test["r2"], "baseline_r2": least_squares_r2(x_train, y_train, x_test, y_test),
               "test_mae": float(np.abs(predicted - y_test).mean()), "test_loss": test["loss"],
               "epochs": len(history.epoch), "seconds": round(seconds, 3), "parameters": model.num_parameters(),
               "train_examples": len(x_train), "test_examples": len(x_test)}
    write_run(out, model, history, metrics, title=f"{NAME}: test R² {test['r2']:.3f} "
                                                  f"(least squares {metrics['baseline_r2']:.3f})")
    plots.plot_regression(predicted, y_test, f"{out}/predictions.png")
    return metrics
