"""Argument handling shared by the functional layer: Python scalars to tensors, PyTorch's dtype promotion, dims."""

import numbers

import numpy as np

from .. import dtypes
from ..ops.elementwise import Cast
from ..tensor import Tensor, normalize_dim


def cast(t, dtype):
    """`t` converted to `dtype` (differentiable); returns `t` itself when it already has that dtype."""
    if t.data.dtype == dtype:
        return t
    return Cast.apply(t, dtype=dtype)


def as_operand(value, op_name):
    """A Tensor for `value`: tensors pass through; numbers and arrays become tensors (no grad)."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (numbers.Number, np.ndarray, np.generic, list, tuple)):
        return Tensor(value)
    raise TypeError(f"{op_name}: expected a Tensor or a number, got {type(value).__name__}")


def binary_operands(a, b, op_name):
    """Two tensors of one dtype, promoted as PyTorch does (a Python scalar never widens a tensor's dtype)."""
    a_is_tensor, b_is_tensor = isinstance(a, Tensor), isinstance(b, Tensor)
    if a_is_tensor and b_is_tensor:
        if a.data.dtype != b.data.dtype:
            dtype = dtypes.tensors_result_type(a.data.dtype, a.data.ndim, b.data.dtype, b.data.ndim)
            a, b = cast(a, dtype), cast(b, dtype)
        return a, b
    if a_is_tensor:
        return _with_scalar(a, b, op_name)
    if b_is_tensor:
        b, a = _with_scalar(b, a, op_name)
        return a, b
    raise TypeError(f"{op_name}: expected at least one Tensor, got {type(a).__name__} and {type(b).__name__}")


def _with_scalar(t, scalar, op_name):
    if isinstance(scalar, numbers.Number):
        dtype = dtypes.scalar_result_type(t.data.dtype, scalar)
        return cast(t, dtype), Tensor._make(np.asarray(scalar, dtype=dtype))
    other = as_operand(scalar, op_name)
    dtype = dtypes.tensors_result_type(t.data.dtype, t.data.ndim, other.data.dtype, other.data.ndim)
    return cast(t, dtype), cast(other, dtype)


def floating(t, op_name):
    """`t` itself if floating, else cast to the default float dtype (exp of an int tensor is a float, as in torch)."""
    if t.data.dtype.kind == "f":
        return t
    return cast(t, dtypes.get_default_dtype())


def require_floating(t, op_name):
    if t.data.dtype.kind != "f":
        raise TypeError(f"{op_name}: expected a floating-point tensor, got dtype {t.data.dtype}")


def reduce_dims(dim, ndim, op_name):
    """None (reduce everything) or a sorted tuple of distinct non-negative axes."""
    if dim is None:
        return None
    if isinstance(dim, (list, tuple)):
        axes = tuple(sorted({normalize_dim(d, ndim, op_name) for d in dim}))
        if len(axes) != len(dim):
            raise RuntimeError(f"{op_name}: dim {tuple(dim)} names a dimension more than once")
        return axes if ndim > 0 else None
    return (normalize_dim(dim, ndim, op_name),) if ndim > 0 else None
