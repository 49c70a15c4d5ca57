"""Callbacks: the hook order, and each callback's semantics on scripted sequences of logged values (Keras's rules,
worked out by hand in the comments)."""

import csv
import math

import numpy as np
import pytest

import glassbox as gb
import glassbox.nn as nn
import glassbox.optim as optim
from glassbox.train import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgressBar,
    ReduceLROnPlateau,
    TerminateOnNaN,
    fit,
)


def data(n=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)).astype(np.float32), rng.integers(0, 2, size=n).astype(np.int64)


class Script(Callback):
    """Overwrites logged values with scripted ones: values[key][epoch]. Put it before the callbacks under test."""

    def __init__(self, **values):
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        for key, sequence in self.values.items():
            logs[key] = sequence[epoch]


class Snapshots(Callback):
    """The model's weights at the end of every epoch."""

    def __init__(self):
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append({k: v.data.copy() for k, v in self.model.state_dict().items()})


_NUDGES = np.random.default_rng(0)


def nudge(trainer, batch):
    """A train_step that changes every weight by a fresh random amount (so every epoch's weights differ)."""
    for p in trainer.model.parameters():
        p.data += _NUDGES.normal(size=p.shape).astype(p.dtype)
    return {"loss": 1.0}


def run(callbacks, epochs, optimizer=None, **script):
    """fit a small model for `epochs` with a weight-nudging train_step and scripted logs; returns history, model."""
    x, y = data()
    model = nn.Linear(3, 2)
    history = fit(model, (x, y), epochs=epochs, batch_size=4, loss="cross_entropy", optimizer=optimizer,
                  train_step=nudge, callbacks=[Script(**script), *callbacks], verbose=0)
    return history, model


# ----- hook order ----------------------------------------------------------------------------------------------------

class Order(Callback):
    def __init__(self):
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append("train_begin")

    def on_train_end(self, logs=None):
        self.calls.append("train_end")

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, tuple(sorted(logs))))

    def on_train_batch_begin(self, batch, logs=None):
        self.calls.append(("batch_begin", batch))

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch, tuple(sorted(logs))))

    def on_test_begin(self, logs=None):
        self.calls.append("test_begin")

    def on_test_end(self, logs=None):
        self.calls.append(("test_end", tuple(sorted(logs))))


def test_hook_order():
    x, y = data(10)
    order = Order()
    fit(nn.Linear(3, 2), (x, y), val=data(5, seed=1), epochs=2, batch_size=4, loss="cross_entropy",
        optimizer="sgd", metrics=["accuracy"], callbacks=[order], verbose=0)
    expected = ["train_begin"]
    for epoch in range(2):
        expected.append(("epoch_begin", epoch))
        for batch in range(3):  # 4 + 4 + 2 examples
            expected += [("batch_begin", batch), ("batch_end", batch, ("loss",))]
        expected += ["test_begin", ("test_end", ("val_accuracy", "val_loss"))]
        expected.append(("epoch_end", epoch, ("accuracy", "loss", "lr", "seconds", "val_accuracy", "val_loss")))
    expected.append("train_end")
    assert order.calls == expected


def test_callback_sees_trainer_and_model_and_can_stop_training():
    class StopAfterTwoBatches(Callback):
        def on_train_batch_end(self, batch, logs=None):
            assert self.model is self.trainer.model
            if batch == 1:
                self.trainer.stop_training = True

    x, y = data(20)
    order = Order()
    history = fit(nn.Linear(3, 2), (x, y), epochs=5, batch_size=4, loss="cross_entropy", optimizer="sgd",
                  callbacks=[StopAfterTwoBatches(), order], verbose=0)
    assert history.epoch == [0]
    assert [c for c in order.calls if c[0] == "batch_end"] == [("batch_end", 0, ("loss",)), ("batch_end", 1, ("loss",))]
    assert order.calls[-1] == "train_end"


