"""Every layer in glassbox.nn against PyTorch: the torch layer's weights are copied in through load_state_dict, then
the forward (float32, atol 1e-5 rtol 1e-4) and the gradients of the input and of every parameter (atol 1e-4 rtol
1e-3) must match; state_dict keys, shapes and dtypes and simple reprs must equal torch's. Also: BatchNorm1d's
running statistics over several steps, LayerNorm and Embedding options, and the errors that name the layer."""

import re
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pytest

import glassbox as gb
import glassbox.nn as gnn

torch = pytest.importorskip("torch")

FORWARD_TOL = dict(atol=1e-5, rtol=1e-4)
GRAD_TOL = dict(atol=1e-4, rtol=1e-3)


# ----- helpers ------------------------------------------------------------------------------------------------------
def _randomise(torch_layer, seed=0):
    """Draw every float parameter and buffer at random: defaults such as BatchNorm's weight = 1, bias = 0 would hide
    a swapped weight and bias. Running variances stay positive."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in list(torch_layer.named_parameters()) + list(torch_layer.named_buffers()):
            if not tensor.is_floating_point():
                continue
            if name.endswith("running_var"):
                tensor.uniform_(0.5, 2.0, generator=gen)
            else:
                tensor.normal_(0.0, 1.0, generator=gen)


def _copy_weights(layer, torch_layer):
    layer.load_state_dict({k: v.detach().numpy() for k, v in torch_layer.state_dict().items()})


def _pair(make, train=True, randomise=True):
    """The same layer built by `make(nn)` in torch and glassbox, glassbox's weights copied from torch's."""
    torch_layer = make(torch.nn)
    if randomise:
        _randomise(torch_layer)
    layer = make(gnn)
    _copy_weights(layer, torch_layer)
    return layer.train(train), torch_layer.train(train)


def _run(layer, torch_layer, x, seed=1):
    """Forward both layers on x, backward a random cotangent; compare outputs and every gradient."""
    floating = x.dtype.kind == "f"
    gx, tx = gb.from_numpy(x.copy()), torch.from_numpy(x.copy())
    if floating:
        gx.requires_grad_()
        tx.requires_grad_()
    out, expected = layer(gx), torch_layer(tx)
    assert out.shape == tuple(expected.shape) and out.dtype == expected.detach().numpy().dtype
    np.testing.assert_allclose(out.data, expected.detach().numpy(), **FORWARD_TOL, err_msg="forward")
    if not expected.requires_grad:
        return out, expected
    u = np.random.default_rng(seed).standard_normal(out.shape).astype(np.float32)
    (out * gb.from_numpy(u)).sum().backward()
    (expected * torch.from_numpy(u)).sum().backward()
    if floating:
        np.testing.assert_allclose(gx.grad.data, tx.grad.numpy(), **GRAD_TOL, err_msg="input gradient")
    torch_params = dict(torch_layer.named_parameters())
    names = [name for name, _ in layer.named_parameters()]
    assert names == list(torch_params)
    for name, param in layer.named_parameters():
        if torch_params[name].grad is None:
            assert param.grad is None, name
            continue
        np.testing.assert_allclose(param.grad.data, torch_params[name].grad.numpy(), **GRAD_TOL,
                                   err_msg=f"gradient of {name}")
    return out, expected


def _compare_state(layer, torch_layer):
    """state_dict keys, shapes, dtypes and values equal torch's."""
    ours, theirs = layer.state_dict(), torch_layer.state_dict()
    assert list(ours) == list(theirs)
    for key, value in theirs.items():
        expected = value.detach().numpy()
        assert ours[key].shape == expected.shape and ours[key].dtype == expected.dtype, key
        np.testing.assert_allclose(ours[key].data, expected, **FORWARD_TOL, err_msg=key)


def _normal(*shape, seed=0, scale=1.0, shift=0.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale + shift).astype(np.float32)


def _indices(high, *shape, seed=0):
    index = np.random.default_rng(seed).integers(0, high, shape)
    index.reshape(-1)[1] = index.reshape(-1)[0]  # a repeated index: its gradient rows must add up
    return index


