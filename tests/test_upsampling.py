"""interpolate, Upsample and ZeroPad2d against torch (forward and input gradient), reprs and error messages. The op
table (op_specs.py) covers interpolate's modes row by row with float64 gradcheck and torch parity."""

import numpy as np
import pytest

import glassbox as gb
from glassbox.errors import ShapeError
from glassbox.nn.upsampling import Upsample, ZeroPad2d, interpolate

torch = pytest.importorskip("torch")

UPSAMPLE = [
    dict(scale_factor=2), dict(scale_factor=(1.5, 0.5)), dict(size=(7, 3)), dict(size=5),
    dict(scale_factor=2, mode="bilinear"), dict(scale_factor=1.3, mode="bilinear", align_corners=True),
    dict(size=(3, 9), mode="bilinear"), dict(size=(2, 2), mode="bilinear", align_corners=True),
    dict(scale_factor=1.7, mode="bilinear", recompute_scale_factor=True),
    dict(scale_factor=1.7, mode="nearest", recompute_scale_factor=True),
]


def _compare(ours, theirs, shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    gx, tx = gb.from_numpy(x.copy()).requires_grad_(), torch.from_numpy(x.copy()).requires_grad_()
    t_out, g_out = theirs(tx), ours(gx)
    assert g_out.shape == tuple(t_out.shape)
    np.testing.assert_allclose(g_out.data, t_out.detach().numpy(), atol=1e-5, rtol=1e-4)
    r = np.random.default_rng(1).standard_normal(t_out.shape).astype(np.float32)
    (t_out * torch.from_numpy(r)).sum().backward()
    (g_out * gb.from_numpy(r)).sum().backward()
    np.testing.assert_allclose(gx.grad.data, tx.grad.numpy(), atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("kwargs", UPSAMPLE, ids=[str(k).replace(" ", "") for k in UPSAMPLE])
def test_upsample_matches_torch(kwargs):
    ours, theirs = Upsample(**kwargs), torch.nn.Upsample(**kwargs)
    _compare(ours, theirs, (2, 3, 5, 6))
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("in_size,out_size", [(3, 5), (5, 3), (7, 13), (10, 3), (6, 18), (1, 4)])
def test_nearest_indices_match_torch_for_awkward_ratios(in_size, out_size):
    x = np.arange(in_size * in_size, dtype=np.float32).reshape(1, 1, in_size, in_size)
    for kw in (dict(size=out_size), dict(scale_factor=out_size / in_size)):
        t = torch.nn.functional.interpolate(torch.from_numpy(x), **kw).numpy()
        np.testing.assert_array_equal(interpolate(gb.from_numpy(x), **kw).data, t)


def test_interpolate_integer_input_nearest_keeps_dtype():
    x = gb.tensor(np.arange(6).reshape(1, 1, 2, 3))
    out = interpolate(x, scale_factor=2)
    assert out.dtype == x.dtype and out.shape == (1, 1, 4, 6)


@pytest.mark.parametrize("padding", [2, (1, 0, 2, 3), (0, 0, 0, 0), -1, (-1, 2, 0, -2)])
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 4, 5)])
def test_zero_pad2d_matches_torch(padding, shape):
    ours, theirs = ZeroPad2d(padding), torch.nn.ZeroPad2d(padding)
    _compare(ours, theirs, shape)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: interpolate(gb.zeros(1, 2, 3), size=4), ShapeError, r"interpolate: expected a 4-D input.*\(1, 2, 3\)"),
    (lambda: interpolate(gb.zeros(1, 1, 2, 2), size=4, scale_factor=2), ValueError, r"exactly one of size and scale"),
    (lambda: interpolate(gb.zeros(1, 1, 2, 2)), ValueError, r"exactly one of size and scale_factor"),
    (lambda: interpolate(gb.zeros(1, 1, 2, 2), size=4, mode="bicubic"), ValueError,
     r"interpolate: mode must be one of \['nearest', 'bilinear'\].*'bicubic'"),
    (lambda: interpolate(gb.zeros(1, 1, 2, 2), size=4, align_corners=True), ValueError,
     r"align_corners option can only be set"),
    (lambda: interpolate(gb.zeros(1, 1, 2, 2), size=(4, 4, 4)), ValueError, r"size must be an int or a tuple of 2"),
    (lambda: interpolate(gb.zeros(1, 1, 2, 2), size=0), ValueError, r"size must be positive"),
    (lambda: interpolate(gb.zeros(1, 1, 2, 2), scale_factor=0.1), ValueError, r"gives an empty output \(0, 0\)"),
    (lambda: interpolate(gb.zeros(1, 1, 2, 2), scale_factor=-1.0), ValueError, r"scale_factor must be positive"),
    (lambda: Upsample(), ValueError, r"Upsample: exactly one of size and scale_factor"),
    (lambda: Upsample(size=3, mode="trilinear"), ValueError, r"Upsample: mode must be one of"),
    (lambda: ZeroPad2d((1, 2)), ValueError, r"ZeroPad2d: padding must be an int or a tuple of 4 ints"),
    (lambda: ZeroPad2d(1)(gb.zeros(3, 4)), ShapeError, r"ZeroPad2d: expected a 3-D .* got shape \(3, 4\)"),
])
def test_resize_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
