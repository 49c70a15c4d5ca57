"""Initialisation: the default init of Linear, Embedding, BatchNorm1d and LayerNorm, and every nn.init function, has
the distribution PyTorch's has. Random inits are checked by sample statistics against the distribution's formulas,
and torch's own samples must pass the same checks; every tolerance is five standard errors for the sample size
used (so a correct init fails about once in 10^6 runs, and an init with the wrong scale fails every time)."""

import math

import numpy as np
import pytest

import glassbox as gb
import glassbox.nn as gnn
from glassbox.nn import init

torch = pytest.importorskip("torch")

Z = 5.0  # standard errors allowed
F32 = float(np.finfo(np.float32).eps)  # a float32 sample may round onto (or just past) a float64 bound


@pytest.fixture(autouse=True)
def _seeded():
    """Reproducible draws in both libraries: a failure here can be rerun and looked at."""
    gb.manual_seed(0)
    torch.manual_seed(0)


def _within(values, low, high):
    return low - abs(low) * F32 <= values.min() and values.max() <= high + abs(high) * F32


def _check_uniform(values, low, high):
    """n draws from U(low, high): range, extremes, mean and standard deviation."""
    values = np.asarray(values, dtype=np.float64).ravel()
    n, width = values.size, high - low
    std = width / math.sqrt(12)
    assert _within(values, low, high)
    # the smallest of n draws exceeds low + 20 width / n with probability (1 - 20/n)^n < e^-20: the range is used
    assert values.min() < low + 20 * width / n and values.max() > high - 20 * width / n
    assert abs(values.mean() - (low + high) / 2) < Z * std / math.sqrt(n)
    # the sample std's standard error is std * sqrt((kurtosis - 1) / 4n), and a uniform's kurtosis is 9/5
    assert abs(values.std() - std) < Z * std * math.sqrt(0.8 / (4 * n))


def _check_normal(values, mean, std):
    """n draws from N(mean, std^2): sample mean (standard error std/sqrt(n)) and std (std/sqrt(2n))."""
    values = np.asarray(values, dtype=np.float64).ravel()
    n = values.size
    assert abs(values.mean() - mean) < Z * std / math.sqrt(n)
    assert abs(values.std() - std) < Z * std / math.sqrt(2 * n)


def _numpy(tensor):
    return tensor.detach().numpy() if hasattr(tensor, "detach") else tensor.data


# ----- default initialisation of layers -------------------------------------------------------------------------------
def test_linear_default_init_matches_torch():
    """Weight and bias from U(-1/sqrt(in_features), 1/sqrt(in_features)): kaiming_uniform_ with a=sqrt(5)."""
    bound = 1 / math.sqrt(500)
    for layer in (gnn.Linear(500, 400), torch.nn.Linear(500, 400)):
        _check_uniform(_numpy(layer.weight), -bound, bound)  # 200,000 draws
        _check_uniform(_numpy(layer.bias), -bound, bound)  # 400 draws: loose, but still 5 standard errors
    ours, theirs = gnn.Linear(500, 400).weight.data, torch.nn.Linear(500, 400).weight.detach().numpy()
    # two independent samples: the difference of their stds has standard error sqrt(2) times one sample's
    se = bound / math.sqrt(3) * math.sqrt(0.8 / (4 * ours.size))
    assert abs(ours.std() - theirs.std()) < Z * math.sqrt(2) * se
    assert ours.dtype == theirs.dtype == np.float32


def test_embedding_default_init_is_standard_normal_with_zero_padding_row():
    for layer in (gnn.Embedding(1000, 64, padding_idx=3), torch.nn.Embedding(1000, 64, padding_idx=3)):
        weight = _numpy(layer.weight)
        assert not weight[3].any()
        _check_normal(np.delete(weight, 3, axis=0), 0.0, 1.0)  # 63,936 draws


@pytest.mark.parametrize("make", [lambda nn: nn.BatchNorm1d(7), lambda nn: nn.BatchNorm1d(7, affine=False),
                                  lambda nn: nn.LayerNorm((3, 5)), lambda nn: nn.LayerNorm(6, bias=False)],
                         ids=["BatchNorm1d", "BatchNorm1d[no_affine]", "LayerNorm", "LayerNorm[no_bias]"])
def test_norm_layers_default_state_equals_torch(make):
    ours, theirs = make(gnn).state_dict(), make(torch.nn).state_dict()
    assert list(ours) == list(theirs)
    for key, value in theirs.items():
        assert ours[key].dtype == value.numpy().dtype, key
        np.testing.assert_array_equal(ours[key].data, value.numpy(), err_msg=key)


