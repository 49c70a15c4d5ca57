"""Callbacks with Keras's hook names: History, ProgressBar, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau,
LearningRateScheduler, CSVLogger, TerminateOnNaN.

The training loop calls, in order: on_train_begin; per epoch on_epoch_begin, then per batch
on_train_batch_begin/on_train_batch_end, then on_test_begin/on_test_end around validation, then
on_epoch_end(epoch, logs) with logs keyed 'loss', 'accuracy', 'val_loss', 'val_accuracy', 'lr'; finally
on_train_end. A callback stops training by setting `self.trainer.stop_training = True`.
"""

import csv
import math
import os

import numpy as np

from ..distributed.data_parallel import unwrap
from ..io import safetensors_io


class Callback:
    """Base class: override the hooks you need. `self.trainer` and `self.model` are set before training.

    In data-parallel training every rank runs every callback, except those with `rank_zero_only = True` (the ones
    that write files or print), which run on rank 0 alone. `self.model` is the plain model, never the
    DistributedDataParallel wrapper, so saved weights load into an unwrapped model.
    """

    trainer = None
    model = None
    rank_zero_only = False

    def set_trainer(self, trainer):
        self.trainer = trainer
        self.model = unwrap(trainer.model)

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None): ...
    def on_train_batch_end(self, batch, logs=None): ...
    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...

    def state_dict(self):
        """What a checkpoint must hold to resume this callback exactly (plain data and arrays)."""
        return {}

    def load_state_dict(self, state):
        pass


class History(Callback):
    """Records every epoch's logs: history.history['val_loss'][k] is epoch k's validation loss."""

    def __init__(self):
        self.epoch, self.history = [], {}

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def state_dict(self):
        return {"epoch": list(self.epoch), "history": {k: list(v) for k, v in self.history.items()}}

    def load_state_dict(self, state):
        self.epoch = list(state["epoch"])
        self.history = {k: list(v) for k, v in state["history"].items()}


def _mode_for(monitor, mode):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    return "max" if any(word in monitor for word in ("acc", "r2", "auc")) else "min"


class _Monitor(Callback):
    """Shared by callbacks that watch one logged quantity and act when it stops improving."""

    def __init__(self, monitor, mode, min_delta):
        self.monitor, self.mode, self.min_delta = monitor, _mode_for(monitor, mode), abs(min_delta)
        self.best = math.inf if self.mode == "min" else -math.inf

    def is_improvement(self, current, reference):
        if self.mode == "min":
            return current < reference - self.min_delta
        return current > reference + self.min_delta

    def current(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise KeyError(f"{type(self).__name__} monitors {self.monitor!r}, which is not in the logs "
                           f"(available: {sorted(logs or {})}); pass val data to fit() for 'val_*' keys")
        return value


class EarlyStopping(_Monitor):
    """Stop when `monitor` has not improved by more than min_delta for `patience` epochs. With
    restore_best_weights, the model ends training with the weights of its best epoch — also when training ends
    without stopping early."""

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0, verbose=0):
        super().__init__(monitor, mode, min_delta)
        self.patience, self.baseline, self.restore_best_weights = patience, baseline, restore_best_weights
        self.start_from_epoch, self.verbose = start_from_epoch, verbose
        self.reset()

    def reset(self):
        self.wait, self.stopped_epoch, self.best_epoch, self.best_weights = 0, 0, None, None
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_train_begin(self, logs=None):
        if not self.trainer.resuming:
            self.reset()

    def on_epoch_end(self, epoch, logs=None):
        current = self.current(logs)
        if epoch < self.start_from_epoch:
            return
        self.wait += 1
        if self.is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = {k: v.data.copy() for k, v in self.model.state_dict().items()}
            if self.baseline is None or self.is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True
            if self.verbose:
                self.trainer.log(f"EarlyStopping: {self.monitor} did not improve for {self.wait} epochs; best "
                                 f"{self.best:.6g} at epoch {self.best_epoch + 1}")

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
            if self.verbose:
                self.trainer.log(f"EarlyStopping: restored the weights of epoch {self.best_epoch + 1}")

    def state_dict(self):
        return {"wait": self.wait, "best": self.best, "best_epoch": self.best_epoch,
                "stopped_epoch": self.stopped_epoch, "best_weights": self.best_weights}

    def load_state_dict(self, state):
        self.wait, self.best, self.best_epoch = state["wait"], state["best"], state["best_epoch"]
        self.stopped_epoch, self.best_weights = state["stopped_epoch"], state["best_weights"]


