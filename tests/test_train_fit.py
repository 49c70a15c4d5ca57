"""fit / evaluate / predict and the Trainer: what the loop does per batch and per epoch, checked against hand-written
loops, NumPy formulas and hand-computed schedules."""

import numpy as np
import pytest

import glassbox as gb
import glassbox.nn as nn
import glassbox.optim as optim
from glassbox.data import DataLoader, TensorDataset
from glassbox.optim import lr_scheduler
from glassbox.train import Callback, Trainer, evaluate, fit, predict


def blobs(n=60, features=4, classes=3, seed=0):
    """Separable Gaussian blobs: float32 inputs (n, features), int64 labels (n,)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=n)
    centres = rng.normal(0, 3, size=(classes, features))
    x = (centres[labels] + rng.normal(0, 1, size=(n, features))).astype(np.float32)
    return x, labels.astype(np.int64)


def weights(model):
    return {k: v.data.copy() for k, v in model.state_dict().items()}


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(a[key], b[key]), key


def log_softmax_np(z):
    z = z.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


class Recorder(Callback):
    """Records the logs of every hook it sees."""

    def __init__(self):
        self.batch_logs, self.epoch_logs, self.batch_lrs = [], [], []

    def on_train_batch_begin(self, batch, logs=None):
        self.batch_lrs.append(self.trainer.optimizer.param_groups[0]["lr"] if self.trainer.optimizer else None)

    def on_train_batch_end(self, batch, logs=None):
        self.batch_logs.append(dict(logs))

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_logs.append(dict(logs))


# ----- fit learns and logs -------------------------------------------------------------------------------------------

def test_fit_reduces_loss_and_returns_history_with_keras_keys():
    gb.manual_seed(0)
    x, y = blobs(80)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    epochs = 6
    history = fit(model, (x[:60], y[:60]), val=(x[60:], y[60:]), epochs=epochs, batch_size=16,
                  loss=nn.CrossEntropyLoss(), optimizer=optim.Adam(model.parameters(), lr=0.05),
                  metrics=["accuracy"], verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"}
    assert all(len(v) == epochs for v in history.history.values())
    assert history.epoch == list(range(epochs))
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    assert history.history["val_loss"][-1] < history.history["val_loss"][0]
    assert history.history["accuracy"][-1] > 0.9
    assert all(s >= 0 for s in history.history["seconds"])
    assert history.history["lr"] == [0.05] * epochs


def test_epoch_loss_is_the_size_weighted_mean_of_batch_losses():
    gb.manual_seed(1)
    x, y = blobs(23)
    model = nn.Linear(4, 3)
    recorder = Recorder()
    history = fit(model, (x, y), epochs=2, batch_size=5, shuffle=False, loss="cross_entropy",
                  optimizer=optim.SGD(model.parameters(), lr=0.1), callbacks=[recorder], verbose=0)
    sizes = [5, 5, 5, 5, 3]
    assert len(recorder.batch_logs) == 2 * len(sizes)
    for epoch in range(2):
        batch = [logs["loss"] for logs in recorder.batch_logs[epoch * 5:(epoch + 1) * 5]]
        expected = sum(loss * size for loss, size in zip(batch, sizes)) / sum(sizes)
        assert history.history["loss"][epoch] == pytest.approx(expected, rel=1e-12)


def test_validation_metrics_are_those_of_the_final_weights():
    gb.manual_seed(2)
    x, y = blobs(50)
    model = nn.Linear(4, 3)
    history = fit(model, (x[:40], y[:40]), val=(x[40:], y[40:]), epochs=3, batch_size=8, loss="cross_entropy",
                  optimizer=optim.SGD(model.parameters(), lr=0.05), metrics=["accuracy"], verbose=0)
    w, b = model.weight.data.astype(np.float64), model.bias.data.astype(np.float64)
    logits = x[40:].astype(np.float64) @ w.T + b
    expected_loss = -log_softmax_np(logits)[np.arange(10), y[40:]].mean()
    assert history.history["val_loss"][-1] == pytest.approx(expected_loss, rel=1e-5)
    assert history.history["val_accuracy"][-1] == pytest.approx((logits.argmax(1) == y[40:]).mean())


# ----- validation_split ----------------------------------------------------------------------------------------------

class SpyLinear(nn.Module):
    """A linear model that records the example ids (column 0 of the input) it sees in train and in eval mode."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.seen_train, self.seen_eval = [], []

    def forward(self, x):
        ids = x.data[:, 0].astype(int).tolist()
        (self.seen_train if self.training else self.seen_eval).extend(ids)
        return self.fc(x[:, 1:])