# ----- every layer, one table -----------------------------------------------------------------------------------------
@dataclass
class LayerCase:
    """make(nn) builds the layer in either library; x is its input; train selects the mode."""

    id: str
    make: object
    x: np.ndarray
    train: bool = True


CASES = [
    LayerCase("Linear", lambda nn: nn.Linear(3, 2), _normal(6, 3)),
    LayerCase("Linear[3d_input]", lambda nn: nn.Linear(4, 5), _normal(2, 3, 4)),
    pytest.param(LayerCase("Linear[no_bias]", lambda nn: nn.Linear(4, 5, bias=False), _normal(3, 4)),
                 id="Linear[no_bias]"),
    LayerCase("Identity", lambda nn: nn.Identity(), _normal(3, 4)),
    LayerCase("Flatten", lambda nn: nn.Flatten(), _normal(2, 3, 4)),
    LayerCase("Flatten[0,1]", lambda nn: nn.Flatten(0, 1), _normal(2, 3, 4)),
    LayerCase("Unflatten", lambda nn: nn.Unflatten(1, (2, 3)), _normal(4, 6)),
    LayerCase("ReLU", lambda nn: nn.ReLU(), _normal(3, 4)),
    LayerCase("LeakyReLU", lambda nn: nn.LeakyReLU(0.2), _normal(3, 4)),
    LayerCase("ELU", lambda nn: nn.ELU(alpha=1.5), _normal(3, 4)),
    LayerCase("SELU", lambda nn: nn.SELU(), _normal(3, 4)),
    LayerCase("GELU", lambda nn: nn.GELU(), _normal(3, 4)),
    LayerCase("GELU[tanh]", lambda nn: nn.GELU(approximate="tanh"), _normal(3, 4)),
    LayerCase("SiLU", lambda nn: nn.SiLU(), _normal(3, 4)),
    LayerCase("Sigmoid", lambda nn: nn.Sigmoid(), _normal(3, 4, scale=3)),
    LayerCase("Tanh", lambda nn: nn.Tanh(), _normal(3, 4)),
    LayerCase("Softplus", lambda nn: nn.Softplus(beta=2.0, threshold=1.0), _normal(3, 4)),
    LayerCase("Softmax", lambda nn: nn.Softmax(dim=1), _normal(3, 4)),
    LayerCase("LogSoftmax", lambda nn: nn.LogSoftmax(dim=-1), _normal(2, 3, 4)),
    LayerCase("Dropout[eval]", lambda nn: nn.Dropout(0.5), _normal(3, 4), train=False),
    LayerCase("Dropout[p=0]", lambda nn: nn.Dropout(0.0), _normal(3, 4)),
    LayerCase("Conv2d", lambda nn: nn.Conv2d(2, 3, 3, padding=1), _normal(2, 2, 5, 5)),
    LayerCase("Conv1d", lambda nn: nn.Conv1d(2, 3, 3, stride=2), _normal(2, 2, 7)),
    LayerCase("MaxPool2d", lambda nn: nn.MaxPool2d(2), _normal(2, 3, 4, 4)),
    LayerCase("MaxPool1d", lambda nn: nn.MaxPool1d(3, stride=2), _normal(2, 3, 7)),
    LayerCase("AvgPool2d", lambda nn: nn.AvgPool2d(3, stride=2, padding=1), _normal(2, 3, 5, 5)),
    LayerCase("AdaptiveAvgPool2d", lambda nn: nn.AdaptiveAvgPool2d((2, 3)), _normal(2, 3, 5, 7)),
    LayerCase("AdaptiveMaxPool2d", lambda nn: nn.AdaptiveMaxPool2d(2), _normal(2, 3, 5, 5)),
    LayerCase("BatchNorm2d[train]", lambda nn: nn.BatchNorm2d(3), _normal(4, 3, 3, 3, scale=2, shift=1)),
    LayerCase("BatchNorm2d[eval]", lambda nn: nn.BatchNorm2d(3), _normal(4, 3, 3, 3), train=False),
    LayerCase("ConvTranspose2d", lambda nn: nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1), _normal(2, 2, 4, 4)),
    LayerCase("Upsample", lambda nn: nn.Upsample(scale_factor=2, mode="bilinear"), _normal(2, 2, 3, 3)),
    LayerCase("ZeroPad2d", lambda nn: nn.ZeroPad2d((1, 2, 0, 1)), _normal(2, 2, 3, 3)),
    LayerCase("GroupNorm", lambda nn: nn.GroupNorm(2, 4), _normal(2, 4, 3, 3, scale=2, shift=1)),
    LayerCase("Dropout2d[eval]", lambda nn: nn.Dropout2d(0.5), _normal(2, 3, 4, 4), train=False),
    LayerCase("BatchNorm1d[train,2d]", lambda nn: nn.BatchNorm1d(3), _normal(5, 3, scale=2, shift=1)),
    LayerCase("BatchNorm1d[train,3d]", lambda nn: nn.BatchNorm1d(3), _normal(4, 3, 6, scale=2, shift=1)),
    LayerCase("BatchNorm1d[eval,2d]", lambda nn: nn.BatchNorm1d(3), _normal(5, 3), train=False),
    LayerCase("BatchNorm1d[eval,3d]", lambda nn: nn.BatchNorm1d(3), _normal(4, 3, 6), train=False),
    LayerCase("BatchNorm1d[no_affine]", lambda nn: nn.BatchNorm1d(3, affine=False), _normal(5, 3)),
    LayerCase("BatchNorm1d[no_bias]", lambda nn: nn.BatchNorm1d(3, bias=False), _normal(5, 3)),
    LayerCase("BatchNorm1d[no_running_stats,train]", lambda nn: nn.BatchNorm1d(3, track_running_stats=False),
              _normal(5, 3)),
    LayerCase("BatchNorm1d[no_running_stats,eval]", lambda nn: nn.BatchNorm1d(3, track_running_stats=False),
              _normal(4, 3, 2), train=False),  # no running statistics: eval mode uses the batch's too
    LayerCase("BatchNorm1d[eps,momentum]", lambda nn: nn.BatchNorm1d(4, eps=0.1, momentum=0.5), _normal(3, 4)),
    LayerCase("LayerNorm", lambda nn: nn.LayerNorm(4), _normal(3, 4, scale=2, shift=1)),
    LayerCase("LayerNorm[3d_input]", lambda nn: nn.LayerNorm(4), _normal(2, 3, 4)),
    LayerCase("LayerNorm[2_dims]", lambda nn: nn.LayerNorm((3, 4)), _normal(2, 3, 4)),
    LayerCase("LayerNorm[no_affine]", lambda nn: nn.LayerNorm(4, elementwise_affine=False), _normal(3, 4)),
    LayerCase("LayerNorm[no_bias]", lambda nn: nn.LayerNorm([3, 4], eps=1e-3, bias=False), _normal(2, 3, 4)),
    LayerCase("Embedding", lambda nn: nn.Embedding(10, 3), _indices(10, 2, 5)),
    LayerCase("Embedding[1d_input]", lambda nn: nn.Embedding(7, 4), _indices(7, 6)),
    LayerCase("Embedding[padding_idx]", lambda nn: nn.Embedding(10, 3, padding_idx=2),
              np.array([[2, 1, 2, 5], [0, 2, 9, 1]])),
    LayerCase("Embedding[max_norm]", lambda nn: nn.Embedding(10, 3, max_norm=1.0),
              np.array([[3, 1, 3, 5], [0, 3, 9, 1]])),
    LayerCase("Embedding[max_norm,norm_type=1]", lambda nn: nn.Embedding(10, 3, max_norm=0.8, norm_type=1.0),
              np.array([4, 4, 2, 7])),
    LayerCase("EmbeddingBag", lambda nn: nn.EmbeddingBag(10, 3), _indices(10, 4, 5)),
    LayerCase("EmbeddingBag[sum,max_norm]", lambda nn: nn.EmbeddingBag(10, 3, mode="sum", max_norm=1.0),
              np.array([[3, 1, 3, 5], [0, 3, 9, 1]])),
    LayerCase("EmbeddingBag[max,padding_idx]", lambda nn: nn.EmbeddingBag(10, 3, mode="max", padding_idx=2),
              np.array([[2, 1, 2, 5], [2, 2, 2, 2]])),
    LayerCase("RNN", lambda nn: _first_output(nn, nn.RNN(4, 5)), _normal(6, 3, 4)),
    LayerCase("RNN[relu,2_layers]", lambda nn: _first_output(nn, nn.RNN(4, 5, 2, nonlinearity="relu")),
              _normal(6, 3, 4)),
    LayerCase("LSTM", lambda nn: _first_output(nn, nn.LSTM(4, 5)), _normal(6, 3, 4)),
    LayerCase("LSTM[bidirectional,batch_first]", lambda nn: _first_output(
        nn, nn.LSTM(4, 5, num_layers=2, bidirectional=True, batch_first=True)), _normal(3, 6, 4)),
    LayerCase("GRU", lambda nn: _first_output(nn, nn.GRU(4, 5)), _normal(6, 3, 4)),
    LayerCase("GRU[no_bias,bidirectional]", lambda nn: _first_output(nn, nn.GRU(4, 5, bias=False, bidirectional=True)),
              _normal(6, 3, 4)),
    LayerCase("RNNCell", lambda nn: nn.RNNCell(4, 5), _normal(3, 4)),
    LayerCase("LSTMCell", lambda nn: _first_output(nn, nn.LSTMCell(4, 5)), _normal(3, 4)),
    LayerCase("GRUCell", lambda nn: nn.GRUCell(4, 5), _normal(3, 4)),
    LayerCase("Sequential", lambda nn: nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.0),
                                                       nn.Linear(8, 6), nn.LayerNorm(6), nn.GELU(), nn.Linear(6, 3),
                                                       nn.LogSoftmax(dim=1)), _normal(5, 4)),
    LayerCase("Sequential[eval]", lambda nn: nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Tanh(),
                                                             nn.Dropout(0.5), nn.Linear(8, 2)), _normal(5, 4),
              train=False),
    LayerCase("Sequential[embedding]", lambda nn: nn.Sequential(nn.Embedding(12, 6), nn.LayerNorm(6), nn.Flatten(),
                                                                  nn.Linear(18, 4), nn.SiLU()), _indices(12, 2, 3)),
]


