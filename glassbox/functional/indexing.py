"""Indexing functions: tensor[index] and tensor[index] = value, gather, scatter_add, index_select, masked_fill,
one_hot."""

import numpy as np

from .. import dtypes
from ..errors import ShapeError
from ..ops import movement as mv
from ..tensor import Tensor, normalize_dim
from .arithmetic import where
from .operands import as_operand, cast


def normalize_index(index, op_name="index"):
    """The index as a tuple NumPy understands, and whether it uses advanced (integer/boolean array) indexing."""
    items = index if isinstance(index, tuple) else (index,)
    normalized, advanced = [], False
    for item in items:
        if isinstance(item, Tensor):
            item = item.data
        elif isinstance(item, list):
            item = np.asarray(item)
        if isinstance(item, np.ndarray):
            if item.dtype.kind not in "biu":
                raise IndexError(f"{op_name}: tensors used as indices must be long, int or bool tensors, "
                                 f"got dtype {item.dtype}")
            if item.ndim == 0 and item.dtype.kind in "iu":
                item = int(item)  # a 0-d integer index is a plain int: basic indexing, a view
            else:
                advanced = True
        elif isinstance(item, (bool, np.bool_)):
            advanced = True
        elif not (item is None or item is Ellipsis or isinstance(item, (int, np.integer, slice))):
            raise IndexError(f"{op_name}: only integers, slices, None, ..., and integer or boolean tensors are "
                             f"valid indices, got {type(item).__name__}")
        normalized.append(item)
    return tuple(normalized), advanced


def getitem(input, index):
    """input[index] with NumPy/PyTorch rules; the gradient scatters (and adds, for repeated indices) back."""
    index, advanced = normalize_index(index)
    try:
        return mv.GetItem.apply(input, index=index, advanced=advanced)
    except IndexError as error:
        raise IndexError(f"index: {error} (tensor of shape {input.shape})") from None


def index_put(input, index, value):
    """A copy of input with input[index] replaced by value (broadcast); differentiable in both."""
    index, _ = normalize_index(index)
    value = as_operand(value, "index_put")
    value = cast(value, input.dtype)
    try:
        return mv.IndexPut.apply(input, value, index=index)
    except IndexError as error:
        raise IndexError(f"index_put: {error} (tensor of shape {input.shape})") from None


def _index_array(index, op_name):
    index = index.data if isinstance(index, Tensor) else np.asarray(index)
    if index.dtype.kind not in "iu":
        raise TypeError(f"{op_name}: index must be an integer tensor (int64), got dtype {index.dtype}")
    return index


def _check_index_range(index, size, op_name, dim):
    """Like PyTorch, these ops take indices in [0, size): a negative index is an error, not "from the end"."""
    if index.size and (index.min() < 0 or index.max() >= size):
        raise IndexError(f"{op_name}: index {int(index.max() if index.max() >= size else index.min())} is out of "
                         f"bounds for dimension {dim} with size {size} (valid indices are 0..{size - 1})")


def gather(input, dim, index):
    """out[i][j] = input[i][index[i][j]] for dim=1 (and likewise for any dim)."""
    axis = normalize_dim(dim, input.ndim, "gather")
    index = _index_array(index, "gather")
    if index.ndim != input.ndim:
        raise ShapeError(f"gather: index must have as many dims as input: index shape {index.shape}, "
                         f"input shape {input.shape}")
    for d, (n_index, n_input) in enumerate(zip(index.shape, input.shape)):
        if d != axis and n_index > n_input:
            raise ShapeError(f"gather: index shape {index.shape} is larger than input shape {input.shape} in "
                             f"dimension {d} (only dim {axis} may differ)")
    _check_index_range(index, input.shape[axis], "gather", axis)
    return mv.Gather.apply(input, index=index, axis=axis)


def scatter_add(input, dim, index, src):
    """A copy of input with src[i][j] added at input[i][index[i][j]] for dim=1; repeated indices add up."""
    axis = normalize_dim(dim, input.ndim, "scatter_add")
    index = _index_array(index, "scatter_add")
    src = cast(as_operand(src, "scatter_add"), input.dtype)
    if not index.ndim == src.ndim == input.ndim:
        raise ShapeError(f"scatter_add: index {index.shape}, src {src.shape} and input {input.shape} must have "
                         "the same number of dims")
    for d in range(index.ndim):
        if index.shape[d] > src.shape[d] or (d != axis and index.shape[d] > input.shape[d]):
            raise ShapeError(f"scatter_add: index shape {index.shape} must not exceed src shape {src.shape}, nor "
                             f"input shape {input.shape} outside dim {axis}")
    _check_index_range(index, input.shape[axis], "scatter_add", axis)
    return mv.ScatterAdd.apply(input, src, index=index, axis=axis)


def index_select(input, dim, index):
    """The entries of input at positions `index` (1-D) along dim."""
    axis = normalize_dim(dim, input.ndim, "index_select")
    index = _index_array(index, "index_select")
    if index.ndim > 1:
        raise ShapeError(f"index_select: index must be 1-D, got shape {index.shape}")
    _check_index_range(index, input.shape[axis], "index_select", axis)
    return mv.IndexSelect.apply(input, index=index.reshape(-1), axis=axis)


def masked_fill(input, mask, value):
    """`value` where mask is True, input elsewhere (mask broadcasts to input's shape)."""
    mask = as_operand(mask, "masked_fill")
    if mask.dtype != dtypes.bool_:
        raise TypeError(f"masked_fill: mask must be a bool tensor, got dtype {mask.dtype}")
    try:
        fits = np.broadcast_shapes(mask.shape, input.shape) == input.shape
    except ValueError:
        fits = False
    if not fits:
        raise ShapeError(f"masked_fill: mask of shape {mask.shape} must broadcast to the input's shape "
                         f"{input.shape}")
    if isinstance(value, Tensor) and value.ndim != 0:
        raise ShapeError(f"masked_fill: value must be a number or a 0-dim tensor, got shape {value.shape}")
    if not isinstance(value, Tensor):
        value = Tensor._make(np.asarray(value, dtype=input.dtype))
    return where(mask, cast(value, input.dtype), input)


def one_hot(tensor, num_classes=-1):
    """int64 tensor of shape (*tensor.shape, num_classes) with a 1 at each class index."""
    index = _index_array(tensor, "one_hot")
    if index.size and index.min() < 0:
        raise ValueError(f"one_hot: class values must be non-negative, got {int(index.min())}")
    if num_classes == -1:
        num_classes = int(index.max()) + 1 if index.size else 0
    if index.size and index.max() >= num_classes:
        raise ValueError(f"one_hot: class value {int(index.max())} is out of range for num_classes={num_classes}")
    out = np.zeros(index.shape + (num_classes,), dtype=np.int64)
    np.put_along_axis(out, index[..., None], 1, axis=-1)
    return Tensor._make(out)
