"""Elementwise functions with PyTorch names: arithmetic, powers, exp/log, activations, clamp, where, comparisons."""

import numbers

import numpy as np

from .. import dtypes
from ..errors import ShapeError
from ..ops import activation as act
from ..ops import elementwise as ew
from ..tensor import Tensor
from .operands import as_operand, binary_operands, cast, floating

__all__ = ["abs", "absolute", "add", "allclose", "bitwise_and", "bitwise_or", "bitwise_xor", "ceil", "clamp", "clip",
           "clone", "cos", "div", "divide", "elu", "eq", "equal", "exp", "floor", "fmod", "ge", "gelu", "gt",
           "isclose", "isfinite", "isinf", "isnan", "le", "leaky_relu", "log", "log1p", "logical_and", "logical_not",
           "logical_or", "logical_xor", "lt", "maximum", "minimum", "mul", "multiply", "ne", "neg", "negative",
           "pow", "relu", "remainder", "round", "rsqrt", "rsub", "selu", "sigmoid", "sign", "silu", "sin",
           "softplus", "sqrt", "sub", "subtract", "tanh", "true_divide", "trunc", "where"]


def add(input, other, alpha=1):
    """input + alpha * other, broadcasting."""
    if alpha != 1:
        other = mul(other, alpha)
    a, b = binary_operands(input, other, "add")
    return ew.Add.apply(a, b)


def sub(input, other, alpha=1):
    """input - alpha * other, broadcasting."""
    if alpha != 1:
        other = mul(other, alpha)
    a, b = binary_operands(input, other, "sub")
    if a.data.dtype == dtypes.bool_:
        raise TypeError("sub: subtraction of bool tensors is not supported; use logical_xor or ~ instead")
    return ew.Sub.apply(a, b)


def rsub(input, other):
    return sub(other, input)


def mul(input, other):
    a, b = binary_operands(input, other, "mul")
    return ew.Mul.apply(a, b)


