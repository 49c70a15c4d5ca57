"""Reduction primitives: sum, mean, prod, amax/amin, max/min along a dim with indices, logsumexp.

`axis` is None (all elements) or a tuple of non-negative ints; `keepdim` keeps reduced axes as size 1.
"""

import numpy as np

from ..autograd.function import Function


def _expand_back(grad, input_shape, axis, keepdim):
    """Broadcast a reduced gradient back over the input's shape (a read-only view, no copy)."""
    if not keepdim and axis is not None:
        grad = np.expand_dims(grad, axis)
    return np.broadcast_to(grad, input_shape)


class Sum(Function):
    save_inputs = False

    def forward(self, a, axis=None, keepdim=False):
        self.input_shape, self.axis, self.keepdim = a.shape, axis, keepdim
        return np.sum(a, axis=axis, keepdims=keepdim)

    def backward(self, grad):
        # every input element contributes with weight 1
        return _expand_back(grad, self.input_shape, self.axis, self.keepdim)


class Mean(Function):
    save_inputs = False

    def forward(self, a, axis=None, keepdim=False):
        self.input_shape, self.axis, self.keepdim = a.shape, axis, keepdim
        self.count = a.size if axis is None else int(np.prod([a.shape[i] for i in axis]))
        return np.mean(a, axis=axis, keepdims=keepdim)

    def backward(self, grad):
        # every input element contributes with weight 1/n
        return _expand_back(grad / self.count, self.input_shape, self.axis, self.keepdim)


class Prod(Function):
    """Product over one axis (or all elements); the gradient is the product of all *other* elements,
    computed with prefix and suffix products, so zeros in the input give exact gradients (no division)."""

    def forward(self, a, axis=None, keepdim=False):
        self.a, self.axis, self.keepdim = a, axis, keepdim
        return np.prod(a, axis=axis, keepdims=keepdim)

    def backward(self, grad):
        a = self.a
        if self.axis is None:
            flat = a.reshape(-1)
            others = _product_of_others(flat[None, :]).reshape(a.shape)
            return grad * others
        (axis,) = self.axis
        moved = np.moveaxis(a, axis, -1)
        others = np.moveaxis(_product_of_others(moved), -1, axis)
        return _expand_back(grad, a.shape, self.axis, self.keepdim) * others


def _product_of_others(x):
    """For each element along the last axis, the product of the other elements on that axis."""
    ones = np.ones(x.shape[:-1] + (1,), dtype=x.dtype)
    before = np.cumprod(np.concatenate([ones, x[..., :-1]], axis=-1), axis=-1)
    after = np.flip(np.cumprod(np.flip(np.concatenate([x[..., 1:], ones], axis=-1), -1), axis=-1), -1)
    return before * after


class Amax(Function):
    """Maximum over axes; the gradient is shared evenly among tied maxima (PyTorch's amax/max() rule)."""

    save_output = True

    def forward(self, a, axis=None, keepdim=False):
        self.a, self.axis, self.keepdim = a, axis, keepdim
        self.out = np.max(a, axis=axis, keepdims=keepdim)
        return self.out

    def backward(self, grad):
        return _evenly_to_extremes(grad, self.a, self.out, self.axis, self.keepdim)


class Amin(Function):
    save_output = True

    def forward(self, a, axis=None, keepdim=False):
        self.a, self.axis, self.keepdim = a, axis, keepdim
        self.out = np.min(a, axis=axis, keepdims=keepdim)
        return self.out

    def backward(self, grad):
        return _evenly_to_extremes(grad, self.a, self.out, self.axis, self.keepdim)


def _evenly_to_extremes(grad, a, out, axis, keepdim):
    extreme = _expand_back(out, a.shape, axis, keepdim)
    hits = a == extreme
    count = np.sum(hits, axis=axis, keepdims=True)
    grad = grad if keepdim or axis is None else np.expand_dims(grad, axis)
    return np.where(hits, grad / count, 0).astype(grad.dtype, copy=False)


class SelectAlongDim(Function):
    """The values at given `indices` along one axis (max(dim)/min(dim) values); the gradient goes to exactly
    those positions, like PyTorch's max(dim)."""

    save_inputs = False

    def forward(self, a, indices, axis, keepdim=False):
        self.input_shape, self.axis, self.keepdim = a.shape, axis, keepdim
        self.indices = np.expand_dims(indices, axis)
        values = np.take_along_axis(a, self.indices, axis=axis)
        return values if keepdim else np.squeeze(values, axis)

    def backward(self, grad):
        full = np.zeros(self.input_shape, dtype=grad.dtype)
        grad = grad if self.keepdim else np.expand_dims(grad, self.axis)
        np.put_along_axis(full, self.indices, grad, axis=self.axis)
        return full


class LogSumExp(Function):
    """log(sum(exp(a))) over axes, shifted by the maximum so that large values cannot overflow."""

    save_output = True

    def forward(self, a, axis=None, keepdim=False):
        self.a, self.axis, self.keepdim = a, axis, keepdim
        shift = np.max(a, axis=axis, keepdims=True)
        shift = np.where(np.isfinite(shift), shift, 0)  # rows of -inf (or inf) must not give inf - inf
        with np.errstate(divide="ignore"):
            out = np.log(np.sum(np.exp(a - shift), axis=axis, keepdims=True)) + shift
        self.out_keepdim = out
        if keepdim:
            return out
        return out.reshape(()) if axis is None else np.squeeze(out, axis)

    def backward(self, grad):
        # d lse / da_i = exp(a_i - lse) = softmax(a)_i; an all -inf row has lse -inf, and its gradient is 0
        lse = np.where(np.isfinite(self.out_keepdim), self.out_keepdim, 0)
        weights = np.where(np.isneginf(self.a), 0, np.exp(self.a - lse))
        grad = grad if self.keepdim else (grad.reshape((1,) * self.a.ndim) if self.axis is None
                                          else np.expand_dims(grad, self.axis))
        return grad * weights
