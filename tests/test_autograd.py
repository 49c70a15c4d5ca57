"""Autograd structure: fan-out, reuse, accumulation, grad modes, retain_graph, hooks, deep graphs, broadcasting.

Oracles: derivatives worked out by hand (written next to each test) and PyTorch where convenient.
"""

import numpy as np
import pytest

import glassbox as gb


@pytest.fixture(autouse=True)
def _restore_grad_mode():
    """A failing grad-mode test must not leave grad mode off for the tests that follow."""
    previous = gb.is_grad_enabled()
    yield
    gb.set_grad_enabled(previous)


def _x64(values, requires_grad=True):
    return gb.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


# ----- graph structure ------------------------------------------------------------------------------------------


def test_fan_out_one_tensor_feeds_several_ops():
    v = np.array([-1.5, 0.0, 0.7, 2.0])
    x = _x64(v)
    y = x * x + x * 3 + gb.sin(x)
    y.sum().backward()
    # d/dx (x^2 + 3x + sin x) = 2x + 3 + cos x
    np.testing.assert_allclose(x.grad.numpy(), 2 * v + 3 + np.cos(v), rtol=1e-12)


def test_reuse_of_a_non_leaf_in_several_places():
    v = np.array([-0.5, 0.3, 1.2])
    x = _x64(v)
    y = gb.exp(x)
    z = y * y + gb.sin(y) + y
    z.sum().backward()
    # z = e^{2x} + sin(e^x) + e^x  ->  dz/dx = (2y + cos y + 1) * y
    e = np.exp(v)
    np.testing.assert_allclose(x.grad.numpy(), (2 * e + np.cos(e) + 1) * e, rtol=1e-12)


def test_diamond_graph():
    v = np.array([0.5, -2.0, 3.0])
    x = _x64(v)
    a = x * 2
    b = x * 3
    c = a * b  # = 6 x^2
    c.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 12 * v, rtol=1e-12)


def test_deeper_diamond_with_shared_middle():
    v = np.array([0.2, 0.9])
    x = _x64(v)
    m = x * x          # m = x^2
    left = gb.exp(m)   # e^{x^2}
    right = m * 5      # 5 x^2
    out = (left * right).sum()  # f = 5 x^2 e^{x^2}
    out.backward()
    # f' = 10 x e^{x^2} + 5 x^2 * 2x e^{x^2} = e^{x^2} (10 x + 10 x^3)
    np.testing.assert_allclose(x.grad.numpy(), np.exp(v * v) * (10 * v + 10 * v ** 3), rtol=1e-12)


def test_input_used_twice_in_one_op():
    v = np.array([-3.0, 0.5, 4.0])
    x = _x64(v)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * v)
    y = _x64(v)
    (y / y).sum().backward()  # d/dy (y/y) = 0
    np.testing.assert_allclose(y.grad.numpy(), 0.0, atol=1e-15)
    z = _x64(v)
    (z + z).sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), 2.0)


def test_fan_out_matches_torch():
    torch = pytest.importorskip("torch")
    v = np.array([[0.3, -1.2, 2.0], [0.1, 0.5, -0.7]], dtype=np.float32)

    def f(m, x):
        h = m.tanh(x)
        a = h * x
        b = m.exp(h) + a
        return (a * b + h.sum(0) * x).sum()

    gx = gb.tensor(v, requires_grad=True)
    f(gb, gx).backward()
    tx = torch.tensor(v, requires_grad=True)
    f(torch, tx).backward()
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-3, atol=1e-4)


# ----- accumulation and zeroing ---------------------------------------------------------------------------------


def test_gradients_accumulate_across_backward_calls():
    v = np.array([1.0, -2.0])
    x = _x64(v)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * v)
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * v + 3)


def test_zeroing_grad_with_none():
    x = _x64([1.0, 2.0])
    (x * 5).sum().backward()
    x.grad = None
    assert x.grad is None
    (x * 7).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [7.0, 7.0])


