"""In-place ops: values, identity, views, and how they interact with autograd.

The rule (PyTorch's): an in-place op either gives the right gradient or raises a RuntimeError — never a silently
wrong gradient. Oracles: NumPy on copies of the data, hand derivations, and PyTorch.
"""

import re

import numpy as np
import pytest

import glassbox as gb


def _torch_grad(t):
    return t.grad.detach().numpy()


# ----- plain tensors: values, identity, views -------------------------------------------------------------------


@pytest.mark.parametrize("name, arg, numpy_fn", [
    ("add_", 2.0, np.add), ("sub_", 0.5, np.subtract), ("mul_", 3.0, np.multiply), ("div_", 4.0, np.divide),
])
def test_arithmetic_inplace_with_scalar(name, arg, numpy_fn):
    a = np.array([[1.0, -2.0, 3.0], [0.5, 0.0, -4.0]], dtype=np.float32)
    t = gb.tensor(a)
    out = getattr(t, name)(arg)
    assert out is t
    np.testing.assert_allclose(t.numpy(), numpy_fn(a, np.float32(arg)), rtol=1e-6)
    assert t.dtype == gb.float32


@pytest.mark.parametrize("name, numpy_fn", [("add_", np.add), ("sub_", np.subtract), ("mul_", np.multiply),
                                            ("div_", np.divide)])
def test_arithmetic_inplace_with_broadcast_tensor(name, numpy_fn):
    a = np.arange(1.0, 7.0, dtype=np.float32).reshape(2, 3)
    b = np.array([2.0, -1.0, 4.0], dtype=np.float32)
    t = gb.tensor(a)
    assert getattr(t, name)(gb.tensor(b)) is t
    np.testing.assert_allclose(t.numpy(), numpy_fn(a, b), rtol=1e-6)


def test_add_sub_alpha():
    t = gb.tensor([1.0, 2.0])
    t.add_(gb.tensor([1.0, 1.0]), alpha=3)
    np.testing.assert_allclose(t.numpy(), [4.0, 5.0])
    t.sub_(gb.tensor([1.0, 2.0]), alpha=2)
    np.testing.assert_allclose(t.numpy(), [2.0, 1.0])


def test_augmented_assignment_keeps_object():
    t = gb.tensor([1.0, 2.0, 3.0])
    original = t
    t += 1
    assert t is original
    t *= gb.tensor([2.0, 3.0, 4.0])
    assert t is original
    t -= 1
    t /= 2
    assert t is original
    np.testing.assert_allclose(t.numpy(), [((1 + 1) * 2 - 1) / 2, ((2 + 1) * 3 - 1) / 2, ((3 + 1) * 4 - 1) / 2])


def test_augmented_assignment_changes_aliases():
    t = gb.tensor([1.0, 2.0])
    alias = t
    t += 5
    np.testing.assert_allclose(alias.numpy(), [6.0, 7.0])


def test_setitem_variants():
    a = np.zeros((3, 4), dtype=np.float32)
    t = gb.tensor(a)
    t[0] = 1.0
    a[0] = 1.0
    t[1, 2] = 5.0
    a[1, 2] = 5.0
    t[:, 3] = gb.tensor([7.0, 8.0, 9.0])
    a[:, 3] = [7.0, 8.0, 9.0]
    t[2, :2] = gb.tensor([-1.0, -2.0])
    a[2, :2] = [-1.0, -2.0]
    np.testing.assert_array_equal(t.numpy(), a)
    mask = t > 4
    t[mask] = 0.0
    a[a > 4] = 0.0
    np.testing.assert_array_equal(t.numpy(), a)
    t[gb.tensor([0, 2])] = 3.0
    a[[0, 2]] = 3.0
    np.testing.assert_array_equal(t.numpy(), a)


def test_setitem_writes_into_same_storage():
    t = gb.zeros(2, 3)
    view = t[1]
    data = t.numpy()
    t[1, 1] = 4.0
    assert data[1, 1] == 4.0
    assert view[1].item() == 4.0