def _first_output(nn, layer):
    """A recurrent layer returns (output, state): this wraps it so the table compares the output (the wrapper adds
    the prefix "layer." to every state_dict key in both libraries)."""

    class FirstOutput(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = layer

        def forward(self, x):
            return self.layer(x)[0]

    return FirstOutput()


def _case(entry):
    return entry.values[0] if hasattr(entry, "values") else entry


def _case_id(case):
    return case.id if isinstance(case, LayerCase) else None


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_layer_matches_torch(case):
    layer, torch_layer = _pair(case.make, case.train)
    _compare_state(layer, torch_layer)
    _run(layer, torch_layer, case.x)
    _compare_state(layer, torch_layer)  # running statistics updated alike; max_norm renormalised rows alike


def test_every_layer_in_glassbox_nn_has_a_case():
    """A new layer exported from glassbox.nn must get a row above."""
    covered = {_case(c).id.split("[")[0] for c in CASES}
    layers = {name for name in gnn.__all__ if isinstance(getattr(gnn, name), type)
              and issubclass(getattr(gnn, name), gnn.Module)}
    containers = {"Module", "ModuleList", "ModuleDict"}  # not layers: covered in test_nn_module.py
    losses = {name for name in layers if name.endswith("Loss")}  # covered in test_nn_losses.py
    bases = {"RNNBase", "RNNCellBase"}  # abstract: covered by RNN/LSTM/GRU and the cells
    assert layers - containers - losses - bases <= covered, sorted(layers - containers - losses - bases - covered)


# ----- state_dict and repr --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_default_state_dict_keys_shapes_and_dtypes_equal_torch(case):
    layer, torch_layer = case.make(gnn), case.make(torch.nn)
    ours, theirs = layer.state_dict(), torch_layer.state_dict()
    assert [(k, v.shape, v.dtype) for k, v in ours.items()] == \
        [(k, tuple(v.shape), v.numpy().dtype) for k, v in theirs.items()]


REPRS = [
    lambda nn: nn.Linear(3, 2),
    pytest.param(lambda nn: nn.Linear(3, 2, bias=False), id="Linear[no_bias]"),
    lambda nn: nn.Identity(),
    lambda nn: nn.Flatten(),
    lambda nn: nn.Unflatten(1, (2, 3)),
    lambda nn: nn.ReLU(),
    lambda nn: nn.LeakyReLU(0.2),
    lambda nn: nn.ELU(alpha=0.5),
    lambda nn: nn.SELU(),
    lambda nn: nn.GELU(approximate="tanh"),
    lambda nn: nn.SiLU(),
    lambda nn: nn.Sigmoid(),
    lambda nn: nn.Tanh(),
    lambda nn: nn.Softplus(beta=2.0),
    lambda nn: nn.Softmax(dim=1),
    lambda nn: nn.LogSoftmax(dim=-1),
    lambda nn: nn.BatchNorm1d(3),
    lambda nn: nn.BatchNorm1d(3, eps=1e-3, momentum=None, affine=False, track_running_stats=False),
    lambda nn: nn.BatchNorm1d(3, bias=False),
    lambda nn: nn.LayerNorm(4),
    lambda nn: nn.LayerNorm((2, 3), elementwise_affine=False, bias=False),
    lambda nn: nn.Embedding(10, 3),
    lambda nn: nn.Embedding(10, 3, padding_idx=-1, max_norm=1.0, norm_type=1.0, scale_grad_by_freq=True),
    pytest.param(lambda nn: nn.Dropout(0.2), id="Dropout"),
    lambda nn: nn.EmbeddingBag(10, 3),
    lambda nn: nn.EmbeddingBag(10, 3, mode="max", padding_idx=0),
    lambda nn: nn.RNN(3, 4),
    lambda nn: nn.RNN(3, 4, num_layers=2, nonlinearity="relu", bias=False),
    lambda nn: nn.LSTM(3, 4, num_layers=2, batch_first=True, dropout=0.5, bidirectional=True),
    lambda nn: nn.GRU(3, 4),
    lambda nn: nn.RNNCell(3, 4, nonlinearity="relu"),
    lambda nn: nn.LSTMCell(3, 4),
    lambda nn: nn.GRUCell(3, 4, bias=False),
]


@pytest.mark.parametrize("make", REPRS)
def test_repr_equals_torch(make):
    assert repr(make(gnn)) == repr(make(torch.nn))


# ----- BatchNorm1d's running statistics ------------------------------------------------------------------------------
@pytest.mark.parametrize("momentum", [0.1, 0.3, None], ids=["momentum=0.1", "momentum=0.3", "momentum=None"])
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)], ids=["2d", "3d"])
def test_batchnorm_running_stats_over_several_steps_equal_torch(momentum, shape):
    layer, torch_layer = _pair(lambda nn: nn.BatchNorm1d(3, momentum=momentum), randomise=False)
    for step in range(4):
        x = _normal(*shape, seed=step, scale=1 + step, shift=step - 1)  # statistics that change from step to step
        _run(layer, torch_layer, x, seed=step)
        _compare_state(layer, torch_layer)
    assert int(layer.num_batches_tracked.item()) == 4 and layer.num_batches_tracked.dtype == np.int64
    layer.eval()
    torch_layer.eval()
    _run(layer, torch_layer, _normal(*shape, seed=9))  # eval mode now uses the tracked statistics
    _compare_state(layer, torch_layer)  # and leaves them alone
    assert int(layer.num_batches_tracked.item()) == 4