# ----- EarlyStopping -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("values, kwargs, stopped_epoch", [
    # e0 best 1.0; e1 best 0.9; e2 wait 1; e3 wait 2 >= patience -> stop at 3
    ([1.0, 0.9, 0.95, 0.91, 0.8, 0.7, 0.6], dict(patience=2), 3),
    # patience 0: the first epoch without improvement stops
    ([1.0, 0.9, 0.9, 0.8, 0.7, 0.6, 0.5], dict(patience=0), 2),
    # strictly decreasing: never stops without min_delta ...
    ([1.0, 0.96, 0.93, 0.90, 0.89, 0.2, 0.1], dict(patience=2), None),
    # ... with min_delta 0.05: e1 0.96 is not < 0.95 (wait 1); e2 0.93 improves; e3 0.90, e4 0.89 are not < 0.88
    ([1.0, 0.96, 0.93, 0.90, 0.89, 0.2, 0.1], dict(patience=2, min_delta=0.05), 4),
    # mode max on a name 'auto' would minimise
    ([0.5, 0.6, 0.6, 0.55, 0.7, 0.8, 0.9], dict(patience=2, mode="max"), 3),
    # the same values minimised: e0 best 0.5, then no improvement: stop at e2
    ([0.5, 0.6, 0.6, 0.55, 0.7, 0.8, 0.9], dict(patience=2, mode="min"), 2),
    # baseline not beaten: the improvement at e0 does not reset wait (1), so e1 makes 2 -> stop one epoch earlier
    ([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], dict(patience=2, baseline=0.5), 1),
    ([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], dict(patience=2), 2),
    # baseline beaten: as without one
    ([0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4], dict(patience=2, baseline=0.5), 2),
])
def test_early_stopping_stops_at_the_right_epoch(values, kwargs, stopped_epoch):
    stopper = EarlyStopping(monitor="val_score", **kwargs)
    history, _ = run([stopper], epochs=len(values), val_score=values)
    if stopped_epoch is None:
        assert history.epoch == list(range(len(values)))
        assert stopper.stopped_epoch == 0
    else:
        assert history.epoch == list(range(stopped_epoch + 1))
        assert stopper.stopped_epoch == stopped_epoch


def test_early_stopping_auto_mode_maximises_accuracy():
    values = [0.5, 0.6, 0.6, 0.55, 0.7, 0.8]  # max: best 0.6 at e1, e2 wait 1, e3 wait 2 -> stop at 3
    stopper = EarlyStopping(monitor="val_accuracy", patience=2)
    history, _ = run([stopper], epochs=6, val_accuracy=values)
    assert history.epoch == [0, 1, 2, 3]
    assert stopper.best == 0.6 and stopper.best_epoch == 1


def test_early_stopping_start_from_epoch():
    # epochs 0 and 1 are ignored; e2 sets the best 5.0; e3, e4 without improvement -> stop at 4 (patience 2)
    values = [1.0, 0.5, 5.0, 6.0, 6.0, 6.0]
    stopper = EarlyStopping(monitor="val_loss", patience=2, start_from_epoch=2)
    history, _ = run([stopper], epochs=6, val_loss=values)
    assert history.epoch == [0, 1, 2, 3, 4]
    assert stopper.best == 5.0 and stopper.best_epoch == 2


@pytest.mark.parametrize("values, epochs, best, last", [
    ([1.0, 0.5, 0.7, 0.8, 0.9, 0.1], 6, 1, 4),  # stops at e4 (patience 3): the weights of e1 come back
    ([1.0, 0.5, 0.7], 3, 1, 2),  # ends without stopping: still the weights of e1
    ([1.0, 0.9, 0.8], 3, 2, 2),  # the last epoch is the best
])
def test_restore_best_weights(values, epochs, best, last):
    snapshots = Snapshots()
    stopper = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    history, model = run([stopper, snapshots], epochs=epochs, val_loss=values)
    assert history.epoch[-1] == last
    assert len(snapshots.weights) == last + 1
    assert all(not np.array_equal(snapshots.weights[i]["weight"], snapshots.weights[i + 1]["weight"])
               for i in range(last))  # every epoch's weights differ: the comparison below can fail
    for key, value in model.state_dict().items():
        assert np.array_equal(value.data, snapshots.weights[best][key]), key
    assert stopper.best_epoch == best