def test_copy_():
    t = gb.zeros(2, 3)
    out = t.copy_(gb.tensor([1.0, 2.0, 3.0]))  # broadcast
    assert out is t
    np.testing.assert_array_equal(t.numpy(), [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    t.copy_(gb.tensor([[1, 2, 3], [4, 5, 6]]))  # other dtype: cast into t's dtype
    assert t.dtype == gb.float32
    np.testing.assert_array_equal(t.numpy(), [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    src = gb.tensor([[9.0, 9.0, 9.0], [9.0, 9.0, 9.0]])
    t.copy_(src)
    src.add_(1)
    assert t[0, 0].item() == 9.0  # copied, not aliased


def test_zero_fill_clamp():
    t = gb.tensor([-2.0, 0.5, 3.0])
    assert t.clamp_(0.0, 1.0) is t
    np.testing.assert_array_equal(t.numpy(), [0.0, 0.5, 1.0])
    u = gb.tensor([-2.0, 0.5, 3.0])
    u.clamp_(min=0.0)
    np.testing.assert_array_equal(u.numpy(), [0.0, 0.5, 3.0])
    u.clamp_(max=0.25)
    np.testing.assert_array_equal(u.numpy(), [0.0, 0.25, 0.25])
    assert t.fill_(2.5) is t
    np.testing.assert_array_equal(t.numpy(), [2.5, 2.5, 2.5])
    assert t.zero_() is t
    np.testing.assert_array_equal(t.numpy(), [0.0, 0.0, 0.0])
    i = gb.tensor([1, 2, 3])
    i.fill_(7)
    assert i.dtype == gb.int64 and i.tolist() == [7, 7, 7]


def test_views_see_inplace_changes_of_base():
    a = gb.tensor([[1.0, 2.0], [3.0, 4.0]])
    b = a[0]
    c = a.reshape(4)
    a.add_(1)
    np.testing.assert_array_equal(b.numpy(), [2.0, 3.0])
    np.testing.assert_array_equal(c.numpy(), [2.0, 3.0, 4.0, 5.0])
    a.mul_(2)
    np.testing.assert_array_equal(b.numpy(), [4.0, 6.0])
    a.zero_()
    np.testing.assert_array_equal(b.numpy(), [0.0, 0.0])
    a.fill_(1.0)
    a[1, 1] = 9.0
    np.testing.assert_array_equal(c.numpy(), [1.0, 1.0, 1.0, 9.0])


def test_base_sees_inplace_changes_of_view():
    a = gb.tensor([[1.0, 2.0], [3.0, 4.0]])
    a[1].mul_(10)
    np.testing.assert_array_equal(a.numpy(), [[1.0, 2.0], [30.0, 40.0]])
    col = a[:, 0]
    col.add_(1)
    np.testing.assert_array_equal(a.numpy(), [[2.0, 2.0], [31.0, 40.0]])
    a.T.zero_()
    np.testing.assert_array_equal(a.numpy(), np.zeros((2, 2)))


# ----- errors ---------------------------------------------------------------------------------------------------


def test_inplace_broadcasting_to_bigger_shape_raises():
    t = gb.zeros(3)
    with pytest.raises(RuntimeError):
        t.add_(gb.ones(2, 3))
    np.testing.assert_array_equal(t.numpy(), [0.0, 0.0, 0.0])
    with pytest.raises(RuntimeError):
        t.mul_(gb.ones(4, 1))


def test_int_tensor_inplace_with_float_raises():
    t = gb.tensor([1, 2, 3])
    with pytest.raises(RuntimeError):
        t.add_(1.5)
    with pytest.raises(RuntimeError):
        t += gb.tensor([0.5, 0.5, 0.5])
    with pytest.raises(RuntimeError):
        t.div_(2)  # true division gives float
    assert t.tolist() == [1, 2, 3]
    assert t.dtype == gb.int64


def test_int_tensor_inplace_with_int_works():
    t = gb.tensor([1, 2, 3])
    t.mul_(2)
    t += gb.tensor([1, 1, 1])
    assert t.dtype == gb.int64 and t.tolist() == [3, 5, 7]


def test_float_tensor_inplace_with_int_tensor_keeps_dtype():
    t = gb.tensor([1.0, 2.0])
    t.add_(gb.tensor([1, 2]))
    assert t.dtype == gb.float32
    np.testing.assert_array_equal(t.numpy(), [2.0, 4.0])


def test_float32_inplace_with_float64_tensor_keeps_float32():
    t = gb.tensor([1.0, 2.0])
    t += gb.tensor([0.5, 0.25], dtype=gb.float64)
    assert t.dtype == gb.float32
    np.testing.assert_array_equal(t.numpy(), [1.5, 2.25])


def test_int_inplace_errors_match_torch():
    torch = pytest.importorskip("torch")
    for m in (gb, torch):
        with pytest.raises(RuntimeError):
            m.tensor([1, 2]).add_(1.5)


# ----- leaves that require grad ---------------------------------------------------------------------------------


@pytest.mark.parametrize("op", [
    lambda w: w.add_(1), lambda w: w.mul_(2), lambda w: w.sub_(1), lambda w: w.div_(2), lambda w: w.zero_(),
    lambda w: w.fill_(1.0), lambda w: w.clamp_(0, 1), lambda w: w.copy_(gb.ones(3)),
    lambda w: w.__setitem__(0, 5.0), lambda w: w.__iadd__(1),
])
def test_inplace_on_leaf_requiring_grad_raises(op):
    w = gb.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError):
        op(w)
    np.testing.assert_array_equal(w.detach().numpy(), [1.0, 2.0, 3.0])


def test_inplace_on_leaf_works_under_no_grad():
    w = gb.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (w * w).sum().backward()
    with gb.no_grad():
        w -= 0.1 * w.grad
        w.mul_(2)
        w[0] = 0.0
        w.clamp_(max=3.0)
    np.testing.assert_allclose(w.detach().numpy(), [0.0, min((2 - 0.4) * 2, 3.0), min((3 - 0.6) * 2, 3.0)],
                               rtol=1e-6)
    assert w.is_leaf and w.requires_grad and w.grad_fn is None
    w.grad = None
    (w * 3).sum().backward()  # still a usable parameter
    np.testing.assert_allclose(w.grad.numpy(), [3.0, 3.0, 3.0])


def test_zero_and_fill_on_leaf_under_no_grad():
    w = gb.ones(3, requires_grad=True)
    with gb.no_grad():
        w.zero_()
        w[1:].fill_(4.0)
    np.testing.assert_array_equal(w.detach().numpy(), [0.0, 4.0, 4.0])
    assert w.requires_grad and w.is_leaf


# ----- non-leaf tensors -----------------------------------------------------------------------------------------


def _compare_with_torch(fn, values):
    torch = pytest.importorskip("torch")
    values = np.asarray(values, dtype=np.float32)
    x = gb.tensor(values, requires_grad=True)
    fn(gb, x).backward()
    xt = torch.tensor(values, requires_grad=True)
    fn(torch, xt).backward()
    np.testing.assert_allclose(x.grad.numpy(), _torch_grad(xt), rtol=1e-4, atol=1e-5)


def test_inplace_on_non_leaf_not_needed_by_backward():
    def f(m, x):
        y = x * 2
        y.add_(1)
        return (y * y).sum()

    # by hand: y = 2x + 1, d/dx sum(y^2) = 2y * 2 = 4(2x + 1)
    x = gb.tensor([1.0, -2.0, 0.5], requires_grad=True)
    f(gb, x).backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * (2 * np.array([1.0, -2.0, 0.5]) + 1))
    _compare_with_torch(f, [1.0, -2.0, 0.5])


@pytest.mark.parametrize("case", ["mul_", "sub_", "div_", "iadd", "clamp_", "setitem", "copy_"])
def test_inplace_variants_on_non_leaf_match_torch(case):
    def f(m, x):
        y = x * 3
        if case == "mul_":
            y.mul_(x)
        elif case == "sub_":
            y.sub_(x * x)
        elif case == "div_":
            y.div_(2.0)
        elif case == "iadd":
            y += x
        elif case == "clamp_":
            y.clamp_(-1.0, 2.0)
        elif case == "setitem":
            y[1] = x[0] * 5
        elif case == "copy_":
            y.copy_(x.exp())
        return (y * y * x).sum()

    _compare_with_torch(f, [0.3, -0.8, 1.5])


def test_inplace_on_plain_tensor_with_grad_argument_records():
    def f(m, w):
        a = m.zeros(3)
        a.add_(w * 3)
        a[0] = w[1] * w[2]
        return (a * a).sum()

    _compare_with_torch(f, [1.0, 2.0, -0.5])


def test_earlier_consumers_that_did_not_save_the_tensor_still_get_correct_gradient():
    def f(m, x):
        y = x * 2
        z = y + 1          # recorded before mul_, saves nothing
        y.mul_(2)
        return (z * 3 + y * y).sum()

    # by hand: z = 2x + 1, y_final = 4x;  d/dx = 3*2 + 2 * 4x * 4 = 6 + 32x
    v = np.array([1.0, -0.5])
    x = gb.tensor(v, requires_grad=True)
    f(gb, x).backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 + 32 * v, rtol=1e-6)
    _compare_with_torch(f, v)


def test_chain_of_inplace_ops_on_non_leaf():
    def f(m, x):
        y = x + 0
        y.mul_(2)
        y.add_(x)
        y.mul_(3)
        return (y * y).sum()

    # y = (2x + x) * 3 = 9x -> d/dx sum(81 x^2) = 162 x
    v = np.array([1.0, 2.0, -3.0])
    x = gb.tensor(v, requires_grad=True)
    f(gb, x).backward()
    np.testing.assert_allclose(x.grad.numpy(), 162 * v, rtol=1e-6)
    _compare_with_torch(f, v)


def test_inplace_with_itself_as_argument_gives_right_gradient_or_raises():
    # torch raises here (MulBackward saved `other`, which the write changed); a correct gradient is also fine
    v = np.array([1.0, 2.0, -3.0])
    x = gb.tensor(v, requires_grad=True)
    y = x * 3
    y.mul_(y)
    np.testing.assert_allclose(y.detach().numpy(), 9 * v * v, rtol=1e-6)
    try:
        y.sum().backward()
    except RuntimeError as error:
        assert re.search(VERSION_ERROR, str(error))
        return
    np.testing.assert_allclose(x.grad.numpy(), 18 * v, rtol=1e-6)


def test_retain_grad_then_inplace_gives_grad_of_the_new_value():
    # torch: .grad of a retained tensor is the gradient w.r.t. its current (post-write) value
    torch = pytest.importorskip("torch")
    results = []
    for m in (gb, torch):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        y.retain_grad()
        y.mul_(3)
        (y * y).sum().backward()
        results.append((y.grad.numpy() if m is gb else _torch_grad(y), x.grad.numpy() if m is gb else _torch_grad(x)))
    np.testing.assert_allclose(results[0][1], results[1][1])  # d/dx sum((6x)^2) = 72x
    np.testing.assert_allclose(results[0][0], results[1][0])  # d/dy sum(y^2) = 2y = [12, 24]


def test_hook_registered_before_inplace_sees_grad_of_old_value():
    torch = pytest.importorskip("torch")
    seen = []
    for m in (gb, torch):
        calls = []
        x = m.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        y.register_hook(lambda g, calls=calls: calls.append(np.array(g.tolist())))
        y.mul_(3)
        (y * y).sum().backward()
        seen.append(calls)
    assert len(seen[0]) == len(seen[1]) == 1
    np.testing.assert_allclose(seen[0][0], seen[1][0])


def test_zero_on_non_leaf_cuts_the_old_gradient():
    # torch: after y.zero_(), y is a constant 0, so d/dx sum(y + x) = 1
    def f(m, x):
        y = x * 2
        y.zero_()
        return (y + x).sum()

    x = gb.tensor([1.0, 2.0], requires_grad=True)
    f(gb, x).backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 1.0])
    _compare_with_torch(f, [1.0, 2.0])


