"""Pooling: torch.nn.functional's max_pool1d/2d, avg_pool2d, adaptive_avg_pool2d, adaptive_max_pool2d and the
modules MaxPool1d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, AdaptiveMaxPool2d.

Inputs are batched (N, C, H, W) or unbatched (C, H, W) ((N, C, L) or (C, L) for 1-D); the work is done by the
fused primitives in ops/pool.py, 1-D pooling as 2-D pooling of an (N, C, 1, L) view.
"""

import numpy as np

from ..errors import ShapeError
from ..functional.operands import floating
from ..functional.shape import reshape
from ..ops import pool
from ..tensor import Tensor
from .module import Module


def _tuple(value, n, op, what):
    """An int or a sequence of n ints, as a tuple of n ints."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    value = tuple(value)
    if len(value) == 1:
        value = value * n
    if len(value) != n or not all(isinstance(v, (int, np.integer)) for v in value):
        raise ValueError(f"{op}: {what} must be an int or a tuple of {n} ints, got {value!r}")
    return tuple(int(v) for v in value)


def _batched(input, spatial, op):
    """The input as a batched tensor ((N, C) + spatial dims) and whether it was unbatched."""
    layout = "(N, C, H, W) or (C, H, W)" if spatial == 2 else "(N, C, L) or (C, L)"
    if input.ndim not in (spatial + 1, spatial + 2):
        raise ShapeError(f"{op}: expected a {spatial + 1}-D (unbatched) or {spatial + 2}-D (batched) input "
                         f"{layout}, got shape {tuple(input.shape)}")
    if any(s == 0 for s in input.shape[-spatial:]) or (input.ndim == spatial + 2 and input.shape[1] == 0):
        raise ShapeError(f"{op}: expected an input with non-zero channel and spatial sizes, got shape "
                         f"{tuple(input.shape)}")
    unbatched = input.ndim == spatial + 1
    shape = tuple(input.shape)
    four_d = ((1,) if unbatched else ()) + shape[:-spatial] + ((1,) if spatial == 1 else ()) + shape[-spatial:]
    return (reshape(input, four_d) if four_d != shape else input), unbatched


def _restore(out, unbatched, spatial):
    """Undo _batched on an output tensor (N, C, Ho, Wo)."""
    shape = tuple(out.shape)
    if spatial == 1:
        shape = shape[:2] + shape[3:]
    if unbatched:
        shape = shape[1:]
    return reshape(out, shape) if shape != tuple(out.shape) else out


def _check_window(op, x, kernel, stride, padding, dilation, ceil_mode):
    """torch's checks on a pooling window, and the output size (raises when it would be empty)."""
    names = ("kernel_size", kernel), ("stride", stride), ("dilation", dilation)
    for name, value in names:
        if any(v <= 0 for v in value):
            raise ValueError(f"{op}: {name} must be positive, got {value}")
    if any(p < 0 for p in padding):
        raise ValueError(f"{op}: padding must be non-negative, got {padding}")
    for k, p in zip(kernel, padding):  # torch compares with the kernel, not the dilated one, for max pooling too
        if p > k // 2:
            raise ShapeError(f"{op}: pad should be at most half of kernel size, but got pad={p}, kernel_size={k}")
    h, w = x.shape[2:]
    out_h = pool.pool_output_size(h, kernel[0], stride[0], padding[0], dilation[0], ceil_mode)
    out_w = pool.pool_output_size(w, kernel[1], stride[1], padding[1], dilation[1], ceil_mode)
    if out_h < 1 or out_w < 1:
        raise ShapeError(f"{op}: given input size {tuple(x.shape[1:])}, the calculated output size "
                         f"({x.shape[1]}, {out_h}, {out_w}) is too small: the kernel {kernel} (dilation {dilation}) "
                         f"is larger than the padded input ({h + 2 * padding[0]}, {w + 2 * padding[1]})")