def id_data(n):
    rng = np.random.default_rng(3)
    x = np.concatenate([np.arange(n, dtype=np.float32)[:, None], rng.normal(size=(n, 2)).astype(np.float32)], 1)
    return x, rng.integers(0, 2, size=n).astype(np.int64)


def test_validation_split_holds_out_the_last_examples_and_never_trains_on_them():
    x, y = id_data(40)
    gb.manual_seed(4)
    model = SpyLinear()
    history = fit(model, (x, y), validation_split=0.25, epochs=3, batch_size=7, loss="cross_entropy",
                  optimizer="sgd", metrics=["accuracy"], verbose=0)
    assert sorted(model.seen_train) == sorted(list(range(30)) * 3)
    assert sorted(model.seen_eval) == sorted(list(range(30, 40)) * 3)
    assert len(history.history["val_loss"]) == 3

    # The same run with val= given explicitly: the same numbers.
    gb.manual_seed(4)
    twin = SpyLinear()
    twin_history = fit(twin, (x[:30], y[:30]), val=(x[30:], y[30:]), epochs=3, batch_size=7, loss="cross_entropy",
                       optimizer="sgd", metrics=["accuracy"], verbose=0)
    assert model.seen_train == twin.seen_train  # same shuffled order
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert history.history[key] == twin_history.history[key], key
    assert_same_weights(weights(model), weights(twin))


def test_validation_split_with_a_dataset():
    x, y = id_data(20)
    model = SpyLinear()
    fit(model, TensorDataset(gb.tensor(x), gb.tensor(y)), validation_split=0.1, epochs=1, batch_size=4,
        loss="cross_entropy", optimizer="sgd", verbose=0)
    assert sorted(model.seen_train) == list(range(18))
    assert sorted(model.seen_eval) == [18, 19]


# ----- data, loss and optimizer in their different forms -------------------------------------------------------------

def test_fit_with_a_dataloader_equals_fit_with_arrays():
    x, y = blobs(30)
    gb.manual_seed(5)
    a = nn.Linear(4, 3)
    gb.manual_seed(5)
    b = nn.Linear(4, 3)
    loader = DataLoader(TensorDataset(gb.tensor(x), gb.tensor(y)), batch_size=8, shuffle=False)
    ha = fit(a, loader, epochs=2, loss="cross_entropy", optimizer=optim.SGD(a.parameters(), lr=0.1), verbose=0)
    hb = fit(b, (x, y), epochs=2, batch_size=8, shuffle=False, loss="cross_entropy",
             optimizer=optim.SGD(b.parameters(), lr=0.1), verbose=0)
    assert ha.history["loss"] == hb.history["loss"]
    assert_same_weights(weights(a), weights(b))


@pytest.mark.parametrize("loss_name, loss_module, opt_name, opt_class, lr", [
    ("cross_entropy", nn.CrossEntropyLoss, "sgd", optim.SGD, 0.01),
    ("mse", nn.MSELoss, "adam", optim.Adam, 0.001),
])
def test_loss_and_optimizer_names_equal_the_objects(loss_name, loss_module, opt_name, opt_class, lr):
    x, y = blobs(24)
    target = y if loss_name == "cross_entropy" else np.eye(3, dtype=np.float32)[y]
    gb.manual_seed(6)
    a = nn.Linear(4, 3)
    gb.manual_seed(6)
    b = nn.Linear(4, 3)
    start = weights(a)
    recorder = Recorder()
    ha = fit(a, (x, target), epochs=2, batch_size=5, shuffle=False, loss=loss_name, optimizer=opt_name,
             callbacks=[recorder], verbose=0)
    hb = fit(b, (x, target), epochs=2, batch_size=5, shuffle=False, loss=loss_module(),
             optimizer=opt_class(b.parameters(), lr=lr), verbose=0)
    assert isinstance(recorder.trainer.optimizer, opt_class)
    assert recorder.trainer.optimizer.param_groups[0]["lr"] == lr
    assert ha.history["loss"] == hb.history["loss"]
    assert_same_weights(weights(a), weights(b))
    assert not np.array_equal(weights(a)["weight"], start["weight"])  # it did train


def test_unknown_loss_and_optimizer_names_raise():
    model = nn.Linear(4, 3)
    x, y = blobs(8)
    with pytest.raises(ValueError, match="unknown loss 'crossentropy'"):
        fit(model, (x, y), loss="crossentropy", optimizer="sgd", verbose=0)
    with pytest.raises(ValueError, match="unknown optimizer 'adamax'"):
        fit(model, (x, y), loss="mse", optimizer="adamax", verbose=0)


