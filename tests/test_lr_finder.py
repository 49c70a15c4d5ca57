"""LR finder: the exponential sweep and its smoothing by hand, the suggestion against the stability limit of least
squares computed from X^T X, early stop on divergence, and a sweep that leaves model and optimizer untouched."""

import json
import math

import numpy as np
import pytest

import glassbox as gb
import glassbox.nn as nn
import glassbox.optim as optim
from glassbox.data import DataLoader, TensorDataset
from glassbox.random import default_generator
from glassbox.train.lr_finder import LRFinderResult, find_lr, suggest_lr


def least_squares(n=256, scale=1.0, seed=0):
    """(x, y, limit): a linear-regression problem and its SGD stability limit 2 / L for the MSE loss."""
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(n, 5)) * np.array([1.0, 2.0, 0.5, 1.0, 3.0]) * scale).astype(np.float32)
    y = (x @ rng.normal(size=(5, 1)) + 0.1 * rng.normal(size=(n, 1))).astype(np.float32)
    xb = np.hstack([x, np.ones((n, 1))]).astype(np.float64)  # the bias is a weight on a column of ones
    hessian = 2 * xb.T @ xb / n  # of mean((X w - y)^2)
    return x, y, 2 / np.linalg.eigvalsh(hessian).max()


@pytest.mark.parametrize("scale", [0.3, 1.0, 3.0])
def test_suggestion_is_stable_and_within_a_decade_of_the_limit(scale):
    x, y, limit = least_squares(scale=scale)
    gb.manual_seed(0)
    model = nn.Linear(5, 1)
    result = find_lr(model, (x, y), "mse", optim.SGD(model.parameters(), lr=0.01), batch_size=64)
    assert limit / 10 <= result.suggested_lr < limit
    assert result.stopped_early  # end_lr=10 is far past the limit of every scale here
    assert result.lrs[-1] > limit  # it stopped because it went past the limit, not before


def test_sweep_is_exponential_and_smoothing_bias_corrected():
    x, y, limit = least_squares(n=64)
    model = nn.Linear(5, 1)
    result = find_lr(model, (x, y), "mse", optim.SGD(model.parameters(), lr=0.01), start_lr=1e-6,
                     end_lr=limit / 10, num_steps=12, smooth=0.9, batch_size=16)  # 4 batches, cycled 3 times
    assert not result.stopped_early and len(result.lrs) == 12
    expected = [1e-6 * (limit / 10 / 1e-6) ** (k / 11) for k in range(12)]
    np.testing.assert_allclose(result.lrs, expected, rtol=1e-12)
    average = 0.0
    for k, loss in enumerate(result.losses):
        average = 0.9 * average + 0.1 * loss
        assert result.smoothed[k] == pytest.approx(average / (1 - 0.9 ** (k + 1)), rel=1e-12)
    assert result.smoothed[0] == pytest.approx(result.losses[0])  # bias correction: no pull towards zero


def test_early_stop_on_divergence():
    x, y, limit = least_squares(n=128)
    model = nn.Linear(5, 1)
    with np.errstate(all="ignore"):
        result = find_lr(model, (x, y), "mse", optim.SGD(model.parameters(), lr=0.01), start_lr=limit / 100,
                         end_lr=limit * 1e4, num_steps=100)
    assert result.stopped_early and len(result.lrs) < 100
    last, best = result.smoothed[-1], min(s for s in result.smoothed[:-1])
    assert not math.isfinite(last) or last > 4 * best
    assert all(s <= 4 * best for s in result.smoothed[:-1])  # it stopped at the first point past the factor
    assert "diverged" in result.reason


def test_model_and_optimizer_are_unchanged():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(96, 6)).astype(np.float32)
    y = rng.integers(0, 3, size=96)
    gb.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.Dropout(0.2), nn.ReLU(), nn.Linear(16, 3))
    optimizer = optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)
    loss = nn.CrossEntropyLoss()
    # one real step first, so the optimizer has state (moments, step count) to protect, and grads are set
    loss(model(gb.tensor(x[:8])), gb.tensor(y[:8])).backward()
    optimizer.step()
    model.eval()
    weights = {k: v.data.copy() for k, v in model.state_dict().items()}
    grads = [p.grad.data.copy() for p in model.parameters()]
    state = optimizer.state_dict()
    random_state = default_generator.get_state()
    loader = DataLoader(TensorDataset(gb.tensor(x), gb.tensor(y)), batch_size=16, shuffle=True,
                        generator=gb.Generator(5))
    loader_state = loader.state_dict()

    result = find_lr(model, loader, loss, optimizer, num_steps=20)

    assert len(result.lrs) > 1
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.data, weights[key])
    for param, grad in zip(model.parameters(), grads):
        np.testing.assert_array_equal(param.grad.data, grad)
    assert all(not m.training for m in model.modules())
    after = optimizer.state_dict()
    assert after["param_groups"] == state["param_groups"]  # the lr too
    assert after["state"].keys() == state["state"].keys()
    for index, values in state["state"].items():
        for name, value in values.items():
            np.testing.assert_array_equal(np.asarray(getattr(after["state"][index][name], "data",
                                                             after["state"][index][name])),
                                          np.asarray(getattr(value, "data", value)))
    assert json.dumps(default_generator.get_state(), default=str) == json.dumps(random_state, default=str)
    assert json.dumps(loader.state_dict(), default=str) == json.dumps(loader_state, default=str)


def test_save_writes_the_contract(tmp_path):
    x, y, _ = least_squares(n=64)
    model = nn.Linear(5, 1)
    with np.errstate(all="ignore"):
        result = find_lr(model, (x, y), "mse", "sgd", num_steps=60, batch_size=16)
    path = result.save(tmp_path)
    document = json.loads(open(path).read())
    assert set(document) == {"lrs", "losses", "smoothed", "suggested_lr", "reason"}
    assert len(document["lrs"]) == len(document["losses"]) == len(document["smoothed"]) == len(result.lrs)
    assert document["suggested_lr"] == result.suggested_lr and document["reason"] == result.reason
    pytest.importorskip("matplotlib")
    assert (tmp_path / "lr_finder.png").read_bytes()[:4] == b"\x89PNG"


def test_suggest_lr_by_hand():
    lrs = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    lr, reason = suggest_lr(lrs, [2.0, 1.9, 1.0, 0.5, 3.0])  # lowest at 0.1
    assert lr == pytest.approx(1e-2) and "0.1" in reason
    lr, reason = suggest_lr(lrs, [1.0, 1.5, 2.0, 3.0, float("nan")])  # never fell
    assert lr == pytest.approx(1e-5) and "never fell" in reason
    assert suggest_lr(lrs[:1], [1.0])[0] is None
    json.dumps(LRFinderResult(lrs, [1.0] * 4 + [float("inf")], [1.0] * 4 + [float("nan")], 0.1, "r",
                              True).to_dict(), allow_nan=False)  # non-finite numbers become null


def test_bad_arguments():
    x, y, _ = least_squares(n=16)
    model = nn.Linear(5, 1)
    for kwargs, match in (({"start_lr": 1.0, "end_lr": 0.1}, "start_lr"), ({"num_steps": 1}, "num_steps"),
                          ({"smooth": 1.0}, "smooth"), ({"diverge_factor": 1.0}, "diverge_factor")):
        with pytest.raises(ValueError, match=match):
            find_lr(model, (x, y), "mse", "sgd", **kwargs)
