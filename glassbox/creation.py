"""Functions that make new tensors: from data, filled with a constant, ranges, and random (with a Generator)."""

import numbers

import numpy as np

from . import dtypes
from .random import numpy_generator
from .tensor import Tensor


def _size(size, op_name):
    """Accept both zeros(2, 3) and zeros((2, 3)), like PyTorch; check every entry is a non-negative int."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for n in size:
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
            raise ValueError(f"{op_name}: sizes must be non-negative ints, got {tuple(size)}")
    return tuple(int(n) for n in size)


def _float_dtype(dtype, op_name):
    dtype = dtypes.as_dtype(dtype) or dtypes.get_default_dtype()
    if dtype.kind != "f":
        raise TypeError(f"{op_name}: expected a floating dtype, got {dtype}")
    return dtype


def _leaf(array, requires_grad):
    t = Tensor._make(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, dtype=None, requires_grad=False):
    """A new tensor holding a copy of `data` (Python floats become float32, ints int64, bools bool)."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


def as_tensor(data, dtype=None):
    """`data` as a tensor, without copying when it already is one (or an ndarray) of the right dtype."""
    dtype = dtypes.as_dtype(dtype)
    if isinstance(data, Tensor):
        return data if dtype is None or data.dtype == dtype else Tensor._make(data.data.astype(dtype))
    if isinstance(data, np.ndarray) and data.dtype in dtypes.SUPPORTED and (dtype is None or data.dtype == dtype):
        return Tensor._make(data)
    return Tensor(data, dtype=dtype)


def from_numpy(array):
    """A tensor sharing memory with `array` (changes to one show in the other)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray, got {type(array).__name__}")
    if array.dtype not in dtypes.SUPPORTED:
        raise TypeError(f"from_numpy: dtype {array.dtype} is not supported; supported: "
                        f"{[str(d) for d in dtypes.SUPPORTED]}")
    return Tensor._make(array)


def zeros(*size, dtype=None, requires_grad=False):
    dtype = dtypes.as_dtype(dtype) or dtypes.get_default_dtype()
    return _leaf(np.zeros(_size(size, "zeros"), dtype=dtype), requires_grad)


def ones(*size, dtype=None, requires_grad=False):
    dtype = dtypes.as_dtype(dtype) or dtypes.get_default_dtype()
    return _leaf(np.ones(_size(size, "ones"), dtype=dtype), requires_grad)


def empty(*size, dtype=None, requires_grad=False):
    """Uninitialised memory, like torch.empty (the values are whatever was there)."""
    dtype = dtypes.as_dtype(dtype) or dtypes.get_default_dtype()
    return _leaf(np.empty(_size(size, "empty"), dtype=dtype), requires_grad)


def _fill_dtype(fill_value):
    if isinstance(fill_value, (bool, np.bool_)):
        return dtypes.bool_
    if isinstance(fill_value, numbers.Integral):
        return dtypes.int64
    return dtypes.get_default_dtype()


def full(size, fill_value, dtype=None, requires_grad=False):
    """A tensor of `size` filled with `fill_value` (dtype inferred from the value, like PyTorch)."""
    size = _size((size,) if isinstance(size, (tuple, list)) else (size,), "full")
    dtype = dtypes.as_dtype(dtype) or _fill_dtype(fill_value)
    return _leaf(np.full(size, fill_value, dtype=dtype), requires_grad)


def _like(t, dtype):
    return dtypes.as_dtype(dtype) or t.dtype


def zeros_like(t, dtype=None, requires_grad=False):
    return _leaf(np.zeros(t.shape, dtype=_like(t, dtype)), requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    return _leaf(np.ones(t.shape, dtype=_like(t, dtype)), requires_grad)


def full_like(t, fill_value, dtype=None, requires_grad=False):
    return _leaf(np.full(t.shape, fill_value, dtype=_like(t, dtype)), requires_grad)


def empty_like(t, dtype=None, requires_grad=False):
    return _leaf(np.empty(t.shape, dtype=_like(t, dtype)), requires_grad)


def rand(*size, generator=None, dtype=None, requires_grad=False):
    """Uniform samples on [0, 1)."""
    dtype = _float_dtype(dtype, "rand")
    array = numpy_generator(generator).random(_size(size, "rand"), dtype=np.float64).astype(dtype)
    return _leaf(array, requires_grad)


def randn(*size, generator=None, dtype=None, requires_grad=False):
    """Standard normal samples."""
    dtype = _float_dtype(dtype, "randn")
    array = numpy_generator(generator).standard_normal(_size(size, "randn"), dtype=np.float64).astype(dtype)
    return _leaf(array, requires_grad)


def rand_like(t, generator=None, dtype=None):
    return rand(*t.shape, generator=generator, dtype=dtype or t.dtype)


def randn_like(t, generator=None, dtype=None):
    return randn(*t.shape, generator=generator, dtype=dtype or t.dtype)


def randint(*args, low=None, high=None, size=None, generator=None, dtype=None):
    """Integers uniform on [low, high), low defaulting to 0; PyTorch's forms: randint(high, size),
    randint(low, high, size), randint(10, size=(3,)), randint(high=10, size=(3,))."""
    if len(args) > 3:
        raise TypeError(f"randint: expected at most 3 positional arguments (low, high, size), got {len(args)}")
    if len(args) == 3:
        low, high, size = args
    elif len(args) == 2:
        if size is None and isinstance(args[1], (tuple, list)):
            high, size = args
        else:
            low, high = args
    elif len(args) == 1:
        if high is None:
            high = args[0]
        else:
            low = args[0]
    low = 0 if low is None else low
    if high is None or size is None:
        raise TypeError("randint: expected randint(low=0, high, size), e.g. randint(10, (3,)) or "
                        "randint(0, 10, size=(3,))")
    if high <= low:
        raise ValueError(f"randint: expected low < high, got low={low}, high={high}")
    size = _size(tuple(size) if isinstance(size, (tuple, list)) else (size,), "randint")
    dtype = dtypes.as_dtype(dtype) or dtypes.int64
    return Tensor._make(numpy_generator(generator).integers(low, high, size=size).astype(dtype))


def randperm(n, generator=None, dtype=None):
    """A random permutation of 0 .. n-1."""
    dtype = dtypes.as_dtype(dtype) or dtypes.int64
    return Tensor._make(numpy_generator(generator).permutation(int(n)).astype(dtype))


def arange(start, end=None, step=1, dtype=None, requires_grad=False):
    """Values from start (default 0) up to but not including end, spaced by step."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    all_ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    dtype = dtypes.as_dtype(dtype) or (dtypes.int64 if all_ints else dtypes.get_default_dtype())
    return _leaf(np.arange(start, end, step).astype(dtype), requires_grad)


def linspace(start, end, steps, dtype=None, requires_grad=False):
    """`steps` evenly spaced values from start to end inclusive."""
    dtype = dtypes.as_dtype(dtype) or dtypes.get_default_dtype()
    return _leaf(np.linspace(start, end, int(steps)).astype(dtype), requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False):
    """The n x m identity matrix (m defaults to n)."""
    dtype = dtypes.as_dtype(dtype) or dtypes.get_default_dtype()
    return _leaf(np.eye(int(n), int(n if m is None else m), dtype=dtype), requires_grad)
