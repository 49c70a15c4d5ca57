"""Convolution: the functional conv2d/conv1d (torch.nn.functional's semantics) and the Conv2d/Conv1d layers."""

import math

from .. import dtypes
from ..creation import empty
from ..errors import ShapeError
from ..functional.operands import cast
from ..functional.shape import pad as _pad
from ..functional.shape import reshape
from ..ops import conv as cv
from . import init
from .module import Module
from .parameter import Parameter

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _tuple(value, n, name, op):
    """An int or a length-n sequence of ints, as a tuple of n ints."""
    if isinstance(value, int):
        return (value,) * n
    value = tuple(int(v) for v in value)
    if len(value) == 1 and n > 1:
        value = value * n
    if len(value) != n:
        raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value}")
    return value


def _same_padding(kernel, dilation):
    """Per spatial dim, the (before, after) zero widths that keep the size at stride 1: the extra one goes after
    (right/bottom), as in torch."""
    widths = []
    for k, d in zip(kernel, dilation):
        total = d * (k - 1)
        widths.append((total // 2, total - total // 2))
    return widths


def _conv(op, dims, input, weight, bias, stride, padding, dilation, groups):
    """Validate with messages naming `op`, resolve string padding, and run the Conv2d primitive on (N, C, H, W)."""
    spatial = "(H, W)" if dims == 2 else "(L)"
    if input.ndim not in (dims + 1, dims + 2):
        raise ShapeError(f"{op}: expected a {dims + 2}-D input (N, C_in, {spatial[1:-1]}) or a {dims + 1}-D unbatched "
                         f"input (C_in, {spatial[1:-1]}), got shape {tuple(input.shape)}")
    if weight.ndim != dims + 2:
        raise ShapeError(f"{op}: weight must be {dims + 2}-D (C_out, C_in/groups, "
                         f"{'kH, kW' if dims == 2 else 'kL'}), got shape {tuple(weight.shape)}")
    groups = int(groups)
    if groups < 1:
        raise ValueError(f"{op}: groups must be a positive integer, got {groups}")
    batched = input.ndim == dims + 2
    in_shape = tuple(input.shape)
    if not batched:
        input = reshape(input, (1,) + in_shape)
    c_in, c_out, c_group = input.shape[1], weight.shape[0], weight.shape[1]
    if c_out % groups:
        raise ShapeError(f"{op}: out_channels={c_out} (weight shape {tuple(weight.shape)}) is not divisible by "
                         f"groups={groups}")
    if c_in % groups:
        raise ShapeError(f"{op}: in_channels={c_in} (input shape {in_shape}) is not divisible by groups={groups}")
    if c_in != c_group * groups:
        raise ShapeError(f"{op}: input of shape {in_shape} has {c_in} channels, but weight of shape "
                         f"{tuple(weight.shape)} with groups={groups} expects {c_group * groups} "
                         f"(= weight.shape[1] * groups) channels in dim {1 if batched else 0}"
                         + ("" if batched else f" (a {dims + 1}-D input is read as unbatched (C_in, {spatial[1:-1]}))"))
    if bias is not None and tuple(bias.shape) != (c_out,):
        raise ShapeError(f"{op}: bias must have shape ({c_out},) (one per output channel), got {tuple(bias.shape)}")
    kernel = tuple(weight.shape[2:])
    stride = _tuple(stride, dims, "stride", op)
    dilation = _tuple(dilation, dims, "dilation", op)
    if min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"{op}: stride and dilation must be positive, got stride={stride}, dilation={dilation}")
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0,) * dims
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions (stride={stride})")
            widths = _same_padding(kernel, dilation)
            extra = [after - before for before, after in widths]
            if any(extra):  # an even effective kernel: pad the odd one out on the right/bottom first
                flat = []
                for e in reversed(extra):
                    flat += [0, e]
                input = _pad(input, tuple(flat))
            padding = tuple(before for before, _ in widths)
        else:
            raise ValueError(f"{op}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
    else:
        padding = _tuple(padding, dims, "padding", op)
        if min(padding) < 0:
            raise ValueError(f"{op}: padding must be non-negative, got {padding}")
    size = tuple(input.shape[2:])
    for s, p, k, d in zip(size, padding, kernel, dilation):
        if s + 2 * p < d * (k - 1) + 1:
            padded = tuple(a + 2 * b for a, b in zip(size, padding))
            dilated = tuple(d_ * (k_ - 1) + 1 for k_, d_ in zip(kernel, dilation))
            raise ShapeError(f"{op}: input of shape {in_shape} padded to {padded} is smaller than the kernel {kernel} "
                             f"(dilated to {dilated}); use a smaller kernel or more padding")
    if input.dtype != weight.dtype:
        input = cast(input, weight.dtype)
    if dims == 1:  # (N, C, L) -> (N, C, 1, L): a conv2d with a kernel height of 1
        input = reshape(input, (input.shape[0], input.shape[1], 1, input.shape[2]))
        weight = reshape(weight, (c_out, c_group, 1, kernel[0]))
        stride, padding, dilation = (1,) + stride, (0,) + padding, (1,) + dilation
    params = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    if bias is None:
        out = cv.Conv2d.apply(input, weight, **params)
    else:
        out = cv.Conv2d.apply(input, weight, bias, **params)
    if dims == 1:
        out = reshape(out, (out.shape[0], out.shape[1], out.shape[3]))
    if not batched:
        out = reshape(out, tuple(out.shape[1:]))
    return out


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, as in torch): input (N, C_in, H, W) or (C_in, H, W), weight
    (C_out, C_in/groups, kH, kW), bias (C_out,). padding: int, (pH, pW), 'valid' or 'same' (stride 1 only)."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution: input (N, C_in, L) or (C_in, L), weight (C_out, C_in/groups, k), bias (C_out,)."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