def test_batchnorm_cumulative_average_is_the_mean_of_batch_statistics():
    layer = gnn.BatchNorm1d(2, momentum=None)
    batches = [_normal(8, 2, seed=s, shift=s) for s in range(3)]
    for x in batches:
        layer(gb.from_numpy(x))
    np.testing.assert_allclose(layer.running_mean.data, np.mean([b.mean(0) for b in batches], axis=0), rtol=1e-5)
    np.testing.assert_allclose(layer.running_var.data, np.mean([b.var(0, ddof=1) for b in batches], axis=0),
                               rtol=1e-5)


def test_batchnorm_without_running_stats_has_no_buffers_and_always_uses_the_batch():
    layer = gnn.BatchNorm1d(3, track_running_stats=False).eval()
    assert layer.running_mean is None and layer.num_batches_tracked is None
    assert list(layer.state_dict()) == ["weight", "bias"]
    out = layer(gb.from_numpy(_normal(50, 3, scale=3, shift=2))).data
    np.testing.assert_allclose(out.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(0), 1, atol=1e-3)  # biased std of a normalised batch, eps=1e-5


def test_batchnorm_train_and_eval_modes_differ():
    layer = gnn.BatchNorm1d(3)
    x = gb.from_numpy(_normal(10, 3, scale=3, shift=5))
    train_out = layer(x).data
    eval_out = layer.eval()(x).data
    assert abs(train_out.mean()) < 1e-5 and eval_out.mean() > 1  # running stats moved only 10% toward the batch
    np.testing.assert_allclose(eval_out, (x.data - layer.running_mean.data) / np.sqrt(layer.running_var.data + 1e-5),
                               rtol=1e-5)


