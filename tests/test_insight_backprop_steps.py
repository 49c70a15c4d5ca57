"""insight.backprop_steps: the step-through backward pass shows, at every step, exactly what backward() computes."""

import inspect
import json
import math

import numpy as np
import pytest

import glassbox as gb
import glassbox.nn as nn
import glassbox.nn.functional as F
from glassbox import ops
from glassbox.autograd.function import Function
from glassbox.insight import backprop_cli, formulas
from glassbox.insight.backprop_steps import (
    BackpropStepper,
    demo_graph,
    format_step,
    record_steps,
    save_steps,
    step_through,
    summarize,
)


def _leaf(values, requires_grad=True):
    return gb.tensor(np.asarray(values, dtype=np.float64), dtype=gb.float64, requires_grad=requires_grad)


# ----- the demo neuron against a hand computation ------------------------------------------------------------------
def test_demo_neuron_values_and_gradients_match_a_hand_computation():
    w, x, b, t = np.array([0.5, -0.4, 0.3]), np.array([1.0, 2.0, -1.0]), 0.1, 1.0
    z = float(w @ x) + b
    y = 1 / (1 + math.exp(-z))
    dloss_dy = 2 * (y - t)
    dloss_dz = dloss_dy * y * (1 - y)
    stepper = demo_graph()
    steps = stepper.run_all()
    assert [s["op"] for s in steps] == ["PowScalar", "Sub", "Sigmoid", "Add", "MatMul"]
    assert set(stepper.leaves) == {"w", "x", "b", "t"}
    by_op = {s["op"]: s for s in steps}
    assert by_op["PowScalar"]["value"]["values"] == [pytest.approx((y - t) ** 2, rel=1e-5)]
    assert by_op["Sigmoid"]["value"]["values"] == [pytest.approx(y, rel=1e-5)]
    assert by_op["Sigmoid"]["upstream"]["values"] == [pytest.approx(dloss_dy, rel=1e-5)]
    assert by_op["Add"]["upstream"]["values"] == [pytest.approx(dloss_dz, rel=1e-5)]
    assert by_op["Sigmoid"]["symbols"] == "∂σ(x)/∂x = σ(x)(1−σ(x))"
    grads = stepper.gradients()
    np.testing.assert_allclose(grads["w"], dloss_dz * x, rtol=1e-12)
    np.testing.assert_allclose(grads["x"], dloss_dz * w, rtol=1e-12)
    np.testing.assert_allclose(grads["b"], dloss_dz, rtol=1e-12)
    np.testing.assert_allclose(grads["t"], -dloss_dy, rtol=1e-12)
    # t gets its gradient at the Sub step, before w, x and b: the accumulated dict grows step by step
    assert [sorted(s["accumulated"]) for s in steps] == [[], ["t"], ["t"], ["b", "t"], ["b", "t", "w", "x"]]
    assert [s["done"] for s in steps] == [False] * 4 + [True]


# ----- fan-out: a leaf used twice, every step against a split-leaf oracle -------------------------------------------
def _fan_out(w_mul, w_mm, x, b):
    """loss = sum(tanh(x * w_mul) @ w_mm + b): x (3, 2), w_* (2,), b (1,) broadcast over (3,)."""
    return (gb.tanh(x * w_mul) @ w_mm + b).sum()


def test_leaf_used_twice_accumulates_in_two_steps_and_each_step_matches_the_engine():
    rng = np.random.default_rng(0)
    w0, x0, b0 = rng.normal(size=2), rng.normal(size=(3, 2)), rng.normal(size=1)
    # Oracle: the engine's backward with each use of w given its own leaf, so each contribution is seen alone.
    split = {"w_mul": _leaf(w0), "w_mm": _leaf(w0), "x": _leaf(x0), "b": _leaf(b0)}
    _fan_out(split["w_mul"], split["w_mm"], split["x"], split["b"]).backward()
    part = {name: leaf.grad.data for name, leaf in split.items()}
    consumes = {"MatMul": {"w": part["w_mm"]}, "Mul": {"w": part["w_mul"], "x": part["x"]}, "Add": {"b": part["b"]}}

    w, x, b = _leaf(w0), _leaf(x0), _leaf(b0)
    stepper = BackpropStepper.trace(_fan_out, w, w, x, b, names={w: "w", x: "x", b: "b"})
    expected = {}
    changes_of_w = 0
    while not stepper.done:
        step = stepper.step()
        for name, grad in consumes.get(step["op"], {}).items():
            expected[name] = expected.get(name, 0) + grad
        changes_of_w += "w" in [item["name"] for item in step["inputs"]]
        got = stepper.gradients()
        assert sorted(got) == sorted(expected)
        for name in expected:
            np.testing.assert_allclose(got[name], expected[name], rtol=1e-12, atol=1e-15)
    assert changes_of_w == 2
    assert stepper.gradients()["b"].shape == (1,)  # the (3,) gradient of the broadcast add summed back
    mul_step = next(s for s in stepper.steps if s["op"] == "Mul")
    assert [item["name"] for item in mul_step["inputs"]] == ["x", "w"]
    assert mul_step["inputs"][1]["grad"]["shape"] == [2]

    # after the last step: exactly (bit for bit) what backward() puts into .grad
    loss = _fan_out(w, w, x, b)
    loss.backward()
    final = stepper.gradients()
    for name, leaf in (("w", w), ("x", x), ("b", b)):
        np.testing.assert_array_equal(final[name], leaf.grad.data)


