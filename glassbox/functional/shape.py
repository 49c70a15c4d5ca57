"""Shape functions with PyTorch names: reshape/view, permute/transpose, squeeze/unsqueeze, expand, repeat, flip,
cat/stack, split/chunk, pad, tril/triu, matmul."""

import math

import numpy as np

from ..errors import ShapeError
from ..ops import matmul as mat
from ..ops import movement as mv
from ..tensor import normalize_dim
from .operands import binary_operands

__all__ = ["bmm", "broadcast_to", "cat", "chunk", "concat", "concatenate", "dot", "expand", "expand_as", "flatten",
           "flip", "matmul", "mm", "movedim", "narrow", "outer", "pad", "permute", "repeat", "reshape", "reshape_as",
           "split", "squeeze", "stack", "swapaxes", "swapdims", "t", "transpose", "tril", "triu", "unbind",
           "unflatten", "unsqueeze", "view", "view_as"]


def _sizes(args, op_name):
    """Accept both f(2, 3) and f((2, 3)), like PyTorch."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    for n in args:
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
            raise TypeError(f"{op_name}: sizes must be ints, got {tuple(args)}")
    return tuple(int(n) for n in args)


def reshape(input, *shape):
    """The same elements in a new shape (one entry may be -1); a view when the memory layout allows."""
    shape = _sizes(shape, "reshape")
    if shape == input.shape:
        return input
    known = math.prod(n for n in shape if n != -1)
    if shape.count(-1) > 1 or (-1 not in shape and known != input.numel()) or \
            (-1 in shape and (known == 0 or input.numel() % known)):
        raise ShapeError(f"reshape: shape {shape} is invalid for input of shape {input.shape} "
                         f"({input.numel()} elements)")
    return mv.Reshape.apply(input, shape=shape)


def view(input, *shape):
    """Like reshape, but never copies: raises when the memory layout (e.g. after a transpose) needs a copy."""
    result = reshape(input, *shape)
    if result is not input and input.numel() > 1 and not np.may_share_memory(result.data, input.data):
        raise ShapeError(f"view: shape {_sizes(shape, 'view')} is not compatible with the strides of the input "
                         f"(shape {input.shape}, not contiguous: after transpose/permute, or the output of a conv, "
                         "pooling or activation layer, which glassbox keeps batch-last in memory like torch's "
                         "channels_last); view never copies. Use .reshape(...) or .flatten(1) instead, or call "
                         ".contiguous() first.")
    return result


def view_as(input, other):
    return reshape(input, other.shape)


def reshape_as(input, other):
    return reshape(input, other.shape)


def flatten(input, start_dim=0, end_dim=-1):
    """Merge dims start_dim..end_dim into one."""
    if input.ndim == 0:
        return reshape(input, 1)
    start = normalize_dim(start_dim, input.ndim, "flatten")
    end = normalize_dim(end_dim, input.ndim, "flatten")
    if start > end:
        raise ValueError(f"flatten: start_dim ({start_dim}) must not come after end_dim ({end_dim})")
    shape = input.shape[:start] + (math.prod(input.shape[start:end + 1]),) + input.shape[end + 1:]
    return reshape(input, shape)


def unflatten(input, dim, sizes):
    """Split dim `dim` into `sizes` (one entry may be -1)."""
    axis = normalize_dim(dim, input.ndim, "unflatten")
    sizes = tuple(sizes)
    known = math.prod(n for n in sizes if n != -1)
    if -1 in sizes:
        sizes = tuple(input.shape[axis] // known if n == -1 else n for n in sizes)
    if math.prod(sizes) != input.shape[axis]:
        raise ShapeError(f"unflatten: sizes {tuple(sizes)} don't multiply to the size {input.shape[axis]} of "
                         f"dim {dim} in a tensor of shape {input.shape}")
    return reshape(input, input.shape[:axis] + sizes + input.shape[axis + 1:])


def permute(input, *dims):
    """Reorder dimensions: dims is a permutation of range(ndim)."""
    dims = _sizes(dims, "permute")
    if len(dims) != input.ndim:
        raise ShapeError(f"permute: got {len(dims)} dims {dims} for a tensor with {input.ndim} dims "
                         f"(shape {input.shape})")
    axes = tuple(normalize_dim(d, input.ndim, "permute") for d in dims)
    if len(set(axes)) != len(axes):
        raise ShapeError(f"permute: dims {dims} repeat a dimension")
    if axes == tuple(range(input.ndim)):
        return input
    return mv.Permute.apply(input, dims=axes)


def transpose(input, dim0, dim1):
    """Swap two dimensions."""
    if input.ndim == 0:
        return input
    a = normalize_dim(dim0, input.ndim, "transpose")
    b = normalize_dim(dim1, input.ndim, "transpose")
    axes = list(range(input.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return permute(input, axes)


swapaxes = swapdims = transpose


def t(input):
    """Transpose a matrix (1-D and 0-D tensors are returned as they are)."""
    if input.ndim > 2:
        raise ShapeError(f"t() expects a tensor with <= 2 dimensions, but got shape {input.shape}; "
                         "use transpose(dim0, dim1) or permute")
    return transpose(input, 0, 1) if input.ndim == 2 else input


def movedim(input, source, destination):
    src = normalize_dim(source, input.ndim, "movedim")
    dst = normalize_dim(destination, input.ndim, "movedim")
    order = [d for d in range(input.ndim) if d != src]
    order.insert(dst, src)
    return permute(input, order)


def squeeze(input, dim=None):
    """Remove dimensions of size 1 (all of them, or only those in `dim` that have size 1)."""
    if dim is None:
        axes = [i for i, n in enumerate(input.shape) if n == 1]
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        axes = [normalize_dim(d, input.ndim, "squeeze") for d in dims]
        axes = [a for a in axes if input.ndim and input.shape[a] == 1]
    if not axes:
        return input
    return reshape(input, tuple(n for i, n in enumerate(input.shape) if i not in axes))


def unsqueeze(input, dim):
    """Insert a dimension of size 1 at `dim` (which may be ndim, or negative as in PyTorch)."""
    if not -input.ndim - 1 <= dim <= input.ndim:
        raise IndexError(f"unsqueeze: dimension out of range (expected to be in range of [{-input.ndim - 1}, "
                         f"{input.ndim}], but got {dim}) for a tensor of shape {input.shape}")
    axis = dim % (input.ndim + 1)
    return reshape(input, input.shape[:axis] + (1,) + input.shape[axis:])


def expand(input, *sizes):
    """Broadcast size-1 dims to larger sizes without copying; -1 keeps a size."""
    sizes = _sizes(sizes, "expand")
    if len(sizes) < input.ndim:
        raise ShapeError(f"expand: the number of sizes provided ({len(sizes)}) must be at least the number of "
                         f"dimensions of the tensor ({input.ndim}, shape {input.shape})")
    lead = len(sizes) - input.ndim
    shape = tuple(input.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes))
    for i, n in enumerate(input.shape):
        if n != 1 and n != shape[lead + i]:
            raise ShapeError(f"expand: the size of dim {i} ({n}) of a tensor of shape {input.shape} must be 1 "
                             f"or match the target size {shape[lead + i]} (target {sizes})")
    if shape == input.shape:
        return input
    return mv.Expand.apply(input, shape=shape)


def expand_as(input, other):
    return expand(input, other.shape)


def broadcast_to(input, shape):
    return expand(input, shape)


def repeat(input, *repeats):
    """Tile the tensor: repeat(2, 3) on shape (a, b) gives shape (2a, 3b)."""
    repeats = _sizes(repeats, "repeat")
    if len(repeats) < input.ndim:
        raise ShapeError(f"repeat: number of repeat dims ({len(repeats)}) can not be smaller than the number of "
                         f"dimensions of the tensor ({input.ndim}, shape {input.shape})")
    return mv.Repeat.apply(input, repeats=repeats)


def flip(input, dims):
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    axes = tuple(normalize_dim(d, input.ndim, "flip") for d in dims)
    return mv.Flip.apply(input, axes=axes)


def _same_dtype(tensors, op_name):
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op_name}: expected a non-empty sequence of tensors")
    for i, other in enumerate(tensors[1:], 1):
        if other.dtype != tensors[0].dtype:
            tensors[0], tensors[i] = binary_operands(tensors[0], other, op_name)
    dtype = tensors[0].dtype
    from .operands import cast

    return [cast(x, dtype) for x in tensors]


def cat(tensors, dim=0):
    """Join tensors along an existing dimension; all other sizes must match."""
    tensors = _same_dtype(tensors, "cat")
    axis = normalize_dim(dim, tensors[0].ndim, "cat")
    first = tensors[0].shape
    for i, x in enumerate(tensors):
        if x.ndim != len(first) or any(a != b for d, (a, b) in enumerate(zip(x.shape, first)) if d != axis):
            raise ShapeError(f"cat: sizes of tensors must match except in dimension {dim}: tensor 0 has shape "
                             f"{first} but tensor {i} has shape {x.shape}")
    return mv.Cat.apply(*tensors, axis=axis)


concat = concatenate = cat


def stack(tensors, dim=0):
    """Join same-shaped tensors along a new dimension."""
    tensors = _same_dtype(tensors, "stack")
    for i, x in enumerate(tensors):
        if x.shape != tensors[0].shape:
            raise ShapeError(f"stack expects each tensor to be equal size, but got {tensors[0].shape} at entry 0 "
                             f"and {x.shape} at entry {i}")
    ndim = tensors[0].ndim + 1
    if not -ndim <= dim < ndim:
        raise IndexError(f"stack: dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], "
                         f"but got {dim})")
    return mv.Stack.apply(*tensors, axis=dim % ndim)


def narrow(input, dim, start, length):
    """The slice [start, start + length) along dim (a view)."""
    axis = normalize_dim(dim, input.ndim, "narrow")
    index = (slice(None),) * axis + (slice(start, start + length),)
    return mv.GetItem.apply(input, index=index, advanced=False)


def split(input, split_size_or_sections, dim=0):
    """Pieces of size split_size_or_sections (the last may be smaller), or of the listed sizes."""
    axis = normalize_dim(dim, input.ndim, "split")
    n = input.shape[axis]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [min(size, n - start) for start in range(0, n, size)] or [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise ShapeError(f"split: sizes {sizes} sum to {sum(sizes)} but dim {dim} of shape {input.shape} "
                             f"has size {n}")
    pieces, start = [], 0
    for size in sizes:
        pieces.append(narrow(input, axis, start, size))
        start += size
    return tuple(pieces)


def chunk(input, chunks, dim=0):
    """Split into `chunks` pieces of ceil(n / chunks) (fewer when n is small), as in PyTorch."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    n = input.shape[normalize_dim(dim, input.ndim, "chunk")]
    return split(input, max(math.ceil(n / chunks), 1), dim)