def test_without_restore_best_weights_the_last_weights_stay():
    snapshots = Snapshots()
    history, model = run([EarlyStopping(monitor="val_loss", patience=1), snapshots], epochs=5,
                         val_loss=[1.0, 0.5, 0.7, 0.8, 0.9])
    assert history.epoch == [0, 1, 2]
    for key, value in model.state_dict().items():
        assert np.array_equal(value.data, snapshots.weights[2][key])


def test_early_stopping_on_a_missing_key_names_it():
    with pytest.raises(KeyError, match="val_loss"):
        run([EarlyStopping(monitor="val_loss")], epochs=2)


def test_early_stopping_is_reusable():
    stopper = EarlyStopping(monitor="val_loss", patience=1)
    history, _ = run([stopper], epochs=4, val_loss=[1.0, 2.0, 2.0, 2.0])
    assert history.epoch == [0, 1]
    history, _ = run([stopper], epochs=4, val_loss=[5.0, 4.0, 3.0, 2.0])  # a new fit starts from scratch
    assert history.epoch == [0, 1, 2, 3]


# ----- ReduceLROnPlateau ---------------------------------------------------------------------------------------------

class LRs(Callback):
    """The optimizer's lr at the end of each epoch (after the callbacks before it)."""

    def __init__(self):
        self.values = []

    def on_epoch_end(self, epoch, logs=None):
        self.values.append(self.trainer.optimizer.param_groups[0]["lr"])


def plateau_lrs(values, **kwargs):
    model_lrs = LRs()
    optimizer = optim.SGD(nn.Linear(3, 2).parameters(), lr=1.0)
    optimizer.add_param_group({"params": nn.Linear(2, 2).parameters(), "lr": 2.0})
    run([ReduceLROnPlateau(monitor="val_loss", **kwargs), model_lrs], epochs=len(values), optimizer=optimizer,
        val_loss=values)
    return model_lrs.values, optimizer


def test_reduce_lr_on_plateau_after_patience_bad_epochs():
    # e0 best; e1 wait 1; e2 wait 2 -> halve, wait 0; e3 wait 1; e4 wait 2 -> halve; e5 wait 1
    lrs, optimizer = plateau_lrs([1.0] * 6, factor=0.5, patience=2)
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    assert optimizer.param_groups[1]["lr"] == 0.5  # every group
    # an improvement (larger than min_delta) resets the count: e2 improves, e3 wait 1, e4 wait 2 -> halve
    lrs, _ = plateau_lrs([1.0, 1.0, 0.5, 0.5, 0.5, 0.5], factor=0.5, patience=2)
    assert lrs == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5]
    # an improvement smaller than min_delta does not
    lrs, _ = plateau_lrs([1.0, 0.99, 0.98, 0.97, 0.96, 0.95], factor=0.5, patience=2, min_delta=0.05)
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]


def test_reduce_lr_on_plateau_cooldown():
    # Keras's rule: the cooldown counter is set to `cooldown` at a reduction and counted down at the start of each
    # following epoch, which is ignored while the counter was still > 0 after that count. cooldown=3:
    # e2 reduce (counter 3); e3 counter 2, ignored; e4 counter 1, ignored; e5 counter 0, wait 1; e6 wait 2 -> reduce
    lrs, _ = plateau_lrs([1.0] * 8, factor=0.5, patience=2, cooldown=3)
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25]
    lrs, _ = plateau_lrs([1.0] * 8, factor=0.5, patience=2, cooldown=0)
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125]


