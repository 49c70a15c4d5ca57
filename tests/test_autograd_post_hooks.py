"""Tensor.register_post_accumulate_grad_hook and autograd's queue_callback (what data-parallel training uses to
start reducing a layer's gradients while backward still runs through the layers before it)."""

import numpy as np
import pytest

import glassbox as gb
from glassbox import nn
from glassbox.autograd import engine


def _net():
    gb.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


def test_each_hook_fires_once_with_the_final_gradient():
    net = _net()
    x = gb.randn(5, 3)
    net(x).sum().backward()
    expected = {name: p.grad.data.copy() for name, p in net.named_parameters()}
    net.zero_grad(set_to_none=True)
    seen = {}
    for name, param in net.named_parameters():
        param.register_post_accumulate_grad_hook(lambda p, name=name: seen.setdefault(name, []).append(
            p.grad.data.copy()))
    net(x).sum().backward()
    assert sorted(seen) == sorted(expected)
    for name, grads in seen.items():
        assert len(grads) == 1
        np.testing.assert_array_equal(grads[0], expected[name])
        np.testing.assert_array_equal(dict(net.named_parameters())[name].grad.data, expected[name])


def test_hooks_fire_during_backward_from_the_last_layer_to_the_first():
    net = _net()
    first, last = net[0].weight, net[2].weight
    first_grad_when_last_was_ready = []
    last.register_post_accumulate_grad_hook(lambda p: first_grad_when_last_was_ready.append(first.grad))
    first.register_post_accumulate_grad_hook(lambda p: None)
    net(gb.randn(5, 3)).sum().backward()
    assert first_grad_when_last_was_ready == [None]  # the first layer's gradient did not exist yet
    assert first.grad is not None


def test_a_parameter_used_twice_is_final_only_after_both_uses():
    weight = nn.Parameter(gb.tensor([[1.0, 2.0], [3.0, -1.0]]))
    x = gb.tensor([[0.5, -1.5]])
    calls = []
    weight.register_post_accumulate_grad_hook(lambda p: calls.append(p.grad.data.copy()))
    (x @ weight @ weight).sum().backward()
    # d/dW sum(x W W) = x^T (1 W^T) + (x W)^T 1, by hand
    ones = np.ones((1, 2))
    w, xa = weight.data, x.data
    expected = xa.T @ (ones @ w.T) + (xa @ w).T @ ones
    assert len(calls) == 1
    np.testing.assert_allclose(calls[0], expected)


def test_gradients_accumulate_across_backward_calls_with_hooks_as_without():
    net = _net()
    x = gb.randn(4, 3)
    for _ in range(2):
        net(x).pow(2).sum().backward()
    expected = [p.grad.data.copy() for p in net.parameters()]
    net.zero_grad(set_to_none=True)
    before = engine._post_hook_count
    handles = [p.register_post_accumulate_grad_hook(lambda p: None) for p in net.parameters()]
    assert engine._post_hook_count == before + 4
    for _ in range(2):
        net(x).pow(2).sum().backward()
    for param, grad in zip(net.parameters(), expected):
        np.testing.assert_allclose(param.grad.data, grad, rtol=1e-6)
    for handle in handles:
        handle.remove()
    assert engine._post_hook_count == before


def test_hooks_of_a_tensor_that_died_stop_counting():
    import gc

    gc.collect()
    before = engine._post_hook_count
    param = nn.Parameter(gb.ones(3))
    param.register_post_accumulate_grad_hook(lambda p: None)
    param.register_post_accumulate_grad_hook(lambda p: None)
    assert engine._post_hook_count == before + 2
    del param
    gc.collect()
    assert engine._post_hook_count == before


def test_queued_callback_runs_once_after_every_gradient_is_final():
    net = _net()
    order = []

    def hook(param):
        if not order:
            engine.queue_callback(lambda: order.append(("done", all(p.grad is not None for p in net.parameters()))))
        order.append("hook")

    handles = [p.register_post_accumulate_grad_hook(hook) for p in net.parameters()]
    net(gb.randn(2, 3)).sum().backward()
    assert order[:4] == ["hook"] * 4 and order[4] == ("done", True) and len(order) == 5
    for handle in handles:
        handle.remove()


def test_only_leaves_that_require_grad_take_the_hook():
    with pytest.raises(RuntimeError, match="does not require grad"):
        gb.ones(2).register_post_accumulate_grad_hook(lambda p: None)
    leaf = gb.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="not a leaf"):
        (leaf * 2).register_post_accumulate_grad_hook(lambda p: None)
