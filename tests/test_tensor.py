"""Tensor attributes and methods: what a tensor is, how it converts, prints, hashes and iterates.

Oracles: NumPy for values, PyTorch semantics (documented behaviour) for what each attribute means.
"""

import re

import numpy as np
import pytest

import glassbox as gb

# ----- attributes -----------------------------------------------------------------------------------------------


def test_requires_grad_defaults_and_flag():
    assert gb.tensor([1.0, 2.0]).requires_grad is False
    x = gb.tensor([1.0, 2.0], requires_grad=True)
    assert x.requires_grad is True
    assert (x * 2).requires_grad is True
    assert (gb.tensor([1.0]) * 2).requires_grad is False


def test_grad_is_none_until_backward_then_has_shape_and_values():
    x = gb.tensor([[1.0, -2.0, 3.0]], requires_grad=True)
    assert x.grad is None
    (x * x).sum().backward()
    assert isinstance(x.grad, gb.Tensor)
    assert x.grad.shape == (1, 3)
    np.testing.assert_allclose(x.grad.numpy(), [[2.0, -4.0, 6.0]])
    assert x.grad.requires_grad is False


def test_is_leaf_and_grad_fn():
    x = gb.tensor([1.0, 2.0], requires_grad=True)
    c = gb.tensor([1.0, 2.0])
    assert x.is_leaf and c.is_leaf
    assert x.grad_fn is None
    y = x * 3
    assert y.is_leaf is False
    assert y.grad_fn is not None
    # an op on tensors that don't require grad makes a leaf (as in PyTorch)
    assert (c * 3).is_leaf is True
    assert (c * 3).grad_fn is None
    with gb.no_grad():
        z = x * 3
    assert z.is_leaf is True and z.requires_grad is False


def test_shape_ndim_numel_size():
    t = gb.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4)
    assert tuple(t.shape) == (2, 3, 4)
    assert t.ndim == 3
    assert t.dim() == 3
    assert t.numel() == 24
    assert t.size() == (2, 3, 4)
    assert t.size(0) == 2
    assert t.size(1) == 3
    assert t.size(-1) == 4
    assert t.size(-3) == 2
    with pytest.raises(IndexError):
        t.size(3)
    s = gb.tensor(5.0)
    assert s.shape == ()
    assert s.ndim == 0
    assert s.numel() == 1


def test_dtype_is_numpy_dtype():
    assert gb.float32 == np.dtype("float32")
    assert gb.float64 == np.dtype("float64")
    assert gb.int64 == np.dtype("int64")
    assert gb.bool_ == np.dtype("bool")
    assert gb.tensor([1.0]).dtype == gb.float32
    assert gb.tensor([1.0]).dtype == np.dtype("float32")
    assert isinstance(gb.tensor([1.0]).dtype, np.dtype)
    assert gb.tensor([1]).dtype == gb.int64
    assert gb.tensor([True]).dtype == gb.bool_
    assert gb.tensor([1.0], dtype=gb.float64).dtype == np.dtype("float64")


def test_T_reverses_dims_and_mT_swaps_last_two():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = gb.tensor(a)
    assert t.T.shape == (3, 2)
    np.testing.assert_array_equal(t.T.numpy(), a.T)
    b = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    u = gb.tensor(b)
    assert u.mT.shape == (2, 4, 3)
    np.testing.assert_array_equal(u.mT.numpy(), np.swapaxes(b, -1, -2))
    assert u.T.shape == (4, 3, 2)
    np.testing.assert_array_equal(u.T.numpy(), b.transpose(2, 1, 0))


def test_T_is_differentiable():
    x = gb.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    w = np.arange(6.0).reshape(3, 2) + 1
    (x.T * gb.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), w.T)


# ----- conversions ----------------------------------------------------------------------------------------------


def test_item_returns_python_numbers():
    v = gb.tensor([2.5]).item()
    assert type(v) is float and v == 2.5
    i = gb.tensor([[7]]).item()
    assert type(i) is int and i == 7
    b = gb.tensor(True).item()
    assert type(b) is bool and b is True
    with pytest.raises((ValueError, RuntimeError)):
        gb.tensor([1.0, 2.0]).item()


def test_numpy_shares_memory():
    t = gb.tensor([1.0, 2.0, 3.0])
    a = t.numpy()
    assert isinstance(a, np.ndarray)
    a[0] = 10.0
    assert t[0].item() == 10.0
    t.add_(1)
    assert a[1] == 3.0


def test_numpy_raises_for_requires_grad_and_detach_numpy_works():
    x = gb.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    d = x.detach().numpy()
    np.testing.assert_array_equal(d, [1.0, 2.0])
    assert np.shares_memory(d, x.data)


def test_tolist():
    assert gb.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    out = gb.tensor([0.5, 1.5]).tolist()
    assert out == [0.5, 1.5]
    assert all(type(v) is float for v in out)
    assert gb.tensor(3).tolist() == 3
    assert gb.tensor([True, False]).tolist() == [True, False]


def test_detach_shares_data_and_has_no_grad():
    x = gb.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert d.requires_grad is False
    assert d.is_leaf
    assert d.grad_fn is None
    np.testing.assert_array_equal(d.numpy(), [2.0, 4.0])
    # shares memory with the original
    d.numpy()[0] = 100.0
    assert y[0].item() == 100.0
    # no gradient flows through a detached tensor
    z = (d * x).sum()
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), [100.0, 4.0])


