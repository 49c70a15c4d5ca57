"""Pooling primitives on (N, C, H, W) arrays: max, average, adaptive average and adaptive max pooling.

Fused because as composites pooling would be an unfold, a reduction and a fold, each with its own temporaries.
Max pooling keeps which kernel offset won each window (a uint8, never an equality mask) from a running maximum
over kh*kw strided views of the (padded) input; its backward writes the gradient back through the same views.
Adaptive max pooling gathers its unequal windows and keeps their argmax; its backward is one np.bincount.
Max pooling's outputs and gradients keep the input's memory layout (e.g. the batch-last layout of ops/conv.py's
outputs, where every strided view moves runs of N contiguous values).
Sizes follow torch: out = floor_or_ceil((L + 2p - d(k-1) - 1) / s) + 1, and with ceil_mode the last window must
start inside the input or the left padding.
"""

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..autograd.function import Function


def pool_output_size(length, kernel, stride, padding, dilation, ceil_mode):
    """torch's pooling output length along one dim."""
    span = length + 2 * padding - dilation * (kernel - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= length + padding:
        out -= 1
    return out


def adaptive_bounds(length, out):
    """torch's adaptive windows: start = floor(i * in / out), end = ceil((i + 1) * in / out)."""
    i = np.arange(out)
    return (i * length) // out, -((-(i + 1) * length) // out)


def empty_like_layout(like, shape, dtype=None):
    """An uninitialised array of `shape` whose axes lie in memory in the same order as `like`'s (outermost = the
    largest stride), e.g. batch-last (C, H, W, N) memory behind an (N, C, H, W) view, as ops/conv.py hands out.
    Elementwise work on arrays of one layout runs over long contiguous runs; mixing layouts does not."""
    order = _axis_order(like)
    memory = np.empty([shape[axis] for axis in order], dtype=dtype or like.dtype)
    return memory.transpose(np.argsort(order))


def _axis_order(array):
    """array's axes from the outermost in memory to the innermost (largest stride first; ties keep axis order)."""
    return sorted(range(array.ndim), key=lambda axis: -abs(array.strides[axis]))


def _pad(x, top, bottom, left, right, value):
    """x (N, C, H, W) padded on the spatial dims with `value`, in x's memory layout (no copy when there is nothing
    to pad)."""
    if top == bottom == left == right == 0:
        return x
    n, c, h, w = x.shape
    out = empty_like_layout(x, (n, c, h + top + bottom, w + left + right))
    out[...] = value
    out[:, :, top:top + h, left:left + w] = x
    return out


def _windows(xp, out_h, out_w, kernel, stride, dilation):
    """A read-only strided view (N, C, Ho, Wo, kh, kw) of the windows of the padded input xp."""
    sn, sc, sh, sw = xp.strides
    n, c = xp.shape[:2]
    return as_strided(xp, (n, c, out_h, out_w, kernel[0], kernel[1]),
                      (sn, sc, sh * stride[0], sw * stride[1], sh * dilation[0], sw * dilation[1]), writeable=False)


def _geometry(shape, kernel, stride, padding, dilation, ceil_mode):
    """Output size and the padding (top, bottom, left, right) that holds every window, ceil_mode overhang included."""
    h, w = shape[2:]
    out_h = pool_output_size(h, kernel[0], stride[0], padding[0], dilation[0], ceil_mode)
    out_w = pool_output_size(w, kernel[1], stride[1], padding[1], dilation[1], ceil_mode)
    need_h = (out_h - 1) * stride[0] + dilation[0] * (kernel[0] - 1) + 1
    need_w = (out_w - 1) * stride[1] + dilation[1] * (kernel[1] - 1) + 1
    bottom = max(need_h - h - padding[0], 0)
    right = max(need_w - w - padding[1], 0)
    return out_h, out_w, (padding[0], bottom, padding[1], right)


def _is_tiling(shape, kernel, stride, padding, dilation):
    """Non-overlapping windows that tile the input exactly: pooling is a reshape."""
    return (tuple(stride) == tuple(kernel) and tuple(padding) == (0, 0) and tuple(dilation) == (1, 1)
            and shape[2] % kernel[0] == 0 and shape[3] % kernel[1] == 0)


class _ArgmaxPool(Function):
    """Shared by max and adaptive max pooling: forward finds `self.rows`/`self.cols` (positions of each window's
    maximum in the padded input); backward adds each output gradient at its position (one bincount)."""

    save_inputs = False

    def _finish(self, flat_windows, row_of, col_of, pad, indices_out):
        """flat_windows (N, C, Ho, Wo, K): take the max and remember where it is. row_of(arg), col_of(arg) map
        an argmax over K to padded-input coordinates of shape (N, C, Ho, Wo)."""
        arg = flat_windows.argmax(axis=-1)
        out = np.take_along_axis(flat_windows, arg[..., None], axis=-1)[..., 0]
        self.rows, self.cols = row_of(arg), col_of(arg)
        self.pad = pad
        if indices_out is not None:  # torch's indices: flat positions in the unpadded H * W plane
            w = self.x_shape[3]
            indices_out.append(((self.rows - pad[0]) * w + (self.cols - pad[2])).astype(np.int64))
        return out

    def backward(self, grad):
        # y = x[argmax]: dL/dx is grad at the argmax of each window and 0 elsewhere, summed over windows
        n, c, h, w = self.x_shape
        top, bottom, left, right = self.pad
        hp, wp = h + top + bottom, w + left + right
        plane = (np.arange(n * c, dtype=np.int64) * (hp * wp)).reshape(n, c, 1, 1)
        flat = (plane + self.rows * wp + self.cols).reshape(-1)
        gx = np.bincount(flat, weights=grad.reshape(-1), minlength=n * c * hp * wp).astype(grad.dtype, copy=False)
        gx = gx.reshape(n, c, hp, wp)
        return (gx[:, :, top:top + h, left:left + w],)


class MaxPool2d(Function):
    """x (N, C, H, W) -> (N, C, Ho, Wo), the max of each kernel window (padding counts as -inf).

    kernel, stride, padding, dilation are (h, w) pairs. indices_out: a list to which forward appends torch's
    indices (int64 (N, C, Ho, Wo), flat positions into H * W), for return_indices=True.

    Forward keeps a running maximum over the kh*kw kernel offsets, each offset a strided view of the padded input
    (no window array is ever materialised), and records in `winner` (uint8 for kernels up to 255 positions) which
    offset won: the first one on ties, like argmax and PyTorch, since a later offset must be strictly greater.
    Backward writes the gradient back through the same strided views, where each offset won: a loop over kernel
    offsets, never over batch or pixels. Output, winner and input gradient keep the input's memory layout (for
    batch-last conv outputs every view moves runs of N contiguous values).
    """

    save_inputs = False

    def _offset_view(self, array, dy, dx):
        """The (N, C, Ho, Wo) strided view of `array` (padded layout) at kernel offset (dy, dx)."""
        (sh, sw), (dh, dw) = self.stride, self.dilation
        top, left = dy * dh, dx * dw
        return array[:, :, top:top + sh * (self.out_h - 1) + 1:sh, left:left + sw * (self.out_w - 1) + 1:sw]

    def forward(self, x, kernel, stride, padding=(0, 0), dilation=(1, 1), ceil_mode=False, indices_out=None):
        self.x_shape, self.kernel, self.stride, self.dilation = x.shape, kernel, stride, dilation
        self.out_h, self.out_w, self.pad = _geometry(x.shape, kernel, stride, padding, dilation, ceil_mode)
        xp = _pad(x, *self.pad, -np.inf)
        kh, kw = kernel
        out = self._offset_view(xp, 0, 0).copy(order="K")  # order K: keep the input's memory layout
        winner = np.zeros_like(out, dtype=np.min_scalar_type(kh * kw - 1))
        for k in range(1, kh * kw):
            view = self._offset_view(xp, k // kw, k % kw)
            # offsets come in increasing k, so "the last k that was strictly greater" is a running maximum of k
            np.maximum(winner, (view > out) * winner.dtype.type(k), out=winner)
            np.maximum(out, view, out=out)
        self.winner = winner
        if indices_out is not None:  # torch's indices: flat positions in the unpadded H * W plane
            winner = winner.astype(np.int64)
            rows = np.arange(self.out_h)[:, None] * stride[0] + (winner // kw) * dilation[0] - self.pad[0]
            cols = np.arange(self.out_w) * stride[1] + (winner % kw) * dilation[1] - self.pad[2]
            indices_out.append(rows * x.shape[3] + cols)
        return out

    def backward(self, grad):
        # y = max over the window: dL/dx is grad at the winning position of each window, summed over windows
        n, c, h, w = self.x_shape
        top, bottom, left, right = self.pad
        padded = (n, c, h + top + bottom, w + left + right)
        kh, kw = self.kernel
        (sh, sw), (dh, dw) = self.stride, self.dilation
        grad = _as_layout(grad, self.winner)
        gx = empty_like_layout(self.winner, padded, grad.dtype)
        # Windows that cannot overlap (stride >= dilated kernel) touch each input element once: assign, don't add;
        # when they also tile the padded input exactly, every element is assigned and gx needs no zeroing.
        disjoint = sh >= dh * (kh - 1) + 1 and sw >= dw * (kw - 1) + 1
        tiling = (sh, sw, dh, dw) == (kh, kw, 1, 1) and padded[2:] == (self.out_h * kh, self.out_w * kw)
        if not tiling:
            gx[...] = 0
        for k in range(kh * kw):
            target = self._offset_view(gx, k // kw, k % kw)
            if disjoint:
                np.multiply(grad, self.winner == k, out=target)
            else:
                target += grad * (self.winner == k)
        return (gx[:, :, top:top + h, left:left + w],)


def _as_layout(array, like):
    """`array` in the memory layout of `like` (same shape): itself if it already is, else one copy. Mixed layouts
    make elementwise NumPy ops crawl over short runs."""
    order = _axis_order(like)
    if array.transpose(order).flags.c_contiguous:
        return array
    out = empty_like_layout(like, array.shape, array.dtype)
    out[...] = array
    return out


class AdaptiveMaxPool2d(_ArgmaxPool):
    """x (N, C, H, W) -> (N, C, oh, ow): the max over torch's adaptive windows. Windows of unequal length are
    gathered to the longest length by repeating their last element (a repeat cannot change a max)."""

    def forward(self, x, output_size, indices_out=None):
        self.x_shape = x.shape
        n, c, h, w = x.shape
        out_h, out_w = output_size
        rows, cols = _adaptive_index(h, out_h), _adaptive_index(w, out_w)
        kw = cols.shape[1]
        windows = x[:, :, rows[:, None, :, None], cols[None, :, None, :]].reshape(n, c, out_h, out_w, -1)
        row_of = lambda arg: rows[np.arange(out_h)[:, None], arg // kw]  # noqa: E731
        col_of = lambda arg: cols[np.arange(out_w), arg % kw]  # noqa: E731
        return self._finish(windows, row_of, col_of, (0, 0, 0, 0), indices_out)


def _adaptive_index(length, out):
    """(out, K) input positions of each adaptive window, K the longest window, short ones padded with their end."""
    start, end = adaptive_bounds(length, out)
    k = int((end - start).max())
    return np.minimum(start[:, None] + np.arange(k), end[:, None] - 1)


class AvgPool2d(Function):
    """x (N, C, H, W) -> (N, C, Ho, Wo), the mean of each kernel window (padding counts as 0).

    The divisor is divisor_override if given, else the window size clipped to the padded input
    (count_include_pad=True) or to the input itself (count_include_pad=False), as torch computes it.
    """

    save_inputs = False

    def forward(self, x, kernel, stride, padding=(0, 0), ceil_mode=False, count_include_pad=True,
                divisor_override=None):
        self.x_shape, self.kernel, self.stride = x.shape, kernel, stride
        n, c, h, w = x.shape
        kh, kw = kernel
        if _is_tiling(x.shape, kernel, stride, padding, (1, 1)):
            self.tiling = True
            self.divisor = divisor_override or kh * kw
            total = np.einsum("nchkwl->nchw", x.reshape(n, c, h // kh, kh, w // kw, kw))
            return total / np.asarray(self.divisor, dtype=x.dtype)
        self.tiling = False
        out_h, out_w, pad = _geometry(x.shape, kernel, stride, padding, (1, 1), ceil_mode)
        self.pad = pad
        xp = _pad(x, *pad, 0)
        total = np.einsum("nchwkl->nchw", _windows(xp, out_h, out_w, kernel, stride, (1, 1)))
        if divisor_override:
            self.divisor = np.asarray(divisor_override, dtype=x.dtype)
        else:
            count_h = _window_counts(h, out_h, kh, stride[0], padding[0], count_include_pad)
            count_w = _window_counts(w, out_w, kw, stride[1], padding[1], count_include_pad)
            self.divisor = np.outer(count_h, count_w).astype(x.dtype)
        return total / self.divisor

    def backward(self, grad):
        # y = sum(window) / divisor: every element of a window gets grad / divisor, summed over the windows
        n, c, h, w = self.x_shape
        kh, kw = self.kernel
        scaled = grad / self.divisor
        if self.tiling:
            gx = np.broadcast_to(scaled[:, :, :, None, :, None], (n, c, h // kh, kh, w // kw, kw))
            return (gx.reshape(self.x_shape),)
        top, bottom, left, right = self.pad
        out_h, out_w = grad.shape[2:]
        sh, sw = self.stride
        gp = np.zeros((n, c, h + top + bottom, w + left + right), dtype=grad.dtype)
        for i in range(kh):  # a loop over kernel offsets, each a strided-slice add over the whole batch
            for j in range(kw):
                gp[:, :, i:i + sh * (out_h - 1) + 1:sh, j:j + sw * (out_w - 1) + 1:sw] += scaled
        return (gp[:, :, top:top + h, left:left + w],)


def _window_counts(length, out, kernel, stride, padding, count_include_pad):
    """How many positions of each window along one dim count towards torch's divisor."""
    start = np.arange(out) * stride - padding
    end = np.minimum(start + kernel, length + padding)
    if count_include_pad:
        return end - start
    return np.minimum(end, length) - np.maximum(start, 0)


class AdaptiveAvgPool2d(Function):
    """x (N, C, H, W) -> (N, C, oh, ow): the mean over torch's adaptive windows, as two small averaging matrices,
    out = A_h @ x @ A_w^T (A_h[i] = 1/len over window i), so unequal windows need no loop."""

    save_inputs = False

    def forward(self, x, output_size):
        self.x_shape = x.shape
        n, c, h, w = x.shape
        out_h, out_w = output_size
        if h % out_h == 0 and w % out_w == 0:  # equal windows that tile the input: a reshape and a mean
            self.tiling = True
            kh, kw = h // out_h, w // out_w
            return np.einsum("nchkwl->nchw", x.reshape(n, c, out_h, kh, out_w, kw)) / np.asarray(kh * kw, x.dtype)
        self.tiling = False
        self.a_h, self.a_w = _averaging_matrix(h, out_h, x.dtype), _averaging_matrix(w, out_w, x.dtype)
        return np.einsum("ih,nchw,jw->ncij", self.a_h, x, self.a_w, optimize=True)

    def backward(self, grad):
        n, c, h, w = self.x_shape
        out_h, out_w = grad.shape[2:]
        if self.tiling:
            kh, kw = h // out_h, w // out_w
            scaled = grad / np.asarray(kh * kw, grad.dtype)
            gx = np.broadcast_to(scaled[:, :, :, None, :, None], (n, c, out_h, kh, out_w, kw))
            return (gx.reshape(self.x_shape),)
        # y = A_h x A_w^T is linear in x: dL/dx = A_h^T g A_w
        return (np.einsum("ih,ncij,jw->nchw", self.a_h, grad, self.a_w, optimize=True),)


def _averaging_matrix(length, out, dtype):
    start, end = adaptive_bounds(length, out)
    positions = np.arange(length)
    inside = (positions >= start[:, None]) & (positions < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)
