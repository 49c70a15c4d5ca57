"""The dtypes glassbox supports (NumPy dtypes under PyTorch names) and the rules for choosing a result dtype."""

import numpy as np

float16 = half = np.dtype(np.float16)
float32 = float = np.dtype(np.float32)
float64 = double = np.dtype(np.float64)
uint8 = np.dtype(np.uint8)
int8 = np.dtype(np.int8)
int16 = short = np.dtype(np.int16)
int32 = int = np.dtype(np.int32)
int64 = long = np.dtype(np.int64)
bool_ = np.dtype(np.bool_)

SUPPORTED = (float16, float32, float64, uint8, int8, int16, int32, int64, bool_)
_NAMES = {"float16": float16, "half": float16, "float32": float32, "float": float32, "float64": float64,
          "double": float64, "uint8": uint8, "int8": int8, "int16": int16, "short": int16, "int32": int32,
          "int": int32, "int64": int64, "long": int64, "bool": bool_}

_default_float = float32


def get_default_dtype():
    """The dtype of new floating tensors (float32 unless set_default_dtype changed it)."""
    return _default_float


def set_default_dtype(dtype):
    """Make `dtype` (float32 or float64) the dtype of new floating tensors."""
    global _default_float
    dtype = as_dtype(dtype)
    if dtype not in (float32, float64):
        raise TypeError(f"set_default_dtype: only float32 and float64 are supported, got {dtype}")
    _default_float = dtype


def as_dtype(dtype):
    """Turn a user's dtype spelling (np.dtype, 'float32', Python float/int/bool) into a supported np.dtype."""
    if dtype is None:
        return None
    if isinstance(dtype, str):
        if dtype not in _NAMES:
            raise TypeError(f"unknown dtype {dtype!r}; expected one of {sorted(_NAMES)}")
        return _NAMES[dtype]
    import builtins

    if dtype is builtins.float:
        return _default_float
    if dtype is builtins.int:
        return int64
    if dtype is builtins.bool:
        return bool_
    try:
        result = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"unknown dtype {dtype!r}") from None
    if result not in SUPPORTED:
        raise TypeError(f"dtype {result} is not supported; expected one of {[str(d) for d in SUPPORTED]}")
    return result


def is_floating(dtype):
    """True for float16/32/64."""
    return dtype.kind == "f"


def category(dtype):
    """0 for bool, 1 for integers, 2 for floats: PyTorch promotes by category first, then by width."""
    return {"b": 0, "u": 1, "i": 1, "f": 2}[dtype.kind]


def result_type(a_dtype, b_dtype):
    """The dtype of a binary op on two tensors, by PyTorch's rule: the higher category wins whole
    (int64 + float32 -> float32, unlike NumPy's float64); within a category the wider dtype wins."""
    ca, cb = category(a_dtype), category(b_dtype)
    if ca == cb:
        return np.promote_types(a_dtype, b_dtype)
    return a_dtype if ca > cb else b_dtype


def tensors_result_type(a_dtype, a_ndim, b_dtype, b_ndim):
    """The dtype of a binary op on two tensors, by PyTorch's priority of groups: a 0-d tensor may lift the
    category of a tensor with dims (int64 tensor + 0-d float64 -> float64) but never widens it within its
    category (float32 tensor + 0-d float64 -> float32)."""
    if (a_ndim == 0) == (b_ndim == 0):
        return result_type(a_dtype, b_dtype)
    higher, lower = (a_dtype, b_dtype) if a_ndim else (b_dtype, a_dtype)
    if higher.kind == "f":
        return higher
    if higher.kind == "b" or lower.kind == "f":
        return result_type(higher, lower)
    return higher


def scalar_result_type(tensor_dtype, scalar):
    """The dtype of an op between a tensor and a Python scalar: the scalar only lifts the category
    (int tensor * 2.5 -> the default float dtype; float32 tensor * 2.5 stays float32)."""
    import builtins

    if isinstance(scalar, builtins.bool):
        kind = 0
    elif isinstance(scalar, (builtins.int, np.integer)):
        kind = 1
    else:
        kind = 2
    if kind <= category(tensor_dtype):
        return tensor_dtype
    return _default_float if kind == 2 else int64
