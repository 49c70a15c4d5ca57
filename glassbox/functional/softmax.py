"""softmax and log_softmax along a dim (also Tensor methods); the fused, stable primitives live in ops/loss.py."""

from .. import dtypes
from ..ops import loss as ls
from ..tensor import normalize_dim
from .operands import cast, floating


def _softmax_dim(input, dim, op_name):
    if dim is None:
        # PyTorch's legacy implicit choice: dim 0 for 0-, 1- and 3-D input, else 1; better to be explicit.
        dim = 0 if input.ndim in (0, 1, 3) else 1
    return normalize_dim(dim, input.ndim, op_name)


def softmax(input, dim=None, dtype=None):
    """exp(x) / sum(exp(x)) along dim, shifted by the max: finite for any logits; an all -inf row gives zeros."""
    if dtype is not None:
        input = cast(input, dtypes.as_dtype(dtype))
    return ls.Softmax.apply(floating(input, "softmax"), axis=_softmax_dim(input, dim, "softmax"))


def log_softmax(input, dim=None, dtype=None):
    """x - logsumexp(x) along dim: stable for huge logits; an all -inf row gives -inf and a zero gradient."""
    if dtype is not None:
        input = cast(input, dtypes.as_dtype(dtype))
    return ls.LogSoftmax.apply(floating(input, "log_softmax"), axis=_softmax_dim(input, dim, "log_softmax"))