def test_fill_on_non_leaf_cuts_the_old_gradient():
    # torch: after y.fill_(1), y is the constant 1, so d/dx sum(y * x) = 1
    def f(m, x):
        y = x * 2
        y.fill_(1.0)
        return (y * x).sum()

    x = gb.tensor([1.0, 2.0], requires_grad=True)
    f(gb, x).backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 1.0])
    _compare_with_torch(f, [1.0, 2.0])


# ----- in-place on tensors that backward needs ------------------------------------------------------------------

VERSION_ERROR = r"(?i)in-place|inplace|version"


def test_inplace_on_saved_output_raises():
    x = gb.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()  # backward reads exp's output
    y.add_(1)
    with pytest.raises(RuntimeError, match=VERSION_ERROR):
        y.sum().backward()


def test_inplace_on_saved_input_raises():
    x = gb.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = y * y  # backward reads y
    y.mul_(3)
    with pytest.raises(RuntimeError, match=VERSION_ERROR):
        z.sum().backward()


@pytest.mark.parametrize("modify", [
    lambda y: y.zero_(), lambda y: y.fill_(2.0), lambda y: y.__setitem__(0, 5.0), lambda y: y.clamp_(0, 1),
    lambda y: y.copy_(gb.ones(2)), lambda y: y.__imul__(2),
])
def test_any_inplace_on_saved_tensor_raises(modify):
    x = gb.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = gb.sin(y)  # backward reads y
    modify(y)
    with pytest.raises(RuntimeError, match=VERSION_ERROR):
        z.sum().backward()