def test_grad_held_by_user_is_not_changed_by_zeroing_none():
    x = _x64([1.0, 2.0])
    (x * 5).sum().backward()
    kept = x.grad
    x.grad = None
    (x * 7).sum().backward()
    np.testing.assert_allclose(kept.numpy(), [5.0, 5.0])


def test_leaf_grads_do_not_alias_each_other():
    a = _x64([1.0, 2.0])
    b = _x64([3.0, 4.0])
    (a + b).sum().backward()
    a.grad.data += 1
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0])
    np.testing.assert_allclose(a.grad.numpy(), [2.0, 2.0])


def test_leaf_grads_do_not_alias_each_other_without_reduction():
    a = _x64([1.0, 2.0])
    b = _x64([3.0, 4.0])
    c = _x64([5.0, 6.0])
    (a + b - c).backward(gradient=gb.tensor([1.0, 1.0], dtype=gb.float64))
    a.grad.data[0] = 99.0
    b.grad.data[1] = -99.0
    np.testing.assert_allclose(a.grad.numpy(), [99.0, 1.0])
    np.testing.assert_allclose(b.grad.numpy(), [1.0, -99.0])
    np.testing.assert_allclose(c.grad.numpy(), [-1.0, -1.0])


def test_leaf_grad_does_not_alias_the_gradient_argument():
    x = _x64([1.0, 2.0])
    g = gb.tensor([1.0, 1.0], dtype=gb.float64)
    (x + 0).backward(gradient=g)
    x.grad.data += 5
    np.testing.assert_allclose(g.numpy(), [1.0, 1.0])


def test_leaf_grad_does_not_alias_a_tensor_returned_by_a_hook():
    # torch clones a hook's result before storing it as .grad when the caller still holds it
    saved = gb.tensor([5.0, 5.0], dtype=gb.float64)
    x = _x64([1.0, 2.0])
    x.register_hook(lambda g: saved)
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 5.0])
    with gb.no_grad():
        x.grad.add_(1)  # e.g. an optimizer adding weight decay to the gradient in place
    np.testing.assert_allclose(saved.numpy(), [5.0, 5.0])


def test_leaf_grad_does_not_alias_a_tensor_returned_by_a_non_leaf_hook():
    saved = gb.tensor([3.0, 3.0], dtype=gb.float64)
    x = _x64([1.0, 2.0])
    y = x.clone()
    y.register_hook(lambda g: saved)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])
    with gb.no_grad():
        x.grad.add_(1)
    np.testing.assert_allclose(saved.numpy(), [3.0, 3.0])


def test_accumulation_updates_the_same_grad_tensor():
    x = _x64([1.0, 2.0])
    (x * 2).sum().backward()
    g = x.grad
    (x * 3).sum().backward()
    assert x.grad is g  # like torch, .grad is accumulated into, not replaced by a new tensor
    np.testing.assert_allclose(g.numpy(), [5.0, 5.0])


def test_leaf_that_does_not_require_grad_gets_no_grad():
    x = _x64([1.0, 2.0])
    c = _x64([3.0, 4.0], requires_grad=False)
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 4.0])


# ----- grad modes -----------------------------------------------------------------------------------------------


def test_no_grad_records_nothing():
    x = _x64([1.0, 2.0])
    with gb.no_grad():
        y = x * 2
        assert gb.is_grad_enabled() is False
    assert gb.is_grad_enabled() is True
    assert y.requires_grad is False
    assert y.grad_fn is None
    with pytest.raises(RuntimeError):
        y.sum().backward()


def test_no_grad_as_decorator():
    x = _x64([1.0, 2.0])

    @gb.no_grad()
    def f(t):
        return t * 2, gb.is_grad_enabled()

    y, enabled = f(x)
    assert enabled is False
    assert y.requires_grad is False
    assert gb.is_grad_enabled() is True
    assert f.__name__ == "f"


def test_no_grad_as_bare_decorator():
    # torch >= 2.0 accepts @torch.no_grad without parentheses
    x = _x64([1.0, 2.0])

    @gb.no_grad
    def f(t):
        return t * 2

    assert f(x).requires_grad is False
    assert gb.is_grad_enabled() is True


