"""Conv2d and Conv1d: the layers against torch.nn (weights copied through load_state_dict; forward and every
gradient) for each padding mode and padding='same'/'valid'; reprs; init statistics; error messages; a large
random-direction gradcheck. The op table (op_specs.py) covers the functional forms row by row."""

import math
import warnings

import numpy as np
import pytest

import glassbox as gb
from glassbox.autograd import gradcheck
from glassbox.nn import conv

torch = pytest.importorskip("torch")

LAYERS = {"Conv2d": (conv.Conv2d, torch.nn.Conv2d), "Conv1d": (conv.Conv1d, torch.nn.Conv1d)}

CONFIGS = [  # (layer, args, kwargs, input shape)
    ("Conv2d", (3, 4, 3), {}, (2, 3, 7, 6)),
    ("Conv2d", (3, 4, 3), dict(padding=1), (2, 3, 7, 6)),
    ("Conv2d", (3, 4, (2, 3)), dict(padding=(1, 2), stride=(2, 1)), (2, 3, 7, 6)),
    ("Conv2d", (4, 6, 3), dict(padding=2, dilation=2, groups=2), (2, 4, 7, 6)),
    ("Conv2d", (4, 8, 3), dict(padding=1, groups=4, bias=False), (2, 4, 6, 6)),
    ("Conv2d", (3, 4, 1), dict(stride=2), (2, 3, 5, 5)),
    ("Conv2d", (3, 4, 3), dict(padding="same"), (2, 3, 7, 6)),
    ("Conv2d", (3, 4, (2, 4)), dict(padding="same"), (2, 3, 7, 6)),
    ("Conv2d", (3, 4, 2), dict(padding="same", dilation=(2, 1)), (2, 3, 7, 6)),
    ("Conv2d", (3, 4, 3), dict(padding="valid"), (2, 3, 7, 6)),
    ("Conv2d", (3, 4, 3), dict(padding=1), (3, 7, 6)),  # unbatched
    ("Conv1d", (3, 4, 3), dict(padding=1), (2, 3, 9)),
    ("Conv1d", (3, 4, 4), dict(padding="same"), (2, 3, 9)),
    ("Conv1d", (4, 4, 3), dict(stride=2, dilation=2, groups=2, padding=2), (2, 4, 11)),
    ("Conv1d", (3, 4, 3), dict(padding=1), (3, 9)),  # unbatched
]
MODES = ["zeros", "reflect", "replicate", "circular"]


def _params():
    return [pytest.param(layer, args, kwargs, shape, mode, id=f"{layer}{args}{kwargs}{shape}-{mode}".replace(" ", ""))
            for layer, args, kwargs, shape in CONFIGS for mode in MODES]


def _pair(layer, args, kwargs, mode="zeros"):
    ours, theirs = LAYERS[layer]
    torch_layer = theirs(*args, padding_mode=mode, **kwargs)
    glass_layer = ours(*args, padding_mode=mode, **kwargs)
    glass_layer.load_state_dict({k: v.detach().numpy() for k, v in torch_layer.state_dict().items()})
    return glass_layer, torch_layer


@pytest.mark.parametrize("layer,args,kwargs,shape,mode", _params())
def test_layer_matches_torch(layer, args, kwargs, shape, mode):
    glass_layer, torch_layer = _pair(layer, args, kwargs, mode)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    gx, tx = gb.from_numpy(x.copy()).requires_grad_(), torch.from_numpy(x.copy()).requires_grad_()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using padding='same'")
        t_out = torch_layer(tx)
    g_out = glass_layer(gx)
    assert g_out.shape == tuple(t_out.shape)
    np.testing.assert_allclose(g_out.data, t_out.detach().numpy(), atol=1e-5, rtol=1e-4)
    u = rng.standard_normal(tuple(t_out.shape)).astype(np.float32)
    (g_out * gb.from_numpy(u)).sum().backward()
    (t_out * torch.from_numpy(u)).sum().backward()
    np.testing.assert_allclose(gx.grad.data, tx.grad.numpy(), atol=1e-4, rtol=1e-3, err_msg="input grad")
    np.testing.assert_allclose(glass_layer.weight.grad.data, torch_layer.weight.grad.numpy(), atol=1e-4, rtol=1e-3,
                               err_msg="weight grad")
    if torch_layer.bias is not None:
        np.testing.assert_allclose(glass_layer.bias.grad.data, torch_layer.bias.grad.numpy(), atol=1e-4, rtol=1e-3,
                                   err_msg="bias grad")
    else:
        assert glass_layer.bias is None


