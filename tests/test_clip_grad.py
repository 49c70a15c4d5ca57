"""Gradient clipping: clip_grad_norm_ and clip_grad_value_ against torch.nn.utils, and the non-finite norm error."""

import math

import numpy as np
import pytest

import glassbox as gb
from glassbox.nn.utils import clip_grad_norm_, clip_grad_value_

SHAPES = [(5, 3), (7,), (2, 2, 2)]


def make_params(torch, scale, seed=0, with_none=True):
    """The same parameters with the same gradients in both frameworks; the last one has no gradient."""
    rng = np.random.default_rng(seed)
    grads = [(scale * rng.standard_normal(shape)).astype(np.float32) for shape in SHAPES]
    ours, theirs = [], []
    for g in grads:
        p, q = gb.tensor(np.zeros_like(g), requires_grad=True), torch.zeros(g.shape, requires_grad=True)
        p.grad, q.grad = gb.tensor(g.copy()), torch.tensor(g.copy())
        ours.append(p)
        theirs.append(q)
    if with_none:
        ours.append(gb.tensor([1.0], requires_grad=True))
        theirs.append(torch.tensor([1.0], requires_grad=True))
    return ours, theirs


def assert_same_grads(ours, theirs):
    for p, q in zip(ours, theirs):
        if q.grad is None:
            assert p.grad is None
        else:
            np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("norm_type", [2.0, math.inf, 1.0, 3.0, "inf"])
@pytest.mark.parametrize("scale, max_norm", [(1.0, 1.0), (1.0, 100.0), (0.01, 0.5)])
def test_clip_grad_norm_matches_torch(torch, norm_type, scale, max_norm):
    ours, theirs = make_params(torch, scale)
    total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total, gb.Tensor) and total.shape == () and total.dtype == np.float32
    assert total.item() == pytest.approx(expected.item(), rel=1e-6)
    assert_same_grads(ours, theirs)


def test_clip_grad_norm_scales_only_when_the_norm_exceeds_max_norm():
    p = gb.tensor([0.0, 0.0], requires_grad=True)
    p.grad = gb.tensor([3.0, 4.0])
    version = p.grad._version[0]
    assert clip_grad_norm_(p, 10.0).item() == pytest.approx(5.0)  # a single Tensor is accepted
    np.testing.assert_array_equal(p.grad.data, [3.0, 4.0])
    assert p.grad._version[0] == version
    clip_grad_norm_((q for q in [p]), 1.0)  # and a generator
    np.testing.assert_allclose(p.grad.data, [0.6, 0.8], rtol=1e-5)
    assert p.grad._version[0] == version + 1


def test_clip_grad_norm_with_no_gradients_returns_zero():
    assert clip_grad_norm_([gb.tensor([1.0], requires_grad=True)], 1.0).item() == 0.0
    with pytest.warns(UserWarning, match="empty generator"):
        clip_grad_norm_((p for p in []), 1.0)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
@pytest.mark.parametrize("norm_type", [2.0, math.inf])
def test_non_finite_norm_raises_by_default_unlike_torch(torch, bad, norm_type):
    ours, theirs = make_params(torch, 1.0)
    ours[1].grad.data[3] = bad
    theirs[1].grad[3] = bad
    saved = [p.grad.data.copy() for p in ours[:-1]]
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(ours, 1.0, norm_type=norm_type)
    for p, g in zip(ours, saved):  # nothing was scaled before the error
        np.testing.assert_array_equal(p.grad.data, g)
    # error_if_nonfinite=False gives torch's result (its default): gradients scaled by the non-finite norm anyway
    total = clip_grad_norm_(ours, 1.0, norm_type=norm_type, error_if_nonfinite=False)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type=norm_type)
    np.testing.assert_equal(total.item(), expected.item())
    for p, q in zip(ours, theirs):
        if q.grad is not None:
            np.testing.assert_array_equal(p.grad.data, q.grad.numpy())


def test_clip_grad_value_matches_torch(torch):
    ours, theirs = make_params(torch, 2.0)
    assert clip_grad_value_(ours, 0.75) is None
    torch.nn.utils.clip_grad_value_(theirs, 0.75)
    assert_same_grads(ours, theirs)
    assert max(np.abs(p.grad.data).max() for p in ours[:-1]) == pytest.approx(0.75)
    p = gb.tensor([0.0, 0.0], requires_grad=True)
    p.grad = gb.tensor([-3.0, 0.5])
    clip_grad_value_(p, 1)
    np.testing.assert_array_equal(p.grad.data, [-1.0, 0.5])
