"""ConvTranspose2d and conv_transpose2d: the layer against torch.nn (weights copied through load_state_dict; forward
and every gradient), forward(output_size=...), repr, init bounds and error messages. The op table (op_specs.py)
covers the functional form row by row with gradcheck and torch parity."""

import numpy as np
import pytest

import glassbox as gb
from glassbox.errors import ShapeError
from glassbox.nn.conv_transpose import ConvTranspose2d, conv_transpose2d

torch = pytest.importorskip("torch")

CONFIGS = [  # (args, kwargs, input shape)
    ((3, 4, 3), {}, (2, 3, 5, 4)),
    ((3, 4, 3), dict(stride=2, padding=1, output_padding=1), (2, 3, 5, 4)),
    ((4, 6, (2, 3)), dict(stride=(2, 1), padding=(0, 1), groups=2), (2, 4, 4, 5)),
    ((4, 4, 3), dict(dilation=2, output_padding=1, groups=4, bias=False), (2, 4, 4, 4)),
    ((3, 2, 4), dict(stride=2, padding=1), (3, 6, 6)),  # unbatched
]


def _pair(args, kwargs):
    theirs = torch.nn.ConvTranspose2d(*args, **kwargs)
    ours = ConvTranspose2d(*args, **kwargs)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _compare(ours, theirs, shape, **fw):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    gx, tx = gb.from_numpy(x.copy()).requires_grad_(), torch.from_numpy(x.copy()).requires_grad_()
    t_out, g_out = theirs(tx, **fw), ours(gx, **fw)
    np.testing.assert_allclose(g_out.data, t_out.detach().numpy(), atol=1e-5, rtol=1e-4)
    r = np.random.default_rng(1).standard_normal(t_out.shape).astype(np.float32)
    (t_out * torch.from_numpy(r)).sum().backward()
    (g_out * gb.from_numpy(r)).sum().backward()
    np.testing.assert_allclose(gx.grad.data, tx.grad.numpy(), atol=1e-4, rtol=1e-3)
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(getattr(ours, name).grad.data, p.grad.numpy(), atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("args,kwargs,shape", CONFIGS, ids=[f"{a}{k}{s}".replace(" ", "") for a, k, s in CONFIGS])
def test_conv_transpose_layer_matches_torch(args, kwargs, shape):
    ours, theirs = _pair(args, kwargs)
    _compare(ours, theirs, shape)


@pytest.mark.parametrize("output_size", [(10, 8), (9, 7), [2, 4, 10, 7]])
def test_conv_transpose_output_size(output_size):
    ours, theirs = _pair((3, 4, 3), dict(stride=2, padding=1))
    _compare(ours, theirs, (2, 3, 5, 4), output_size=output_size)


def test_conv_transpose_output_size_out_of_range():
    ours = ConvTranspose2d(3, 4, 3, stride=2, padding=1)
    with pytest.raises(ValueError, match=r"ConvTranspose2d: requested an output size of \(11, 8\).*9 to 10"):
        ours(gb.zeros(2, 3, 5, 4), output_size=(11, 8))


@pytest.mark.parametrize("args,kwargs", [((2, 4, 3), dict(stride=2, padding=1, output_padding=1, groups=2,
                                                          bias=False, dilation=2)),
                                         ((3, 5, (2, 3)), {}), ((3, 5, 1), dict(stride=(2, 1), padding=(0, 1)))])
def test_conv_transpose_repr(args, kwargs):
    assert repr(ConvTranspose2d(*args, **kwargs)) == repr(torch.nn.ConvTranspose2d(*args, **kwargs))


def test_conv_transpose_init_bounds():
    layer = ConvTranspose2d(8, 6, 3, groups=2)
    assert layer.weight.shape == (8, 3, 3, 3) and layer.bias.shape == (6,)
    bound = 1 / np.sqrt(3 * 3 * 3)  # fan_in = weight.shape[1] * kH * kW, as in torch
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.weight.data).max() > 0.8 * bound
    assert np.abs(layer.bias.data).max() <= bound
    assert ConvTranspose2d(2, 2, 2, bias=False).bias is None


def test_conv_transpose_float64_and_no_grad():
    x, w = gb.randn(1, 2, 3, 3, dtype=gb.float64), gb.randn(2, 3, 2, 2, dtype=gb.float64)
    with gb.no_grad():
        out = conv_transpose2d(x, w.requires_grad_(), stride=2)
    assert out.shape == (1, 3, 6, 6) and out.dtype == gb.float64 and not out.requires_grad


@pytest.mark.parametrize("call,exc,match", [
    (lambda: conv_transpose2d(gb.zeros(2, 3, 4), gb.zeros(3, 2, 2)), ShapeError,
     r"conv_transpose2d: weight must be 4-D"),
    (lambda: conv_transpose2d(gb.zeros(3, 4), gb.zeros(3, 2, 2, 2)), ShapeError, r"conv_transpose2d: expected a 4-D"),
    (lambda: conv_transpose2d(gb.zeros(1, 3, 4, 4), gb.zeros(2, 2, 2, 2)), ShapeError,
     r"conv_transpose2d: input of shape \(1, 3, 4, 4\) has 3 channels.*weight.shape\[0\]=2"),
    (lambda: conv_transpose2d(gb.zeros(1, 3, 4, 4), gb.zeros(3, 2, 2, 2), groups=2), ShapeError,
     r"in_channels=3.*not divisible by groups=2"),
    (lambda: conv_transpose2d(gb.zeros(1, 2, 4, 4), gb.zeros(2, 2, 2, 2), gb.zeros(3)), ShapeError,
     r"bias must have shape \(2,\)"),
    (lambda: conv_transpose2d(gb.zeros(1, 2, 4, 4), gb.zeros(2, 2, 2, 2), stride=2, output_padding=2), ValueError,
     r"output padding must be .* smaller than either stride or dilation"),
    (lambda: conv_transpose2d(gb.zeros(1, 2, 1, 1), gb.zeros(2, 2, 2, 2), padding=1), ShapeError,
     r"empty output"),
    (lambda: ConvTranspose2d(3, 4, 3, groups=2), ValueError, r"ConvTranspose2d: in_channels=3 must be divisible"),
    (lambda: ConvTranspose2d(2, 2, 3, padding_mode="reflect"), ValueError, r"only 'zeros' padding mode"),
    (lambda: ConvTranspose2d(2, 2, 3, stride=1, output_padding=1), ValueError, r"smaller than either stride"),
    (lambda: ConvTranspose2d(3, 4, 3)(gb.zeros(1, 2, 5, 5)), ShapeError,
     r"ConvTranspose2d\(in_channels=3\) got input of shape \(1, 2, 5, 5\)"),
])
def test_conv_transpose_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_conv_transpose_weight_gradient_when_columns_span_many_row_blocks(monkeypatch):
    """The weight gradient multiplies im2col columns that ops/conv.py builds a block of rows at a time in one reused
    buffer; with tiny blocks (as a big image gets with the real size) every block must still reach the product."""
    from glassbox.ops import conv as conv_ops

    monkeypatch.setattr(conv_ops, "_BLOCK_BYTES", 2048)
    ours, theirs = _pair((3, 4, 3), dict(stride=2, padding=1))
    _compare(ours, theirs, (2, 3, 9, 7))
