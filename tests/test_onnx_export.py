"""onnx.export: exported models run in onnxruntime (the oracle) at another batch size with glassbox's outputs."""

import os
import sys

import numpy as np
import pytest

import glassbox as gb
import glassbox.nn as nn
import glassbox.nn.functional as F
from glassbox.autograd.function import Function
from glassbox.models import lenet5, resnet18
from glassbox.models.char_rnn import CharRNN
from glassbox.tensor import Tensor

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
gx = pytest.importorskip("glassbox.onnx")

ATOL = 1e-4


def _outputs(result):
    if isinstance(result, Tensor):
        return [result.data]
    return [a for item in result for a in _outputs(item)]


def _check(model, example, run_inputs, tmp_path, **kwargs):
    """Export with `example`, run onnxruntime on `run_inputs` (a different batch size), compare with glassbox."""
    example = example if isinstance(example, tuple) else (example,)
    run_inputs = run_inputs if isinstance(run_inputs, tuple) else (run_inputs,)
    path = str(tmp_path / "model.onnx")
    modes = [m.training for m in model.modules()]
    gx.export(model, example if len(example) > 1 else example[0], path, **kwargs)
    assert [m.training for m in model.modules()] == modes  # export leaves the train/eval modes as they were
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feeds = {i.name: a for i, a in zip(session.get_inputs(), run_inputs)}
    got = session.run(None, feeds)
    model.eval()
    with gb.no_grad():
        expected = _outputs(model(*[Tensor._make(a) for a in run_inputs]))
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, atol=ATOL, rtol=1e-4)
    return onnx.load(path)


def _images(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ----- the zoo ----------------------------------------------------------------------------------------------------
def test_mlp(tmp_path):
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 16), nn.Tanh(),
                          nn.Linear(16, 4), nn.LogSoftmax(dim=1))
    proto = _check(model, gb.randn(2, 3, 4), _images(5, 3, 4), tmp_path)
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [3, 4]
    names = {init.name for init in proto.graph.initializer}
    assert {"1.weight", "1.bias", "4.weight", "6.bias"} <= names  # parameters keep their state_dict keys


def test_lenet5(tmp_path):
    model = lenet5()
    _check(model, gb.randn(2, 1, 28, 28), _images(3, 1, 28, 28), tmp_path)


def test_resnet18(tmp_path):
    model = resnet18(num_classes=10)
    model.train()
    with gb.no_grad():  # a few training-mode passes give the batch norms non-trivial running statistics
        for seed in range(2):
            model(Tensor._make(_images(4, 3, 32, 32, seed=seed)))
    proto = _check(model, gb.randn(2, 3, 32, 32), _images(3, 3, 32, 32, seed=5), tmp_path)
    assert {"layer1.0.bn1.running_mean", "layer1.0.bn1.running_var"} <= {i.name for i in proto.graph.initializer}


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_char_rnn(cell, tmp_path):
    model = CharRNN(30, embedding_dim=8, hidden_size=16, num_layers=2, cell=cell)
    tokens = np.random.default_rng(1).integers(0, 30, (4, 7))
    names = ["logits", "h", "c"] if cell == "lstm" else ["logits", "h"]
    proto = _check(model, Tensor._make(tokens[:2]), tokens, tmp_path, output_names=names)
    assert [o.name for o in proto.graph.output] == names
    h_dims = proto.graph.output[1].type.tensor_type.shape.dim
    assert h_dims[1].dim_param == "batch" and h_dims[0].dim_value == 2  # (num_layers, batch, H)


# ----- one translation at a time -------------------------------------------------------------------------------------
_CONVS = [
    dict(stride=1, padding=0, dilation=1, groups=1),
    dict(stride=2, padding=1, dilation=1, groups=1),
    dict(stride=1, padding=2, dilation=2, groups=1),
    dict(stride=(2, 1), padding=(1, 0), dilation=1, groups=2),
    dict(stride=1, padding=1, dilation=1, groups=4, bias=False),
]


@pytest.mark.parametrize("options", _CONVS)
def test_conv2d(options, tmp_path):
    _check(nn.Conv2d(4, 8, 3, **options), gb.randn(2, 4, 9, 9), _images(3, 4, 9, 9), tmp_path)


def test_conv_transpose2d(tmp_path):
    model = nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1)
    _check(model, gb.randn(2, 4, 5, 5), _images(3, 4, 5, 5), tmp_path)