def test_no_grad_restores_state_after_exception():
    with pytest.raises(ValueError):
        with gb.no_grad():
            raise ValueError("boom")
    assert gb.is_grad_enabled() is True


def test_enable_grad_inside_no_grad():
    x = _x64([1.0, 2.0])
    with gb.no_grad():
        with gb.enable_grad():
            assert gb.is_grad_enabled() is True
            y = x * 3
        z = x * 3
        assert gb.is_grad_enabled() is False
    assert y.requires_grad is True and y.grad_fn is not None
    assert z.requires_grad is False
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_enable_grad_as_decorator_inside_no_grad():
    x = _x64([1.0])

    @gb.enable_grad()
    def f(t):
        return t * 2

    with gb.no_grad():
        y = f(x)
        assert gb.is_grad_enabled() is False
    assert y.requires_grad is True


def test_set_grad_enabled_as_context():
    x = _x64([1.0, 2.0])
    with gb.set_grad_enabled(False):
        assert gb.is_grad_enabled() is False
        y = x * 2
    assert gb.is_grad_enabled() is True
    assert y.requires_grad is False
    with gb.no_grad():
        with gb.set_grad_enabled(True):
            z = x * 2
        assert gb.is_grad_enabled() is False
    assert z.requires_grad is True


def test_set_grad_enabled_as_function():
    x = _x64([1.0, 2.0])
    gb.set_grad_enabled(False)
    try:
        assert gb.is_grad_enabled() is False
        y = x * 2
    finally:
        gb.set_grad_enabled(True)
    assert gb.is_grad_enabled() is True
    assert y.requires_grad is False
    assert (x * 2).requires_grad is True


def test_set_grad_enabled_as_decorator():
    # torch.set_grad_enabled(False) also decorates; glassbox's docstring promises the same
    x = _x64([1.0])
    try:
        @gb.set_grad_enabled(False)
        def f(t):
            return t * 2

        enabled_after_decorating = gb.is_grad_enabled()
        y = f(x)
    finally:
        gb.set_grad_enabled(True)
    assert enabled_after_decorating is True  # decorating must not switch grad mode off globally
    assert y.requires_grad is False


def test_detach_stops_gradient():
    v = np.array([1.0, 3.0])
    x = _x64(v)
    (x * x.detach()).sum().backward()
    # the detached factor is a constant: d/dx (x * c) = c = x
    np.testing.assert_allclose(x.grad.numpy(), v)
    y = _x64(v)
    z = (y * 2).detach()
    assert z.requires_grad is False
    w = (z * y).sum()
    w.backward()
    np.testing.assert_allclose(y.grad.numpy(), 2 * v)


# ----- backward() arguments -------------------------------------------------------------------------------------


def test_retain_graph_allows_second_backward():
    v = np.array([1.0, 2.0])
    x = _x64(v)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * v)


def test_second_backward_without_retain_graph_raises():
    x = _x64([1.0, 2.0])
    y = (gb.exp(x) * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_backward_with_gradient_for_non_scalar():
    v = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])
    g = np.array([[0.1, 0.2, 0.3], [1.0, -1.0, 2.0]])
    x = _x64(v)
    y = x * x
    y.backward(gradient=gb.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), 2 * v * g, rtol=1e-12)


def test_backward_on_non_scalar_without_gradient_raises_naming_shape():
    x = _x64(np.ones((2, 3)))
    y = x * 2
    with pytest.raises(RuntimeError) as info:
        y.backward()
    assert "(2, 3)" in str(info.value) or "[2, 3]" in str(info.value)


def test_backward_on_one_element_non_scalar_is_implicit():
    x = _x64([[2.0]])
    (x * x).backward()
    np.testing.assert_allclose(x.grad.numpy(), [[4.0]])


