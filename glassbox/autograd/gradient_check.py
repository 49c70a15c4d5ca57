"""gradcheck: compare the gradients backward() computes with float64 central differences of the forward pass."""

import numpy as np

from ..tensor import Tensor
from . import grad_mode


class GradcheckError(AssertionError):
    """Raised when analytical and numerical gradients disagree; the message names the worst element."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _evaluate(fn, inputs):
    """Run fn with autograd off and return its outputs as float64 arrays."""
    with grad_mode.no_grad():
        outputs = _as_tuple(fn(*inputs))
    return [o.data.astype(np.float64) for o in outputs if isinstance(o, Tensor)]


def _output_directions(fn, inputs, rng):
    """A random cotangent u for every floating output: we compare u . J computed both ways."""
    outputs = [o for o in _as_tuple(fn(*inputs)) if isinstance(o, Tensor)]
    return outputs, [rng.standard_normal(o.shape) for o in outputs]


def _analytical(fn, inputs, checked, directions_rng):
    outputs, us = _output_directions(fn, inputs, directions_rng)
    for t in checked:
        t.grad = None
    differentiable = [(o, u) for o, u in zip(outputs, us) if o.requires_grad]
    if not differentiable:
        raise GradcheckError("gradcheck: no output requires grad; does fn use its inputs?")
    total = None
    for o, u in differentiable:
        # sum_k <u_k, out_k> is a scalar whose gradient is u . J: one backward pass covers every output
        term = (o * Tensor._make(u.astype(o.dtype))).sum()
        total = term if total is None else total + term
    total.backward()
    grads = [np.zeros(t.shape) if t.grad is None else t.grad.data.astype(np.float64) for t in checked]
    return grads, us


def _numerical_along(fn, inputs, t, direction, eps, us):
    """d/dh of sum_k <u_k, out_k(x + h * direction)> at h = 0, by central differences."""
    original = t.data.copy()
    t.data[...] = original + eps * direction
    plus = _evaluate(fn, inputs)
    t.data[...] = original - eps * direction
    minus = _evaluate(fn, inputs)
    t.data[...] = original
    return sum(float(np.sum(u * (p - m))) for u, p, m in zip(us, plus, minus)) / (2 * eps)


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, random_directions=None, seed=0, raise_exception=True):
    """Check that backward() of `fn(*inputs)` matches finite differences, for every input that requires grad.

    Inputs that require grad must be float64. By default every element is perturbed (fine for small inputs);
    with `random_directions=k`, k random directions v are checked instead: <v, J^T u> against the finite
    difference along v, which scales to large layers. Returns True, or raises GradcheckError naming the input,
    the worst element, both values and the tolerance (or returns False when raise_exception=False).
    """
    inputs = _as_tuple(inputs)
    checked = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad; create inputs with requires_grad=True")
    for i, t in enumerate(checked):
        if t.dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} is {t.dtype}; finite differences need float64 "
                            "(use .double() or dtype=glassbox.float64)")
    rng = np.random.default_rng(seed)
    analytical, us = _analytical(fn, inputs, checked, rng)
    failure = None
    for index, (t, grad) in enumerate(zip(checked, analytical)):
        if random_directions:
            for k in range(random_directions):
                v = rng.standard_normal(t.shape)
                expected = _numerical_along(fn, inputs, t, v, eps, us)
                actual = float(np.sum(grad * v))
                error = abs(actual - expected) - (atol + rtol * abs(expected))
                error = np.inf if np.isnan(error) else error
                if error > 0 and (failure is None or error > failure[0]):
                    failure = (error, f"input {index} (shape {t.shape}), random direction {k}: analytical "
                                      f"<v, grad> = {actual:.8g}, numerical = {expected:.8g}")
            continue
        numerical = np.zeros(t.shape)
        for position in np.ndindex(*t.shape):
            e = np.zeros(t.shape)
            e[position] = 1.0
            numerical[position] = _numerical_along(fn, inputs, t, e, eps, us)
        excess = np.abs(grad - numerical) - (atol + rtol * np.abs(numerical))
        excess = np.where(np.isnan(excess), np.inf, excess)  # a NaN on either side is a failure, not a pass
        if excess.size and excess.max() > 0:
            worst = np.unravel_index(int(np.argmax(excess)), t.shape)
            if failure is None or excess[worst] > failure[0]:
                failure = (excess[worst], f"input {index} (shape {t.shape}) at element {tuple(int(i) for i in worst)}: "
                                          f"analytical {grad[worst]:.8g}, numerical {numerical[worst]:.8g}")
    if failure is None:
        return True
    message = (f"gradcheck failed: {failure[1]}; |difference| exceeds atol + rtol * |numerical| "
               f"(atol={atol}, rtol={rtol}) by {failure[0]:.3g}")
    if raise_exception:
        raise GradcheckError(message)
    return False
