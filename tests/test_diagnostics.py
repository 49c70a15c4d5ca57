"""Diagnostics callback: each statistic against a hand computation, each warning on a network built to show it, none
on a healthy run, the diagnostics.json contract and resuming from a checkpoint."""

import json
import math

import numpy as np
import pytest

import glassbox as gb
import glassbox.nn as nn
import glassbox.optim as optim
from glassbox.data.datasets.embedded import load_digits
from glassbox.train import Callback, fit
from glassbox.train.diagnostics import KINDS, Diagnostics, dead_fraction, saturated_fraction


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits()
    return x / 16.0, y


def train(model, optimizer, data, epochs=1, val=None, batch_size=32, diagnostics=None, loss="cross_entropy",
          **fit_kwargs):
    gb.manual_seed(0)
    diagnostics = diagnostics or Diagnostics(verbose=False)
    fit(model, data, val=val, epochs=epochs, batch_size=batch_size, loss=loss, optimizer=optimizer,
        callbacks=[diagnostics], verbose=0, **fit_kwargs)
    return diagnostics


def kinds(diagnostics):
    return {(w["kind"], w["layer"]) for w in diagnostics.warnings}


def mlp(hidden=32, activation=nn.ReLU, seed=0):
    gb.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, hidden), activation(), nn.Linear(hidden, 10))


# ----- statistics -----------------------------------------------------------------------------------------------------
def test_dead_fraction_counts_features_and_channels():
    features = np.array([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 2.0]])  # unit 1 and unit 3 fire once: 2 of 4 dead
    assert dead_fraction(features) == 0.5
    channels = np.zeros((2, 3, 2, 2))
    channels[1, 2, 1, 0] = 0.5  # only channel 2 fires, at one position of one example: 2 of 3 dead
    assert dead_fraction(channels) == pytest.approx(2 / 3)


def test_saturated_fraction_by_hand():
    y = np.array([0.005, 0.5, 0.995, 0.98])
    assert saturated_fraction(y, "sigmoid") == 0.5
    assert saturated_fraction(np.array([-0.995, 0.0, 0.9, 0.999, 0.1]), "tanh") == pytest.approx(2 / 5)
    with pytest.raises(ValueError, match="sigmoid"):
        saturated_fraction(y, "relu")


def test_statistics_of_one_step_against_hand_computation():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 4)).astype(np.float32)
    y = rng.integers(0, 2, size=8)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    model[0].bias.data[1] = -100.0  # unit 1 never fires: one third of the units are dead
    before = {k: v.data.astype(np.float64).copy() for k, v in model.state_dict().items()}
    h = x.astype(np.float64) @ before["0.weight"].T + before["0.bias"]
    r = np.maximum(h, 0)
    d = train(model, optim.SGD(model.parameters(), lr=0.5), (x, y), batch_size=8, shuffle=False,
              diagnostics=Diagnostics(every=1, verbose=False))
    assert d.steps == [0]
    first, relu, last = (d.layers[name] for name in ("0", "1", "2"))
    assert first["activation"]["mean"][0] == pytest.approx(h.mean(), rel=1e-5)
    assert first["activation"]["std"][0] == pytest.approx(h.std(), rel=1e-5)
    assert relu["activation"]["mean"][0] == pytest.approx(r.mean(), rel=1e-5)
    assert relu["activation"]["std"][0] == pytest.approx(r.std(), rel=1e-5)
    dead = np.mean([not (r[:, unit] > 0).any() for unit in range(3)])
    assert dead >= 1 / 3 and relu["activation"]["dead_fraction"][0] == pytest.approx(dead)
    assert first["activation"]["dead_fraction"] == [None] and relu["grad_norm"] == [None]
    for name, record in (("0", first), ("2", last)):
        layer = model.get_submodule(name)
        # The loop does not clear the grads after the last step: they are this step's.
        grad = math.sqrt(float(np.sum(layer.weight.grad.data.astype(np.float64) ** 2)
                               + np.sum(layer.bias.grad.data.astype(np.float64) ** 2)))
        assert record["grad_norm"][0] == pytest.approx(grad, rel=1e-6)
        w0, b0 = before[f"{name}.weight"], before[f"{name}.bias"]
        change = math.sqrt(np.sum((layer.weight.data - w0) ** 2) + np.sum((layer.bias.data - b0) ** 2))
        assert record["update_ratio"][0] == pytest.approx(change / math.sqrt(np.sum(w0 ** 2) + np.sum(b0 ** 2)),
                                                          rel=1e-5)
        # SGD's step is lr * grad, so the update's size is also lr * ||grad|| (an independent check of both)
        assert change == pytest.approx(0.5 * grad, rel=1e-5)


