"""Reductions with PyTorch names and `dim`/`keepdim` arguments: sum, mean, var, std, max/min, prod, logsumexp."""

import builtins
from collections import namedtuple

import numpy as np

from .. import dtypes
from ..ops import reduce as red
from ..tensor import Tensor, normalize_dim
from .arithmetic import sqrt, sub
from .operands import cast, reduce_dims

__all__ = ["all", "amax", "amin", "any", "argmax", "argmin", "count_nonzero", "logsumexp", "max", "mean", "min",
           "prod", "std", "sum", "var"]


# What max(dim=...) / min(dim=...) return, like torch.return_types.max.
ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])


def sum(input, dim=None, keepdim=False, dtype=None):
    """Sum over `dim` (an int, a tuple, or None for all elements). Bool and int tensors sum to int64."""
    if dtype is not None:
        input = cast(input, dtypes.as_dtype(dtype))
    elif input.data.dtype.kind in "bui" and input.data.dtype != dtypes.int64:
        input = cast(input, dtypes.int64)
    return red.Sum.apply(input, axis=reduce_dims(dim, input.ndim, "sum"), keepdim=keepdim)


def mean(input, dim=None, keepdim=False, dtype=None):
    if dtype is not None:
        input = cast(input, dtypes.as_dtype(dtype))
    if input.data.dtype.kind != "f":
        raise TypeError(f"mean(): could not infer output dtype: input dtype must be floating point, got "
                        f"{input.data.dtype}; call .float() first or pass dtype=")
    return red.Mean.apply(input, axis=reduce_dims(dim, input.ndim, "mean"), keepdim=keepdim)


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def var(input, dim=None, unbiased=None, keepdim=False, correction=None):
    """Variance sum((x - mean)^2) / (n - correction); correction=1 (Bessel) by default, as in PyTorch."""
    if input.data.dtype.kind != "f":
        raise TypeError(f"var: expected a floating-point tensor, got dtype {input.data.dtype}")
    axes = reduce_dims(dim, input.ndim, "var")
    count = input.numel() if axes is None else int(np.prod([input.shape[a] for a in axes]))
    centered = sub(input, mean(input, dim=axes, keepdim=True))
    squares = sum(centered * centered, dim=axes, keepdim=keepdim)
    return squares / builtins.max(count - _correction(unbiased, correction), 0)


def std(input, dim=None, unbiased=None, keepdim=False, correction=None):
    return sqrt(var(input, dim=dim, unbiased=unbiased, keepdim=keepdim, correction=correction))


def prod(input, dim=None, keepdim=False, dtype=None):
    if dtype is not None:
        input = cast(input, dtypes.as_dtype(dtype))
    if dim is not None and not isinstance(dim, (int, np.integer)):
        raise TypeError(f"prod: dim must be a single int (as in PyTorch), got {dim!r}")
    return red.Prod.apply(input, axis=reduce_dims(dim, input.ndim, "prod"), keepdim=keepdim)


def amax(input, dim=None, keepdim=False):
    """Maximum over `dim` (int, tuple or None); the gradient is shared evenly among tied maxima."""
    _check_nonempty(input, "amax")
    return red.Amax.apply(input, axis=reduce_dims(dim, input.ndim, "amax"), keepdim=keepdim)


def amin(input, dim=None, keepdim=False):
    _check_nonempty(input, "amin")
    return red.Amin.apply(input, axis=reduce_dims(dim, input.ndim, "amin"), keepdim=keepdim)


def _check_nonempty(input, op_name):
    if input.numel() == 0:
        raise RuntimeError(f"{op_name}: expected a non-empty tensor, got shape {input.shape}")


def _max_or_min(input, dim, keepdim, other, op_name, whole, pick, pairwise):
    if isinstance(dim, Tensor):
        other, dim = dim, None
    if other is not None:
        return pairwise(input, other)
    if dim is None:
        return whole(input)
    _check_nonempty(input, op_name)
    axis = normalize_dim(dim, input.ndim, op_name)
    if input.ndim == 0:
        return ValuesIndices(input, Tensor._make(np.zeros((), dtype=np.int64)))
    indices = pick(input.data, axis=axis)
    values = red.SelectAlongDim.apply(input, indices=indices, axis=axis, keepdim=keepdim)
    if keepdim:
        indices = np.expand_dims(indices, axis)
    return ValuesIndices(values, Tensor._make(indices.astype(np.int64)))


def max(input, dim=None, keepdim=False, other=None):
    """max(x): the largest element; max(x, dim): (values, indices) along dim; max(x, y): elementwise maximum."""
    from .arithmetic import maximum

    return _max_or_min(input, dim, keepdim, other, "max", amax, np.argmax, maximum)


def min(input, dim=None, keepdim=False, other=None):
    from .arithmetic import minimum

    return _max_or_min(input, dim, keepdim, other, "min", amin, np.argmin, minimum)


def _arg(input, dim, keepdim, numpy_function, op_name):
    _check_nonempty(input, op_name)
    if dim is None:
        result = numpy_function(input.data.reshape(-1))
        return Tensor._make(np.asarray(result, dtype=np.int64).reshape((1,) * input.ndim if keepdim else ()))
    axis = normalize_dim(dim, input.ndim, op_name)
    if input.ndim == 0:
        return Tensor._make(np.zeros((), dtype=np.int64))
    return Tensor._make(numpy_function(input.data, axis=axis, keepdims=keepdim).astype(np.int64))


def argmax(input, dim=None, keepdim=False):
    """Index of the largest element (of the flattened tensor when dim is None); no gradient."""
    return _arg(input, dim, keepdim, np.argmax, "argmax")


def argmin(input, dim=None, keepdim=False):
    return _arg(input, dim, keepdim, np.argmin, "argmin")


def logsumexp(input, dim=None, keepdim=False):
    """log(sum(exp(x))) over dim, computed stably (finite for large x; all -inf rows give -inf, gradient 0)."""
    if input.data.dtype.kind != "f":
        input = cast(input, dtypes.get_default_dtype())
    return red.LogSumExp.apply(input, axis=reduce_dims(dim, input.ndim, "logsumexp"), keepdim=keepdim)


def all(input, dim=None, keepdim=False):
    axes = reduce_dims(dim, input.ndim, "all")
    return Tensor._make(np.asarray(np.all(input.data, axis=axes, keepdims=keepdim)))


def any(input, dim=None, keepdim=False):
    axes = reduce_dims(dim, input.ndim, "any")
    return Tensor._make(np.asarray(np.any(input.data, axis=axes, keepdims=keepdim)))


def count_nonzero(input, dim=None):
    axes = reduce_dims(dim, input.ndim, "count_nonzero")
    return Tensor._make(np.asarray(np.count_nonzero(input.data, axis=axes), dtype=np.int64))
