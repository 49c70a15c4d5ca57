"""Attach the functional layer to Tensor as methods and operators (x.sum(), x + y, x @ w, x[i] = v ...).

Binding here, one layer above tensor.py, keeps tensor.py free of imports from the layers that build on it.
"""

from .. import dtypes
from ..autograd import grad_mode
from ..errors import ShapeError
from ..ops import elementwise as ew
from ..tensor import Tensor
from . import arithmetic as ar
from . import indexing as ix
from . import reduction as rd
from . import shape as sh
from . import softmax as sm
from .inplace import apply_inplace


def _reflected(function):
    return lambda self, other: function(other, self)


def _inplace_method(function, name):
    def method(self, *args, **kwargs):
        return apply_inplace(self, name, function, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"In-place form of {function.__name__}."
    return method


def _cast_method(dtype):
    return lambda self: ar.to_dtype(self, dtype)


def _to(self, *args, dtype=None, **kwargs):
    """to(dtype) or to('cpu'): only the CPU exists, so only the dtype can change."""
    for arg in args:
        if isinstance(arg, str) and arg == "cpu":
            continue
        if isinstance(arg, Tensor):
            dtype = arg.dtype
        else:
            dtype = arg
    return self if dtype is None else ar.to_dtype(self, dtype)


def _setitem(self, index, value):
    """tensor[index] = value. Without autograd involvement this writes straight into the array (no copy)."""
    value_requires_grad = isinstance(value, Tensor) and value.requires_grad
    if grad_mode._enabled and (self.requires_grad or value_requires_grad):
        apply_inplace(self, "__setitem__", ix.index_put, index, value)
        return
    index, _ = ix.normalize_index(index, "__setitem__")
    array = value.data if isinstance(value, Tensor) else value
    try:
        self.data[index] = array
    except IndexError as error:
        raise IndexError(f"__setitem__: {error} (tensor of shape {self.shape})") from None
    except ValueError as error:
        raise ShapeError(f"__setitem__: {error} (tensor of shape {self.shape})") from None
    self._version[0] += 1


def _fill_(self, value):
    """Fill with `value` in place. Outside autograd this is a plain write; on a graph tensor it records Fill."""
    self._check_inplace("fill_")
    if grad_mode._enabled and self.requires_grad:
        return apply_inplace(self, "fill_", lambda t, v: ew.Fill.apply(t, value=v), value)
    self.data[...] = value
    self._version[0] += 1
    return self


def _contiguous(self):
    return self if self.data.flags.c_contiguous else ar.clone(self)


def _new_tensor(self, data, dtype=None, requires_grad=False):
    return Tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad)


def _copy_source(self, src):
    """copy_'s out-of-place form: src broadcast to self's shape, in self's dtype (gradient flows to src)."""
    src = src if isinstance(src, Tensor) else Tensor(src)
    return sh.expand(ar.to_dtype(src, self.dtype), self.shape)