def test_requires_grad_():
    x = gb.tensor([1.0, 2.0])
    assert x.requires_grad_() is x
    assert x.requires_grad is True
    assert x.requires_grad_(False) is x
    assert x.requires_grad is False
    with pytest.raises(RuntimeError):
        gb.tensor([1, 2]).requires_grad_()
    y = gb.tensor([1.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError):
        y.requires_grad_(False)


def test_float_double_long_dtypes_and_values():
    t = gb.tensor([1.7, -2.2], dtype=gb.float64)
    assert t.float().dtype == gb.float32
    assert t.double().dtype == gb.float64
    lt = t.long()
    assert lt.dtype == gb.int64
    assert lt.tolist() == [1, -2]  # truncation toward zero, like torch
    i = gb.tensor([1, 2])
    assert i.float().dtype == gb.float32
    assert i.double().dtype == gb.float64
    f = gb.tensor([1.0, 2.0])
    assert f.float() is f  # already float32: torch returns self


def test_float_of_float64_requiring_grad_is_differentiable():
    x = gb.tensor([1.0, 2.0, 3.0], dtype=gb.float64, requires_grad=True)
    y = x.float()
    assert y.dtype == gb.float32
    assert y.requires_grad is True
    assert y.grad_fn is not None
    (y * y).sum().backward()
    assert x.grad.dtype == gb.float64
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])


def test_double_of_float32_requiring_grad_is_differentiable():
    x = gb.tensor([1.0, -2.0], requires_grad=True)
    y = x.double()
    assert y.dtype == gb.float64
    (y * 3).sum().backward()
    assert x.grad.dtype == gb.float32
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_long_of_tensor_requiring_grad_does_not_require_grad():
    # torch: integer tensors can't require gradients, so x.long() is cut from the graph
    x = gb.tensor([1.5, 2.5], requires_grad=True)
    y = x.long()
    assert y.dtype == gb.int64
    assert y.requires_grad is False


# ----- repr -----------------------------------------------------------------------------------------------------


def test_repr_contains_values():
    r = repr(gb.tensor([1.5, -2.25, 3.0]))
    assert r.startswith("tensor(")
    assert "1.5" in r and "-2.25" in r and "3" in r
    assert "requires_grad" not in r
    assert "grad_fn" not in r
    assert "dtype" not in r  # float32 is the default: not shown, as in torch
    ri = repr(gb.tensor([4, 5, 6]))
    assert "4" in ri and "5" in ri and "6" in ri and "dtype" not in ri


def test_repr_requires_grad_for_leaves():
    r = repr(gb.tensor([1.0, 2.0], requires_grad=True))
    assert "requires_grad=True" in r
    assert "grad_fn" not in r


def test_repr_grad_fn_for_op_outputs():
    x = gb.tensor([1.0, 2.0], requires_grad=True)
    r = repr(x * 2)
    assert re.search(r"grad_fn=<\w*Backward\w*>", r), r
    assert "Mul" in r
    r2 = repr(x + 1)
    assert re.search(r"grad_fn=<\w*Add\w*Backward\w*>", r2) or "AddBackward" in r2, r2


def test_repr_shows_float64_dtype():
    r = repr(gb.tensor([1.0, 2.0], dtype=gb.float64))
    assert "float64" in r
    assert "1" in r and "2" in r


def test_repr_of_large_tensor_is_summarised():
    r = repr(gb.zeros(100000))
    assert len(r) < 2000


# ----- Python protocols -----------------------------------------------------------------------------------------


def test_len():
    assert len(gb.zeros(5, 2)) == 5
    assert len(gb.tensor([1, 2, 3])) == 3
    with pytest.raises(TypeError):
        len(gb.tensor(1.0))


def test_iteration_yields_rows():
    t = gb.tensor([[1, 2], [3, 4], [5, 6]])
    rows = list(t)
    assert len(rows) == 3
    assert all(isinstance(r, gb.Tensor) for r in rows)
    assert [r.tolist() for r in rows] == [[1, 2], [3, 4], [5, 6]]
    assert [v.item() for v in gb.tensor([7, 8, 9])] == [7, 8, 9]
    with pytest.raises(TypeError):
        iter(gb.tensor(1.0)).__next__()


def test_iteration_is_differentiable():
    x = gb.tensor([1.0, 2.0, 3.0], requires_grad=True)
    total = None
    for i, v in enumerate(x):
        term = v * (i + 1)
        total = term if total is None else total + term
    total.backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 2.0, 3.0])


def test_bool_of_one_element_tensor():
    assert bool(gb.tensor([1.0])) is True
    assert bool(gb.tensor([0.0])) is False
    assert bool(gb.tensor([[3]])) is True
    assert bool(gb.tensor(0)) is False
    assert bool(gb.tensor([1.0]) > 0)
    with pytest.raises(RuntimeError):
        bool(gb.tensor([1.0, 2.0]))


def test_int_float_conversions():
    assert int(gb.tensor([3.7])) == 3
    assert float(gb.tensor(2)) == 2.0
    assert [10, 20, 30][gb.tensor(1)] == 20


def test_hash_by_identity_and_eq_is_elementwise():
    a = gb.tensor([1.0, 2.0])
    b = gb.tensor([1.0, 2.0])
    eq = a == b
    assert isinstance(eq, gb.Tensor)
    assert eq.dtype == gb.bool_
    assert eq.tolist() == [True, True]
    d = {a: "a", b: "b"}
    assert len(d) == 2
    assert d[a] == "a" and d[b] == "b"
    assert hash(a) == hash(a)
    s = {a, b, a}
    assert len(s) == 2
    c = gb.tensor([1.0, 5.0])
    assert (a != c).tolist() == [False, True]


def test_parameters_as_dict_keys_pattern():
    # the optimizer-state pattern: tensors with equal values must stay distinct keys
    ws = [gb.zeros(3, requires_grad=True) for _ in range(4)]
    state = {w: i for i, w in enumerate(ws)}
    assert [state[w] for w in ws] == [0, 1, 2, 3]
