"""Resizing primitives for (N, C, H, W) arrays: nearest and bilinear interpolation (torch's index formulas).

Both are separable, so each works one spatial axis at a time with whole-slab gathers (fancy indexing along H,
then along W) and no loop over pixels; the backward pass undoes each gather with a segment sum (np.add.reduceat
over the sorted source indices), which is how several output pixels that read the same input pixel add up.
"""

import numpy as np

from ..autograd.function import Function


def nearest_indices(in_size, out_size, scale):
    """torch's 'nearest' source index: min(floor(dst * s), in - 1) with s = 1/scale_factor (when given) or in/out,
    computed in float32 exactly as torch's kernel does (so the rounding of e.g. 0.6f agrees)."""
    if out_size == in_size:
        return np.arange(out_size)
    s = np.float32(1.0 / scale) if scale is not None and scale > 0 else np.float32(in_size) / np.float32(out_size)
    src = np.floor(np.arange(out_size, dtype=np.float32) * s).astype(np.int64)
    return np.minimum(src, in_size - 1)


def linear_weights(in_size, out_size, scale, align_corners):
    """torch's linear source coordinate and its two taps: (i0, i1, lambda1), out = (1 - l1)*x[i0] + l1*x[i1]."""
    dst = np.arange(out_size, dtype=np.float64)
    if align_corners:
        src = dst * ((in_size - 1) / (out_size - 1) if out_size > 1 else 0.0)
    else:
        s = 1.0 / scale if scale is not None and scale > 0 else in_size / out_size
        src = np.maximum(s * (dst + 0.5) - 0.5, 0.0)  # torch clamps negative source coordinates to 0
    i0 = np.minimum(src.astype(np.int64), in_size - 1)
    i1 = np.where(i0 < in_size - 1, i0 + 1, i0)
    return i0, i1, src - i0


def _segment_sum(values, index, size, axis):
    """out[.., k, ..] = sum of values[.., j, ..] over j with index[j] == k, along `axis`; index is non-decreasing."""
    uniq, starts = np.unique(index, return_index=True)
    summed = np.add.reduceat(values, starts, axis=axis)
    if len(uniq) == size:
        return summed
    shape = list(values.shape)
    shape[axis] = size
    out = np.zeros(shape, dtype=values.dtype)
    where = [slice(None)] * values.ndim
    where[axis] = uniq
    out[tuple(where)] = summed
    return out


class UpsampleNearest2d(Function):
    """out[n, c, y, x] = x[n, c, iy[y], ix[x]] (iy, ix from nearest_indices)."""

    save_inputs = False

    def forward(self, x, iy=None, ix=None):
        self.iy, self.ix, self.size = iy, ix, x.shape[2:]
        return x[:, :, iy[:, None], ix[None, :]]

    def backward(self, grad):
        # d out[y, x] / d x[iy[y], ix[x]] = 1: sum every output pixel back into the pixel it copied
        g = _segment_sum(grad, self.ix, self.size[1], axis=3)
        return (_segment_sum(g, self.iy, self.size[0], axis=2),)


class UpsampleBilinear2d(Function):
    """out = Ah @ x @ Aw^T per (n, c), with Ah, Aw the two-tap interpolation matrices of linear_weights."""

    save_inputs = False

    def forward(self, x, taps_h=None, taps_w=None):
        self.taps_h, self.taps_w, self.size = taps_h, taps_w, x.shape[2:]
        h0, h1, lh = taps_h
        w0, w1, lw = taps_w
        lh, lw = lh.astype(x.dtype), lw.astype(x.dtype)
        t = x[:, :, h0, :] * (1 - lh)[:, None] + x[:, :, h1, :] * lh[:, None]  # along H: (N, C, H_out, W)
        return t[:, :, :, w0] * (1 - lw) + t[:, :, :, w1] * lw  # along W: (N, C, H_out, W_out)

    def backward(self, grad):
        # adjoint of each axis' two-tap gather: scale by the tap weight and segment-sum back to the source index
        h0, h1, lh = self.taps_h
        w0, w1, lw = self.taps_w
        lh, lw = lh.astype(grad.dtype), lw.astype(grad.dtype)
        w_in, h_in = self.size[1], self.size[0]
        gt = _segment_sum(grad * (1 - lw), w0, w_in, axis=3) + _segment_sum(grad * lw, w1, w_in, axis=3)
        gx = (_segment_sum(gt * (1 - lh)[:, None], h0, h_in, axis=2)
              + _segment_sum(gt * lh[:, None], h1, h_in, axis=2))
        return (gx,)
