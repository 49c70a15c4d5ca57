"""The learning-rate range test (Leslie Smith; fastai's lr_find): an exponential lr sweep with a suggested rate."""

import json
import math
import os

import numpy as np

from ..io.atomic import atomic_write
from ..random import default_generator
from ..tensor import Tensor
from .loop import _loader, _split_batch
from .losses import get_loss
from .optimizers import get_optimizer


class LRFinderResult:
    """What find_lr measured: lrs[k], the raw batch losses[k] at that lr, the bias-corrected smoothed[k], and
    suggested_lr with the `reason` for it. plot(path) draws the curve; save(directory) writes lr_finder.json and
    lr_finder.png."""

    def __init__(self, lrs, losses, smoothed, suggested_lr, reason, stopped_early):
        self.lrs, self.losses, self.smoothed = list(lrs), list(losses), list(smoothed)
        self.suggested_lr, self.reason, self.stopped_early = suggested_lr, reason, stopped_early

    def to_dict(self):
        """The lr_finder.json document (non-finite losses become null)."""
        def clean(values):
            return [float(v) if v is not None and math.isfinite(v) else None for v in values]

        return {"lrs": clean(self.lrs), "losses": clean(self.losses), "smoothed": clean(self.smoothed),
                "suggested_lr": self.suggested_lr, "reason": self.reason}

    def plot(self, path, title="Learning-rate finder"):
        """Raw and smoothed loss against the lr on a log axis, the suggested lr marked (needs matplotlib)."""
        from .plots import _pyplot

        plt = _pyplot()
        figure, axis = plt.subplots(figsize=(6, 4))
        lrs = np.asarray(self.lrs, dtype=float)
        losses = np.asarray(self.losses, dtype=float)
        smoothed = np.asarray(self.smoothed, dtype=float)
        axis.plot(lrs, losses, color="lightgray", linewidth=1, label="batch loss")
        axis.plot(lrs, smoothed, linewidth=2, label="smoothed loss")
        if self.suggested_lr is not None:
            axis.axvline(self.suggested_lr, color="red", linestyle="--", linewidth=1,
                         label=f"suggested lr {self.suggested_lr:.3g}")
        finite = smoothed[np.isfinite(smoothed)]
        if finite.size:  # keep the divergence at the end from squashing the interesting part of the curve
            low, high = finite.min(), finite[0] if finite[0] > finite.min() else finite.max()
            axis.set_ylim(low - 0.1 * (high - low + 1e-12), high + 0.5 * (high - low + 1e-12))
        axis.set_xscale("log")
        axis.set_xlabel("learning rate")
        axis.set_ylabel("loss")
        axis.set_title(title)
        axis.grid(alpha=0.3, which="both")
        axis.legend(fontsize=8)
        figure.tight_layout()
        figure.savefig(path, dpi=110, format="png")
        plt.close(figure)

    def save(self, directory):
        """Write lr_finder.json and (with matplotlib) lr_finder.png into `directory`, atomically; returns the JSON
        path."""
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, "lr_finder.json")
        with atomic_write(path) as tmp, open(tmp, "w") as handle:
            json.dump(self.to_dict(), handle, allow_nan=False, indent=1)
        try:
            with atomic_write(os.path.join(directory, "lr_finder.png")) as tmp:
                self.plot(tmp)
        except ImportError:
            pass  # matplotlib is an optional extra
        return path

    def __repr__(self):
        return f"LRFinderResult(suggested_lr={self.suggested_lr!r}, steps={len(self.lrs)}, reason={self.reason!r})"


def suggest_lr(lrs, smoothed):
    """(lr, reason): a tenth of the lr at which the smoothed loss was lowest (Smith's and fastai's original rule).

    Why not the point of steepest descent: the smoothed curve is an exponential moving average, which lags the raw
    losses by about 1 / (1 - smooth) steps, so its steepest point sits late in the sweep, at or past the edge of
    stability (measured on least squares: up to 1.1 x the divergence limit 2 / L, while min / 10 stays at 0.2-0.4
    of it). The minimum is where the loss starts to blow up; a tenth of it still trains fast and stays stable."""
    lrs, smoothed = np.asarray(lrs, dtype=float), np.asarray(smoothed, dtype=float)
    finite = np.isfinite(smoothed)
    if finite.sum() < 2:
        return None, "too few finite losses to suggest a learning rate: lower start_lr"
    best = int(np.nanargmin(np.where(finite, smoothed, np.nan)))
    lr = float(lrs[best] / 10)
    if best == 0:
        return lr, (f"the loss never fell below its first value, so the sweep says little: a tenth of the start lr "
                    f"{lrs[0]:.3g}; try a smaller start_lr")
    return lr, (f"a tenth of lr {lrs[best]:.3g}, where the smoothed loss was lowest ({smoothed[best]:.4g}; it "
                f"started at {smoothed[0]:.4g}): the minimum marks the edge of divergence, a tenth of it is fast "
                "and stable")