def test_backward_with_wrong_gradient_shape_raises():
    x = _x64([1.0, 2.0])
    with pytest.raises(RuntimeError):
        (x * 2).backward(gradient=gb.ones(3, dtype=gb.float64))


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError):
        gb.tensor([1.0, 2.0]).sum().backward()


# ----- retain_grad and hooks ------------------------------------------------------------------------------------


def test_non_leaf_grad_is_none_without_retain_grad():
    x = _x64([1.0, 2.0])
    y = x * 3
    (y * y).sum().backward()
    assert y.grad is None


def test_retain_grad_keeps_non_leaf_grad():
    v = np.array([1.0, 2.0])
    x = _x64(v)
    y = x * 3
    y.retain_grad()
    (y * y).sum().backward()
    # d/dy sum(y^2) = 2y = 6x
    np.testing.assert_allclose(y.grad.numpy(), 6 * v)
    np.testing.assert_allclose(x.grad.numpy(), 18 * v)


def test_retains_grad_flag_before_and_after_backward():
    x = _x64([1.0, 2.0])
    y = x * 2
    assert y.retains_grad is False
    y.retain_grad()
    assert y.retains_grad is True
    (y * y).sum().backward()
    assert y.retains_grad is True  # torch: still True after the graph was freed
    np.testing.assert_allclose(y.grad.numpy(), [4.0, 8.0])
    assert x.retains_grad is False  # leaves never "retain": they always keep .grad


def test_retain_grad_accumulates_fan_out():
    x = _x64([1.0, 2.0])
    y = x * 1
    y.retain_grad()
    (y * 2 + y * 5).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [7.0, 7.0])


def test_hook_on_leaf_sees_gradient_and_can_replace_it():
    x = _x64([1.0, 2.0])
    seen = []

    def hook(g):
        seen.append(g.numpy().copy())
        return g * 10

    handle = x.register_hook(hook)
    (x * 3 + x).sum().backward()
    assert len(seen) == 1  # called once with the summed gradient
    np.testing.assert_allclose(seen[0], [4.0, 4.0])
    np.testing.assert_allclose(x.grad.numpy(), [40.0, 40.0])
    handle.remove()
    x.grad = None
    (x * 3).sum().backward()
    assert len(seen) == 1
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_hook_returning_none_leaves_gradient():
    x = _x64([1.0, 2.0])
    calls = []
    x.register_hook(lambda g: calls.append(1))
    (x * 2).sum().backward()
    assert calls == [1]
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_hook_on_non_leaf_sees_gradient_and_can_replace_it():
    v = np.array([1.0, 2.0])
    x = _x64(v)
    y = x * x
    seen = []

    def hook(g):
        seen.append(g.numpy().copy())
        return g * 2

    handle = y.register_hook(hook)
    (y * 3).sum().backward()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], [3.0, 3.0])
    # dL/dy replaced by 6, so dL/dx = 6 * 2x
    np.testing.assert_allclose(x.grad.numpy(), 12 * v)
    handle.remove()
    x.grad = None
    y2 = x * x
    y2.register_hook(lambda g: g * 100)
    (y2 * 3).sum().backward()  # a hook on another tensor; y's removed hook no longer applies anywhere
    np.testing.assert_allclose(x.grad.numpy(), 600 * v)


def test_removed_non_leaf_hook_is_not_called():
    x = _x64([1.0, 2.0])
    y = x * 2
    calls = []
    handle = y.register_hook(lambda g: calls.append(1))
    handle.remove()
    (y * 1).sum().backward(retain_graph=True)
    assert calls == []
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_hooks_match_torch():
    torch = pytest.importorskip("torch")
    v = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    results = []
    for m in (gb, torch):
        x = m.tensor(v, requires_grad=True)
        y = m.tanh(x)
        y.register_hook(lambda g: g * g + 1)
        x.register_hook(lambda g: g - 0.5)
        (y * y * x).sum().backward()
        results.append(x.grad.numpy() if m is gb else x.grad.detach().numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-4, atol=1e-5)


def test_register_hook_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError):
        gb.tensor([1.0]).register_hook(lambda g: g)