def div(input, other, rounding_mode=None):
    """True division (ints give floats, as in PyTorch); rounding_mode 'floor' or 'trunc' rounds (no gradient)."""
    a, b = binary_operands(input, other, "div")
    if rounding_mode is not None:
        if rounding_mode not in ("floor", "trunc"):
            raise ValueError(f"div: rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.true_divide(a.data, b.data)
            q = np.floor(q) if rounding_mode == "floor" else np.trunc(q)
        return Tensor._make(q.astype(a.data.dtype))
    a, b = floating(a, "div"), floating(b, "div")
    return ew.Div.apply(a, b)


true_divide = divide = div
multiply = mul
subtract = sub


def remainder(input, other):
    """Python's modulus: a - b * floor(a / b), with the sign of the divisor (torch.remainder, the % operator).
    Gradients: 1 for input and -floor(a / b) for other, as in PyTorch."""
    a, b = binary_operands(input, other, "remainder")
    if a.data.dtype.kind != "f":
        return Tensor._make(np.remainder(a.data, b.data))
    quotient = Tensor._make(np.floor(a.data / b.data))  # piecewise constant: no gradient through it
    return sub(a, mul(b, quotient))


def fmod(input, other):
    """C's fmod: a - b * trunc(a / b), with the sign of the dividend (torch.fmod)."""
    a, b = binary_operands(input, other, "fmod")
    if a.data.dtype.kind != "f":
        return Tensor._make(np.fmod(a.data, b.data))
    quotient = Tensor._make(np.trunc(a.data / b.data))
    return sub(a, mul(b, quotient))


def pow(input, exponent):
    """input ** exponent; a number exponent takes a faster path than a tensor one."""
    if isinstance(input, Tensor) and isinstance(exponent, numbers.Number) and not isinstance(exponent, bool):
        if input.data.dtype.kind != "f" and isinstance(exponent, float):
            input = floating(input, "pow")
        if input.data.dtype.kind in "iu" and exponent < 0:
            raise RuntimeError("pow: integers to negative integer powers are not allowed")
        return ew.PowScalar.apply(input, exponent=exponent)
    if isinstance(exponent, Tensor) and isinstance(input, numbers.Number):
        if exponent.data.dtype.kind in "biu" and isinstance(input, int):  # int ** int stays int, as in torch
            if exponent.data.size and exponent.data.min() < 0:
                raise RuntimeError("pow: integers to negative integer powers are not allowed")
            return Tensor._make(np.power(np.int64(input), exponent.data.astype(np.int64)))
        exponent = floating(exponent, "pow")
        return ew.RPowScalar.apply(exponent, base=input)
    a, b = binary_operands(input, exponent, "pow")
    return ew.Pow.apply(a, b)


def neg(input):
    return ew.Neg.apply(input)


negative = neg


def _unary(op, name):
    def function(input):
        return op.apply(floating(as_operand(input, name), name))

    function.__name__ = name
    function.__doc__ = f"Elementwise {name} (ints are converted to the default float dtype first)."
    return function


exp = _unary(ew.Exp, "exp")
log = _unary(ew.Log, "log")
log1p = _unary(ew.Log1p, "log1p")
sqrt = _unary(ew.Sqrt, "sqrt")
rsqrt = _unary(ew.Rsqrt, "rsqrt")
sin = _unary(ew.Sin, "sin")
cos = _unary(ew.Cos, "cos")
tanh = _unary(act.Tanh, "tanh")
sigmoid = _unary(act.Sigmoid, "sigmoid")
silu = _unary(act.Silu, "silu")


def abs(input):
    return ew.Abs.apply(input)


absolute = abs


def relu(input):
    return act.Relu.apply(input)


def leaky_relu(input, negative_slope=0.01):
    return act.LeakyRelu.apply(floating(input, "leaky_relu"), negative_slope=negative_slope)


def elu(input, alpha=1.0):
    return act.Elu.apply(floating(input, "elu"), alpha=alpha)


# The constants of SELU (Klambauer et al., 2017), as in PyTorch.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input):
    return act.Elu.apply(floating(input, "selu"), alpha=_SELU_ALPHA, scale=_SELU_SCALE)


def gelu(input, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return act.Gelu.apply(floating(input, "gelu"), approximate=approximate)


def softplus(input, beta=1.0, threshold=20.0):
    return act.Softplus.apply(floating(input, "softplus"), beta=beta, threshold=threshold)


def clamp(input, min=None, max=None):
    """Limit values to [min, max]; either bound may be None (not both)."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        result = input
        if min is not None:
            result = maximum(result, min)
        if max is not None:
            result = minimum(result, max)
        return result
    if input.data.dtype.kind != "f" and any(isinstance(v, float) for v in (min, max)):
        input = floating(input, "clamp")
    return ew.Clamp.apply(input, min=min, max=max)


clip = clamp


def maximum(input, other):
    a, b = binary_operands(input, other, "maximum")
    return ew.Maximum.apply(a, b)


def minimum(input, other):
    a, b = binary_operands(input, other, "minimum")
    return ew.Minimum.apply(a, b)


def where(condition, input, other):
    """Elements of `input` where `condition` is true, else of `other` (all three broadcast)."""
    condition = as_operand(condition, "where")
    if condition.data.dtype != dtypes.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got dtype {condition.data.dtype}")
    a, b = binary_operands(input, other, "where")
    try:
        shape = np.broadcast_shapes(condition.shape, a.shape, b.shape)
    except ValueError:
        raise ShapeError(f"where: condition {condition.shape}, input {a.shape} and other {b.shape} cannot be "
                         "broadcast to one shape") from None
    return ew.Where.apply(a, b, condition=np.broadcast_to(condition.data, shape))


def clone(input):
    return ew.Clone.apply(input)


def sign(input):
    """Sign of each element (no gradient: it is piecewise constant)."""
    return Tensor._make(np.sign(input.data))


def _no_grad_unary(numpy_function, name):
    def function(input):
        return Tensor._make(numpy_function(input.data))

    function.__name__ = name
    function.__doc__ = f"Elementwise {name}; piecewise constant, so it records no gradient."
    return function


floor = _no_grad_unary(np.floor, "floor")
ceil = _no_grad_unary(np.ceil, "ceil")
round = _no_grad_unary(np.round, "round")
trunc = _no_grad_unary(np.trunc, "trunc")
isnan = _no_grad_unary(np.isnan, "isnan")
isinf = _no_grad_unary(np.isinf, "isinf")
isfinite = _no_grad_unary(np.isfinite, "isfinite")
logical_not = _no_grad_unary(np.logical_not, "logical_not")


def _comparison(numpy_function, name):
    def function(input, other):
        a, b = binary_operands(input, other, name)
        try:
            return Tensor._make(numpy_function(a.data, b.data))
        except ValueError as error:
            raise ShapeError(f"{name}: {error} (shapes {a.shape} and {b.shape})") from None

    function.__name__ = name
    function.__doc__ = f"Elementwise {name} as a bool tensor (no gradient)."
    return function


eq = _comparison(np.equal, "eq")
ne = _comparison(np.not_equal, "ne")
lt = _comparison(np.less, "lt")
le = _comparison(np.less_equal, "le")
gt = _comparison(np.greater, "gt")
ge = _comparison(np.greater_equal, "ge")
logical_and = _comparison(np.logical_and, "logical_and")
logical_or = _comparison(np.logical_or, "logical_or")
logical_xor = _comparison(np.logical_xor, "logical_xor")
bitwise_and = _comparison(np.bitwise_and, "bitwise_and")
bitwise_or = _comparison(np.bitwise_or, "bitwise_or")
bitwise_xor = _comparison(np.bitwise_xor, "bitwise_xor")


def equal(input, other):
    """True when both tensors have the same shape and elements."""
    return input.shape == other.shape and bool(np.array_equal(input.data, other.data))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(np.allclose(input.data, other.data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return Tensor._make(np.isclose(input.data, other.data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def to_dtype(input, dtype):
    """The tensor in `dtype` (differentiable between float dtypes)."""
    return cast(input, dtypes.as_dtype(dtype))
