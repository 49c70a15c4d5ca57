"""Pooling modules and BatchNorm2d against PyTorch: forward, input gradient, return_indices, reprs, running
statistics, and the errors bad shapes raise. (The functional ops' gradients are checked by the op table.)"""

import numpy as np
import pytest

import glassbox as gb
import glassbox.nn.pooling as P
from glassbox.nn.normalization import BatchNorm2d

torch = pytest.importorskip("torch")  # PyTorch is the oracle of every test here

TOL = dict(atol=1e-5, rtol=1e-4)


def _distinct(*shape, seed=0):
    """float32 values with no ties (so every window has one maximum)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return ((rng.permutation(n) - n / 2) * 0.01).reshape(shape).astype(np.float32)


def _run(layer, torch_layer, x, seed=0):
    """Forward both layers on x and backward a random gradient; compare outputs and input gradients."""
    a = gb.from_numpy(x.copy()).requires_grad_(True)
    b = torch.from_numpy(x.copy()).requires_grad_(True)
    out, torch_out = layer(a), torch_layer(b)
    if isinstance(torch_out, tuple):
        assert out[1].dtype == np.int64
        np.testing.assert_array_equal(out[1].data, torch_out[1].numpy())
        out, torch_out = out[0], torch_out[0]
    assert tuple(out.shape) == tuple(torch_out.shape)
    np.testing.assert_allclose(out.data, torch_out.detach().numpy(), **TOL)
    g = np.random.default_rng(seed).standard_normal(out.shape).astype(np.float32)
    out.backward(gb.from_numpy(g))
    torch_out.backward(torch.from_numpy(g))
    np.testing.assert_allclose(a.grad.data, b.grad.numpy(), **TOL)
    return out


MODULES = [
    ("MaxPool2d(2)", lambda nn: nn.MaxPool2d(2), (2, 3, 8, 8)),
    ("MaxPool2d(2)[odd]", lambda nn: nn.MaxPool2d(2), (2, 3, 7, 9)),
    ("MaxPool2d(3,2,1)", lambda nn: nn.MaxPool2d(3, 2, 1), (2, 3, 9, 8)),
    ("MaxPool2d(3,1,1,dilation=2)", lambda nn: nn.MaxPool2d(3, 1, 1, dilation=2), (2, 2, 7, 6)),
    ("MaxPool2d(ceil)", lambda nn: nn.MaxPool2d((3, 2), (2, 2), (1, 0), ceil_mode=True), (1, 3, 8, 7)),
    ("MaxPool2d(indices)", lambda nn: nn.MaxPool2d(3, 2, 1, return_indices=True), (2, 3, 9, 8)),
    ("MaxPool2d(indices,tiled)", lambda nn: nn.MaxPool2d(2, return_indices=True), (2, 3, 8, 6)),
    ("MaxPool2d(indices,unbatched)", lambda nn: nn.MaxPool2d(2, 1, return_indices=True), (3, 5, 6)),
    ("MaxPool1d(3,2)", lambda nn: nn.MaxPool1d(3, 2), (2, 3, 11)),
    ("MaxPool1d(indices)", lambda nn: nn.MaxPool1d(2, 2, 1, dilation=2, return_indices=True, ceil_mode=True),
     (2, 3, 10)),
    ("MaxPool1d(unbatched)", lambda nn: nn.MaxPool1d(2), (3, 8)),
    ("AvgPool2d(2)", lambda nn: nn.AvgPool2d(2), (2, 3, 8, 8)),
    ("AvgPool2d(3,2,1)", lambda nn: nn.AvgPool2d(3, 2, 1), (2, 3, 9, 8)),
    ("AvgPool2d(exclude_pad,ceil)", lambda nn: nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
     (2, 3, 8, 7)),
    ("AvgPool2d(divisor)", lambda nn: nn.AvgPool2d((2, 3), 1, divisor_override=2), (1, 2, 5, 6)),
    ("AvgPool2d(unbatched)", lambda nn: nn.AvgPool2d(2), (3, 4, 6)),
    ("AdaptiveAvgPool2d(2)", lambda nn: nn.AdaptiveAvgPool2d(2), (2, 3, 8, 8)),
    ("AdaptiveAvgPool2d((3,5))", lambda nn: nn.AdaptiveAvgPool2d((3, 5)), (2, 3, 7, 9)),
    ("AdaptiveAvgPool2d((None,4))", lambda nn: nn.AdaptiveAvgPool2d((None, 4)), (2, 3, 5, 7)),
    ("AdaptiveAvgPool2d(1,unbatched)", lambda nn: nn.AdaptiveAvgPool2d(1), (3, 5, 7)),
    ("AdaptiveMaxPool2d(2)", lambda nn: nn.AdaptiveMaxPool2d(2, return_indices=True), (2, 3, 8, 8)),
    ("AdaptiveMaxPool2d((3,5))", lambda nn: nn.AdaptiveMaxPool2d((3, 5), return_indices=True), (2, 3, 7, 9)),
    ("AdaptiveMaxPool2d(upsample)", lambda nn: nn.AdaptiveMaxPool2d((6, 4)), (2, 3, 4, 3)),
]


@pytest.mark.parametrize("make,shape", [pytest.param(m, s, id=name) for name, m, s in MODULES])
def test_pooling_module_matches_torch(make, shape):
    layer, torch_layer = make(P), make(torch.nn)
    assert repr(layer) == repr(torch_layer)
    _run(layer, torch_layer, _distinct(*shape))


def test_max_pool_backward_accumulates_where_windows_overlap():
    x = np.zeros((1, 1, 3, 3), dtype=np.float32)
    x[0, 0, 1, 1] = 5  # the maximum of all four 2x2 windows
    a = gb.from_numpy(x).requires_grad_(True)
    P.max_pool2d(a, 2, stride=1).sum().backward()
    assert a.grad.data[0, 0, 1, 1] == 4 and a.grad.data.sum() == 4


def test_max_pool_padding_is_minus_infinity():
    x = gb.from_numpy(-np.ones((1, 1, 2, 2), dtype=np.float32))
    assert (P.max_pool2d(x, 3, stride=1, padding=1).data == -1).all()


def test_pooling_keeps_float64_and_casts_integers():
    assert P.max_pool2d(gb.from_numpy(np.zeros((1, 1, 4, 4))), 2).dtype == np.float64
    assert P.avg_pool2d(gb.from_numpy(np.zeros((1, 1, 4, 4), dtype=np.float32)), 3, 1, 1).dtype == np.float32
    assert P.avg_pool2d(gb.from_numpy(np.ones((1, 1, 4, 4), dtype=np.int64)), 2).dtype.kind == "f"


@pytest.mark.parametrize("momentum,affine", [(0.1, True), (0.5, False), (None, True)])
def test_batchnorm2d_matches_torch_over_train_steps_and_eval(momentum, affine):
    layer, torch_layer = BatchNorm2d(3, momentum=momentum, affine=affine), torch.nn.BatchNorm2d(3, momentum=momentum,
                                                                                             affine=affine)
    assert repr(layer) == repr(torch_layer)
    assert list(layer.state_dict()) == list(torch_layer.state_dict())
    if affine:
        rng = np.random.default_rng(1)
        w, b = rng.uniform(0.5, 2, 3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
        layer.weight.data[...] = w
        layer.bias.data[...] = b
        with torch.no_grad():
            torch_layer.weight.copy_(torch.from_numpy(w))
            torch_layer.bias.copy_(torch.from_numpy(b))
    for step in range(3):
        x = (np.random.default_rng(step).standard_normal((4, 3, 5, 6)) * (1 + step) + step).astype(np.float32)
        _run(layer, torch_layer, x, seed=step)
        np.testing.assert_allclose(layer.running_mean.data, torch_layer.running_mean.numpy(), **TOL)
        np.testing.assert_allclose(layer.running_var.data, torch_layer.running_var.numpy(), **TOL)
    assert int(layer.num_batches_tracked.item()) == 3
    layer.eval()
    torch_layer.eval()
    _run(layer, torch_layer, np.random.default_rng(9).standard_normal((2, 3, 4, 4)).astype(np.float32))
    np.testing.assert_allclose(layer.running_mean.data, torch_layer.running_mean.numpy(), **TOL)
    assert int(layer.num_batches_tracked.item()) == 3


def test_batchnorm2d_parameter_grads_match_torch():
    layer, torch_layer = BatchNorm2d(2), torch.nn.BatchNorm2d(2)
    x = np.random.default_rng(0).standard_normal((3, 2, 4, 5)).astype(np.float32)
    _run(layer, torch_layer, x)
    np.testing.assert_allclose(layer.weight.grad.data, torch_layer.weight.grad.numpy(), **TOL)
    np.testing.assert_allclose(layer.bias.grad.data, torch_layer.bias.grad.numpy(), **TOL)


def test_batchnorm2d_rejects_other_shapes():
    with pytest.raises(gb.ShapeError, match=r"BatchNorm2d\(num_features=3\).*\(N, 3, H, W\).*\(4, 3\)"):
        BatchNorm2d(3)(gb.zeros(4, 3))
    with pytest.raises(gb.ShapeError, match=r"\(N, 3, H, W\).*\(2, 4, 5, 5\)"):
        BatchNorm2d(3)(gb.zeros(2, 4, 5, 5))


ERRORS = [
    (lambda: P.max_pool2d(gb.zeros(8, 8), 2), r"max_pool2d: expected a 3-D \(unbatched\) or 4-D.*\(8, 8\)"),
    (lambda: P.max_pool2d(gb.zeros(1, 1, 1, 8, 8), 2), r"max_pool2d.*\(1, 1, 1, 8, 8\)"),
    (lambda: P.max_pool1d(gb.zeros(8), 2), r"max_pool1d: expected a 2-D \(unbatched\) or 3-D.*\(N, C, L\).*\(8,\)"),
    (lambda: P.avg_pool2d(gb.zeros(2, 3, 4, 4, 4), 2), r"avg_pool2d.*\(2, 3, 4, 4, 4\)"),
    (lambda: P.adaptive_avg_pool2d(gb.zeros(8), 2), r"adaptive_avg_pool2d.*\(8,\)"),
    (lambda: P.adaptive_max_pool2d(gb.zeros(1, 1, 0, 4), 2), r"adaptive_max_pool2d.*non-zero.*\(1, 1, 0, 4\)"),
    (lambda: P.max_pool2d(gb.zeros(1, 1, 4, 4), 5), r"max_pool2d: given input size \(1, 4, 4\).*\(1, 0, 0\).*small"),
    (lambda: P.avg_pool2d(gb.zeros(1, 3, 4, 4), (2, 5)), r"avg_pool2d.*\(3, 2, 0\).*too small.*\(2, 5\)"),
    (lambda: P.max_pool2d(gb.zeros(1, 1, 8, 8), 3, 1, 2), r"max_pool2d: pad should be at most half of kernel size.*"
                                                          r"pad=2, kernel_size=3"),
    (lambda: P.avg_pool2d(gb.zeros(1, 1, 8, 8), 2, 1, 2), r"avg_pool2d: pad should be at most half.*pad=2"),
    (lambda: P.adaptive_avg_pool2d(gb.zeros(1, 1, 4, 4), 0), r"adaptive_avg_pool2d: output_size must be positive"),
]


@pytest.mark.parametrize("call,message", ERRORS)
def test_shape_errors_name_the_op_and_shapes(call, message):
    with pytest.raises(gb.ShapeError, match=message):
        call()


def test_bad_arguments_raise_value_errors():
    x = gb.zeros(1, 1, 4, 4)
    with pytest.raises(ValueError, match=r"max_pool2d: stride must be positive"):
        P.max_pool2d(x, 2, stride=0)
    with pytest.raises(ValueError, match=r"padding must be non-negative"):
        P.max_pool2d(x, 2, padding=-1)
    with pytest.raises(ValueError, match=r"kernel_size must be an int or a tuple of 2 ints"):
        P.max_pool2d(x, (2, 2, 2))
    with pytest.raises(ValueError, match=r"divisor must be not zero"):
        P.avg_pool2d(x, 2, divisor_override=0)


def test_no_grad_pooling_records_no_graph():
    x = gb.from_numpy(_distinct(2, 3, 6, 6)).requires_grad_(True)
    with gb.no_grad():
        out = P.max_pool2d(x, 3, 2, 1)
    assert not out.requires_grad


@pytest.mark.parametrize("kernel,stride,padding", [(2, 2, 0), (3, 2, 1), (3, 1, 1)])
def test_max_pool_ties_after_relu_match_torch(kernel, stride, padding):
    """Windows full of ReLU zeros tie: the first maximum wins, in the indices and in the gradient, as in torch."""
    torch = pytest.importorskip("torch")
    x = np.maximum(np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32), 0)
    x[0, 0] = 0.0
    ours = gb.tensor(x, requires_grad=True)
    out, indices = gb.nn.functional.max_pool2d(ours, kernel, stride, padding, return_indices=True)
    (out * gb.tensor(np.arange(out.numel(), dtype=np.float32).reshape(out.shape))).sum().backward()
    theirs = torch.tensor(x, requires_grad=True)
    t_out, t_indices = torch.nn.functional.max_pool2d(theirs, kernel, stride, padding, return_indices=True)
    (t_out * torch.arange(t_out.numel(), dtype=torch.float32).reshape(t_out.shape)).sum().backward()
    np.testing.assert_array_equal(indices.data, t_indices.numpy())
    np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy())