def test_bias_broadcast_is_unbroadcast_like_torch(torch):
    rng = np.random.default_rng(1)
    x0, w0, b0 = rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=2)
    x, w, b = _leaf(x0, requires_grad=False), _leaf(w0), _leaf(b0)
    stepper = BackpropStepper.trace(lambda: ((x @ w + b) ** 2).sum(), names={x: "x", w: "W", b: "b"})
    assert stepper.gradients() == {}  # nothing before the first step
    steps = stepper.run_all()
    add = next(s for s in steps if s["op"] == "Add")
    assert add["inputs"][1]["name"] == "b" and add["inputs"][1]["local"] == "1"
    assert add["inputs"][1]["grad"]["shape"] == [2] and add["upstream"]["shape"] == [4, 2]
    matmul = next(s for s in steps if s["op"] == "MatMul")
    assert matmul["inputs"][0]["name"] == "x" and matmul["inputs"][0]["grad"] is None  # x needs no gradient
    tx, tw, tb = (torch.tensor(v, requires_grad=True) for v in (x0, w0, b0))
    ((tx @ tw + tb) ** 2).sum().backward()
    np.testing.assert_allclose(stepper.gradients()["b"], tb.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(stepper.gradients()["W"], tw.grad.numpy(), rtol=1e-12)


# ----- a small CNN: formulas, untouched model and graph, exact final gradients --------------------------------------
def _cnn():
    return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(8, 3))


def _cnn_and_batch(seed):
    gb.manual_seed(seed)
    model = _cnn()
    rng = np.random.default_rng(seed)
    x = gb.tensor(rng.normal(size=(2, 1, 4, 4)).astype(np.float32))
    return model, x, gb.tensor([0, 2])


def test_cnn_every_op_has_a_formula_and_stepping_leaves_grads_and_graph_untouched():
    model, x, y = _cnn_and_batch(3)
    stepper = BackpropStepper.trace(lambda: F.cross_entropy(model(x), y), model=model)
    loss = stepper.output
    seen = set()
    while not stepper.done:
        step = stepper.step()
        seen.add(step["op"])
        assert formulas.lookup(step["op"]).known, step["op"]
        assert "no formula" not in step["words"] and step["value"] is not None
    assert {"Conv2d", "BatchNorm", "Relu", "MaxPool2d", "Linear", "CrossEntropy"} <= seen
    assert list(stepper.leaves) == [name for name, _ in model.named_parameters()]
    assert {s["module"] for s in stepper.steps if s["op"] == "Conv2d"} == {"0"}
    assert all(p.grad is None for p in model.parameters())  # stepping wrote no .grad

    # The graph was not freed: backward() still works and agrees exactly with the last step and with a fresh copy.
    loss.backward()
    fresh, fx, fy = _cnn_and_batch(3)
    F.cross_entropy(fresh(fx), fy).backward()
    final = stepper.gradients()
    for (name, param), (_, fresh_param) in zip(model.named_parameters(), fresh.named_parameters()):
        assert final[name].dtype == param.data.dtype
        np.testing.assert_array_equal(final[name], param.grad.data)
        np.testing.assert_array_equal(final[name], fresh_param.grad.data)


def test_each_leaf_gradient_is_final_from_the_step_that_reaches_it():
    model, x, y = _cnn_and_batch(4)
    stepper = BackpropStepper.trace(lambda: F.cross_entropy(model(x), y), model=model)
    snapshots = []
    while not stepper.done:
        stepper.step()
        snapshots.append(stepper.gradients())
    stepper.output.backward()
    for snapshot in snapshots:  # every parameter is used once: present means complete
        for name, grad in snapshot.items():
            np.testing.assert_array_equal(grad, dict(model.named_parameters())[name].grad.data)
    assert len(snapshots[0]) == 0 and len(snapshots[1]) == 2  # cross-entropy first, then the last Linear's W, b


