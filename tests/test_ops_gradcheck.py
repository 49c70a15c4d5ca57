"""Oracle 1: every backward matches its own forward. For each row of the op table (op_specs.py) and each shape set,
glassbox.autograd.gradcheck compares backward() with float64 central differences; large layers use random
directions. Also: gradcheck itself catches a wrong backward, and dropout's mask and scale are right."""

import re

import numpy as np
import pytest
from op_specs import ERRORS, REQUIRED_OPS, SPECS, make_lib

import glassbox as gb
import glassbox.nn.functional as F
from glassbox.autograd import Function, GradcheckError, gradcheck

GRADCHECK = dict(eps=1e-6, atol=1e-5, rtol=1e-3)
MAX_ELEMENTS = 40  # per input, so that the full (element by element) check stays fast


def _params(oracle):
    return [pytest.param(spec, c, id=f"{spec.name}-{c.id}") for spec in SPECS if getattr(spec, oracle)
            for c in spec.cases]


@pytest.mark.parametrize("spec,case", _params("gradcheck"))
def test_gradcheck(spec, case):
    arrays, extras = spec.sample(case)
    m = make_lib("glassbox", extras, np.float64)
    inputs = spec.inputs("glassbox", arrays, case, np.float64)
    assert gradcheck(lambda *tensors: spec.fn(m, *tensors), inputs, **GRADCHECK)
    # gradcheck leaves the analytical gradients in .grad: a NaN there must not pass as "equal to a NaN estimate"
    for out in _as_tuple(spec.fn(m, *inputs)):
        assert np.isfinite(out.data).all(), "non-finite output: choose inputs inside the op's domain"
    for i, t in enumerate(inputs):
        assert t.grad is not None and np.isfinite(t.grad.data).all(), f"input {i}: missing or non-finite gradient"


def _as_tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


# ----- the table itself -----------------------------------------------------------------------------------------------
def test_table_is_well_formed():
    names = [spec.name for spec in SPECS]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})
    for spec in SPECS:
        ids = [c.id for c in spec.cases]
        assert spec.cases and len(ids) == len(set(ids)), spec.name
        loosened = spec.fwd_tol != (1e-5, 1e-4) or spec.grad_tol != (1e-4, 1e-3)
        assert not ((loosened or not spec.gradcheck or not spec.torch) and not spec.reason), \
            f"{spec.name}: tolerances and skipped oracles need a written reason"
        for c in spec.cases:
            assert all(0 <= i < len(c.shapes) for i in c.nc), (spec.name, c.id)
            if spec.gradcheck:
                assert all(int(np.prod(s)) <= MAX_ELEMENTS for s in c.shapes), (spec.name, c.id)
            arrays, _ = spec.sample(c)
            again, _ = spec.sample(c)
            assert all(np.array_equal(a, b) for a, b in zip(arrays, again)), "sampling must be deterministic"
            for i in c.nc:  # the flag must really produce non-contiguous memory
                assert not spec.inputs("glassbox", arrays, c, np.float64)[i].data.flags.c_contiguous
    error_names = [e.name for e in ERRORS]
    assert len(error_names) == len(set(error_names))


def test_every_required_op_has_a_row():
    covered = {spec.op for spec in SPECS}
    assert not set(REQUIRED_OPS) - covered
    shapes = [s for spec in SPECS for c in spec.cases for s in c.shapes]
    assert () in shapes and any(1 in s for s in shapes)  # 0-d and size-1 dims are exercised
    assert sum(bool(c.nc) for spec in SPECS for c in spec.cases) >= 50


# ----- random directions for large inputs ---------------------------------------------------------------------------
def _leaf(rng, *shape):
    return gb.from_numpy(rng.standard_normal(shape)).requires_grad_()


def _classes(rng, num_classes, n):
    return gb.from_numpy(rng.integers(0, num_classes, n))


def _large_matmul(rng):
    return (lambda a, b: a @ b), [_leaf(rng, 64, 128), _leaf(rng, 128, 32)]


def _large_batched_matmul(rng):
    return (lambda a, b: a @ b), [_leaf(rng, 8, 16, 32), _leaf(rng, 32, 24)]


def _large_linear(rng):
    return F.linear, [_leaf(rng, 128, 100), _leaf(rng, 50, 100), _leaf(rng, 50)]


def _large_cross_entropy(rng):
    target = _classes(rng, 50, 256)
    return (lambda x: F.cross_entropy(x, target)), [_leaf(rng, 256, 50)]


def _large_cross_entropy_smoothed(rng):
    target, weight = _classes(rng, 50, 256), gb.from_numpy(rng.uniform(0.5, 2.0, 50))
    return (lambda x: F.cross_entropy(x, target, weight=weight, label_smoothing=0.1)), [_leaf(rng, 256, 50)]


def _large_log_softmax(rng):
    return (lambda x: F.log_softmax(x, dim=1)), [_leaf(rng, 64, 200)]


def _mlp(rng):
    target = _classes(rng, 10, 64)

    def fn(x, w1, w2):
        return F.cross_entropy(F.linear(F.gelu(F.linear(x, w1)), w2), target)

    return fn, [_leaf(rng, 64, 30), _leaf(rng, 40, 30), _leaf(rng, 10, 40)]


