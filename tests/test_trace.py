"""autograd.trace: every op recorded with its shapes and the module that ran it; hooks and tracer removed after."""

import numpy as np

import glassbox as gb
import glassbox.nn as nn
from glassbox.autograd import function
from glassbox.autograd.trace import trace


def _model():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 5 * 5, 3))


def test_records_ops_with_shapes_and_module_names():
    model = _model()
    with trace(model) as ops:
        model(gb.randn(2, 1, 5, 5))
    assert [r.name for r in ops] == ["Conv2d", "Relu", "Reshape", "Linear"]
    assert ops[0].input_shapes == ((2, 1, 5, 5), (4, 1, 3, 3), (4,))
    assert ops[0].output_shape == (2, 4, 5, 5)
    assert ops[0].params["padding"] == (1, 1)
    assert [r.module for r in ops] == ["0", "1", "2", "3"]
    assert [r.module_type for r in ops] == ["Conv2d", "ReLU", "Flatten", "Linear"]
    assert ops[3].output_shape == (2, 3) and ops[3].inputs[1] is model[3].weight
    assert "Conv2d((2, 1, 5, 5)" in str(ops) and "in 3 (Linear)" in str(ops)


def test_works_under_no_grad_and_eval_and_without_a_model():
    model = _model().eval()
    x = gb.randn(1, 1, 5, 5)
    with gb.no_grad(), trace(model) as ops:
        out = model(x)
    assert len(ops) == 4 and ops[-1].output is out
    with trace() as bare:
        y = gb.tanh(x) * 2.0
    assert [r.name for r in bare] == ["Tanh", "Mul"] and bare[0].module is None
    np.testing.assert_allclose(bare[1].output.data, y.data)


def test_root_module_ops_are_named_by_the_empty_name():
    class Root(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x):
            return self.fc(x) + x

    model = Root()
    with trace(model) as ops:
        model(gb.randn(2, 3))
    assert [(r.name, r.module, r.module_type) for r in ops] == [("Linear", "fc", "Linear"), ("Add", "", "Root")]


def test_hooks_and_tracer_are_removed_after_the_block_even_on_error():
    model = _model()
    try:
        with trace(model):
            model(gb.randn(2, 1, 4, 4))  # Linear gets 64 features instead of 100: raises
    except Exception:
        pass
    assert function._tracer is None
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    with trace(model) as ops:
        pass
    model(gb.randn(2, 1, 5, 5))
    assert ops == []


def test_nested_traces_restore_the_outer_tracer():
    x = gb.randn(3)
    with trace() as outer:
        gb.exp(x)
        with trace() as inner:
            gb.sin(x)
        gb.cos(x)
    assert [r.name for r in inner] == ["Sin"]
    assert [r.name for r in outer] == ["Exp", "Cos"]