def _max_pool(input, kernel, stride, padding, dilation, ceil_mode, return_indices, op, spatial):
    input = floating(input, op)
    x, unbatched = _batched(input, spatial, op)
    _check_window(op, x, kernel, stride, padding, dilation, ceil_mode)
    sink = [] if return_indices else None
    out = pool.MaxPool2d.apply(x, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                               ceil_mode=bool(ceil_mode), indices_out=sink)
    result = _restore(out, unbatched, spatial)
    if return_indices:
        index = Tensor._make(sink[0])
        return result, _restore(index, unbatched, spatial)
    return result


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """The max over each kernel window of (N, C, H, W) or (C, H, W) input; padding counts as -inf.

    stride defaults to kernel_size. return_indices=True also returns int64 indices of the maxima, flat positions
    into each channel's H * W plane (what torch returns, and what max_unpool2d takes).
    """
    op = "max_pool2d"
    kernel = _tuple(kernel_size, 2, op, "kernel_size")
    stride = kernel if stride is None or stride == () or stride == [] else _tuple(stride, 2, op, "stride")
    return _max_pool(input, kernel, stride, _tuple(padding, 2, op, "padding"), _tuple(dilation, 2, op, "dilation"),
                     ceil_mode, return_indices, op, 2)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """The max over each kernel window of (N, C, L) or (C, L) input; indices are positions along L."""
    op = "max_pool1d"
    kernel = _tuple(kernel_size, 1, op, "kernel_size")
    stride = kernel if stride is None or stride == () or stride == [] else _tuple(stride, 1, op, "stride")
    padding, dilation = _tuple(padding, 1, op, "padding"), _tuple(dilation, 1, op, "dilation")
    return _max_pool(input, (1,) + kernel, (1,) + stride, (0,) + padding, (1,) + dilation, ceil_mode,
                     return_indices, op, 1)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """The mean over each kernel window of (N, C, H, W) or (C, H, W) input; padding counts as 0.

    The divisor is the window size (padding included when count_include_pad, else only the input positions), or
    divisor_override when given.
    """
    op = "avg_pool2d"
    input = floating(input, op)
    kernel = _tuple(kernel_size, 2, op, "kernel_size")
    stride = kernel if stride is None or stride == () or stride == [] else _tuple(stride, 2, op, "stride")
    padding = _tuple(padding, 2, op, "padding")
    if divisor_override is not None and divisor_override == 0:
        raise ValueError(f"{op}: divisor must be not zero")
    x, unbatched = _batched(input, 2, op)
    _check_window(op, x, kernel, stride, padding, (1, 1), ceil_mode)
    out = pool.AvgPool2d.apply(x, kernel=kernel, stride=stride, padding=padding, ceil_mode=bool(ceil_mode),
                               count_include_pad=bool(count_include_pad), divisor_override=divisor_override)
    return _restore(out, unbatched, 2)


def _output_size(output_size, x, op):
    """An adaptive output size (int, or a pair whose None entries keep the input's size) as a pair of ints."""
    if output_size is None or isinstance(output_size, (int, np.integer)):
        output_size = (output_size, output_size)
    output_size = tuple(output_size)
    if len(output_size) != 2:
        raise ValueError(f"{op}: output_size must be an int or a pair, got {output_size!r}")
    size = tuple(int(x.shape[2 + i]) if s is None else int(s) for i, s in enumerate(output_size))
    if any(s <= 0 for s in size):
        raise ShapeError(f"{op}: output_size must be positive, got {size}")
    return size


def adaptive_avg_pool2d(input, output_size):
    """Average pooling of (N, C, H, W) or (C, H, W) input to exactly output_size (oh, ow), with torch's windows
    start = floor(i * H / oh), end = ceil((i + 1) * H / oh)."""
    op = "adaptive_avg_pool2d"
    input = floating(input, op)
    x, unbatched = _batched(input, 2, op)
    out = pool.AdaptiveAvgPool2d.apply(x, output_size=_output_size(output_size, x, op))
    return _restore(out, unbatched, 2)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling of (N, C, H, W) or (C, H, W) input to exactly output_size, with adaptive_avg_pool2d's windows;
    return_indices=True also returns the maxima's flat positions into H * W (int64)."""
    op = "adaptive_max_pool2d"
    input = floating(input, op)
    x, unbatched = _batched(input, 2, op)
    size = _output_size(output_size, x, op)
    sink = [] if return_indices else None
    h, w = x.shape[2:]
    if h % size[0] == 0 and w % size[1] == 0:  # equal windows that tile the input: plain max pooling
        kernel = (h // size[0], w // size[1])
        out = pool.MaxPool2d.apply(x, kernel=kernel, stride=kernel, indices_out=sink)
    else:
        out = pool.AdaptiveMaxPool2d.apply(x, output_size=size, indices_out=sink)
    result = _restore(out, unbatched, 2)
    if return_indices:
        return result, _restore(Tensor._make(sink[0]), unbatched, 2)
    return result


# ----- modules -------------------------------------------------------------------------------------------------------
class MaxPool2d(Module):
    """Max pooling over kernel windows: (N, C, H, W) or (C, H, W) -> (N, C, Ho, Wo) or (C, Ho, Wo), with
    Ho = floor((H + 2 padding - dilation (kernel - 1) - 1) / stride) + 1 (ceil with ceil_mode). stride defaults to
    kernel_size."""

    _functional = staticmethod(max_pool2d)

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input):
        return self._functional(input, self.kernel_size, self.stride, self.padding, self.dilation,
                                ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(MaxPool2d):
    """Max pooling over windows along L: (N, C, L) or (C, L) -> (N, C, Lo) or (C, Lo)."""

    _functional = staticmethod(max_pool1d)


class AvgPool2d(Module):
    """Average pooling over kernel windows: (N, C, H, W) or (C, H, W) -> (N, C, Ho, Wo) or (C, Ho, Wo)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input):
        return avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                          self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size: (N, C, H, W) or (C, H, W) -> (N, C, oh, ow) or (C, oh, ow);
    a None in output_size keeps that input dim."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Max pooling to a fixed output size: (N, C, H, W) or (C, H, W) -> (N, C, oh, ow) or (C, oh, ow)."""

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input):
        return adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"