class _ConvNd(Module):
    _dims = 2
    _functional = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", dtype=None):
        super().__init__()
        name, n = type(self).__name__, self._dims
        if groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups}")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels={in_channels} must be divisible by groups={groups}")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels={out_channels} must be divisible by groups={groups}")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {list(_PADDING_MODES)}, got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = _tuple(kernel_size, n, "kernel_size", name)
        self.stride = _tuple(stride, n, "stride", name)
        self.dilation = _tuple(dilation, n, "dilation", name)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: invalid padding string {padding!r}, should be one of ['valid', 'same']")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = _tuple(padding, n, "padding", name)
        self.padding_mode = padding_mode
        self.output_padding = (0,) * n
        self.transposed = False
        # The widths F.pad gets for non-zero padding modes, last dim first: (left, right, top, bottom).
        if padding == "same":
            widths = _same_padding(self.kernel_size, self.dilation)
        elif padding == "valid":
            widths = [(0, 0)] * n
        else:
            widths = [(p, p) for p in self.padding]
        self._reversed_padding_repeated_twice = tuple(w for pair in reversed(widths) for w in pair)
        dtype = dtypes.as_dtype(dtype) or dtypes.get_default_dtype()
        self.weight = Parameter(empty(out_channels, in_channels // groups, *self.kernel_size, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        reset_conv_parameters(self.weight, self.bias)

    def forward(self, input):
        n, name = self._dims, type(self).__name__
        channel_dim = 1 if input.ndim == n + 2 else 0
        if input.ndim in (n + 1, n + 2) and input.shape[channel_dim] != self.in_channels:
            spatial = "H, W" if n == 2 else "L"
            raise ShapeError(f"{name}(in_channels={self.in_channels}) got input of shape {tuple(input.shape)}: "
                             f"expected (N, {self.in_channels}, {spatial}), i.e. {self.in_channels} channels in dim "
                             f"{channel_dim}")
        fn = conv2d if n == 2 else conv1d
        if self.padding_mode != "zeros":
            if input.ndim not in (n + 1, n + 2):
                return fn(input, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)  # raises
            mode = {"reflect": "reflect", "replicate": "replicate", "circular": "circular"}[self.padding_mode]
            input = _pad(input, self._reversed_padding_repeated_twice, mode=mode)
            return fn(input, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        return fn(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * len(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv2d(_ConvNd):
    """2-D convolution layer: (N, C_in, H, W) -> (N, C_out, H_out, W_out), with
    H_out = (H + 2*pH - dH*(kH-1) - 1) // sH + 1. weight (C_out, C_in/groups, kH, kW), bias (C_out,).
    padding_mode 'zeros', 'reflect', 'replicate' or 'circular'; padding may be 'same' or 'valid'."""

    _dims = 2


class Conv1d(_ConvNd):
    """1-D convolution layer: (N, C_in, L) -> (N, C_out, L_out). weight (C_out, C_in/groups, k), bias (C_out,)."""

    _dims = 1


def reset_conv_parameters(weight, bias):
    """torch's default for every convolution: kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    with fan_in = weight.shape[1] * kH * kW (for a transposed weight that is C_out/groups * kH * kW, as in torch);
    the bias gets the same bound."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound)