def test_repeatable_and_reset_gives_the_same_steps():
    stepper = demo_graph()
    first = stepper.run_all()
    stepper.reset()
    assert stepper.run_all() == first
    with pytest.raises(RuntimeError, match="finished"):
        stepper.step()


# ----- JSON ----------------------------------------------------------------------------------------------------------
def test_steps_are_json_serialisable_with_summaries_truncated_at_16(tmp_path):
    model, x, y = _cnn_and_batch(5)
    stepper = BackpropStepper.trace(lambda: F.cross_entropy(model(x), y), model=model)
    steps = record_steps(stepper)
    text = json.dumps(steps, allow_nan=False)
    assert json.loads(text) == steps
    conv = steps[-1]
    assert conv["op"] == "Conv2d"
    assert conv["value"]["shape"] == [2, 2, 4, 4] and conv["value"]["truncated"] is True
    assert len(conv["value"]["values"]) == 16
    weight = stepper.gradients()["0.weight"]
    summary = conv["accumulated"]["0.weight"]
    assert summary["shape"] == [2, 1, 3, 3] and summary["truncated"] is True
    np.testing.assert_allclose(summary["values"], weight.reshape(-1)[:16], rtol=1e-5)
    assert summary["norm"] == pytest.approx(float(np.linalg.norm(weight)), rel=1e-5)
    bias = conv["accumulated"]["0.bias"]
    assert bias["truncated"] is False and len(bias["values"]) == 2
    path = save_steps(steps, tmp_path / "backprop_steps.json")
    assert json.loads(path.read_text(encoding="utf-8")) == steps
    saved = demo_graph().save(tmp_path / "demo.json")
    assert [s["index"] for s in json.loads(saved.read_text(encoding="utf-8"))] == [0, 1, 2, 3, 4]


def test_summarize_rounds_to_six_digits_and_maps_non_finite_to_none():
    s = summarize(np.array([[1.23456789, np.nan], [np.inf, -2.0]]))
    assert s == {"shape": [2, 2], "values": [1.23457, None, None, -2.0], "truncated": False, "norm": None}
    s = summarize(np.arange(20.0))
    assert s["truncated"] is True and s["values"] == list(range(16))
    assert s["norm"] == pytest.approx(math.sqrt(sum(i * i for i in range(20))), rel=1e-6)
    assert summarize(np.float32(3.0))["shape"] == []


# ----- names, upstream gradients, errors -----------------------------------------------------------------------------
def test_default_names_and_an_explicit_upstream_gradient():
    a, c = _leaf([1.0, 2.0, 3.0]), _leaf([0.5, -1.0, 2.0])
    out = a * c + a
    stepper = BackpropStepper(out, gradient=np.array([1.0, 2.0, 3.0]))
    assert list(stepper.leaves) == ["x0", "x1"]
    assert stepper.node_names == ["AddBackward#1", "MulBackward#0"]
    steps = stepper.run_all()
    assert steps[0]["value"] is not None and steps[1]["value"] is None  # values of inner nodes need a trace
    assert steps[0]["inputs"][0]["name"] == "Mul#0"
    out.backward(gb.tensor([1.0, 2.0, 3.0], dtype=gb.float64))
    np.testing.assert_array_equal(stepper.gradients()["x0"], a.grad.data)
    np.testing.assert_array_equal(stepper.gradients()["x1"], c.grad.data)


def test_bad_inputs_raise_clear_errors():
    a = _leaf([1.0, 2.0])
    with pytest.raises(ValueError, match="leaf tensor"):
        BackpropStepper(a)
    with pytest.raises(ValueError, match="does not require grad"):
        BackpropStepper(_leaf([1.0], requires_grad=False) * 2.0)
    with pytest.raises(TypeError, match="must be a Tensor"):
        BackpropStepper(np.ones(2))
    with pytest.raises(ValueError, match=r"one-element output, got shape \(2,\)"):
        BackpropStepper(a * 2.0)
    with pytest.raises(ValueError, match=r"gradient has shape \(3,\)"):
        BackpropStepper(a * 2.0, gradient=np.ones(3))
    out = (a * a).sum()
    out.backward()
    with pytest.raises(RuntimeError, match="already freed"):
        BackpropStepper(out)
    with pytest.raises(ValueError, match="unknown example"):
        backprop_cli.build_example("nope")