def test_reduce_lr_on_plateau_never_goes_below_min_lr():
    lrs, optimizer = plateau_lrs([1.0] * 5, factor=0.1, patience=1, min_lr=0.05)
    np.testing.assert_allclose(lrs, [1.0, 0.1, 0.05, 0.05, 0.05], rtol=1e-12)
    assert optimizer.param_groups[1]["lr"] == pytest.approx(0.05)


def test_reduce_lr_on_plateau_is_reusable():
    callback, lrs = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2), LRs()
    run([callback, lrs], epochs=2, optimizer=optim.SGD(nn.Linear(3, 2).parameters(), lr=1.0), val_loss=[1.0, 0.5])
    # a new fit starts from scratch (like Keras): 5.0 is the first value it sees, so e0 is an improvement
    lrs = LRs()
    run([callback, lrs], epochs=4, optimizer=optim.SGD(nn.Linear(3, 2).parameters(), lr=1.0), val_loss=[5.0] * 4)
    assert lrs.values == [1.0, 1.0, 0.5, 0.5]


def test_reduce_lr_on_plateau_max_mode_and_bad_factor():
    lrs, _ = plateau_lrs([0.5, 0.6, 0.4, 0.3, 0.7], factor=0.5, patience=2, mode="max")
    assert lrs == [1.0, 1.0, 1.0, 0.5, 0.5]  # best 0.6 at e1; e2, e3 bad -> halve at e3; e4 improves
    with pytest.raises(ValueError, match="factor must be < 1"):
        ReduceLROnPlateau(factor=1.0)


# ----- LearningRateScheduler -----------------------------------------------------------------------------------------

def test_learning_rate_scheduler_sets_the_lr_each_epoch_uses():
    x, y = data(8)
    model = nn.Linear(3, 2)
    seen = []

    class BatchLR(Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(self.trainer.optimizer.param_groups[0]["lr"])

    def schedule(epoch, lr):
        return lr if epoch == 0 else lr * 0.5  # uses the lr it is given

    history = fit(model, (x, y), epochs=4, batch_size=4, loss="cross_entropy",
                  optimizer=optim.SGD(model.parameters(), lr=0.8),
                  callbacks=[LearningRateScheduler(schedule), BatchLR()], verbose=0)
    assert history.history["lr"] == [0.8, 0.4, 0.2, 0.1]
    assert seen == [0.8, 0.8, 0.4, 0.4, 0.2, 0.2, 0.1, 0.1]


# ----- ModelCheckpoint -----------------------------------------------------------------------------------------------

def test_model_checkpoint_every_epoch_with_epoch_in_the_name(tmp_path):
    snapshots = Snapshots()
    run([ModelCheckpoint(tmp_path / "ckpt" / "model-{epoch:02d}.safetensors"), snapshots], epochs=3)
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [f"model-0{k}.safetensors" for k in (1, 2, 3)]
    for k in range(3):
        state = gb.load(tmp_path / "ckpt" / f"model-0{k + 1}.safetensors")
        model = nn.Linear(3, 2)
        model.load_state_dict(state)
        for key, value in model.state_dict().items():
            assert np.array_equal(value.data, snapshots.weights[k][key])


def test_model_checkpoint_save_best_only(tmp_path):
    snapshots = Snapshots()
    values = [1.0, 0.5, 0.7, 0.4, 0.6]
    run([ModelCheckpoint(str(tmp_path / "m-{epoch}-{val_loss:.1f}.safetensors"), save_best_only=True),
         ModelCheckpoint(str(tmp_path / "best.safetensors"), save_best_only=True), snapshots],
        epochs=5, val_loss=values)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.safetensors", "m-1-1.0.safetensors",
                                                          "m-2-0.5.safetensors", "m-4-0.4.safetensors"]
    best = gb.load(tmp_path / "best.safetensors")
    for key in ("weight", "bias"):
        assert np.array_equal(best[key].data, snapshots.weights[3][key])
        assert np.array_equal(gb.load(tmp_path / "m-2-0.5.safetensors")[key].data, snapshots.weights[1][key])