# ----- one epoch of fit is exactly the hand-written loop -------------------------------------------------------------

def test_one_epoch_of_sgd_equals_the_hand_written_loop():
    x, y = blobs(23)
    gb.manual_seed(7)
    model = nn.Linear(4, 3)
    start = weights(model)
    fit(model, (x, y), epochs=1, batch_size=5, shuffle=False, loss=nn.CrossEntropyLoss(),
        optimizer=optim.SGD(model.parameters(), lr=0.1, momentum=0.9), verbose=0)

    by_hand = nn.Linear(4, 3)
    by_hand.load_state_dict(start)
    opt = optim.SGD(by_hand.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for i in range(0, 23, 5):  # batches 5, 5, 5, 5, 3
        opt.zero_grad()
        loss = loss_fn(by_hand(gb.tensor(x[i:i + 5])), gb.tensor(y[i:i + 5]))
        loss.backward()
        opt.step()
    assert_same_weights(weights(model), weights(by_hand))


def test_one_epoch_of_sgd_on_mse_equals_numpy_gradients():
    """Plain SGD on a linear model with MSE: w <- w - lr * 2/(n*d) * (xw^T + b - t)^T x per batch, in float64."""
    rng = np.random.default_rng(8)
    x = rng.normal(size=(11, 3))
    t = rng.normal(size=(11, 2))
    model = nn.Linear(3, 2).double()
    w, b = model.weight.data.copy(), model.bias.data.copy()
    fit(model, (x, t), epochs=1, batch_size=4, shuffle=False, loss="mse",
        optimizer=optim.SGD(model.parameters(), lr=0.3), verbose=0)
    for i in range(0, 11, 4):
        xb, tb = x[i:i + 4], t[i:i + 4]
        residual = xb @ w.T + b - tb
        scale = 2.0 / residual.size
        w, b = w - 0.3 * scale * residual.T @ xb, b - 0.3 * scale * residual.sum(0)
    np.testing.assert_allclose(model.weight.data, w, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(model.bias.data, b, rtol=1e-12, atol=1e-12)


# ----- evaluate and predict ------------------------------------------------------------------------------------------

def test_evaluate_loss_is_the_full_data_loss_with_a_smaller_last_batch():
    x, y = blobs(23, seed=9)
    gb.manual_seed(9)
    model = nn.Linear(4, 3)
    logs = evaluate(model, (x, y), loss=nn.CrossEntropyLoss(), metrics=["accuracy"], batch_size=5)
    logits = x.astype(np.float64) @ model.weight.data.T.astype(np.float64) + model.bias.data
    assert set(logs) == {"loss", "accuracy"}
    assert logs["loss"] == pytest.approx(-log_softmax_np(logits)[np.arange(23), y].mean(), rel=1e-5)
    assert logs["accuracy"] == pytest.approx((logits.argmax(1) == y).mean())


def test_evaluate_with_torch_cross_entropy(torch):
    x, y = blobs(37, seed=10)
    model = nn.Linear(4, 3)
    logs = evaluate(model, (x, y), loss="cross_entropy", batch_size=8)
    tm = torch.nn.Linear(4, 3)
    tm.load_state_dict({k: torch.from_numpy(v.data.copy()) for k, v in model.state_dict().items()})
    with torch.no_grad():
        expected = torch.nn.functional.cross_entropy(tm(torch.from_numpy(x)), torch.from_numpy(y)).item()
    assert logs["loss"] == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_predict_equals_the_model_in_eval_mode():
    gb.manual_seed(11)
    x, _ = blobs(21)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))
    model.train()
    out = predict(model, x, batch_size=4)
    assert out.shape == (21, 3)
    first, second = model[0], model[3]
    hidden = np.maximum(x @ first.weight.data.T + first.bias.data, 0)
    expected = hidden @ second.weight.data.T + second.bias.data  # dropout off
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-6)
    assert not out.requires_grad
    # the same from a Tensor, a (x, y) tuple and a DataLoader (other batch sizes: BLAS may round differently)
    for data in (gb.tensor(x), (x, np.zeros(21)), DataLoader(TensorDataset(gb.tensor(x)), batch_size=6)):
        np.testing.assert_allclose(predict(model, data).data, out.data, rtol=1e-5, atol=1e-6)


# ----- the train_step override point ---------------------------------------------------------------------------------