# ----- formulas ------------------------------------------------------------------------------------------------------
def _op_classes():
    for module_name in ("activation", "conv", "conv_transpose", "elementwise", "embedding", "group_norm", "loss",
                        "matmul", "movement", "norm", "pool", "reduce", "resize", "rnn"):
        module = getattr(ops, module_name, None) or __import__(f"glassbox.ops.{module_name}", fromlist=["x"])
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Function) and cls is not Function and not name.startswith("_"):
                yield cls


def test_every_primitive_op_has_a_written_formula():
    classes = list(_op_classes())
    assert len(classes) > 60
    missing = [cls.__name__ for cls in classes if not formulas.lookup(cls).known]
    assert missing == []
    for cls in classes:
        formula = formulas.lookup(cls)
        assert formula.words and formula.symbols and formula.label and formula.local(0)


def test_parametrised_and_unknown_formulas():
    assert formulas.lookup("PowScalar", {"exponent": 3}).symbols == "∂(a^3)/∂a = 3·a^2"
    assert formulas.lookup("PowScalar", {"exponent": 2}).local(0) == "2a"
    assert "running" in formulas.lookup("BatchNorm", {"training": False}).words
    assert formulas.lookup("Cat").local(5) == formulas.lookup("Cat").local(0)

    class Cube(Function):
        def forward(self, a):
            self.a = a
            return a ** 3

        def backward(self, grad):
            return grad * 3 * self.a ** 2

    unknown = formulas.lookup(Cube)
    assert unknown.known is False and "Cube" in unknown.words and unknown.local(0) is None
    a = _leaf([2.0])
    steps = record_steps(Cube.apply(a).sum())
    assert steps[-1]["op"] == "Cube" and steps[-1]["inputs"][0]["local"] is None
    assert steps[-1]["accumulated"]["x0"]["values"] == [12.0]


# ----- the terminal and the command ----------------------------------------------------------------------------------
def test_format_step_and_step_through():
    lines = []
    steps = step_through(demo_graph(), interactive=False, print=lines.append)
    assert len(steps) == 5
    text = "\n".join(lines)
    assert "SigmoidBackward#2" in text and "∂σ(x)/∂x = σ(x)(1−σ(x))" in text and "backward pass complete" in text
    assert format_step(steps[-1]).count("\n") >= 8

    answers = iter(["", "q"])
    shown = step_through(demo_graph(), interactive=True, input=lambda prompt: next(answers), print=lambda *a: None)
    assert len(shown) == 2

    def closed(prompt):
        raise EOFError

    assert len(step_through(demo_graph(), input=closed, print=lambda *a: None)) == 5


def test_cli_prints_the_steps_and_writes_json(tmp_path, capsys):
    path = tmp_path / "steps.json"
    assert backprop_cli.main(["--model", "mlp", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "LinearBackward" in out and "TanhBackward" in out and "CrossEntropyBackward" in out
    steps = json.loads(path.read_text(encoding="utf-8"))
    assert steps[-1]["done"] and {"0.weight", "0.bias", "2.weight", "2.bias"} <= set(steps[-1]["accumulated"])
    assert backprop_cli.main([]) == 0
    assert "PowScalarBackward#4" in capsys.readouterr().out


def test_a_node_used_twice_sums_its_gradients_before_its_own_step():
    # mse_loss multiplies the difference node by itself: both edges must arrive before Sub is stepped
    p0, t0 = np.array([0.5, -1.0, 2.0]), np.array([1.0, 1.0, 1.0])
    p, t = _leaf(p0), _leaf(t0, requires_grad=False)
    stepper = BackpropStepper.trace(F.mse_loss, p, t, names={p: "p", t: "t"})
    steps = stepper.run_all()
    sub = next(s for s in steps if s["op"] == "Sub")
    np.testing.assert_allclose(sub["upstream"]["values"], 2 * (p0 - t0) / 3, rtol=1e-5)  # d mean((p-t)^2)/d(p-t)
    mul = next(s for s in steps if s["op"] == "Mul")
    assert [item["name"] for item in mul["inputs"]] == ["Sub#0", "Sub#0"]
    assert [item["name"] for item in sub["inputs"]] == ["p", "t"] and sub["inputs"][1]["grad"] is None
    stepper.output.backward()
    np.testing.assert_array_equal(stepper.gradients()["p"], p.grad.data)