@pytest.mark.parametrize("layer,args,kwargs", [
    ("Conv2d", (3, 8, 3), dict(padding=1)),
    ("Conv2d", (3, 8, (2, 3)), {}),
    ("Conv2d", (4, 8, 3), dict(stride=2, padding=(1, 2), dilation=2, groups=4, bias=False, padding_mode="reflect")),
    ("Conv2d", (3, 8, 2), dict(padding="same", padding_mode="circular")),
    ("Conv2d", (3, 8, 3), dict(padding="valid")),
    ("Conv1d", (4, 8, 3), dict(dilation=2, groups=2, padding="valid")),
    ("Conv1d", (4, 8, 5), dict(stride=3, padding=2, padding_mode="replicate")),
])
def test_repr_and_state_dict_match_torch(layer, args, kwargs):
    ours, theirs = LAYERS[layer]
    glass_layer, torch_layer = ours(*args, **kwargs), theirs(*args, **kwargs)
    assert repr(glass_layer) == repr(torch_layer)
    assert list(glass_layer.state_dict()) == list(torch_layer.state_dict())
    for key, value in torch_layer.state_dict().items():
        assert glass_layer.state_dict()[key].shape == tuple(value.shape)


def test_init_statistics():
    layer = conv.Conv2d(64, 128, 3)
    fan_in = 64 * 9
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)): gain sqrt(1/3) * sqrt(3 / fan_in)
    w, b = layer.weight.data, layer.bias.data
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound
    assert abs(w.mean()) < 0.01 * bound
    assert np.abs(w).max() > 0.99 * bound
    assert w.dtype == np.float32 and layer.weight.requires_grad
    grouped = conv.Conv1d(8, 16, 5, groups=4)
    assert grouped.weight.shape == (16, 2, 5)
    assert np.abs(grouped.bias.data).max() <= 1 / math.sqrt(2 * 5)
    torch_layer = torch.nn.Conv1d(8, 16, 5, groups=4)
    assert np.abs(torch_layer.weight.detach().numpy()).max() <= 1 / math.sqrt(2 * 5)


def test_output_sizes_and_no_grad():
    x = gb.from_numpy(np.zeros((2, 3, 10, 9), dtype=np.float32))
    layer = conv.Conv2d(3, 5, (3, 2), stride=(2, 3), padding=(1, 0), dilation=(1, 2))
    out = layer(x)
    assert out.shape == (2, 5, 5, 3)  # (10 + 2 - 2 - 1) // 2 + 1, (9 - 2 - 1) // 3 + 1
    with gb.no_grad():
        out = layer(x)
    assert not out.requires_grad
    assert out.dtype == np.float32


def _leaf(rng, *shape):
    return gb.from_numpy(rng.standard_normal(shape)).requires_grad_()