_POOLS = [
    nn.MaxPool2d(2),
    nn.MaxPool2d(3, stride=2, padding=1),
    nn.MaxPool2d(3, stride=2, ceil_mode=True),
    nn.MaxPool2d(2, dilation=2),
    nn.AvgPool2d(2),
    nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=True),
    nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
    nn.AvgPool2d(3, stride=2, ceil_mode=True),
    nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    nn.AdaptiveAvgPool2d(1),
    nn.AdaptiveAvgPool2d((3, 4)),  # uneven windows from 8 x 8: the averaging-matrix translation
    nn.AdaptiveAvgPool2d(4),
    nn.AdaptiveMaxPool2d(1),
    nn.AdaptiveMaxPool2d(2),
]


@pytest.mark.parametrize("pool", _POOLS, ids=repr)
def test_pooling(pool, tmp_path):
    _check(pool, gb.randn(2, 3, 8, 8), _images(3, 3, 8, 8), tmp_path)


def test_batch_norm_in_eval_and_residual_add(tmp_path):
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.bn = nn.Conv2d(3, 3, 3, padding=1), nn.BatchNorm2d(3)

        def forward(self, x):
            return F.relu(self.bn(self.conv(x)) + x)

    model = Block()
    model.bn.running_mean.data[:] = [0.5, -1.0, 2.0]
    model.bn.running_var.data[:] = [0.25, 4.0, 1.5]
    model.bn.weight.data[:] = [2.0, -1.0, 0.5]
    _check(model, gb.randn(2, 3, 6, 6), _images(4, 3, 6, 6), tmp_path)


def test_batch_norm_1d_layer_norm_group_norm(tmp_path):
    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.LayerNorm(8))
    _check(model, gb.randn(2, 6), _images(5, 6), tmp_path)
    _check(nn.GroupNorm(2, 4), gb.randn(2, 4, 3, 3), _images(3, 4, 3, 3), tmp_path)


class _CatFlattenSoftmax(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(2, 3, 1), nn.Conv2d(2, 1, 1)
        self.fc = nn.Linear(4 * 4 * 4, 5)

    def forward(self, x):
        y = gb.cat([self.a(x), self.b(x)], dim=1)
        return F.softmax(self.fc(y.flatten(1)), dim=-1)


def test_cat_flatten_softmax(tmp_path):
    _check(_CatFlattenSoftmax(), gb.randn(2, 2, 4, 4), _images(3, 2, 4, 4), tmp_path)


_ACTIVATIONS = [nn.ReLU(), nn.Tanh(), nn.Sigmoid(), nn.LeakyReLU(0.2), nn.ELU(0.7), nn.SELU(), nn.GELU(),
                nn.GELU(approximate="tanh"), nn.SiLU(), nn.Softplus(), nn.Softplus(beta=2.0, threshold=3.0),
                nn.Dropout(0.5), nn.Softmax(dim=1), nn.LogSoftmax(dim=1)]


@pytest.mark.parametrize("layer", _ACTIVATIONS, ids=repr)
def test_activations(layer, tmp_path):
    x = _images(3, 4) * 4
    _check(layer, Tensor._make(x[:2]), x, tmp_path)


def test_elementwise_and_reductions(tmp_path):
    class Mix(nn.Module):
        def forward(self, x):
            y = (x * 2.0 - 1.0) / 3.0
            z = gb.exp(-y.abs()) + (x ** 2).sqrt() + x.clamp(-0.5, 0.5)
            return z.mean(dim=1, keepdim=True) + z.sum(dim=-1, keepdim=True) - z.amax(dim=1, keepdim=True)

    for opset in (17, 18):
        _check(Mix(), gb.randn(2, 5), _images(4, 5), tmp_path, opset=opset)


def test_embedding(tmp_path):
    tokens = np.random.default_rng(2).integers(0, 11, (5, 3))
    _check(nn.Embedding(11, 4), Tensor._make(tokens[:2]), tokens, tmp_path)


class _Recurrent(nn.Module):
    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x):
        return self.rnn(x)


@pytest.mark.parametrize("batch_first", [False, True])
def test_bidirectional_two_layer_lstm(batch_first, tmp_path):
    model = _Recurrent(nn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=batch_first))
    x = _images(6, 4, 3) if not batch_first else _images(4, 6, 3)
    example = x[:, :2] if not batch_first else x[:2]
    # without batch_first the batch is dim 1: the batch cannot be dynamic (dynamic_batch makes dim 0 symbolic)
    _check(model, Tensor._make(np.ascontiguousarray(example) if batch_first else x), x, tmp_path,
           dynamic_batch=batch_first)