class ModelCheckpoint(_Monitor):
    """Save the model's state_dict (safetensors) after each epoch, or only when `monitor` improves
    (save_best_only). `filepath` may contain {epoch} and log keys, e.g. 'model-{epoch:02d}-{val_loss:.3f}.safetensors'.
    Writes are atomic: an interrupted save leaves the previous file intact."""

    rank_zero_only = True

    def __init__(self, filepath, monitor="val_loss", save_best_only=False, mode="auto", min_delta=0.0, verbose=0):
        super().__init__(monitor, mode, min_delta)
        self.filepath, self.save_best_only, self.verbose = str(filepath), save_best_only, verbose

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            current = self.current(logs)
            if not self.is_improvement(current, self.best):
                return
            self.best = current
        path = self.filepath.format(epoch=epoch + 1, **logs)
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        safetensors_io.save(self.model.state_dict(), path)
        if self.verbose:
            self.trainer.log(f"ModelCheckpoint: saved {path}")

    def state_dict(self):
        return {"best": self.best}

    def load_state_dict(self, state):
        self.best = state["best"]


class ReduceLROnPlateau(_Monitor):
    """Multiply every param group's lr by `factor` when `monitor` has not improved for `patience` epochs
    (then wait `cooldown` epochs before watching again); never below min_lr."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, mode="auto", min_delta=1e-4, cooldown=0,
                 min_lr=0.0, verbose=0):
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be < 1, got {factor}")
        super().__init__(monitor, mode, min_delta)
        self.factor, self.patience, self.cooldown, self.min_lr, self.verbose = factor, patience, cooldown, min_lr, \
            verbose
        self.wait, self.cooldown_counter = 0, 0

    def on_train_begin(self, logs=None):
        if not self.trainer.resuming:  # a new fit starts from scratch, like Keras's (a resumed one keeps its state)
            self.best = math.inf if self.mode == "min" else -math.inf
            self.wait, self.cooldown_counter = 0, 0

    def on_epoch_end(self, epoch, logs=None):
        current = self.current(logs)
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.is_improvement(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                for group in self.trainer.optimizer.param_groups:
                    old = group["lr"]
                    new = max(old * self.factor, self.min_lr)
                    if old - new > 1e-12:
                        group["lr"] = new
                        if self.verbose:
                            self.trainer.log(f"ReduceLROnPlateau: lr {old:.3g} -> {new:.3g}")
                self.cooldown_counter, self.wait = self.cooldown, 0

    def state_dict(self):
        return {"best": self.best, "wait": self.wait, "cooldown_counter": self.cooldown_counter}

    def load_state_dict(self, state):
        self.best, self.wait, self.cooldown_counter = state["best"], state["wait"], state["cooldown_counter"]


class LearningRateScheduler(Callback):
    """Set the lr at the start of each epoch to schedule(epoch, current_lr)."""

    def __init__(self, schedule, verbose=0):
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        groups = self.trainer.optimizer.param_groups
        lr = float(self.schedule(epoch, groups[0]["lr"]))
        for group in groups:
            group["lr"] = lr
        if self.verbose:
            self.trainer.log(f"LearningRateScheduler: epoch {epoch + 1} lr {lr:.3g}")


class CSVLogger(Callback):
    """Append each epoch's logs as a row of a CSV file (the header is written once)."""

    rank_zero_only = True

    def __init__(self, filename, separator=",", append=False):
        self.filename, self.separator, self.append = str(filename), separator, append
        self.keys = None

    def on_train_begin(self, logs=None):
        if not (self.append or self.trainer.resuming) and os.path.exists(self.filename):
            os.remove(self.filename)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
        new_file = not os.path.exists(self.filename) or os.path.getsize(self.filename) == 0
        with open(self.filename, "a", newline="") as handle:
            writer = csv.writer(handle, delimiter=self.separator)
            if new_file:
                writer.writerow(["epoch"] + self.keys)
            writer.writerow([epoch] + [logs.get(k, "") for k in self.keys])


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch loss is NaN or infinite."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            self.trainer.log(f"TerminateOnNaN: batch {batch} has loss {loss}; stopping")
            self.trainer.stop_training = True


class ProgressBar(Callback):
    """A tqdm bar per epoch with the running batch loss, and a summary line per epoch. The bar is hidden when the
    output is not a terminal; the summary lines are printed unless verbose=0."""

    def __init__(self, verbose=1):
        self.verbose, self.bar = verbose, None

    def on_epoch_begin(self, epoch, logs=None):
        if self.verbose:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.trainer.steps_per_epoch, desc=f"Epoch {epoch + 1}/{self.trainer.epochs}",
                            leave=False, disable=None, unit="batch", dynamic_ncols=True)

    def on_train_batch_end(self, batch, logs=None):
        if self.bar is not None:
            self.bar.update(1)
            if batch % 10 == 0 or batch + 1 == self.trainer.steps_per_epoch:
                self.bar.set_postfix(loss=f"{self.trainer.running_loss:.4f}", refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.verbose:
            parts = [f"{key} {value:.4f}" for key, value in (logs or {}).items() if key not in ("lr", "seconds")]
            seconds = (logs or {}).get("seconds")
            timing = f" - {seconds:.2f}s" if seconds is not None else ""
            self.trainer.log(f"Epoch {epoch + 1}/{self.trainer.epochs} - " + " - ".join(parts) + timing)