def test_model_checkpoint_save_best_only_in_max_mode(tmp_path):
    values = [0.1, 0.3, 0.2, 0.3, 0.9]
    run([ModelCheckpoint(str(tmp_path / "m{epoch}.safetensors"), monitor="val_accuracy", save_best_only=True)],
        epochs=5, val_accuracy=values)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m1.safetensors", "m2.safetensors", "m5.safetensors"]


# ----- CSVLogger -----------------------------------------------------------------------------------------------------

def test_csv_logger_rows_equal_the_history(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("stale,content\n1,2\n")
    x, y = data(20)
    history = fit(nn.Linear(3, 2), (x[:14], y[:14]), val=(x[14:], y[14:]), epochs=3, batch_size=4,
                  loss="cross_entropy", optimizer="sgd", metrics=["accuracy"], callbacks=[CSVLogger(path)], verbose=0)
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3
    assert set(rows[0]) == {"epoch"} | set(history.history)
    for k, row in enumerate(rows):
        assert int(row["epoch"]) == history.epoch[k]
        for key, values in history.history.items():
            assert float(row[key]) == values[k], key


def test_csv_logger_append(tmp_path):
    path = tmp_path / "log.csv"
    x, y = data(8)
    for _ in range(2):
        fit(nn.Linear(3, 2), (x, y), epochs=2, batch_size=4, loss="cross_entropy", optimizer="sgd",
            callbacks=[CSVLogger(path, append=True)], verbose=0)
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][0] == "epoch" and len(rows) == 1 + 4
    assert [row[0] for row in rows[1:]] == ["0", "1", "0", "1"]


# ----- TerminateOnNaN ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_terminate_on_nan_stops_at_the_bad_batch(bad):
    x, y = data(12)
    calls, messages = [], []

    def step(trainer, batch):
        calls.append(1)
        return {"loss": bad if len(calls) == 5 else 1.0}

    history = fit(nn.Linear(3, 2), (x, y), epochs=4, batch_size=4, loss="cross_entropy", train_step=step,
                  callbacks=[TerminateOnNaN()], verbose=0, log=messages.append)
    assert len(calls) == 5  # epoch 1, batch 1: nothing after it
    assert history.epoch == [0, 1]
    assert len(messages) == 1 and "TerminateOnNaN" in messages[0]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow is the point
def test_terminate_on_nan_with_a_diverging_model():
    x, y = data(12)
    y = (x @ np.ones((3, 1), np.float32)) * 1e3
    model = nn.Linear(3, 1)
    history = fit(model, (x, y), epochs=50, batch_size=4, loss="mse", optimizer=optim.SGD(model.parameters(), lr=1e3),
                  callbacks=[TerminateOnNaN()], verbose=0, log=lambda message: None)
    assert len(history.epoch) < 50
    assert not np.isfinite(history.history["loss"][-1])


# ----- ProgressBar ---------------------------------------------------------------------------------------------------

def test_verbose_0_prints_nothing(capsys):
    x, y = data(12)
    lines = []
    fit(nn.Linear(3, 2), (x, y), val=data(4, 1), epochs=3, batch_size=4, loss="cross_entropy", optimizer="sgd",
        verbose=0, log=lines.append)
    assert lines == []
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


@pytest.mark.parametrize("explicit", [False, True])
def test_verbose_1_logs_one_summary_line_per_epoch(capsys, explicit):
    x, y = data(12)
    lines = []
    callbacks = [ProgressBar(verbose=1)] if explicit else []
    history = fit(nn.Linear(3, 2), (x, y), val=data(4, 1), epochs=3, batch_size=4, loss="cross_entropy",
                  optimizer="sgd", metrics=["accuracy"], callbacks=callbacks, verbose=0 if explicit else 1,
                  log=lines.append)
    assert len(lines) == 3
    for k, line in enumerate(lines):
        assert "\n" not in line
        assert line.startswith(f"Epoch {k + 1}/3")
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert f"{key} {history.history[key][k]:.4f}" in line
    assert capsys.readouterr().out == ""  # everything went through `log`
