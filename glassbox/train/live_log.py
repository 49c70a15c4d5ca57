"""LiveLog: a callback that appends training progress to DIRECTORY/live.jsonl while it runs (read by `glassbox board`).

One JSON object per line, each line flushed as soon as it is written, so a reader tailing the file sees it at once:

    {"event": "begin", "time": t, "epochs": E, "steps_per_epoch": S, "recipe": name-or-null}
    {"event": "batch", "time": t, "epoch": e, "batch": i, "step": global_step, "loss": float, ...}
    {"event": "epoch", "time": t, "epoch": e, "loss": ..., "val_loss": ..., "accuracy": ..., "lr": ..., ...}
    {"event": "end", "time": t}

Epochs and batches are 0-based; `step` counts batches from the start of training (epoch * S + batch). Batch lines are
written at most every `min_interval` seconds, plus the last batch of each epoch, so a fast run does not flood the
file. Numbers that are not finite (a diverged loss) are written as null: NaN is not JSON, and a browser would refuse
the whole line.
"""

import json
import math
import os
import time

import numpy as np

from .callbacks import Callback

FILE_NAME = "live.jsonl"


def _number(value):
    """A JSON-safe number: int or float, None for NaN/inf; None when `value` is not a number at all."""
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) or (isinstance(value, np.ndarray) and value.size == 1):
        value = float(value)
        return value if math.isfinite(value) else None
    return None


def _numbers(logs):
    """The numeric entries of a logs dict, JSON-safe (non-numbers such as strings or arrays are left out)."""
    out = {}
    for key, value in (logs or {}).items():
        if isinstance(value, (int, float, np.number, np.ndarray, bool, np.bool_)):
            if isinstance(value, np.ndarray) and value.size != 1:
                continue
            out[str(key)] = _number(value)
    return out


def _merged(record, logs):
    """`record` plus the numbers of `logs`; a logged key never replaces one of the record's own (event, epoch...)."""
    for key, value in _numbers(logs).items():
        record.setdefault(key, value)
    return record


class LiveLog(Callback):
    """Write DIRECTORY/live.jsonl during training (see the module docstring for the format).

    directory: the run directory (created if missing). min_interval: the least number of seconds between two batch
    lines (the last batch of an epoch is always written). recipe: a name recorded in the begin line, or None.
    A fresh file is started at each fit, unless the trainer is resuming from a checkpoint: then lines are appended.
    """

    rank_zero_only = True

    def __init__(self, directory, min_interval=0.25, recipe=None):
        if min_interval < 0:
            raise ValueError(f"LiveLog: min_interval must be >= 0 seconds, got {min_interval}")
        self.directory, self.min_interval, self.recipe = str(directory), float(min_interval), recipe
        self.path = os.path.join(self.directory, FILE_NAME)
        self._handle, self._last_batch_time = None, -math.inf

    def _write(self, record):
        if self._handle is None:  # a hook called outside fit (or after on_train_end): reopen in append mode
            os.makedirs(self.directory, exist_ok=True)
            self._handle = open(self.path, "a", encoding="utf-8")
        # allow_nan=False: every value went through _number, so a NaN here would be a bug worth an exception.
        self._handle.write(json.dumps(record, allow_nan=False) + "\n")
        self._handle.flush()

    def on_train_begin(self, logs=None):
        os.makedirs(self.directory, exist_ok=True)
        self.close()
        self._handle = open(self.path, "a" if self.trainer.resuming else "w", encoding="utf-8")
        self._last_batch_time = -math.inf
        self._write({"event": "begin", "time": time.time(), "epochs": int(self.trainer.epochs),
                     "steps_per_epoch": int(self.trainer.steps_per_epoch), "recipe": self.recipe})

    def on_train_batch_end(self, batch, logs=None):
        now = time.time()
        steps = int(self.trainer.steps_per_epoch)
        last_of_epoch = batch + 1 >= steps
        if now - self._last_batch_time < self.min_interval and not last_of_epoch:
            return
        self._last_batch_time = now
        epoch = int(self.trainer.epoch)
        record = {"event": "batch", "time": now, "epoch": epoch, "batch": int(batch), "step": epoch * steps + batch}
        self._write(_merged(record, logs))

    def on_epoch_end(self, epoch, logs=None):
        self._write(_merged({"event": "epoch", "time": time.time(), "epoch": int(epoch)}, logs))

    def on_train_end(self, logs=None):
        self._write({"event": "end", "time": time.time()})
        self.close()

    def close(self):
        """Close the file (on_train_end does it; call it yourself if training was interrupted)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
