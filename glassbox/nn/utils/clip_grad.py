"""Gradient clipping: rescale all gradients to a maximum total norm, or clamp each element to a range."""

import math
import types
import warnings

import numpy as np

from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _as_list(parameters):
    if isinstance(parameters, Tensor):
        return [parameters]
    is_generator = isinstance(parameters, types.GeneratorType)
    parameters = list(parameters)  # a generator can be read only once, and is read twice below
    if is_generator and not parameters:
        warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.", stacklevel=3)
    return parameters


def _vector_norm(x, norm_type):
    """The p-norm of all elements of `x` as a NumPy scalar of x's dtype, like torch.linalg.vector_norm."""
    x = x.ravel()
    if norm_type == 2:
        return np.sqrt(np.dot(x, x))  # one BLAS dot, no |x| copy
    if norm_type == 0:
        return x.dtype.type(np.count_nonzero(x))
    a = np.abs(x)
    if norm_type == math.inf:
        return a.max(initial=0)
    if norm_type == -math.inf:
        return a.min()
    if norm_type == 1:
        return a.sum()
    return np.sum(a**norm_type) ** (1.0 / norm_type)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=True, foreach=None):
    """Scale the gradients of `parameters` (a Tensor or an iterable of them) in place so that their total norm,
    computed as if all gradients were one vector, is at most `max_norm`; returns the total norm before clipping
    (a 0-d Tensor).

    The scale is max_norm / (total_norm + 1e-6), applied only when it is below 1 (torch clamps it at 1, which is the
    same). `norm_type` is any p, or inf for the largest absolute value. Parameters whose grad is None are skipped.

    Unlike torch, whose default is error_if_nonfinite=False, glassbox fails loudly by default: a NaN or infinite
    total norm raises RuntimeError, because scaling by it would silently turn every gradient into NaN or zero.
    Pass error_if_nonfinite=False to get torch's behaviour (the gradients are then scaled by the non-finite norm
    anyway). `foreach` is accepted for torch compatibility and ignored.
    """
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    norm_type = float(norm_type)
    if not grads:
        return Tensor._make(np.array(0.0, dtype=np.float32))
    norms = np.stack([_vector_norm(g.data, norm_type) for g in grads])
    total_norm = _vector_norm(norms, norm_type)
    if error_if_nonfinite and not np.isfinite(total_norm):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite "
                           f"({total_norm}), so it cannot be clipped. To disable this error and scale the gradients "
                           "by the non-finite norm anyway, set `error_if_nonfinite=False`")
    clip_coef = float(max_norm) / (total_norm + 1e-6)  # stays in the grads' dtype: the Python floats are weak
    if not clip_coef >= 1.0:  # below 1, or NaN: torch's clamp(max=1) keeps a NaN coefficient, so do we
        # With a non-finite norm the caller asked for this (error_if_nonfinite=False): inf * 0 = NaN is expected.
        with np.errstate(invalid="ignore"):
            for g in grads:
                g.data *= clip_coef
                g._version[0] += 1
    return Tensor._make(np.asarray(total_norm))


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element of `parameters` (a Tensor or an iterable of them) to [-clip_value, clip_value]
    in place. `foreach` is accepted for torch compatibility and ignored."""
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            np.clip(p.grad.data, -clip_value, clip_value, out=p.grad.data)
            p.grad._version[0] += 1