def test_reset_parameters_restores_the_defaults():
    layer = gnn.BatchNorm1d(3)
    layer(gb.randn(4, 3) * 5 + 2)
    layer.weight.data[:] = 7
    layer.reset_parameters()
    np.testing.assert_array_equal(layer.running_mean.data, 0)
    np.testing.assert_array_equal(layer.running_var.data, 1)
    np.testing.assert_array_equal(layer.weight.data, 1)
    assert int(layer.num_batches_tracked.item()) == 0


# ----- nn.init functions --------------------------------------------------------------------------------------------
def _pair(*shape):
    return gb.empty(*shape), torch.empty(*shape)


def test_uniform_and_normal():
    ours, theirs = _pair(300, 200)
    init.uniform_(ours, -2.0, 3.0)
    torch.nn.init.uniform_(theirs, -2.0, 3.0)
    _check_uniform(ours.data, -2.0, 3.0)
    _check_uniform(theirs.numpy(), -2.0, 3.0)
    init.normal_(ours, 1.0, 2.0)
    torch.nn.init.normal_(theirs, 1.0, 2.0)
    _check_normal(ours.data, 1.0, 2.0)
    _check_normal(theirs.numpy(), 1.0, 2.0)
    _check_uniform(init.uniform_(gb.empty(60000)).data, 0.0, 1.0)  # defaults: U(0, 1)
    _check_normal(init.normal_(gb.empty(60000)).data, 0.0, 1.0)  # defaults: N(0, 1)


def test_constant_zeros_ones_eye_equal_torch():
    ours, theirs = _pair(3, 4)
    for ours_fn, torch_fn, args in [(init.constant_, torch.nn.init.constant_, (0.3,)),
                                    (init.zeros_, torch.nn.init.zeros_, ()), (init.ones_, torch.nn.init.ones_, ()),
                                    (init.eye_, torch.nn.init.eye_, ())]:
        assert ours_fn(ours, *args) is ours
        torch_fn(theirs, *args)
        np.testing.assert_array_equal(ours.data, theirs.numpy())


def test_init_keeps_a_parameter_a_leaf_and_bumps_its_version():
    param = gnn.Parameter(gb.empty(3, 3))
    version = param._version[0]
    init.normal_(param)
    assert param.is_leaf and param.grad_fn is None and param.requires_grad
    assert param._version[0] > version  # a graph that saved the old values must notice


def test_generator_makes_init_reproducible():
    a = init.kaiming_normal_(gb.empty(5, 4), generator=gb.Generator(7)).data
    b = init.kaiming_normal_(gb.empty(5, 4), generator=gb.Generator(7)).data
    c = init.kaiming_normal_(gb.empty(5, 4), generator=gb.Generator(8)).data
    assert np.array_equal(a, b) and not np.array_equal(a, c)


SHAPES = [(300, 200), (64, 16, 3, 3)]  # a Linear weight and a Conv2d weight: fan_in 200 / 144, fan_out 300 / 576


def _fans(shape):
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_xavier(shape, gain):
    fan_in, fan_out = _fans(shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    ours, theirs = _pair(*shape)
    init.xavier_uniform_(ours, gain=gain)
    torch.nn.init.xavier_uniform_(theirs, gain=gain)
    _check_uniform(ours.data, -bound, bound)
    _check_uniform(theirs.numpy(), -bound, bound)
    init.xavier_normal_(ours, gain=gain)
    torch.nn.init.xavier_normal_(theirs, gain=gain)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    _check_normal(ours.data, 0.0, std)
    _check_normal(theirs.numpy(), 0.0, std)


KAIMING = [(0.0, "fan_in", "relu"), (0.0, "fan_out", "relu"), (math.sqrt(5), "fan_in", "leaky_relu"),
           (0.2, "fan_out", "leaky_relu"), (0.0, "fan_in", "leaky_relu"), (0.0, "fan_in", "tanh"),
           (0.0, "fan_out", "linear"), (0.0, "fan_in", "selu"), (0.0, "fan_in", "sigmoid")]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("a,mode,nonlinearity", KAIMING)
def test_kaiming(shape, a, mode, nonlinearity):
    fan = _fans(shape)[0 if mode == "fan_in" else 1]
    std = torch.nn.init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    ours, theirs = _pair(*shape)
    init.kaiming_uniform_(ours, a=a, mode=mode, nonlinearity=nonlinearity)
    torch.nn.init.kaiming_uniform_(theirs, a=a, mode=mode, nonlinearity=nonlinearity)
    _check_uniform(ours.data, -math.sqrt(3) * std, math.sqrt(3) * std)
    _check_uniform(theirs.numpy(), -math.sqrt(3) * std, math.sqrt(3) * std)
    init.kaiming_normal_(ours, a=a, mode=mode, nonlinearity=nonlinearity)
    torch.nn.init.kaiming_normal_(theirs, a=a, mode=mode, nonlinearity=nonlinearity)
    _check_normal(ours.data, 0.0, std)
    _check_normal(theirs.numpy(), 0.0, std)


def test_fan_needs_two_dims_and_mode_is_checked():
    with pytest.raises(ValueError, match=r"fewer than 2 dimensions"):
        init.xavier_uniform_(gb.empty(5))
    with pytest.raises(ValueError, match=r"fan_avg"):
        init.kaiming_uniform_(gb.empty(5, 4), mode="fan_avg")


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (6, 6), (4, 2, 3, 3)], ids=str)
@pytest.mark.parametrize("gain", [1.0, 0.5])
def test_orthogonal(shape, gain):
    """The rows (when rows <= columns) or the columns of the flattened matrix are orthogonal, of norm gain."""
    weight = init.orthogonal_(gb.empty(*shape), gain=gain).data.reshape(shape[0], -1).astype(np.float64)
    rows, cols = weight.shape
    gram = weight @ weight.T if rows <= cols else weight.T @ weight
    np.testing.assert_allclose(gram, gain**2 * np.eye(min(rows, cols)), atol=1e-5)
    other = init.orthogonal_(gb.empty(*shape)).data
    assert not np.allclose(other.reshape(rows, cols), weight / gain)  # a random rotation, not a fixed matrix


