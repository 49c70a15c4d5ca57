"""GroupNorm against PyTorch: the functional group_norm and the layer (weights copied in through load_state_dict),
forward (float32, atol 1e-5 rtol 1e-4) and the gradients of the input and the parameters (atol 1e-4 rtol 1e-3);
torch's init, state_dict keys, repr and errors. The op table (op_specs.py, '# ----- group norm') adds the float64
gradchecks and per-variant torch comparisons."""

import numpy as np
import pytest

import glassbox as gb
from glassbox.errors import ShapeError
from glassbox.nn.group_norm import GroupNorm, group_norm

torch = pytest.importorskip("torch")

FORWARD_TOL = dict(atol=1e-5, rtol=1e-4)
GRAD_TOL = dict(atol=1e-4, rtol=1e-3)


def _pair(num_groups, num_channels, **kwargs):
    """A torch GroupNorm with random parameters, and a glassbox one loaded with the same state_dict."""
    t_layer = torch.nn.GroupNorm(num_groups, num_channels, **kwargs)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in t_layer.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    g_layer = GroupNorm(num_groups, num_channels, **kwargs)
    g_layer.load_state_dict({k: gb.from_numpy(v.numpy().copy()) for k, v in t_layer.state_dict().items()})
    return g_layer, t_layer


@pytest.mark.parametrize("num_groups,shape,kwargs", [
    (2, (4, 6, 5, 5), {}),
    (3, (2, 6, 7), {}),
    (1, (3, 4, 2, 3), {}),
    (4, (3, 4, 3, 2), {}),
    (2, (5, 4), {}),
    (2, (2, 8, 4, 4), {"affine": False}),
    (4, (2, 8, 3, 3), {"bias": False}),
    (2, (2, 4, 3, 3), {"eps": 1e-2}),
])
def test_layer_matches_torch(num_groups, shape, kwargs):
    g_layer, t_layer = _pair(num_groups, shape[1], **kwargs)
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(shape) * 3 + 2).astype(np.float32)
    cot = rng.standard_normal(shape).astype(np.float32)
    gx, tx = gb.from_numpy(x.copy()).requires_grad_(), torch.from_numpy(x.copy()).requires_grad_()
    g_out, t_out = g_layer(gx), t_layer(tx)
    assert g_out.shape == tuple(t_out.shape) and g_out.dtype == np.float32
    np.testing.assert_allclose(g_out.detach().numpy(), t_out.detach().numpy(), **FORWARD_TOL)
    (g_out * gb.from_numpy(cot)).sum().backward()
    (t_out * torch.from_numpy(cot)).sum().backward()
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), **GRAD_TOL)
    g_params, t_params = dict(g_layer.named_parameters()), dict(t_layer.named_parameters())
    assert sorted(g_params) == sorted(t_params)
    for name, t_param in t_params.items():
        np.testing.assert_allclose(g_params[name].grad.numpy(), t_param.grad.numpy(), **GRAD_TOL, err_msg=name)


@pytest.mark.parametrize("kwargs", [{}, {"affine": False}, {"bias": False}, {"eps": 1e-3, "affine": True}])
def test_init_state_dict_and_repr_match_torch(kwargs):
    g_layer, t_layer = GroupNorm(3, 6, **kwargs), torch.nn.GroupNorm(3, 6, **kwargs)
    assert repr(g_layer) == repr(t_layer)
    g_state, t_state = g_layer.state_dict(), t_layer.state_dict()
    assert list(g_state) == list(t_state)
    for key, value in t_state.items():
        assert g_state[key].shape == tuple(value.shape)
        np.testing.assert_array_equal(g_state[key].numpy(), value.numpy())  # weight = 1, bias = 0
    assert g_layer.num_groups == 3 and g_layer.num_channels == 6


def test_layer_error_names_channels_and_groups():
    with pytest.raises(ValueError, match=r"num_channels \(10\).*num_groups \(4\)"):
        GroupNorm(4, 10)


def test_functional_errors():
    x = gb.randn(2, 6, 3)
    with pytest.raises(ShapeError, match=r"\(6\).*num_groups \(4\)"):
        group_norm(x, 4)
    with pytest.raises(ShapeError, match="weight must have shape"):
        group_norm(x, 3, weight=gb.ones(3))
    with pytest.raises(ShapeError, match="N, C"):
        group_norm(gb.randn(6), 3)
    with pytest.raises(ShapeError, match="expected input of shape"):
        GroupNorm(2, 4)(gb.randn(2, 6, 3))


def test_statistics_per_sample_and_group():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 6, 4, 4)) * 5 + 100  # a large offset: the variance must not cancel
    out = group_norm(gb.from_numpy(x), 3).numpy().reshape(3, 3, -1)
    np.testing.assert_allclose(out.mean(axis=2), 0, atol=1e-10)
    np.testing.assert_allclose(out.var(axis=2), 1, atol=1e-5)
    direct = (x.reshape(3, 3, -1) - x.reshape(3, 3, -1).mean(2, keepdims=True)) / np.sqrt(
        x.reshape(3, 3, -1).var(2, keepdims=True) + 1e-5)
    np.testing.assert_allclose(out, direct, atol=1e-12)


def test_float64_layer_and_no_grad():
    layer = GroupNorm(2, 4, dtype=gb.float64)
    assert layer.weight.dtype == np.float64
    x = gb.randn(2, 4, 3, dtype=gb.float64)
    with gb.no_grad():
        out = layer(x)
    assert out.dtype == np.float64 and not out.requires_grad


def test_backward_only_what_is_needed():
    layer = GroupNorm(2, 4)
    layer.weight.requires_grad_(False)
    x = gb.randn(2, 4, 3)
    layer(x).sum().backward()
    assert layer.weight.grad is None and layer.bias.grad is not None and x.grad is None
    np.testing.assert_allclose(layer.bias.grad.numpy(), np.full(4, 6.0))