class HookProbe(Callback):
    """Counts the forward hooks on the first layer right after Diagnostics has run its batch-begin hook."""

    def __init__(self):
        self.counts = []

    def on_train_batch_begin(self, batch, logs=None):
        self.counts.append(len(self.model[0]._forward_hooks))


def test_hooks_only_on_sampled_steps_and_removed_afterwards(digits):
    x, y = digits
    model = mlp()
    probe = HookProbe()
    d = Diagnostics(every=3, verbose=False)
    gb.manual_seed(0)
    fit(model, (x[:320], y[:320]), epochs=1, batch_size=32, loss="cross_entropy", optimizer="sgd",
        callbacks=[d, probe], verbose=0)
    assert probe.counts == [1 if step % 3 == 0 else 0 for step in range(10)]
    assert d.steps == [0, 3, 6, 9]
    assert all(not m._forward_hooks for m in model.modules())


def test_default_every_gives_about_twenty_samples_per_epoch(digits):
    x, y = digits
    model = mlp()
    d = train(model, optim.Adam(model.parameters(), lr=1e-3), (x[:1280], y[:1280]))  # 40 steps -> every 2
    assert d.every == 2 and len(d.steps) == 20


def test_bad_arguments():
    with pytest.raises(ValueError, match="every"):
        Diagnostics(every=0)
    with pytest.raises(ValueError, match="overfit_epochs"):
        Diagnostics(overfit_epochs=0)


# ----- warnings on constructed cases ----------------------------------------------------------------------------------
def test_dead_relus(digits):
    x, y = digits
    model = mlp()
    model[0].bias.data[:] = -100.0  # every pre-activation is far below zero
    messages = []
    d = train(model, optim.Adam(model.parameters(), lr=1e-3), (x[:320], y[:320]), log=messages.append,
              diagnostics=Diagnostics(verbose=True))
    assert d.layers["1"]["activation"]["dead_fraction"][0] == 1.0
    assert ("dead_relus", "1") in kinds(d)
    warning = next(w for w in d.warnings if w["kind"] == "dead_relus")
    assert "Linear '0'" in warning["message"] and "1.000" in warning["evidence"]
    assert any("[dead_relus]" in m for m in messages)
    # the dead layer explains the zero gradient of layer 0: no second, misleading warning about it
    assert not any(w["kind"] == "vanishing_gradients" for w in d.warnings)


def test_saturation(digits):
    x, y = digits
    model = mlp(activation=nn.Sigmoid)
    model[0].weight.data *= 100.0
    d = train(model, optim.Adam(model.parameters(), lr=1e-3), (x[:320], y[:320]))
    assert d.layers["1"]["activation"]["saturated_fraction"][0] > 0.5
    assert ("saturation", "1") in kinds(d)


def test_too_high_learning_rate(digits):
    x, y = digits
    model = mlp()
    d = train(model, optim.SGD(model.parameters(), lr=10.0), (x[:640], y[:640]))
    found = {kind for kind, _ in kinds(d)}
    assert found & {"lr_too_high", "loss_not_finite"}


