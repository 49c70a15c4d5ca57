"""PyTorch's type promotion for binary ops: result dtypes and values compared with torch, plus gradients through
promotions."""

import numpy as np
import pytest

import glassbox as gb

# Each case builds its operands with the module it is given (gb or torch), so one lambda serves both frameworks.
CASES = {
    "int64 + float scalar": lambda m: m.tensor([1, 2]) + 1.5,
    "float scalar + int64": lambda m: 1.5 + m.tensor([1, 2]),
    "int64 - float scalar": lambda m: m.tensor([1, 4]) - 1.5,
    "int64 * float scalar": lambda m: m.tensor([1, 4]) * 0.5,
    "float32 * float scalar": lambda m: m.tensor([1.0, 2.0]) * 2.5,
    "float64 * float scalar": lambda m: m.tensor([1.0, 2.0], dtype=m.float64) * 2.5,
    "float32 + int scalar": lambda m: m.tensor([1.0, 2.0]) + 3,
    "int32 + int scalar": lambda m: m.tensor([1, 2], dtype=m.int32) + 5,
    "int64 + float32": lambda m: m.tensor([1, 2]) + m.tensor([0.5, 0.25]),
    "float32 + int64": lambda m: m.tensor([0.5, 0.25]) + m.tensor([1, 2]),
    "float32 + float64": lambda m: m.tensor([1.0, 2.0]) + m.tensor([0.5, 0.25], dtype=m.float64),
    "float64 * float32": lambda m: m.tensor([1.0, 2.0], dtype=m.float64) * m.tensor([0.5, 0.25]),
    "int32 + int64": lambda m: m.tensor([1], dtype=m.int32) + m.tensor([3]),
    "uint8 + int8": lambda m: m.tensor([200], dtype=m.uint8) + m.tensor([3], dtype=m.int8),
    "float16 + float32": lambda m: m.tensor([1.0], dtype=m.float16) + m.tensor([3.0]),
    "int64 + float16": lambda m: m.tensor([1]) + m.tensor([3.0], dtype=m.float16),
    "int / int": lambda m: m.tensor([1, 2, 7]) / m.tensor([2, 4, 2]),
    "int / int scalar": lambda m: m.tensor([1, 3]) / 2,
    "int scalar / int": lambda m: 3 / m.tensor([2, 4]),
    "int // int scalar": lambda m: m.tensor([3, -3]) // 2,
    "bool + bool": lambda m: m.tensor([True, False, False]) + m.tensor([True, True, False]),
    "bool * bool": lambda m: m.tensor([True, False]) * m.tensor([True, True]),
    "bool + int scalar": lambda m: m.tensor([True, False]) + 1,
    "bool + float scalar": lambda m: m.tensor([True, False]) + 1.5,
    "bool + int64": lambda m: m.tensor([True, False]) + m.tensor([3, 4]),
    "bool * float32": lambda m: m.tensor([True, False]) * m.tensor([3.0, 4.0]),
    "int64 * bool scalar": lambda m: m.tensor([1, 4]) * True,
    "int64 ** int scalar": lambda m: m.tensor([1, 2, 3]) ** 2,
    "int64 ** float scalar": lambda m: m.tensor([1, 4]) ** 0.5,
    "float scalar ** int64": lambda m: 2.0 ** m.tensor([1, 4]),
    "int scalar ** int64": lambda m: 2 ** m.tensor([1, 4]),
    "maximum float32 float64": lambda m: m.maximum(m.tensor([1.0, 5.0]), m.tensor([2.0, 3.0], dtype=m.float64)),
    "where int64 float32": lambda m: m.where(m.tensor([True, False]), m.tensor([1, 2]), m.tensor([2.5, 3.5])),
    # zero-dim tensors: they lift the category but never widen within it (torch's "dimension" rule)
    "float32 + 0-d float64": lambda m: m.tensor([1.0, 2.0]) + m.tensor(3.0, dtype=m.float64),
    "float32 * 0-d float64 sum": lambda m: m.tensor([1.0, 2.0]) * m.tensor([1.0, 2.0], dtype=m.float64).sum(),
    "int32 + 0-d int64": lambda m: m.tensor([1, 2], dtype=m.int32) + m.tensor(3),
    "int64 + 0-d float64": lambda m: m.tensor([1, 2]) + m.tensor(0.5, dtype=m.float64),
    "float32 + 0-d int64": lambda m: m.tensor([1.0]) + m.tensor(3),
    "0-d float64 + 0-d float32": lambda m: m.tensor(1.0, dtype=m.float64) + m.tensor(2.0),
}

COMPARISONS = {
    "int64 < float scalar": lambda m: m.tensor([1, 2]) < 1.5,
    "float32 == float64": lambda m: m.tensor([1.0, 2.0]) == m.tensor([1.0, 3.0], dtype=m.float64),
    "int64 >= float32": lambda m: m.tensor([1, 2, 3]) >= m.tensor([1.5, 2.0, 2.5]),
    "float32 > int scalar": lambda m: m.tensor([0.5, 1.5]) > 1,
    "bool != bool": lambda m: m.tensor([True, False]) != m.tensor([True, True]),
    "int64 <= int64": lambda m: m.tensor([1, 5]) <= m.tensor([2, 2]),
}


def _dtype_name(dtype):
    return str(dtype).replace("torch.", "")


def _check_against_torch(build):
    torch = pytest.importorskip("torch")
    g, t = build(gb), build(torch)
    assert _dtype_name(g.dtype) == _dtype_name(t.dtype)
    assert g.shape == tuple(t.shape)
    np.testing.assert_allclose(np.asarray(g.tolist(), dtype=np.float64), np.asarray(t.tolist(), dtype=np.float64),
                               rtol=1e-6)