def test_batchnorm_batch_of_one_raises_in_training_only():
    layer = gnn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training"):
        layer(gb.ones(1, 3))
    layer.eval()
    assert layer(gb.ones(1, 3)).shape == (1, 3)
    assert gnn.BatchNorm1d(3)(gb.randn(1, 3, 2)).shape == (1, 3, 2)  # two values per channel are enough


@pytest.mark.parametrize("shape", [(4, 5), (2, 5, 3), (2, 3, 4, 4), (3,)])
def test_batchnorm_wrong_input_names_the_layer_and_shapes(shape):
    with pytest.raises(gb.ShapeError, match=r"BatchNorm1d\(num_features=3\).*\(N, 3\) or \(N, 3, L\).*got "
                                            + re.escape(str(shape))):
        gnn.BatchNorm1d(3)(gb.ones(*shape))


def test_batchnorm_to_float64_keeps_the_counter_int64():
    layer = gnn.BatchNorm1d(3).to(gb.float64)
    out = layer(gb.from_numpy(_normal(4, 3).astype(np.float64)))
    assert out.dtype == np.float64 and layer.running_mean.dtype == np.float64
    assert layer.num_batches_tracked.dtype == np.int64 and int(layer.num_batches_tracked.item()) == 1


def test_batchnorm_gradient_sums_to_zero_per_channel():
    """Training-mode batch norm is invariant to shifting a channel, so its input gradient sums to 0 per channel."""
    layer = gnn.BatchNorm1d(4)
    x = gb.from_numpy(_normal(6, 4, 5, shift=3)).requires_grad_()
    (layer(x) * gb.from_numpy(_normal(6, 4, 5, seed=2))).sum().backward()
    np.testing.assert_allclose(x.grad.data.sum(axis=(0, 2)), 0, atol=1e-5)