def test_custom_train_step_function_is_called_once_per_batch_and_its_logs_reach_callbacks():
    x, y = blobs(20)
    model = nn.Linear(4, 3)
    calls = []

    def step(trainer, batch):
        inputs, targets = batch
        calls.append(inputs.shape[0])
        output = trainer.model(inputs)
        loss = trainer.compute_loss(output, targets)
        trainer.optimizer.zero_grad()
        loss.backward()
        trainer.optimizer.step()
        return {"loss": loss.item(), "step": float(len(calls)), "size": float(inputs.shape[0])}

    recorder = Recorder()
    history = fit(model, (x, y), epochs=2, batch_size=6, loss="cross_entropy", optimizer="sgd", train_step=step,
                  callbacks=[recorder], verbose=0)
    assert calls == [6, 6, 6, 2] * 2
    assert [logs["step"] for logs in recorder.batch_logs] == [float(i) for i in range(1, 9)]
    assert [logs["size"] for logs in recorder.batch_logs] == [6.0, 6.0, 6.0, 2.0] * 2
    # the epoch logs (and so the History) hold each logged number's size-weighted epoch mean
    sizes = np.array([6, 6, 6, 2])
    for epoch in range(2):
        steps = np.arange(1, 5) + 4 * epoch
        assert history.history["step"][epoch] == pytest.approx((steps * sizes).sum() / 20)
        losses = [logs["loss"] for logs in recorder.batch_logs[4 * epoch:4 * epoch + 4]]
        assert history.history["loss"][epoch] == pytest.approx((np.array(losses) * sizes).sum() / 20)


def test_subclassed_trainer_train_step():
    x, y = blobs(12)
    model = nn.Linear(4, 3)

    class CountingTrainer(Trainer):
        calls = 0

        def train_step(self, batch):
            CountingTrainer.calls += 1
            return {"loss": 1.0 / CountingTrainer.calls, "custom": 7.0}

    recorder = Recorder()
    before = weights(model)
    trainer = CountingTrainer(model, loss="cross_entropy", callbacks=[recorder], verbose=0)  # no optimizer needed
    loader = DataLoader(TensorDataset(gb.tensor(x), gb.tensor(y)), batch_size=5)
    history = trainer.fit(loader, epochs=3)
    assert CountingTrainer.calls == 9
    assert [logs["custom"] for logs in recorder.batch_logs] == [7.0] * 9
    assert [logs["loss"] for logs in recorder.batch_logs] == [1.0 / k for k in range(1, 10)]
    assert history.history["custom"] == [7.0] * 3
    assert_same_weights(before, weights(model))  # the override replaced the standard step entirely


# ----- learning-rate schedules ---------------------------------------------------------------------------------------

def test_steplr_is_stepped_once_per_epoch():
    x, y = blobs(20)
    model = nn.Linear(4, 3)
    opt = optim.SGD(model.parameters(), lr=0.1)
    recorder = Recorder()
    history = fit(model, (x, y), epochs=5, batch_size=5, loss="cross_entropy", optimizer=opt,
                  scheduler=lr_scheduler.StepLR(opt, step_size=2, gamma=0.5), callbacks=[recorder], verbose=0)
    expected = [0.1, 0.1, 0.05, 0.05, 0.025]
    np.testing.assert_allclose(history.history["lr"], expected, rtol=1e-12)
    np.testing.assert_allclose(recorder.batch_lrs, np.repeat(expected, 4), rtol=1e-12)  # the lr each step used