def test_rising_loss_is_a_too_high_learning_rate():
    # Least squares with full-batch SGD: the loss 1/n ||Xw - y||^2 has curvature 2/n X^T X; a step above 2 / L
    # (L its largest eigenvalue) multiplies the error along that direction by |1 - lr L| > 1 at every step.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]]) + 1.0).astype(np.float32)
    xb = np.hstack([x, np.ones((64, 1))]).astype(np.float64)  # the bias is a weight on a column of ones
    limit = 2 / np.linalg.eigvalsh(2 * xb.T @ xb / 64).max()
    model = nn.Linear(3, 1)
    d = train(model, optim.SGD(model.parameters(), lr=1.3 * limit), (x, y), epochs=30, batch_size=64, loss="mse",
              diagnostics=Diagnostics(every=1, verbose=False, update_ratio_threshold=1e9))  # the loss alone
    warning = next(w for w in d.warnings if w["kind"] == "lr_too_high")
    assert warning["layer"] is None and "going up" in warning["message"]
    losses = d.trainer.history.history["loss"]
    assert losses[warning["epoch"]] > 2 * min(losses[:warning["epoch"] + 1])
    # the same problem at a stable lr (half the limit) raises nothing
    model = nn.Linear(3, 1)
    d = train(model, optim.SGD(model.parameters(), lr=0.5 * limit), (x, y), epochs=30, batch_size=64, loss="mse",
              diagnostics=Diagnostics(every=1, verbose=False))
    assert d.warnings == []


def _deep(activation, std, depth, seed=0):
    rng = np.random.default_rng(seed)
    layers = []
    for i in range(depth):
        layer = nn.Linear(64 if i == 0 else 32, 32)
        layer.weight.data[:] = rng.normal(0, std(layer.weight.shape[1]), layer.weight.shape)
        layers += [layer, activation()]
    return nn.Sequential(*layers, nn.Linear(32, 10))


def test_vanishing_gradients(digits):
    x, y = digits
    model = _deep(nn.Sigmoid, lambda fan_in: 0.05, depth=12)
    d = train(model, optim.SGD(model.parameters(), lr=0.1), (x[:128], y[:128]))
    assert ("vanishing_gradients", "0") in kinds(d)
    norms = [d.layers[name]["grad_norm"][0] for name in ("0", "24")]
    assert norms[0] < 1e-3 * norms[1]  # the evidence, checked against the recorded numbers
    assert not any(w["kind"] == "exploding_gradients" for w in d.warnings)


def test_exploding_gradients(digits):
    x, y = digits
    model = _deep(nn.ReLU, lambda fan_in: 3 * math.sqrt(2 / fan_in), depth=10)  # 3x He init: x3 per layer
    with np.errstate(all="ignore"):
        d = train(model, optim.SGD(model.parameters(), lr=1e-3), (x[:64], y[:64]))
    assert any(w["kind"] == "exploding_gradients" for w in d.warnings)
    assert not any(w["kind"] == "vanishing_gradients" for w in d.warnings)


def test_overfitting_on_twenty_examples(digits):
    x, y = digits
    model = mlp(hidden=128)
    d = train(model, optim.Adam(model.parameters(), lr=1e-2), (x[:20], y[:20]), epochs=40,
              val=(x[1000:1200], y[1000:1200]), batch_size=20)
    warning = next(w for w in d.warnings if w["kind"] == "overfitting")
    # the rule, applied by hand to the History's numbers
    history = d.trainer.history.history
    loss, val = history["loss"], history["val_loss"]
    for epoch in range(len(val)):
        best = int(np.argmin(val[:epoch + 1]))
        if epoch - best >= 3 and val[epoch] > 1.01 * val[best] and loss[epoch] < 0.98 * loss[best]:
            break
    assert warning["epoch"] == epoch
    assert f"since epoch {best + 1}" in warning["message"]
    assert f"at epoch {epoch + 1}" in warning["evidence"]
    assert val[-1] > min(val) and loss[-1] < loss[int(np.argmin(val))]


@pytest.mark.parametrize("losses, overfits", [
    ([2.369, 2.366, 2.363, 2.360, 2.357], False),  # stuck near chance (ln 10): a learning failure, not memorising
    ([0.90, 0.70, 0.50, 0.35, 0.25], True),        # the training loss keeps falling well below its value at the best
])
def test_overfitting_needs_a_training_loss_that_really_falls(losses, overfits):
    # The rule on constructed epochs: the validation loss is best at epoch 1 and then rises by 4% in both cases.
    from types import SimpleNamespace

    d = Diagnostics(verbose=False)
    d.trainer = SimpleNamespace(epoch=4, log=print)
    d._epochs = [(e, loss, val) for e, (loss, val) in enumerate(zip(losses, [2.305, 2.33, 2.36, 2.38, 2.406]))]
    d._check_overfitting()
    assert [w["kind"] for w in d.warnings] == (["overfitting"] if overfits else [])