# ----- LayerNorm ----------------------------------------------------------------------------------------------------
def test_layernorm_wrong_trailing_shape_names_the_layer():
    with pytest.raises(gb.ShapeError, match=r"LayerNorm\(normalized_shape=\(3, 4\)\).*\(\*, 3, 4\).*\(2, 4, 3\)"):
        gnn.LayerNorm((3, 4))(gb.ones(2, 4, 3))


def test_layernorm_normalises_each_row():
    out = gnn.LayerNorm(6)(gb.from_numpy(_normal(4, 6, scale=5, shift=-3))).data
    np.testing.assert_allclose(out.mean(-1), 0, atol=1e-5)
    np.testing.assert_allclose(out.var(-1), 1, atol=1e-3)


# ----- Embedding ----------------------------------------------------------------------------------------------------
def test_embedding_padding_row_is_zero_and_gets_no_gradient():
    layer = gnn.Embedding(6, 4, padding_idx=1)
    assert not layer.weight.data[1].any() and layer.weight.data[0].any()
    out = layer(gb.tensor([[1, 2, 1]]))
    assert not out.data[0, 0].any()
    out.sum().backward()
    assert not layer.weight.grad.data[1].any()
    np.testing.assert_array_equal(layer.weight.grad.data[2], 1.0)
    assert not layer.weight.grad.data[[0, 3, 4, 5]].any()


