"""Resizing: the functional interpolate ('nearest' and 'bilinear' on (N, C, H, W), torch's index formulas) and the
Upsample and ZeroPad2d modules."""

import math

import numpy as np

from ..errors import ShapeError
from ..functional.operands import floating
from ..functional.shape import pad as _pad
from ..ops import resize
from .module import Module

_MODES = ("nearest", "bilinear")


def _pair(value, op, what, kind):
    value = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(value) != 2:
        article = "an int" if kind == "int" else "a number"
        raise ValueError(f"{op}: {what} must be {article} or a tuple of 2 for a 4-D input, got {value!r}")
    return tuple(kind_cast(v) for v, kind_cast in zip(value, (int, int) if kind == "int" else (float, float)))


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None):
    """Resize the spatial dims of a 4-D (N, C, H, W) input to `size` or by `scale_factor` (not both).

    mode 'nearest': out[y] = in[min(floor(y * s), H - 1)]; 'bilinear': two-tap linear interpolation per axis with
    align_corners=True mapping corner pixel centres onto each other (s = (H-1)/(H_out-1)), else half-pixel centres
    (src = s*(y + 0.5) - 0.5, clamped at 0). s is 1/scale_factor when scale_factor is given (and
    recompute_scale_factor is not True), else H/H_out; H_out = floor(H * scale_factor) in that case."""
    op = "interpolate"
    if mode not in _MODES:
        raise ValueError(f"{op}: mode must be one of {list(_MODES)} (the modes glassbox implements), got {mode!r}")
    if mode == "nearest" and align_corners is not None:
        raise ValueError(f"{op}: align_corners option can only be set with the interpolating mode 'bilinear', "
                         f"got align_corners={align_corners} with mode='nearest'")
    if input.ndim != 4:
        raise ShapeError(f"{op}: expected a 4-D input (N, C, H, W) for mode={mode!r}, got shape {tuple(input.shape)}")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: exactly one of size and scale_factor must be given, got size={size!r}, "
                         f"scale_factor={scale_factor!r}")
    in_size = tuple(input.shape[2:])
    if size is not None:
        out_size = _pair(size, op, "size", "int")
        if min(out_size) <= 0:
            raise ValueError(f"{op}: size must be positive, got {out_size}")
        scales = (None, None)
    else:
        scales = _pair(scale_factor, op, "scale_factor", "float")
        if min(scales) <= 0 or not all(math.isfinite(s) for s in scales):
            raise ValueError(f"{op}: scale_factor must be positive and finite, got {scale_factor!r}")
        out_size = tuple(int(math.floor(float(s) * f)) for s, f in zip(in_size, scales))
        if min(out_size) <= 0:
            raise ValueError(f"{op}: input of spatial size {in_size} with scale_factor {scales} gives an empty "
                             f"output {out_size}")
        if recompute_scale_factor:
            scales = (None, None)
    if min(in_size) <= 0:
        raise ShapeError(f"{op}: input of shape {tuple(input.shape)} has an empty spatial dim")
    (h, w), (h_out, w_out) = in_size, out_size
    if mode == "nearest":
        iy = resize.nearest_indices(h, h_out, scales[0])
        ix = resize.nearest_indices(w, w_out, scales[1])
        return resize.UpsampleNearest2d.apply(input, iy=iy, ix=ix)
    input = floating(input, op)  # nearest copies any dtype; bilinear needs a float
    align = bool(align_corners)
    taps_h = resize.linear_weights(h, h_out, scales[0], align)
    taps_w = resize.linear_weights(w, w_out, scales[1], align)
    return resize.UpsampleBilinear2d.apply(input, taps_h=taps_h, taps_w=taps_w)


class Upsample(Module):
    """Resize (N, C, H, W) inputs to `size` or by `scale_factor` with interpolate's 'nearest' or 'bilinear'."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None):
        super().__init__()
        if mode not in _MODES:
            raise ValueError(f"Upsample: mode must be one of {list(_MODES)}, got {mode!r}")
        if (size is None) == (scale_factor is None):
            raise ValueError(f"Upsample: exactly one of size and scale_factor must be given, got size={size!r}, "
                             f"scale_factor={scale_factor!r}")
        self.name = type(self).__name__
        self.size = tuple(size) if isinstance(size, list) else size
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                           recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class ZeroPad2d(Module):
    """Pad the last two dims with zeros: padding an int (all four sides) or (left, right, top, bottom)."""

    def __init__(self, padding):
        super().__init__()
        if isinstance(padding, (int, np.integer)):
            padding = (int(padding),) * 4
        padding = tuple(padding)
        if len(padding) != 4 or not all(isinstance(p, (int, np.integer)) for p in padding):
            raise ValueError(f"ZeroPad2d: padding must be an int or a tuple of 4 ints (left, right, top, bottom), "
                             f"got {padding!r}")
        self.padding = tuple(int(p) for p in padding)
        self.value = 0.0

    def forward(self, input):
        if input.ndim not in (3, 4):
            raise ShapeError(f"ZeroPad2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape "
                             f"{tuple(input.shape)}")
        return _pad(input, self.padding, mode="constant", value=0.0)

    def extra_repr(self):
        return f"{self.padding}"