def test_scheduler_stepped_per_batch():
    x, y = blobs(20)
    model = nn.Linear(4, 3)
    opt = optim.SGD(model.parameters(), lr=0.1)
    recorder = Recorder()
    fit(model, (x, y), epochs=2, batch_size=5, loss="cross_entropy", optimizer=opt,
        scheduler=lr_scheduler.StepLR(opt, step_size=3, gamma=0.5), scheduler_interval="step",
        callbacks=[recorder], verbose=0)
    np.testing.assert_allclose(recorder.batch_lrs, [0.1 * 0.5 ** (i // 3) for i in range(8)], rtol=1e-12)


def test_scheduler_interval_is_checked():
    with pytest.raises(ValueError, match="scheduler_interval"):
        Trainer(nn.Linear(2, 2), scheduler_interval="batch")


class RecordingPlateau(lr_scheduler.ReduceLROnPlateau):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen = []

    def step(self, metrics, epoch=None):
        self.seen.append(float(metrics))
        return super().step(metrics)


def test_reduce_lr_on_plateau_scheduler_is_stepped_with_val_loss():
    x, y = blobs(40)
    model = nn.Linear(4, 3)
    opt = optim.SGD(model.parameters(), lr=0.1)
    plateau = RecordingPlateau(opt, patience=100)
    history = fit(model, (x[:30], y[:30]), val=(x[30:], y[30:]), epochs=3, batch_size=10, loss="cross_entropy",
                  optimizer=opt, scheduler=plateau, verbose=0)
    assert plateau.seen == history.history["val_loss"]
    # without validation data it watches the training loss
    plateau = RecordingPlateau(opt, patience=100)
    history = fit(model, (x, y), epochs=2, batch_size=10, loss="cross_entropy", optimizer=opt, scheduler=plateau,
                  verbose=0)
    assert plateau.seen == history.history["loss"]


def test_reduce_lr_on_plateau_scheduler_lowers_lr_when_val_loss_is_flat():
    x, y = blobs(40)
    model = nn.Linear(4, 3)
    opt = optim.SGD(model.parameters(), lr=0.1)

    def frozen(trainer, batch):  # never changes the weights: val_loss stays exactly the same
        return {"loss": 1.0}

    history = fit(model, (x[:30], y[:30]), val=(x[30:], y[30:]), epochs=4, batch_size=10, loss="cross_entropy",
                  optimizer=opt, scheduler=lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0),
                  train_step=frozen, verbose=0)
    assert len(set(history.history["val_loss"])) == 1
    # epoch 0 sets the best; every later epoch is bad and (patience 0) halves the lr used by the next one
    np.testing.assert_allclose(history.history["lr"], [0.1, 0.1, 0.05, 0.025], rtol=1e-12)


# ----- errors a person can act on ------------------------------------------------------------------------------------

def test_fit_without_optimizer_says_so():
    x, y = blobs(8)
    with pytest.raises(ValueError, match="no optimizer given"):
        fit(nn.Linear(4, 3), (x, y), loss="cross_entropy", verbose=0)


def test_fit_without_loss_says_so():
    x, y = blobs(8)
    with pytest.raises(ValueError, match="no loss given"):
        fit(nn.Linear(4, 3), (x, y), optimizer="sgd", verbose=0)


def test_fit_with_val_and_validation_split_says_so():
    x, y = blobs(8)
    with pytest.raises(ValueError, match="either val= or validation_split="):
        fit(nn.Linear(4, 3), (x, y), val=(x, y), validation_split=0.2, loss="mse", optimizer="sgd", verbose=0)


@pytest.mark.parametrize("split", [0.0, 1.0, -0.5, 1.5])
def test_validation_split_out_of_range(split):
    x, y = blobs(8)
    with pytest.raises(ValueError, match=r"validation_split must be in \(0, 1\)"):
        fit(nn.Linear(4, 3), (x, y), validation_split=split, loss="cross_entropy", optimizer="sgd", verbose=0)


@pytest.mark.parametrize("shuffle", [True, False])
def test_fit_on_empty_data_says_so(shuffle):
    x, y = np.zeros((0, 4), np.float32), np.zeros(0, np.int64)
    with pytest.raises(ValueError, match="training data is empty"):
        fit(nn.Linear(4, 3), (x, y), shuffle=shuffle, loss="cross_entropy", optimizer="sgd", verbose=0)
    with pytest.raises(ValueError, match="training data is empty"):
        fit(nn.Linear(4, 3), DataLoader(TensorDataset(gb.tensor(x), gb.tensor(y)), batch_size=4),
            loss="cross_entropy", optimizer="sgd", verbose=0)


def test_validation_split_that_leaves_nothing_to_train_on_says_so():
    x, y = blobs(1)
    with pytest.raises(ValueError, match="empty"):
        fit(nn.Linear(4, 3), (x, y), validation_split=0.5, loss="cross_entropy", optimizer="sgd", verbose=0)


def test_empty_validation_data_and_empty_evaluate_say_so():
    x, y = blobs(8)
    with pytest.raises(ValueError, match="validation data is empty"):
        fit(nn.Linear(4, 3), (x, y), val=(x[:0], y[:0]), loss="cross_entropy", optimizer="sgd", verbose=0)
    with pytest.raises(ValueError, match="empty"):
        evaluate(nn.Linear(4, 3), (x[:0], y[:0]), loss="cross_entropy")


def test_fit_rejects_data_of_the_wrong_kind():
    with pytest.raises(TypeError, match="train must be a Dataset, a DataLoader or a tuple"):
        fit(nn.Linear(4, 3), np.zeros((4, 4)), loss="mse", optimizer="sgd", verbose=0)
