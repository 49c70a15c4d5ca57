"""The fused ops stay finite where a naive formula overflows: logits of 1e8 and rows of -inf (masked attention)."""

import numpy as np
import pytest

import glassbox as gb
import glassbox.nn.functional as F

INF = float("inf")


def _finite(t):
    return bool(np.isfinite(t.data).all())


@pytest.mark.parametrize("dtype", [gb.float32, gb.float64])
def test_huge_logits_give_finite_values_and_gradients(dtype):
    logits = gb.tensor([[1e8, 0.0, -1e8], [-1e8, 1e8, 3.0]], dtype=dtype, requires_grad=True)
    target = gb.tensor([0, 2])
    for loss in (F.cross_entropy(logits, target),
                 F.cross_entropy(logits, F.softmax(logits.detach() * 0, dim=1)),  # uniform probability targets
                 F.log_softmax(logits, dim=1).sum(),
                 (F.softmax(logits, dim=1) * gb.tensor([1.0, 2.0, 3.0], dtype=dtype)).sum(),
                 gb.logsumexp(logits, dim=1).sum(),
                 F.binary_cross_entropy_with_logits(logits, gb.ones_like(logits))):
        logits.grad = None
        loss.backward()
        assert _finite(loss), loss
        assert _finite(logits.grad), logits.grad
    # exact values a naive exp() would turn into inf/inf: log_softmax of [1e8, 0, -1e8] is [0, -1e8, -2e8]
    np.testing.assert_allclose(F.log_softmax(logits, dim=1).data[0], [0.0, -1e8, -2e8], rtol=1e-6)
    # the second row's target (logit 3 against 1e8) costs 1e8 - 3 nats
    per_item = F.cross_entropy(logits, target, reduction="none").data
    np.testing.assert_allclose(per_item, [0.0, 1e8 - 3.0], rtol=1e-6)


def test_rows_of_minus_infinity_give_no_nan_gradient():
    x = gb.tensor([[-INF, -INF, -INF], [0.0, -INF, 1.0]], requires_grad=True)
    weights = gb.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    # softmax of an all -inf row is defined as zeros (no probability mass), its gradient as zero
    probabilities = F.softmax(x, dim=1)
    np.testing.assert_array_equal(probabilities.data[0], [0.0, 0.0, 0.0])
    (probabilities * weights).sum().backward()
    assert not np.isnan(x.grad.data).any()
    np.testing.assert_array_equal(x.grad.data[0], [0.0, 0.0, 0.0])
    # log_softmax: -inf stays -inf (log of zero probability); the gradient is finite everywhere
    x.grad = None
    log_probabilities = F.log_softmax(x, dim=1)
    assert np.isneginf(log_probabilities.data[0]).all()
    log_probabilities[1, [0, 2]].sum().backward()
    assert not np.isnan(x.grad.data).any()
    # logsumexp of an all -inf row is -inf, with a zero gradient
    x.grad = None
    lse = gb.logsumexp(x, dim=1)
    assert np.isneginf(lse.data[0])
    lse[1].backward()
    np.testing.assert_array_equal(x.grad.data[0], [0.0, 0.0, 0.0])


def test_cross_entropy_ignores_masked_classes():
    """A class logit of -inf (masked out) that is not the target contributes nothing and gets a zero gradient."""
    x = gb.tensor([[2.0, -INF, 0.5]], requires_grad=True)
    loss = F.cross_entropy(x, gb.tensor([0]))
    loss.backward()
    expected = np.log1p(np.exp(0.5 - 2.0))  # -log softmax over the two unmasked classes
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-6)
    assert x.grad.data[0, 1] == 0.0 and np.isfinite(x.grad.data).all()


def test_sigmoid_never_overflows():
    x = gb.tensor([-1e4, -100.0, 0.0, 100.0, 1e4], requires_grad=True)
    with np.errstate(over="raise"):
        y = gb.sigmoid(x)
    np.testing.assert_allclose(y.data, [0.0, 1 / (1 + np.exp(100.0)), 0.5, 1.0, 1.0], atol=1e-30)
    y.sum().backward()
    assert _finite(x.grad)
