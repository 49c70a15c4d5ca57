"""Randomized grids of configurations for the vision primitives against torch: conv2d, conv_transpose2d, max_pool2d
and avg_pool2d with seeded random strides, paddings, dilations, groups, ceil_mode and odd sizes; forward and every
gradient. Each configuration also runs with tiny im2col blocks so that the convolutions' multi-block path (what a
large image takes) is exercised on small inputs. The hand-picked configurations live in test_conv.py and
test_pooling.py; this file is for the combinations nobody thought to pick."""

import numpy as np
import pytest

import glassbox as gb
import glassbox.nn.functional as F
from glassbox.ops import conv as conv_ops
from glassbox.ops.pool import pool_output_size

torch = pytest.importorskip("torch")
TF = torch.nn.functional

CASES = 24  # per op: enough to mix every option with every other a few times, still a few seconds in all


def _conv_config(rng, transpose=False):
    """A valid random configuration: (input shape, weight shape, kwargs)."""
    while True:
        groups = int(rng.choice([1, 1, 2, 3]))
        c_in, c_out = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 4))
        kernel = tuple(int(k) for k in rng.integers(1, 5, 2))
        stride = tuple(int(s) for s in rng.integers(1, 4, 2))
        dilation = tuple(int(d) for d in rng.integers(1, 3, 2))
        padding = tuple(int(rng.integers(0, (d * (k - 1)) // 2 + 2)) for k, d in zip(kernel, dilation))
        size = tuple(int(s) for s in rng.integers(1, 12, 2))
        shape = (int(rng.integers(1, 4)), c_in) + size
        kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        if transpose:
            # output_padding must be smaller than stride or dilation (torch's rule)
            kwargs["output_padding"] = tuple(int(rng.integers(0, max(s, d))) for s, d in zip(stride, dilation))
            weight = (c_in, c_out // groups) + kernel
            out = [(n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n, s, p, d, k, op in
                   zip(size, stride, padding, dilation, kernel, kwargs["output_padding"])]
        else:
            weight = (c_out, c_in // groups) + kernel
            out = [(n + 2 * p - d * (k - 1) - 1) // s + 1 for n, s, p, d, k in zip(size, stride, padding, dilation,
                                                                                  kernel)]
        if min(out) >= 1:
            return shape, weight, kwargs


def _pool_config(rng, with_dilation):
    while True:
        kernel = tuple(int(k) for k in rng.integers(1, 5, 2))
        stride = tuple(int(s) for s in rng.integers(1, 4, 2))
        padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)  # torch: at most half the kernel
        dilation = tuple(int(d) for d in rng.integers(1, 3, 2)) if with_dilation else (1, 1)
        size = tuple(int(s) for s in rng.integers(1, 12, 2))
        shape = (int(rng.integers(1, 4)), int(rng.integers(1, 4))) + size
        ceil_mode = bool(rng.integers(0, 2))
        if all(n + 2 * p >= d * (k - 1) + 1 and _every_window_touches_the_input(n, k, s, p, d, ceil_mode)
               for n, k, s, p, d in zip(size, kernel, stride, padding, dilation)):
            kwargs = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)
            if with_dilation:
                kwargs["dilation"] = dilation
            return shape, kwargs


def _every_window_touches_the_input(n, k, s, p, d, ceil_mode):
    """False when some window (dilated) sees only padding: torch then outputs -inf and its max_pool2d backward sends
    the gradient to an index outside the input (memory corruption that aborts a later test), so such
    configurations have no reference to compare with; glassbox gives them a zero gradient."""
    out = pool_output_size(n, k, s, p, d, ceil_mode)
    return all(any(0 <= i * s - p + j * d < n for j in range(k)) for i in range(out))


def _compare(ours_fn, theirs_fn, arrays, atol=1e-5, rtol=1e-4):
    """Run both on the same float32 arrays, backward the same random gradient, compare output and every gradient."""
    ours_in = [gb.from_numpy(a.copy()).requires_grad_() for a in arrays]
    theirs_in = [torch.from_numpy(a.copy()).requires_grad_() for a in arrays]
    ours, theirs = ours_fn(*ours_in), theirs_fn(*theirs_in)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), atol=atol, rtol=rtol)
    grad = np.random.default_rng(99).standard_normal(tuple(theirs.shape)).astype(np.float32)
    (ours * gb.from_numpy(grad)).sum().backward()
    (theirs * torch.from_numpy(grad)).sum().backward()
    for mine, reference in zip(ours_in, theirs_in):
        np.testing.assert_allclose(mine.grad.numpy(), reference.grad.numpy(), atol=1e-4, rtol=1e-3)


@pytest.fixture(params=["whole", "tiny_blocks"])
def blocks(request, monkeypatch):
    """Run once as is and once with im2col blocks of 256 bytes: a block of one output row or a few."""
    if request.param == "tiny_blocks":
        monkeypatch.setattr(conv_ops, "_BLOCK_BYTES", 256)


@pytest.mark.parametrize("case", range(CASES))
def test_conv2d_random_configuration(case, blocks):
    rng = np.random.default_rng([2026, case])
    shape, weight_shape, kwargs = _conv_config(rng)
    arrays = [rng.standard_normal(shape).astype(np.float32), rng.standard_normal(weight_shape).astype(np.float32)]
    if rng.integers(0, 2):
        arrays.append(rng.standard_normal(weight_shape[0]).astype(np.float32))
    _compare(lambda *t: F.conv2d(*t, **kwargs), lambda *t: TF.conv2d(*t, **kwargs), arrays)


@pytest.mark.parametrize("case", range(CASES))
def test_conv_transpose2d_random_configuration(case, blocks):
    rng = np.random.default_rng([2027, case])
    shape, weight_shape, kwargs = _conv_config(rng, transpose=True)
    arrays = [rng.standard_normal(shape).astype(np.float32), rng.standard_normal(weight_shape).astype(np.float32)]
    if rng.integers(0, 2):
        arrays.append(rng.standard_normal(weight_shape[1] * kwargs["groups"]).astype(np.float32))
    _compare(lambda *t: F.conv_transpose2d(*t, **kwargs), lambda *t: TF.conv_transpose2d(*t, **kwargs), arrays)


@pytest.mark.parametrize("case", range(CASES))
def test_max_pool2d_random_configuration(case):
    rng = np.random.default_rng([2028, case])
    shape, kwargs = _pool_config(rng, with_dilation=True)
    # distinct values: with ties the gradient's destination is a convention, compared in test_pooling.py
    x = rng.permutation(np.prod(shape)).reshape(shape).astype(np.float32) / np.prod(shape)
    _compare(lambda t: F.max_pool2d(t, **kwargs), lambda t: TF.max_pool2d(t, **kwargs), [x])


@pytest.mark.parametrize("case", range(CASES))
def test_avg_pool2d_random_configuration(case):
    rng = np.random.default_rng([2029, case])
    shape, kwargs = _pool_config(rng, with_dilation=False)
    kwargs["count_include_pad"] = bool(rng.integers(0, 2))
    x = rng.standard_normal(shape).astype(np.float32)
    _compare(lambda t: F.avg_pool2d(t, **kwargs), lambda t: TF.avg_pool2d(t, **kwargs), [x])


def test_max_pool2d_window_of_only_padding_gives_minus_infinity_and_no_gradient():
    """A dilated window can fall entirely on padding: the output is -inf as in torch, and since it depends on no
    input element no gradient flows from it (torch's backward writes outside the input there; no comparison)."""
    kwargs = dict(kernel_size=(2, 4), stride=(3, 3), padding=(1, 2), dilation=(2, 1))
    x = gb.randn(1, 2, 1, 10, requires_grad=True)
    out = F.max_pool2d(x, **kwargs)
    expected = TF.max_pool2d(torch.from_numpy(x.detach().numpy().copy()), **kwargs).numpy()
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    assert np.isneginf(out.detach().numpy()).all()
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((1, 2, 1, 10), dtype=np.float32))