METHODS = {
    # arithmetic and its operators
    "add": ar.add, "sub": ar.sub, "mul": ar.mul, "div": ar.div, "true_divide": ar.div, "pow": ar.pow,
    "neg": ar.neg, "abs": ar.abs, "exp": ar.exp, "log": ar.log, "log1p": ar.log1p, "sqrt": ar.sqrt,
    "rsqrt": ar.rsqrt, "sin": ar.sin, "cos": ar.cos, "tanh": ar.tanh, "sigmoid": ar.sigmoid, "relu": ar.relu,
    "clamp": ar.clamp, "clip": ar.clamp, "maximum": ar.maximum, "minimum": ar.minimum, "clone": ar.clone,
    "sign": ar.sign, "floor": ar.floor, "ceil": ar.ceil, "round": ar.round, "isnan": ar.isnan,
    "isinf": ar.isinf, "isfinite": ar.isfinite, "logical_not": ar.logical_not,
    "eq": ar.eq, "ne": ar.ne, "lt": ar.lt, "le": ar.le, "gt": ar.gt, "ge": ar.ge, "equal": ar.equal,
    "allclose": ar.allclose, "isclose": ar.isclose,
    "where": lambda self, condition, other: ar.where(condition, self, other),
    "__add__": ar.add, "__radd__": _reflected(ar.add), "__sub__": ar.sub, "__rsub__": _reflected(ar.sub),
    "__mul__": ar.mul, "__rmul__": _reflected(ar.mul), "__truediv__": ar.div, "__rtruediv__": _reflected(ar.div),
    "__pow__": ar.pow, "__rpow__": _reflected(ar.pow), "__neg__": ar.neg, "__abs__": ar.abs,
    "__matmul__": sh.matmul, "__rmatmul__": _reflected(sh.matmul),
    "__eq__": ar.eq, "__ne__": ar.ne, "__lt__": ar.lt, "__le__": ar.le, "__gt__": ar.gt, "__ge__": ar.ge,
    "__and__": ar.bitwise_and, "__or__": ar.bitwise_or, "__xor__": ar.bitwise_xor,
    "__invert__": ar.logical_not, "__mod__": ar.remainder, "__rmod__": _reflected(ar.remainder),
    "remainder": ar.remainder, "fmod": ar.fmod, "__floordiv__": lambda a, b: ar.div(a, b, rounding_mode="floor"),
    # reductions
    "sum": rd.sum, "mean": rd.mean, "var": rd.var, "std": rd.std, "prod": rd.prod, "max": rd.max, "min": rd.min,
    "amax": rd.amax, "amin": rd.amin, "argmax": rd.argmax, "argmin": rd.argmin, "logsumexp": rd.logsumexp,
    "softmax": sm.softmax, "log_softmax": sm.log_softmax, "all": rd.all, "any": rd.any,
    "count_nonzero": rd.count_nonzero,
    # shapes
    "reshape": sh.reshape, "view": sh.view, "view_as": sh.view_as, "reshape_as": sh.reshape_as,
    "flatten": sh.flatten, "unflatten": sh.unflatten, "permute": sh.permute, "transpose": sh.transpose,
    "swapaxes": sh.transpose, "t": sh.t, "movedim": sh.movedim, "squeeze": sh.squeeze, "unsqueeze": sh.unsqueeze,
    "expand": sh.expand, "expand_as": sh.expand_as, "repeat": sh.repeat, "flip": sh.flip, "split": sh.split,
    "chunk": sh.chunk, "narrow": sh.narrow, "unbind": sh.unbind, "tril": sh.tril, "triu": sh.triu,
    "matmul": sh.matmul, "mm": sh.mm, "bmm": sh.bmm, "dot": sh.dot,
    # indexing
    "__getitem__": ix.getitem, "__setitem__": _setitem, "gather": ix.gather, "scatter_add": ix.scatter_add,
    "index_select": ix.index_select, "masked_fill": ix.masked_fill,
    # dtypes
    "float": _cast_method(dtypes.float32), "double": _cast_method(dtypes.float64),
    "half": _cast_method(dtypes.float16), "long": _cast_method(dtypes.int64), "int": _cast_method(dtypes.int32),
    "bool": _cast_method(dtypes.bool_), "to": _to, "type_as": lambda self, other: ar.to_dtype(self, other.dtype),
    "contiguous": _contiguous, "new_tensor": _new_tensor,
    "fill_": _fill_, "zero_": lambda self: _fill_(self, 0),
}

INPLACE = {
    "add_": ar.add, "sub_": ar.sub, "mul_": ar.mul, "div_": ar.div, "pow_": ar.pow, "neg_": ar.neg,
    "exp_": ar.exp, "log_": ar.log, "sqrt_": ar.sqrt, "abs_": ar.abs, "clamp_": ar.clamp, "clip_": ar.clamp,
    "tanh_": ar.tanh, "sigmoid_": ar.sigmoid, "relu_": ar.relu, "masked_fill_": ix.masked_fill,
    "tril_": sh.tril, "triu_": sh.triu,
    "__iadd__": ar.add, "__isub__": ar.sub, "__imul__": ar.mul, "__itruediv__": ar.div, "__ipow__": ar.pow,
    "copy_": _copy_source,
}


def bind():
    for name, function in METHODS.items():
        setattr(Tensor, name, function)
    for name, function in INPLACE.items():
        setattr(Tensor, name, _inplace_method(function, name))
    Tensor.T = property(lambda self: sh.permute(self, tuple(reversed(range(self.ndim)))),
                        doc="All dimensions reversed (the transpose of a matrix).")
    Tensor.mT = property(lambda self: sh.transpose(self, -2, -1), doc="The last two dimensions swapped.")