def find_lr(model, train, loss, optimizer, start_lr=1e-7, end_lr=10.0, num_steps=100, smooth=0.98, diverge_factor=4.0,
            batch_size=32):
    """Train for up to num_steps batches while the lr grows exponentially from start_lr to end_lr, record the loss,
    and suggest an lr (a tenth of the lr of the lowest smoothed loss, see suggest_lr). The model (weights, grads,
    train/eval modes), the optimizer, the default random generator and a passed DataLoader's state are restored
    afterwards, so the sweep changes nothing.

    train: a Dataset, a DataLoader or (inputs, targets); the loader is cycled when it runs out. loss: a loss module,
    callable or name; optimizer: an optim.Optimizer on model's parameters (every param group gets the swept lr) or
    a name. smooth: the loss is smoothed with an exponential moving average avg = smooth * avg + (1 - smooth) *
    loss, divided by (1 - smooth ** (k + 1)) so the first values are not pulled towards 0. The sweep stops early
    when the smoothed loss exceeds diverge_factor times its best, or a loss is not finite.
    """
    if not (0 < start_lr < end_lr):
        raise ValueError(f"find_lr: need 0 < start_lr < end_lr, got start_lr={start_lr}, end_lr={end_lr}")
    if not isinstance(num_steps, int) or num_steps < 2:
        raise ValueError(f"find_lr: num_steps must be an int >= 2, got {num_steps!r}")
    if not 0 <= smooth < 1:
        raise ValueError(f"find_lr: smooth must be in [0, 1), got {smooth}")
    if diverge_factor <= 1:
        raise ValueError(f"find_lr: diverge_factor must be > 1, got {diverge_factor}")
    loss_fn = get_loss(loss)
    optimizer = get_optimizer(optimizer, model)
    loader = _loader(train, batch_size, True, "train")
    if len(loader) == 0:
        raise ValueError("find_lr: the training data is empty")
    saved = _save_state(model, optimizer, loader)
    try:
        lrs, losses, smoothed, stopped = _sweep(model, loader, loss_fn, optimizer, start_lr, end_lr, num_steps,
                                                smooth, diverge_factor)
    finally:
        _restore_state(model, optimizer, loader, saved)
    lr, reason = suggest_lr(lrs, smoothed)
    if stopped:
        reason += f"; the sweep stopped at lr {lrs[-1]:.3g}, where the loss diverged"
    return LRFinderResult(lrs, losses, smoothed, lr, reason, stopped)


def _sweep(model, loader, loss_fn, optimizer, start_lr, end_lr, num_steps, smooth, diverge_factor):
    factor = (end_lr / start_lr) ** (1.0 / (num_steps - 1))
    lrs, losses, smoothed = [], [], []
    average, best = 0.0, math.inf
    model.train()
    batches = iter(loader)
    for k in range(num_steps):
        try:
            batch = next(batches)
        except StopIteration:  # cycle: a small dataset still gives num_steps batches
            batches = iter(loader)
            batch = next(batches)
        lr = start_lr * factor ** k
        for group in optimizer.param_groups:
            group["lr"] = lr
        inputs, targets = _split_batch(batch)
        output = model(*inputs) if isinstance(inputs, tuple) else model(inputs)
        value = loss_fn(output, targets)
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        value = float(value.item())
        lrs.append(lr)
        losses.append(value)
        if not math.isfinite(value):
            smoothed.append(math.nan)
            return lrs, losses, smoothed, True
        average = smooth * average + (1 - smooth) * value
        current = average / (1 - smooth ** (k + 1))
        smoothed.append(current)
        if k > 0 and current > diverge_factor * best:
            return lrs, losses, smoothed, True
        best = min(best, current)
    return lrs, losses, smoothed, False


def _save_state(model, optimizer, loader):
    return {"model": {k: v.data.copy() for k, v in model.state_dict().items()},
            "grads": [(p, None if p.grad is None else Tensor._make(p.grad.data.copy())) for p in model.parameters()],
            "training": [(m, m.training) for m in model.modules()],
            "optimizer": optimizer.state_dict(),
            "generator": default_generator.get_state(),
            "loader": loader.state_dict() if hasattr(loader, "state_dict") else None}


def _restore_state(model, optimizer, loader, saved):
    model.load_state_dict(saved["model"])
    for param, grad in saved["grads"]:
        param.grad = grad
    for module, training in saved["training"]:
        object.__setattr__(module, "training", training)
    optimizer.load_state_dict(saved["optimizer"])
    default_generator.set_state(saved["generator"])
    if saved["loader"] is not None:
        loader.load_state_dict(saved["loader"])