def unbind(input, dim=0):
    axis = normalize_dim(dim, input.ndim, "unbind")
    return tuple(squeeze(piece, axis) for piece in split(input, 1, axis))


def _crop_negative_widths(input, pad):
    """A negative width crops that many entries, as in torch: slice those off first, then pad the rest (in every
    mode the padding is computed from the cropped input, e.g. circular wraps around the cropped ends)."""
    index = [slice(None)] * input.ndim
    for i in range(len(pad) // 2):
        dim = input.ndim - 1 - i
        before, after, size = int(pad[2 * i]), int(pad[2 * i + 1]), input.shape[dim]
        if size + before + after < 0:
            raise ShapeError(f"pad: widths ({before}, {after}) on dim {dim} of size {size} leave a negative size "
                             f"(input shape {input.shape})")
        index[dim] = slice(max(-before, 0), size - max(-after, 0))
    return input[tuple(index)], [max(int(p), 0) for p in pad]


def pad(input, pad, mode="constant", value=0.0):
    """Pad with torch's order of widths: (left, right) of the last dim, then (top, bottom) of the one before, ...

    A negative width crops that many entries, as in torch."""
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ShapeError(f"pad: expected an even number of widths for at most {input.ndim} dims "
                         f"(input shape {input.shape}), got {tuple(pad)}")
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
    if min(pad) < 0:
        input, pad = _crop_negative_widths(input, pad)
    widths = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        widths[input.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
        if mode == "reflect" and max(widths[input.ndim - 1 - i]) >= input.shape[input.ndim - 1 - i]:
            raise ShapeError(f"pad: reflect padding {widths[input.ndim - 1 - i]} must be smaller than the size "
                             f"{input.shape[input.ndim - 1 - i]} of the padded dim (input shape {input.shape})")
    return mv.Pad.apply(input, widths=tuple(widths), mode=mode, value=value)


def tril(input, diagonal=0):
    if input.ndim < 2:
        raise ShapeError(f"tril: expected a tensor with at least 2 dims, got shape {input.shape}")
    return mv.Tril.apply(input, diagonal=diagonal)


def triu(input, diagonal=0):
    if input.ndim < 2:
        raise ShapeError(f"triu: expected a tensor with at least 2 dims, got shape {input.shape}")
    return mv.Triu.apply(input, diagonal=diagonal)


def matmul(input, other):
    """Matrix product with torch.matmul semantics (vectors, matrices, broadcast batches of matrices)."""
    a, b = binary_operands(input, other, "matmul")
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: both arguments need at least 1 dimension, got shapes {a.shape} and {b.shape}")
    inner_a = a.shape[-1]
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if inner_a != inner_b:
        raise ShapeError(f"matmul: inner dimensions differ: {a.shape} @ {b.shape} ({inner_a} != {inner_b}); "
                         "the last dim of the first must equal the "
                         f"{'only' if b.ndim == 1 else 'second-to-last'} dim of the second")
    return mat.MatMul.apply(a, b)


def mm(input, other):
    if input.ndim != 2 or other.ndim != 2:
        raise ShapeError(f"mm: expected 2-D tensors, got shapes {input.shape} and {other.shape}")
    return matmul(input, other)


def bmm(input, other):
    if input.ndim != 3 or other.ndim != 3 or input.shape[0] != other.shape[0]:
        raise ShapeError(f"bmm: expected 3-D tensors with the same batch size, got shapes {input.shape} and "
                         f"{other.shape}")
    return matmul(input, other)


def dot(input, other):
    if input.ndim != 1 or other.ndim != 1 or input.shape != other.shape:
        raise ShapeError(f"dot: expected two 1-D tensors of the same length, got shapes {input.shape} and "
                         f"{other.shape}")
    return matmul(input, other)


def outer(input, other):
    return matmul(reshape(input, -1, 1), reshape(other, 1, -1))