LARGE = {"matmul_64x128@128x32": _large_matmul, "matmul_8x16x32@32x24": _large_batched_matmul,
         "linear_128x100->50": _large_linear, "cross_entropy_256x50": _large_cross_entropy,
         "cross_entropy_weight_label_smoothing_256x50": _large_cross_entropy_smoothed,
         "log_softmax_64x200": _large_log_softmax, "mlp_64x30->40->10": _mlp}


@pytest.mark.parametrize("name", LARGE)
def test_gradcheck_random_directions(name):
    fn, inputs = LARGE[name](np.random.default_rng(0))
    assert gradcheck(fn, inputs, random_directions=3, **GRADCHECK)


# ----- gradcheck must be able to fail -------------------------------------------------------------------------------
class Square(Function):
    """a^2 with a correct backward (the control)."""

    def forward(self, a):
        self.a = a
        return a * a

    def backward(self, grad):
        return grad * 2 * self.a


class WrongSquare(Square):
    def backward(self, grad):
        return grad * 3 * self.a  # wrong: d(a^2)/da = 2a


class WrongAtOneElement(Square):
    def backward(self, grad):
        result = grad * 2 * self.a
        result[1, 2] += 0.5  # one element off
        return result


class DroppedSecondInput(Function):
    """a * b whose backward forgets b's gradient."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, grad):
        return grad * self.b, None


def _input(*shape, seed=0):
    return gb.from_numpy(np.random.default_rng(seed).uniform(0.5, 1.5, shape)).requires_grad_()


def test_gradcheck_passes_a_correct_custom_function():
    assert gradcheck(Square.apply, [_input(3, 4)], **GRADCHECK)
    assert gradcheck(Square.apply, [_input(50, 60)], random_directions=3, **GRADCHECK)


def test_gradcheck_fails_on_a_wrong_derivative():
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(3, 4\)\) at element \(\d+, \d+\)"):
        gradcheck(WrongSquare.apply, [_input(3, 4)], **GRADCHECK)
    assert gradcheck(WrongSquare.apply, [_input(3, 4)], raise_exception=False, **GRADCHECK) is False


def test_gradcheck_names_the_wrong_element():
    with pytest.raises(GradcheckError, match=re.escape("at element (1, 2)")):
        gradcheck(WrongAtOneElement.apply, [_input(3, 4)], **GRADCHECK)


def test_gradcheck_catches_a_missing_gradient():
    with pytest.raises(GradcheckError, match=r"input 1"):
        gradcheck(DroppedSecondInput.apply, [_input(2, 3), _input(2, 3, seed=1)], **GRADCHECK)


class NanGradient(Square):
    def backward(self, grad):
        result = grad * 2 * self.a
        result[0, 1] = np.nan
        return result


def test_gradcheck_fails_on_a_nan_gradient():
    with pytest.raises(GradcheckError, match=re.escape("at element (0, 1)")):
        gradcheck(NanGradient.apply, [_input(3, 4)], **GRADCHECK)


def test_gradcheck_random_directions_fail_on_a_nan_gradient():
    with pytest.raises(GradcheckError):
        gradcheck(NanGradient.apply, [_input(3, 4)], random_directions=2, **GRADCHECK)


def test_gradcheck_random_directions_fail_on_a_wrong_derivative():
    with pytest.raises(GradcheckError, match="random direction"):
        gradcheck(WrongSquare.apply, [_input(50, 60)], random_directions=3, **GRADCHECK)


def test_gradcheck_refuses_float32_inputs():
    x = gb.ones(3, requires_grad=True)
    with pytest.raises(TypeError, match="float64"):
        gradcheck(Square.apply, [x])


# ----- dropout: RNGs differ from torch's, so its semantics are checked here ------------------------------------------
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_keeps_1_minus_p_and_scales_by_1_over_1_minus_p(p):
    x = gb.from_numpy(np.random.default_rng(1).uniform(1.0, 2.0, (200, 250)).astype(np.float32))
    x.requires_grad_()
    out = F.dropout(x, p=p, generator=gb.Generator(3))
    kept = out.data != 0
    assert abs(kept.mean() - (1 - p)) < 0.01  # 50,000 draws: the binomial std is below 0.0023
    np.testing.assert_allclose(out.data[kept], x.data[kept] / (1 - p), rtol=1e-6)
    u = np.random.default_rng(2).standard_normal(x.shape).astype(np.float32)
    (out * gb.from_numpy(u)).sum().backward()
    np.testing.assert_allclose(x.grad.data, u * kept / (1 - p), rtol=1e-6)


def test_dropout_default_training_and_identity_cases():
    x = gb.from_numpy(np.ones((100, 100), dtype=np.float32))
    out = F.dropout(x)  # p=0.5, training=True by default, as in torch.nn.functional
    assert 0.45 < (out.data != 0).mean() < 0.55
    assert np.array_equal(F.dropout(x, p=0.5, training=False).data, x.data)
    assert np.array_equal(F.dropout(x, p=0.0).data, x.data)
    assert not F.dropout(x, p=1.0).data.any()


def test_dropout_generator_is_reproducible_and_gradcheck_passes():
    x = gb.from_numpy(np.random.default_rng(0).standard_normal((4, 5))).requires_grad_()
    a = F.dropout(x, p=0.4, generator=gb.Generator(7))
    b = F.dropout(x, p=0.4, generator=gb.Generator(7))
    assert np.array_equal(a.data, b.data)
    # a fresh generator per call gives the same mask on every evaluation, so finite differences apply
    assert gradcheck(lambda t: F.dropout(t, p=0.4, generator=gb.Generator(7)), [x], **GRADCHECK)