@pytest.mark.parametrize("kwargs", [dict(padding=1), dict(stride=2, padding=(2, 1), dilation=(1, 2), groups=2)])
def test_gradcheck_random_directions_large(kwargs):
    rng = np.random.default_rng(0)
    inputs = [_leaf(rng, 4, 6, 12, 11), _leaf(rng, 8, 6 // kwargs.get("groups", 1), 3, 3), _leaf(rng, 8)]
    assert gradcheck(lambda x, w, b: conv.conv2d(x, w, b, **kwargs), inputs, random_directions=3,
                     eps=1e-6, atol=1e-5, rtol=1e-3)


# ----- errors -------------------------------------------------------------------------------------------------------
def _floats(*shape):
    return gb.from_numpy(np.ones(shape, dtype=np.float32))


@pytest.mark.parametrize("call,exc,match", [
    (lambda: conv.conv2d(_floats(3, 5), _floats(4, 3, 3, 3)), gb.ShapeError,
     r"conv2d: expected a 4-D input \(N, C_in, H, W\) or a 3-D unbatched input \(C_in, H, W\), got shape \(3, 5\)"),
    (lambda: conv.conv2d(_floats(2, 3, 5), _floats(4, 3, 3, 3)), gb.ShapeError,
     r"conv2d: input of shape \(2, 3, 5\) has 2 channels.*read as unbatched \(C_in, H, W\)"),
    (lambda: conv.conv2d(_floats(2, 3, 5, 5), _floats(4, 3, 3)), gb.ShapeError,
     r"conv2d: weight must be 4-D.*\(4, 3, 3\)"),
    (lambda: conv.conv2d(_floats(2, 3, 5, 5), _floats(4, 2, 3, 3)), gb.ShapeError,
     r"conv2d: input of shape \(2, 3, 5, 5\) has 3 channels.*\(4, 2, 3, 3\).*groups=1 expects 2"),
    (lambda: conv.conv2d(_floats(2, 4, 5, 5), _floats(4, 1, 3, 3), groups=2), gb.ShapeError,
     r"conv2d: input of shape \(2, 4, 5, 5\) has 4 channels.*groups=2 expects 2"),
    (lambda: conv.conv2d(_floats(2, 3, 5, 5), _floats(4, 1, 3, 3), groups=3), gb.ShapeError,
     r"conv2d: out_channels=4.*not divisible by groups=3"),
    (lambda: conv.conv2d(_floats(2, 3, 5, 5), _floats(4, 1, 3, 3), groups=2), gb.ShapeError,
     r"conv2d: in_channels=3.*\(2, 3, 5, 5\).*not divisible by groups=2"),
    (lambda: conv.conv2d(_floats(1, 1, 2, 5), _floats(1, 1, 3, 3)), gb.ShapeError,
     r"conv2d: input of shape \(1, 1, 2, 5\) padded to \(2, 5\) is smaller than the kernel \(3, 3\)"),
    (lambda: conv.conv2d(_floats(1, 1, 4, 4), _floats(1, 1, 3, 3), dilation=2, padding=0), gb.ShapeError,
     r"smaller than the kernel.*dilated to \(5, 5\)"),
    (lambda: conv.conv2d(_floats(1, 2, 4, 4), _floats(3, 2, 3, 3), _floats(2)), gb.ShapeError,
     r"conv2d: bias must have shape \(3,\).*\(2,\)"),
    (lambda: conv.conv2d(_floats(1, 2, 4, 4), _floats(3, 2, 3, 3), padding="same", stride=2), ValueError,
     r"padding='same' is not supported for strided"),
    (lambda: conv.conv2d(_floats(1, 2, 4, 4), _floats(3, 2, 3, 3), padding="full"), ValueError, r"'full'"),
    (lambda: conv.conv1d(_floats(2, 3, 5, 5), _floats(4, 3, 3)), gb.ShapeError,
     r"conv1d: expected a 3-D input \(N, C_in, L\).*\(2, 3, 5, 5\)"),
    (lambda: conv.conv1d(_floats(2, 3, 5), _floats(4, 2, 3)), gb.ShapeError, r"conv1d: input of shape \(2, 3, 5\)"),
    (lambda: conv.Conv2d(3, 8, 3)(_floats(2, 4, 8, 8)), gb.ShapeError,
     r"Conv2d\(in_channels=3\) got input of shape \(2, 4, 8, 8\): expected \(N, 3, H, W\)"),
    (lambda: conv.Conv2d(3, 8, 3, padding_mode="reflect", padding=1)(_floats(2, 4, 8, 8)), gb.ShapeError,
     r"Conv2d\(in_channels=3\)"),
    (lambda: conv.Conv1d(3, 8, 3)(_floats(2, 4, 8)), gb.ShapeError,
     r"Conv1d\(in_channels=3\) got input of shape \(2, 4, 8\): expected \(N, 3, L\)"),
    (lambda: conv.Conv2d(3, 8, 3)(_floats(8, 8)), gb.ShapeError, r"conv2d: expected a 4-D input.*\(8, 8\)"),
    (lambda: conv.Conv2d(3, 8, 3, groups=2), ValueError, r"Conv2d: in_channels=3 must be divisible by groups=2"),
    (lambda: conv.Conv2d(4, 6, 3, groups=4), ValueError, r"Conv2d: out_channels=6 must be divisible by groups=4"),
    (lambda: conv.Conv2d(4, 6, 3, padding_mode="mirror"), ValueError, r"padding_mode.*'mirror'"),
    (lambda: conv.Conv2d(4, 6, 3, padding="same", stride=2), ValueError, r"'same' is not supported for strided"),
    (lambda: conv.Conv2d(4, 6, 3, padding="full"), ValueError, r"invalid padding string 'full'"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_conv_output_views_follow_its_batch_last_memory():
    """Conv outputs are (N, C, H, W) views of (C, H, W, N) memory (see ops/conv.py): view(n, -1) is a free view,
    a view merging the batch with other dims raises naming the layout and the fix, and reshape always works."""
    layer = gb.nn.Conv2d(2, 3, 3)
    out = layer(gb.randn(4, 2, 6, 6))
    flat = out.view(4, -1)
    np.testing.assert_array_equal(flat.data, out.data.reshape(4, -1))
    assert np.shares_memory(flat.data, out.data)
    with pytest.raises(gb.ShapeError, match=r"view: .*conv.*batch-last.*\.reshape\(\.\.\.\) or \.flatten\(1\)"):
        out.view(-1)  # (N*C*H*W,): the batch is innermost in memory, not outermost
    np.testing.assert_array_equal(out.reshape(-1, 48).data, np.ascontiguousarray(out.data).reshape(-1, 48))
