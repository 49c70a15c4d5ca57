"""Streaming metrics for fit/evaluate (accuracy, top-k accuracy, MAE, MSE, R^2) and a confusion matrix.

A metric accumulates sums over the batches of an epoch (update) and turns them into one number (compute), so the
epoch's value is exact, not an average of batch averages.
"""

import numpy as np

from ..tensor import Tensor


def _array(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


class Metric:
    """Base class: `name` is the log key ('accuracy' -> also 'val_accuracy'); reset/update/compute."""

    name = "metric"
    # The attributes reset() sets that are sums over examples: data-parallel training adds them up over the ranks
    # before compute(). A custom metric with other running sums lists them here.
    additive_state = ("total", "count")

    def __init__(self):
        self.reset()  # ready to update without a reset() first, like Keras's and torchmetrics' metrics

    def reset(self):
        self.total, self.count = 0.0, 0

    def update(self, output, target):
        raise NotImplementedError

    def compute(self):
        return self.total / self.count if self.count else float("nan")


def predicted_classes(output):
    """Class predictions from model outputs: argmax over dim 1 for (N, C, ...) logits, threshold at 0 for binary
    logits of shape (N,) or (N, 1)."""
    if output.ndim >= 2 and output.shape[1] > 1:
        return output.argmax(axis=1)
    return (output.reshape(output.shape[0], *output.shape[2:]) > 0).astype(np.int64) if output.ndim >= 2 \
        else (output > 0).astype(np.int64)


class Accuracy(Metric):
    """Share of correct class predictions. Targets are class indices, or probabilities/one-hot (argmax taken)."""

    name = "accuracy"

    def update(self, output, target):
        output, target = _array(output), _array(target)
        if target.shape == output.shape and output.ndim >= 2 and output.shape[1] > 1:  # one-hot (any dtype)
            target = target.argmax(axis=1)
        predicted = predicted_classes(output)
        target = target.reshape(predicted.shape)
        self.total += float((predicted == target).sum())
        self.count += predicted.size


class TopKAccuracy(Metric):
    """Share of examples whose target is among the k highest-scoring classes."""

    def __init__(self, k=5):
        super().__init__()
        self.k = k
        self.name = f"top{k}_accuracy"

    def update(self, output, target):
        output, target = _array(output), _array(target)
        top = np.argpartition(-output, min(self.k, output.shape[1]) - 1, axis=1)[:, :self.k]
        self.total += float((top == target.reshape(-1, 1)).any(axis=1).sum())
        self.count += output.shape[0]


class MeanAbsoluteError(Metric):
    name = "mae"

    def update(self, output, target):
        output, target = _array(output), _array(target)
        self.total += float(np.abs(output - target.reshape(output.shape)).sum())
        self.count += output.size


class MeanSquaredError(Metric):
    name = "mse"

    def update(self, output, target):
        output, target = _array(output), _array(target)
        self.total += float(((output - target.reshape(output.shape)) ** 2).sum())
        self.count += output.size


class R2Score(Metric):
    """Coefficient of determination 1 - SS_res / SS_tot, from running sums (exact over the epoch)."""

    name = "r2"

    additive_state = ("residual", "sum", "sum_squares", "count")

    def reset(self):
        self.residual, self.sum, self.sum_squares, self.count = 0.0, 0.0, 0.0, 0

    def update(self, output, target):
        output, target = _array(output).astype(np.float64), _array(target).astype(np.float64)
        target = target.reshape(output.shape)
        self.residual += float(((target - output) ** 2).sum())
        self.sum += float(target.sum())
        self.sum_squares += float((target**2).sum())
        self.count += target.size

    def compute(self):
        if self.count < 2:
            return float("nan")
        total = self.sum_squares - self.sum**2 / self.count
        return 1.0 - self.residual / total if total > 0 else float("nan")


_BY_NAME = {"accuracy": Accuracy, "acc": Accuracy, "mae": MeanAbsoluteError, "mse": MeanSquaredError,
            "r2": R2Score}


def get_metric(metric):
    """A Metric from a name ('accuracy', 'top5_accuracy', 'mae', 'mse', 'r2') or a Metric instance."""
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, str):
        if metric in _BY_NAME:
            return _BY_NAME[metric]()
        if metric.startswith("top") and metric.endswith("_accuracy") and metric[3:-9].isdigit():
            return TopKAccuracy(int(metric[3:-9]))
        raise ValueError(f"unknown metric {metric!r}; expected one of {sorted(_BY_NAME)} or 'topK_accuracy'")
    raise TypeError(f"a metric must be a name or a glassbox.train.Metric, got {type(metric).__name__}")


def accuracy(output, target):
    """Accuracy of one batch of outputs against targets (a float)."""
    metric = Accuracy()
    metric.reset()
    metric.update(output, target)
    return metric.compute()


def r2_score(output, target):
    metric = R2Score()
    metric.reset()
    metric.update(output, target)
    return metric.compute()


def confusion_matrix(predicted, target, num_classes=None):
    """counts[i, j] = number of examples of true class i predicted as class j (int64, num_classes x num_classes)."""
    predicted, target = _array(predicted).reshape(-1).astype(np.int64), _array(target).reshape(-1).astype(np.int64)
    if predicted.shape != target.shape:
        raise ValueError(f"confusion_matrix: {predicted.size} predictions but {target.size} targets")
    if num_classes is None:
        num_classes = int(max(predicted.max(initial=-1), target.max(initial=-1))) + 1
    counts = np.bincount(target * num_classes + predicted, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)