@pytest.mark.parametrize("options", [dict(), dict(num_layers=2, bidirectional=True), dict(bias=False)])
def test_gru(options, tmp_path):
    model = _Recurrent(nn.GRU(3, 4, batch_first=True, **options))
    x = _images(5, 6, 3)
    _check(model, Tensor._make(x[:2]), x, tmp_path)


def test_rnn_tanh_and_relu(tmp_path):
    for nonlinearity in ("tanh", "relu"):
        model = _Recurrent(nn.RNN(3, 4, nonlinearity=nonlinearity, batch_first=True))
        x = _images(3, 5, 3)
        _check(model, Tensor._make(x[:2]), x, tmp_path)


def test_lstm_with_a_given_initial_state(tmp_path):
    class WithState(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(3, 4)

        def forward(self, x, h, c):
            return self.rnn(x, (h, c))

    x, h, c = _images(5, 2, 3), _images(1, 2, 4, seed=1), _images(1, 2, 4, seed=2)
    args = tuple(Tensor._make(a) for a in (x, h, c))
    _check(WithState(), args, (x, h, c), tmp_path, dynamic_batch=False)


# ----- errors, modes, files ------------------------------------------------------------------------------------------
class Foo(Function):
    def forward(self, a):
        return np.cumsum(a, axis=-1)

    def backward(self, grad):
        return np.cumsum(grad[..., ::-1], axis=-1)[..., ::-1]


class MyLayer(nn.Module):
    def forward(self, x):
        return Foo.apply(x)


def test_unsupported_op_names_the_layer(tmp_path):
    model = nn.Sequential(nn.Linear(3, 3), MyLayer())
    with pytest.raises(gx.ExportError, match=r"layer '1' \(MyLayer\) uses op 'Foo', which has no ONNX translation"):
        gx.export(model, gb.randn(2, 3), str(tmp_path / "m.onnx"))
    assert not os.listdir(tmp_path)  # nothing written, no temporary left


def test_batch_dependent_constant_is_an_error_unless_static(tmp_path):
    class AddOnes(nn.Module):
        def forward(self, x):
            return x + gb.ones(*x.shape)  # a constant made in forward, shaped like the batch

    with pytest.raises(gx.ExportError, match="depends on the batch size"):
        gx.export(AddOnes(), gb.randn(2, 3), str(tmp_path / "m.onnx"))
    proto = _check(AddOnes(), gb.randn(2, 3), _images(2, 3), tmp_path, dynamic_batch=False)
    assert [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim] == [2, 3]


def test_export_restores_train_and_eval_modes(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Dropout(0.5))
    model.train()
    model[1].eval()
    gx.export(model, gb.randn(2, 3), str(tmp_path / "m.onnx"))
    assert [m.training for m in model.modules()] == [True, True, False, True]


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="opset"):
        gx.export(nn.ReLU(), gb.randn(2, 3), str(tmp_path / "m.onnx"), opset=11)
    with pytest.raises(TypeError, match="example_input"):
        gx.export(nn.ReLU(), [[1.0, 2.0]], str(tmp_path / "m.onnx"))
    with pytest.raises(ValueError, match="input names"):
        gx.export(nn.ReLU(), gb.randn(2, 3), str(tmp_path / "m.onnx"), input_names=["a", "b"])


def test_missing_onnx_gives_install_hint(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` raise ImportError
    with pytest.raises(ImportError, match=r"pip install 'glassbox\[onnx\]'"):
        gx.export(nn.ReLU(), gb.randn(2, 3), str(tmp_path / "m.onnx"))


def test_upsampling_padding_and_movement(tmp_path):
    class Movement(nn.Module):
        def forward(self, x):
            up = F.interpolate(x, scale_factor=2, mode="nearest") + F.interpolate(x, scale_factor=2, mode="bilinear")
            padded = F.pad(up, (1, 2, 0, 1), mode="constant", value=0.5) + F.pad(up, (1, 2, 0, 1), mode="replicate")
            y = padded.flip(-1)[:, 1:, ::2, None].permute(0, 2, 1, 3, 4).repeat(1, 1, 2, 1, 1)
            return y.exp().log() * y.tril()

    _check(Movement(), gb.randn(2, 3, 4, 4), _images(3, 3, 4, 4), tmp_path)