@pytest.mark.parametrize("name", list(CASES))
def test_binary_op_promotion_matches_torch(name):
    _check_against_torch(CASES[name])


@pytest.mark.parametrize("name", list(COMPARISONS))
def test_comparisons_give_bool_matching_torch(name):
    _check_against_torch(COMPARISONS[name])
    assert COMPARISONS[name](gb).dtype == gb.bool_


# ----- the headline rules, with hand-written expectations (run without torch too) -------------------------------


def test_int_tensor_plus_python_float_is_float32():
    r = gb.tensor([1, 2]) + 1.5
    assert r.dtype == gb.float32
    np.testing.assert_array_equal(r.numpy(), [2.5, 3.5])


def test_float32_times_python_float_stays_float32():
    assert (gb.tensor([1.0, 2.0]) * 2.5).dtype == gb.float32
    assert (2.5 * gb.tensor([1.0, 2.0])).dtype == gb.float32


def test_int64_plus_float32_tensor_is_float32():
    assert (gb.tensor([1, 2]) + gb.tensor([1.0, 2.0])).dtype == gb.float32


def test_float32_plus_float64_tensor_is_float64():
    r = gb.tensor([1.0]) + gb.tensor([1e-10], dtype=gb.float64)
    assert r.dtype == gb.float64
    assert r.item() == 1.0 + 1e-10


def test_int_true_division_is_float32():
    r = gb.tensor([1, 2, 7]) / gb.tensor([2, 4, 2])
    assert r.dtype == gb.float32
    np.testing.assert_array_equal(r.numpy(), [0.5, 0.5, 3.5])


def test_bool_plus_bool_is_bool_logical_or():
    r = gb.tensor([True, False, False]) + gb.tensor([True, True, False])
    assert r.dtype == gb.bool_
    assert r.tolist() == [True, True, False]


def test_comparisons_give_bool():
    for r in (gb.tensor([1.0, 2.0]) < 1.5, gb.tensor([1, 2]) == gb.tensor([1, 3]), gb.tensor([1.0]) >= 1,
              gb.tensor([1.0]) != gb.tensor([1.0], dtype=gb.float64)):
        assert r.dtype == gb.bool_
        assert r.requires_grad is False


def test_comparison_of_tensor_requiring_grad_is_not_differentiable():
    x = gb.tensor([1.0, -1.0], requires_grad=True)
    m = x > 0
    assert m.dtype == gb.bool_
    assert m.requires_grad is False


def test_scalar_does_not_widen_float16():
    assert (gb.tensor([1.0], dtype=gb.float16) * 2.5).dtype == gb.float16


def test_int_scalar_does_not_widen_int32():
    assert (gb.tensor([1], dtype=gb.int32) * 3).dtype == gb.int32


# ----- gradients through promotions -----------------------------------------------------------------------------


def test_gradient_flows_through_float32_to_float64_promotion():
    x = gb.tensor([1.0, 2.0], requires_grad=True)                   # float32
    w = gb.tensor([0.5, -3.0], dtype=gb.float64, requires_grad=True)  # float64
    y = x * w
    assert y.dtype == gb.float64
    (y * y).sum().backward()
    assert x.grad.dtype == gb.float32
    assert w.grad.dtype == gb.float64
    xv, wv = np.array([1.0, 2.0]), np.array([0.5, -3.0])
    # d/dx sum((xw)^2) = 2 x w^2 ; d/dw = 2 w x^2
    np.testing.assert_allclose(x.grad.numpy(), 2 * xv * wv ** 2, rtol=1e-6)
    np.testing.assert_allclose(w.grad.numpy(), 2 * wv * xv ** 2, rtol=1e-12)


def test_gradient_through_promotion_with_broadcast():
    x = gb.tensor([[1.0], [2.0]], requires_grad=True)  # float32 (2, 1)
    w = gb.tensor([1.0, 10.0, 100.0], dtype=gb.float64, requires_grad=True)
    (x + w).sum().backward()
    assert x.grad.dtype == gb.float32 and x.grad.shape == (2, 1)
    assert w.grad.dtype == gb.float64 and w.grad.shape == (3,)
    np.testing.assert_allclose(x.grad.numpy(), [[3.0], [3.0]])
    np.testing.assert_allclose(w.grad.numpy(), [2.0, 2.0, 2.0])


def test_gradient_through_int_operand_promotion():
    x = gb.tensor([1.0, 2.0], requires_grad=True)
    k = gb.tensor([3, 4])  # int64: promoted to float32, no gradient
    (x * k).sum().backward()
    assert x.grad.dtype == gb.float32
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])
    assert k.grad is None


def test_gradient_through_promotion_matches_torch():
    torch = pytest.importorskip("torch")
    xv = np.array([0.3, -1.2, 2.0], dtype=np.float32)
    wv = np.array([1.5, 0.25, -0.5], dtype=np.float64)
    grads = []
    for m in (gb, torch):
        x = m.tensor(xv, requires_grad=True)
        w = m.tensor(wv, requires_grad=True)
        out = (m.exp(x * w) / (x + 2.5) - w * 3).sum()
        out.backward()
        grads.append((x.grad, w.grad))
    (gx, gw), (tx, tw) = grads
    assert gx.dtype == gb.float32 and gw.dtype == gb.float64
    np.testing.assert_allclose(gx.numpy(), tx.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gw.numpy(), tw.numpy(), rtol=1e-5, atol=1e-6)