def test_embedding_max_norm_renormalises_looked_up_rows_in_place():
    layer = gnn.Embedding(5, 3, max_norm=1.0)
    layer.weight.data[:] = np.arange(15, dtype=np.float32).reshape(5, 3)
    untouched = layer.weight.data[[0, 4]].copy()
    layer(gb.tensor([1, 2, 1]))
    np.testing.assert_allclose(np.linalg.norm(layer.weight.data[[1, 2]], axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(layer.weight.data[[0, 4]], untouched)  # only looked-up rows change


def test_embedding_index_out_of_range_names_the_layer_and_range():
    layer = gnn.Embedding(10, 3)
    with pytest.raises(IndexError, match=r"Embedding\(num_embeddings=10, embedding_dim=3\).*index 10.*0\.\.9"):
        layer(gb.tensor([[1, 10]]))
    with pytest.raises(IndexError, match=r"index -1 .*0\.\.9"):
        layer(gb.tensor([-1]))
    with pytest.raises(TypeError, match=r"integer"):
        layer(gb.tensor([1.0]))


def test_embedding_from_pretrained_shares_and_freezes():
    table = np.arange(12, dtype=np.float32).reshape(4, 3)
    weights = gb.from_numpy(table)
    layer = gnn.Embedding.from_pretrained(weights, padding_idx=0)
    assert not layer.weight.requires_grad and layer.padding_idx == 0
    assert layer.weight.data[0].any()  # the given padding row is kept, as in torch
    np.testing.assert_array_equal(layer(gb.tensor([2, 3])).data, table[[2, 3]])
    table[2] = -1  # shared, not copied
    np.testing.assert_array_equal(layer(gb.tensor([2])).data, [[-1, -1, -1]])
    trainable = gnn.Embedding.from_pretrained(table.copy(), freeze=False)
    assert trainable.weight.requires_grad and repr(trainable) == "Embedding(4, 3)"
    torch_layer = torch.nn.Embedding.from_pretrained(torch.from_numpy(table.copy()), freeze=False)
    _run(trainable, torch_layer, np.array([[0, 1, 1]]))
    with pytest.raises(ValueError, match=r"2-D"):
        gnn.Embedding.from_pretrained(gb.ones(3))


def test_embedding_weight_argument_must_match_the_sizes():
    with pytest.raises(ValueError, match=r"\(4, 3\)"):
        gnn.Embedding(5, 3, _weight=gb.ones(4, 3))
    with pytest.raises(ValueError, match=r"padding_idx=5"):
        gnn.Embedding(5, 3, padding_idx=5)


def test_sequential_state_dict_round_trip_through_torch():
    """A glassbox Sequential's state_dict loads into the same torch model and gives its outputs."""
    make = lambda nn: nn.Sequential(OrderedDict([("fc", nn.Linear(4, 3)), ("bn", nn.BatchNorm1d(3)),  # noqa: E731
                                                 ("act", nn.Tanh())]))
    layer = make(gnn)
    layer(gb.from_numpy(_normal(5, 4)))  # one training step: running statistics move
    torch_layer = make(torch.nn)
    torch_layer.load_state_dict({k: torch.from_numpy(np.array(v.data)) for k, v in layer.state_dict().items()})
    layer.eval()
    torch_layer.eval()
    _run(layer, torch_layer, _normal(3, 4, seed=5))