# ----- deep graphs ----------------------------------------------------------------------------------------------


def test_chain_of_100000_ops_backpropagates_without_recursion_error():
    n = 100_000
    factor = 1.0000001
    x = gb.tensor([1.0, 2.0], dtype=gb.float64, requires_grad=True)
    y = x
    for _ in range(n):
        y = y * factor
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [factor ** n] * 2, rtol=1e-9)
    np.testing.assert_allclose(y.detach().numpy(), np.array([1.0, 2.0]) * factor ** n, rtol=1e-9)


def test_long_chain_freed_without_backward():
    # dropping a very deep graph must not crash on recursive deallocation
    x = gb.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(50_000):
        y = y + 0.0
    del y
    z = (x * 2).sum()
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0])


# ----- broadcasting and dtypes ----------------------------------------------------------------------------------


def test_broadcasting_gradients_are_summed_back():
    av = np.array([[1.0], [2.0], [3.0]])
    bv = np.array([[10.0, 20.0, 30.0, 40.0]])
    w = np.arange(12.0).reshape(3, 4)
    a, b = _x64(av), _x64(bv)
    ((a + b) * gb.tensor(w)).sum().backward()
    assert a.grad.shape == (3, 1)
    assert b.grad.shape == (1, 4)
    np.testing.assert_allclose(a.grad.numpy(), w.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(b.grad.numpy(), w.sum(axis=0, keepdims=True))


def test_broadcasting_product_gradients():
    av = np.array([[1.0], [2.0], [3.0]])
    bv = np.array([[10.0, 20.0, 30.0, 40.0]])
    a, b = _x64(av), _x64(bv)
    (a * b).sum().backward()
    # d/da_i sum_ij a_i b_j = sum_j b_j ; d/db_j = sum_i a_i
    np.testing.assert_allclose(a.grad.numpy(), np.full((3, 1), bv.sum()))
    np.testing.assert_allclose(b.grad.numpy(), np.full((1, 4), av.sum()))


def test_broadcasting_over_added_leading_dims():
    bias = _x64([1.0, 2.0, 3.0])
    x = _x64(np.ones((2, 4, 3)), requires_grad=False)
    (x * bias).sum().backward()
    assert bias.grad.shape == (3,)
    np.testing.assert_allclose(bias.grad.numpy(), [8.0, 8.0, 8.0])
    s = _x64(2.0)
    (x * s).sum().backward()
    assert s.grad.shape == ()
    np.testing.assert_allclose(s.grad.numpy(), 24.0)


def test_broadcasting_gradients_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    shapes = [(2, 1, 3), (4, 1), (1,), ()]
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = []
    for m in (gb, torch):
        ts = [m.tensor(a, requires_grad=True) for a in arrays]
        out = (ts[0] * ts[1] + ts[2]) * ts[3] - ts[1]
        (out * out).sum().backward()
        grads.append([t.grad.numpy() if m is gb else t.grad.detach().numpy() for t in ts])
    for g, t, s in zip(grads[0], grads[1], shapes):
        assert g.shape == s
        np.testing.assert_allclose(g, t, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("dtype", [gb.float32, gb.float64])
def test_gradient_dtype_matches_tensor_dtype(dtype):
    x = gb.tensor([1.0, 2.0], dtype=dtype, requires_grad=True)
    (gb.exp(x) * 2 + x * 0.5).sum().backward()
    assert x.grad.dtype == dtype
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([1.0, 2.0]) + 0.5, rtol=1e-6)


def test_float64_gradient_keeps_precision():
    x = gb.tensor([1.0], dtype=gb.float64, requires_grad=True)
    (x * (1 + 1e-12)).sum().backward()
    assert x.grad.item() == 1 + 1e-12  # exact only in float64


def test_gradcheck_passes_for_a_composite():
    x = _x64([[0.3, -0.4], [1.1, 0.2]])
    w = _x64([[0.5], [-1.5]])
    assert gb.autograd.gradcheck(lambda a, b: gb.tanh(a @ b) * a, (x, w))