def test_orthogonal_is_haar_distributed_like_torch():
    """Entries of a random orthogonal n x n matrix have mean 0 and variance 1/n (the sign fix makes it Haar)."""
    n, draws = 32, 40
    ours = np.stack([init.orthogonal_(gb.empty(n, n)).data for _ in range(draws)])
    theirs = np.stack([torch.nn.init.orthogonal_(torch.empty(n, n)).numpy() for _ in range(draws)])
    for sample in (ours, theirs):
        # 40,960 entries, close enough to independent for the mean; the variance of each draw is exactly 1/n
        assert abs(sample.mean()) < Z / math.sqrt(n * sample.size)
        np.testing.assert_allclose((sample**2).mean(), 1 / n, rtol=1e-5)
        # without the sign fix the diagonal of NumPy's Q is biased: its mean is about -0.10 for n = 32
        diagonal = np.diagonal(sample, axis1=1, axis2=2)
        assert abs(diagonal.mean()) < Z / math.sqrt(n * diagonal.size)


def _truncated_normal_moments(mean, std, a, b):
    """Mean and std of N(mean, std^2) conditioned on [a, b]."""
    alpha, beta = (a - mean) / std, (b - mean) / std
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    mass = cdf(beta) - cdf(alpha)
    shift = (pdf(alpha) - pdf(beta)) / mass
    variance = 1 + (alpha * pdf(alpha) - beta * pdf(beta)) / mass - shift**2
    return mean + std * shift, std * math.sqrt(variance)


@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (0.5, 1.0, -1.0, 1.5), (0.0, 0.02, -0.04, 0.04),
                                          (1.0, 2.0, 0.0, 10.0)])
def test_trunc_normal(mean, std, a, b):
    expected_mean, expected_std = _truncated_normal_moments(mean, std, a, b)
    ours, theirs = _pair(200, 300)
    init.trunc_normal_(ours, mean, std, a, b)
    torch.nn.init.trunc_normal_(theirs, mean, std, a, b)
    for sample in (ours.data, theirs.numpy()):
        assert _within(sample, a, b)
        # a truncated normal has lighter tails than a normal (kurtosis <= 3), so std/sqrt(2n) bounds the
        # standard error of its sample std
        _check_normal(sample, expected_mean, expected_std)
    assert ours.data.dtype == np.float32


NONLINEARITIES = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
                  "sigmoid", "tanh", "relu", "selu"]


@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
def test_calculate_gain_equals_torch(nonlinearity):
    assert init.calculate_gain(nonlinearity) == pytest.approx(torch.nn.init.calculate_gain(nonlinearity), rel=1e-12)


@pytest.mark.parametrize("param", [None, 0.0, 0.2, 1, math.sqrt(5)])
def test_calculate_gain_leaky_relu_equals_torch(param):
    assert init.calculate_gain("leaky_relu", param) == \
        pytest.approx(torch.nn.init.calculate_gain("leaky_relu", param), rel=1e-12)


def test_calculate_gain_rejects_unknown_nonlinearities():
    with pytest.raises(ValueError, match="swish"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError):
        torch.nn.init.calculate_gain("swish")