def test_no_warning_on_a_healthy_run(digits):
    x, y = digits
    model = mlp(hidden=64)
    d = train(model, optim.Adam(model.parameters(), lr=1e-3), (x[:1200], y[:1200]), epochs=3,
              val=(x[1200:], y[1200:]))
    assert d.warnings == []
    history = d.trainer.history.history
    assert history["loss"][-1] < history["loss"][0]  # it did learn: a silent run that learns nothing proves nothing


# ----- the file and resuming ------------------------------------------------------------------------------------------
def test_diagnostics_json_contract(digits, tmp_path):
    x, y = digits
    model = mlp()
    model[0].bias.data[:] = -100.0
    d = train(model, optim.Adam(model.parameters(), lr=1e-3), (x[:320], y[:320]), epochs=2,
              diagnostics=Diagnostics(tmp_path, every=2, verbose=False))
    document = json.loads((tmp_path / "diagnostics.json").read_text())
    assert set(document) == {"layers", "steps", "warnings"}
    assert document["steps"] == list(range(0, 20, 2))
    assert [layer["name"] for layer in document["layers"]] == ["0", "1", "2"]
    assert [layer["type"] for layer in document["layers"]] == ["Linear", "ReLU", "Linear"]
    for layer in document["layers"]:
        assert set(layer) == {"name", "type", "activation", "grad_norm", "update_ratio"}
        assert set(layer["activation"]) == {"mean", "std", "dead_fraction", "saturated_fraction"}
        for values in [layer["grad_norm"], layer["update_ratio"], *layer["activation"].values()]:
            assert len(values) == len(document["steps"])
    assert document["warnings"] and all(set(w) == {"kind", "message", "evidence", "epoch", "step", "layer"}
                                        for w in document["warnings"])
    assert all(w["kind"] in KINDS for w in document["warnings"])
    assert document == json.loads(json.dumps(d.to_dict()))  # the file is the callback's state
    assert not list(tmp_path.glob(".*tmp*"))  # the atomic writer left no temporaries
    pytest.importorskip("matplotlib")
    assert (tmp_path / "diagnostics.png").read_bytes()[:4] == b"\x89PNG"


def test_resume_from_checkpoint_gives_the_uninterrupted_record(digits, tmp_path):
    x, y = digits
    data, val = (x[:320], y[:320]), (x[1000:1100], y[1000:1100])

    def run(epochs, **kwargs):
        model = mlp()
        model[0].bias.data[:20] = -100.0  # 20 of 32 units dead: a warning to carry over the checkpoint
        return train(model, optim.Adam(model.parameters(), lr=1e-3), data, epochs=epochs, val=val,
                     diagnostics=Diagnostics(every=3, verbose=False), **kwargs)

    whole = run(4)
    assert [w["kind"] for w in whole.warnings] == ["dead_relus"]
    run(2, checkpoint=str(tmp_path / "ck.safetensors"))
    resumed = run(4, resume_from=str(tmp_path / "ck.safetensors"))
    assert resumed.to_dict() == whole.to_dict()
    assert resumed.step == whole.step == 40


def test_state_dict_round_trip():
    d = Diagnostics(verbose=False)
    d.step, d.steps, d.every = 7, [0, 5], 5
    d.layers = {"0": {"type": "Linear", "activation": {"mean": [0.1, None], "std": [1.0, 2.0],
                                                        "dead_fraction": [None, None],
                                                        "saturated_fraction": [None, None]},
                      "grad_norm": [0.5, float("nan")], "update_ratio": [1e-3, 2e-3]}}
    d._raised = {("dead_relus", "1"), ("overfitting", None)}
    other = Diagnostics(verbose=False)
    other.load_state_dict(d.state_dict())
    assert other.step == 7 and other.steps == [0, 5] and other.every == 5
    assert other._raised == d._raised
    assert other.layers["0"]["grad_norm"][0] == 0.5 and math.isnan(other.layers["0"]["grad_norm"][1])
    assert other.to_dict()["layers"][0]["grad_norm"] == [0.5, None]  # JSON has no NaN: null
