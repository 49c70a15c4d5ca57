"""Transposed convolution: the functional conv_transpose2d (torch.nn.functional's semantics) and ConvTranspose2d."""


from .. import dtypes
from ..creation import empty
from ..errors import ShapeError
from ..functional.operands import cast
from ..functional.shape import reshape
from ..ops import conv_transpose as ct
from .conv import _tuple, reset_conv_parameters
from .module import Module
from .parameter import Parameter


def _check_output_padding(op, output_padding, stride, dilation):
    for o, s, d in zip(output_padding, stride, dilation):
        if o < 0 or (o >= s and o >= d):
            raise ValueError(f"{op}: output padding must be non-negative and smaller than either stride or dilation, "
                             f"got output_padding={output_padding}, stride={stride}, dilation={dilation}")


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution ("deconvolution", the adjoint of conv2d): input (N, C_in, H, W) or (C_in, H, W),
    weight (C_in, C_out/groups, kH, kW), bias (C_out,). H_out = (H-1)*sH - 2*pH + dH*(kH-1) + output_padding + 1."""
    op = "conv_transpose2d"
    if input.ndim not in (3, 4):
        raise ShapeError(f"{op}: expected a 4-D input (N, C_in, H, W) or a 3-D unbatched input (C_in, H, W), "
                         f"got shape {tuple(input.shape)}")
    if weight.ndim != 4:
        raise ShapeError(f"{op}: weight must be 4-D (C_in, C_out/groups, kH, kW), got shape {tuple(weight.shape)}")
    groups = int(groups)
    if groups < 1:
        raise ValueError(f"{op}: groups must be a positive integer, got {groups}")
    batched = input.ndim == 4
    in_shape = tuple(input.shape)
    if not batched:
        input = reshape(input, (1,) + in_shape)
    c_in = input.shape[1]
    if weight.shape[0] != c_in:
        raise ShapeError(f"{op}: input of shape {in_shape} has {c_in} channels in dim {1 if batched else 0}, but "
                         f"weight of shape {tuple(weight.shape)} expects weight.shape[0]={weight.shape[0]} "
                         f"(weight is (C_in, C_out/groups, kH, kW))")
    if c_in % groups:
        raise ShapeError(f"{op}: in_channels={c_in} (input shape {in_shape}) is not divisible by groups={groups}")
    c_out = weight.shape[1] * groups
    if bias is not None and tuple(bias.shape) != (c_out,):
        raise ShapeError(f"{op}: bias must have shape ({c_out},) (= weight.shape[1] * groups output channels), "
                         f"got {tuple(bias.shape)}")
    stride = _tuple(stride, 2, "stride", op)
    padding = _tuple(padding, 2, "padding", op)
    output_padding = _tuple(output_padding, 2, "output_padding", op)
    dilation = _tuple(dilation, 2, "dilation", op)
    if min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"{op}: stride and dilation must be positive, got stride={stride}, dilation={dilation}")
    if min(padding) < 0:
        raise ValueError(f"{op}: padding must be non-negative, got {padding}")
    _check_output_padding(op, output_padding, stride, dilation)
    kernel = tuple(weight.shape[2:])
    out_size = tuple((s - 1) * st - 2 * p + d * (k - 1) + o + 1
                     for s, st, p, d, k, o in zip(input.shape[2:], stride, padding, dilation, kernel, output_padding))
    if min(out_size) <= 0:
        raise ShapeError(f"{op}: input of shape {in_shape} with kernel {kernel}, stride {stride}, padding {padding}, "
                         f"output_padding {output_padding} and dilation {dilation} gives an empty output {out_size}; "
                         f"use less padding")
    if input.dtype != weight.dtype:
        input = cast(input, weight.dtype)
    params = dict(stride=stride, padding=padding, output_padding=output_padding, dilation=dilation, groups=groups)
    if bias is None:
        out = ct.ConvTranspose2d.apply(input, weight, **params)
    else:
        out = ct.ConvTranspose2d.apply(input, weight, bias, **params)
    if not batched:
        out = reshape(out, tuple(out.shape[1:]))
    return out


class ConvTranspose2d(Module):
    """2-D transposed convolution layer: (N, C_in, H, W) -> (N, C_out, H_out, W_out), with
    H_out = (H-1)*sH - 2*pH + dH*(kH-1) + output_padding_H + 1. weight (C_in, C_out/groups, kH, kW), bias (C_out,).
    forward(input, output_size=None): output_size picks the output_padding that gives that (H_out, W_out)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", dtype=None):
        super().__init__()
        name = type(self).__name__
        if groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups}")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels={in_channels} must be divisible by groups={groups}")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels={out_channels} must be divisible by groups={groups}")
        if padding_mode != "zeros":
            raise ValueError(f"{name}: only 'zeros' padding mode is supported, got {padding_mode!r}")
        if isinstance(padding, str):
            raise ValueError(f"{name}: padding must be an int or a tuple of ints, got {padding!r}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = _tuple(kernel_size, 2, "kernel_size", name)
        self.stride = _tuple(stride, 2, "stride", name)
        self.padding = _tuple(padding, 2, "padding", name)
        self.output_padding = _tuple(output_padding, 2, "output_padding", name)
        self.dilation = _tuple(dilation, 2, "dilation", name)
        _check_output_padding(name, self.output_padding, self.stride, self.dilation)
        self.padding_mode = padding_mode
        self.transposed = True
        dtype = dtypes.as_dtype(dtype) or dtypes.get_default_dtype()
        self.weight = Parameter(empty(in_channels, out_channels // groups, *self.kernel_size, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        reset_conv_parameters(self.weight, self.bias)

    def _output_padding(self, input, output_size):
        """torch's rule: the output_padding (each < max(stride, dilation)) that makes the output `output_size`."""
        if output_size is None:
            return self.output_padding
        name = type(self).__name__
        output_size = tuple(int(s) for s in output_size)
        if len(output_size) == input.ndim:
            output_size = output_size[-2:]
        if len(output_size) != 2:
            raise ValueError(f"{name}: output_size must have 2 or {input.ndim} elements, got {output_size}")
        padding = []
        for dim, want in enumerate(output_size):
            size = input.shape[input.ndim - 2 + dim]
            k, s, p, d = self.kernel_size[dim], self.stride[dim], self.padding[dim], self.dilation[dim]
            smallest = (size - 1) * s - 2 * p + d * (k - 1) + 1
            largest = smallest + s - 1
            if not smallest <= want <= largest:
                raise ValueError(f"{name}: requested an output size of {output_size}, but valid sizes range from "
                                 f"{smallest} to {largest} (for an input of {tuple(input.shape[-2:])})")
            padding.append(want - smallest)
        return tuple(padding)

    def forward(self, input, output_size=None):
        name = type(self).__name__
        channel_dim = 1 if input.ndim == 4 else 0
        if input.ndim in (3, 4) and input.shape[channel_dim] != self.in_channels:
            raise ShapeError(f"{name}(in_channels={self.in_channels}) got input of shape {tuple(input.shape)}: "
                             f"expected (N, {self.in_channels}, H, W), i.e. {self.in_channels} channels in dim "
                             f"{channel_dim}")
        output_padding = self._output_padding(input, output_size)
        return conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups,
                                self.dilation)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s