def test_inplace_on_view_of_saved_tensor_raises():
    x = gb.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    z = y * y
    with gb.no_grad():
        y[0:2].add_(1)  # writes into y's memory through a view
    with pytest.raises(RuntimeError, match=VERSION_ERROR):
        z.sum().backward()


def test_inplace_through_detached_alias_raises():
    x = gb.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    d = y.detach()  # shares y's memory (and, as in torch, its version counter)
    d.add_(1)
    with pytest.raises(RuntimeError, match=VERSION_ERROR):
        y.sum().backward()


def test_inplace_on_saved_tensor_matches_torch_raising():
    torch = pytest.importorskip("torch")
    xt = torch.tensor([1.0, 2.0], requires_grad=True)
    yt = xt * 2
    zt = yt * yt
    yt.mul_(3)
    with pytest.raises(RuntimeError, match=VERSION_ERROR):
        zt.sum().backward()


def test_view_of_modified_base_gives_right_gradient_or_raises():
    # torch regenerates a view's grad_fn after its base is changed in place: v = (3 * (2x))[:2] -> grad 6
    x = gb.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    v = y[0:2]
    y.mul_(3)
    np.testing.assert_allclose(v.detach().numpy(), [6.0, 12.0])
    try:
        v.sum().backward()
    except RuntimeError:
        return  # refusing is acceptable
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0, 0.0])


def test_inplace_on_view_of_non_leaf_gives_right_gradient_or_raises():
    torch = pytest.importorskip("torch")
    xt = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    yt = xt * 2
    yt[0:2].mul_(xt[1:3])
    (yt * yt).sum().backward()
    x = gb.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    try:
        y[0:2].mul_(x[1:3])
        (y * y).sum().backward()
    except RuntimeError:
        return  # refusing is acceptable
    np.testing.assert_allclose(x.grad.numpy(), _torch_grad(xt), rtol=1e-5)
