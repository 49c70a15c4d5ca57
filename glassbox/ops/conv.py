"""The fused 2-D convolution primitive (conv1d reuses it with a height of 1).

Fused because a composite of pad + unfold + matmul would make several full-size copies and graph nodes per layer.
The forward pass is an im2col copy and one GEMM per group; the backward pass is one GEMM per gradient and a col2im
that adds back kH*kW whole shifted slices (a loop over kernel offsets only, never over the batch or pixels).

Memory layout: batch innermost. Inputs are read, and outputs written, as (C, H, W, N) memory -- the layout of
cuda-convnet -- handed out as (N, C, H, W) views of that memory, so the indexing semantics are torch's while:
  - the GEMM multiplies the weight (C_out, K) by columns (K, H_out*W_out*N) of the whole batch at once -- a few
    large GEMMs instead of N small ones -- and its output already *is* (C_out, H_out, W_out, N): no transpose;
  - every strided copy and shifted add (im2col, col2im, and pooling on these outputs) moves runs of N (stride > 1)
    or W_out*N (stride 1) contiguous values instead of rows of W_out: NumPy's cost per run dominates small images.
Elementwise ops (ReLU, ...) keep this layout (NumPy allocates their outputs in their inputs' memory order), so a
stack of conv / activation / pooling layers passes it along without copies; an input in another layout costs one
copy of the input (much smaller than its columns).

Row blocks: the columns are never materialised whole. They are built a block of output rows at a time (about 2 MB,
so the GEMM reads them from cache right after im2col wrote them), in forward and again in backward for the weight
gradient: recomputing a block is cheaper than reading saved columns back from memory, and saves K times the
output's memory. The same blocks carry the input gradient: W^T @ grad block, then its col2im while still cached.
"""

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..autograd.function import Function

_BLOCK_BYTES = 1 << 21  # target size of one block of columns: about one core's L2 cache (2 MB here)


def _out_size(size, kernel, stride, dilation):
    return (size - dilation * (kernel - 1) - 1) // stride + 1


def batch_last(x):
    """x (N, C, H, W) -> its (C, H, W, N) transpose, C-contiguous: free when x is already a batch-last view."""
    return np.ascontiguousarray(x.transpose(1, 2, 3, 0))


class Conv2d(Function):
    """out[n, o, y, x] = bias[o] + sum_{c, i, j} w[o, c, i, j] * xp[n, g*Cg + c, y*sH + i*dH, x*sW + j*dW]

    with xp the zero-padded input, g = o // (C_out / groups) the group of output channel o and Cg = C_in / groups.
    input (N, C_in, H, W) in any memory layout, weight (C_out, C_in/groups, kH, kW), bias (C_out,) or absent.
    Returns (N, C_out, H_out, W_out), a view of (C_out, H_out, W_out, N) memory (see the module docstring).

    Layout: xp is made (C_in, Hp, Wp, N)-contiguous (one copy, unless the input already is). For output rows
    y0 <= y < y1, cols[g, (c, i, j), (y, x, n)] = xp[g*Cg + c, y*sH + i*dH, x*sW + j*dW, n] is a strided view of xp
    copied into a (G, K, rows*W_out*N) buffer, K = Cg*kH*kW; weight (G, C_out/G, K) @ cols gives the
    (G, C_out/G, rows*W_out*N) slice of the output, which *is* rows y0..y1 of (C_out, H_out, W_out, N) memory.
    With a bias, the columns get one more row of ones and the weight one more column, the bias: the GEMM adds it,
    and the weight-gradient GEMM returns its gradient.
    """

    def forward(self, x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
        n, c_in, h, w = x.shape
        c_out, c_group, kh, kw = weight.shape
        (sh, sw), (ph, pw), (dh, dw), g = stride, padding, dilation, groups
        if ph or pw:
            xp = np.pad(x.transpose(1, 2, 3, 0), ((0, 0), (ph, ph), (pw, pw), (0, 0)))
        else:
            xp = batch_last(x)
        hp, wp = xp.shape[1:3]
        h_out, w_out = _out_size(hp, kh, sh, dh), _out_size(wp, kw, sw, dw)
        if h_out <= 0 or w_out <= 0:
            raise ValueError(f"kernel {(kh, kw)} with dilation {(dh, dw)} is larger than the padded input {(hp, wp)}")
        self.geometry = ((n, c_in, hp, wp), (ph, pw), (sh, sw), (dh, dw), (kh, kw), (h_out, w_out))
        self.has_bias = bias is not None
        k = c_group * kh * kw
        w_mat = weight.reshape(g, c_out // g, k)
        self.w_mat = w_mat  # the weight alone, (G, C_out/G, K)
        if bias is not None:
            w_mat = np.concatenate([w_mat, bias.reshape(g, c_out // g, 1)], axis=2)
        out = np.empty((g, c_out // g, h_out * w_out * n), dtype=np.result_type(x, weight))
        row = w_out * n  # columns per output row
        for y0, y1, cols in self._column_blocks(xp, k, x.dtype):
            _matmul(w_mat, cols, out[:, :, y0 * row:y1 * row])
        self.xp = xp if self.needs_input_grad[1] else None
        return out.reshape(c_out, h_out, w_out, n).transpose(3, 0, 1, 2)

    def _column_blocks(self, xp, k, dtype):
        """Yield (y0, y1, cols) for blocks of output rows: cols (G, K (+1 row of ones with a bias), (y1-y0)*W_out*N)
        holds the im2col columns of rows y0 <= y < y1. One buffer is reused: use each block before the next."""
        (n, _, _, _), _, (sh, sw), (dh, dw), (kh, kw), (h_out, w_out) = self.geometry
        g = self.w_mat.shape[0]
        c_group = k // (kh * kw)
        s_c, s_h, s_w, s_n = xp.strides
        row = w_out * n
        rows = max(1, min(h_out, _BLOCK_BYTES // ((k + 1) * row * xp.itemsize)))
        buffer = np.empty((g, k + self.has_bias, rows * row), dtype=dtype)
        if self.has_bias:
            buffer[:, k] = 1
        for y0 in range(0, h_out, rows):
            y1 = min(y0 + rows, h_out)
            view = as_strided(xp[:, y0 * sh:], shape=(g, c_group, kh, kw, y1 - y0, w_out, n),
                              strides=(c_group * s_c, s_c, dh * s_h, dw * s_w, sh * s_h, sw * s_w, s_n),
                              writeable=False)
            cols = buffer[:, :, :(y1 - y0) * row]
            cols[:, :k].reshape(view.shape, copy=False)[...] = view  # im2col (copy=False: write into cols or raise)
            yield y0, y1, cols

    @property
    def cols(self):
        """All im2col columns as an (N, G, K, L) array, L = H_out*W_out: what ops/conv_transpose.py multiplies
        against (it builds its node without a bias)."""
        (n, _, _, _), _, _, _, _, (h_out, w_out) = self.geometry
        g, _, k = self.w_mat.shape
        # every block is a view of the same buffer, refilled for the next block: copy each one before moving on
        blocks = [block[:, :k].copy() for _, _, block in self._column_blocks(self.xp, k, self.xp.dtype)]
        cols = np.concatenate(blocks, 2)
        return cols.reshape(g, k, h_out * w_out, n).transpose(3, 0, 1, 2)

    def backward(self, grad):
        needs = self.needs_input_grad
        padded_shape, (ph, pw), (sh, sw), (dh, dw), (kh, kw), (h_out, w_out) = self.geometry
        g, c_out_group, k = self.w_mat.shape
        n, c_in, hp, wp = padded_shape
        row = w_out * n
        grad_mat = batch_last(grad).reshape(g, c_out_group, h_out * row)  # (G, C_out/G, L*N)
        gx = gw = gb = None
        if needs[1]:
            # d out / d W = cols:  grad_W[g] = sum over blocks of grad[g] @ cols[g]^T (BLAS reads cols^T through
            # strides); with a bias, the column against the row of ones is the bias gradient.
            gw = np.zeros(self.w_mat.shape[:2] + (k + self.has_bias,), dtype=grad.dtype)
            for y0, y1, cols in self._column_blocks(self.xp, k, self.xp.dtype):
                gw += _matmul(grad_mat[:, :, y0 * row:y1 * row], cols.transpose(0, 2, 1))
            if self.has_bias:
                gb = gw[:, :, k].reshape(g * c_out_group)
            gw = gw[:, :, :k].reshape(g * c_out_group, k // (kh * kw), kh, kw)
        if self.has_bias and needs[2] and gb is None:
            gb = grad_mat.reshape(g * c_out_group, -1).sum(axis=1)  # d out / d bias[o] = 1 at every (n, y, x)
        if needs[0]:
            gxp = np.zeros((c_in, hp, wp, n), dtype=grad.dtype)
            gxp_groups = gxp.reshape(g, c_in // g, hp, wp, n)
            w_t = self.w_mat.transpose(0, 2, 1)
            rows = max(1, min(h_out, _BLOCK_BYTES // (k * row * grad.itemsize)))
            grad_cols = np.empty((g, k, rows * row), dtype=np.result_type(grad, w_t))
            run = w_out * n if sw == 1 else n  # contiguous values per strided run of a col2im slice
            for y0 in range(0, h_out, rows):
                y1 = min(y0 + rows, h_out)
                # d out / d cols = weight:  grad_cols = W^T @ grad for this block of rows, (G, K, rows*W_out*N)
                block = _matmul(w_t, grad_mat[:, :, y0 * row:y1 * row], grad_cols[:, :, :(y1 - y0) * row])
                block = block.reshape(g, c_in // g, kh, kw, y1 - y0, w_out, n)
                # col2im: cols[.., i, j, y, x, n] was read from xp[.., y*sH + i*dH, x*sW + j*dW, n]; send each kernel
                # offset's whole (G, Cg, rows, W_out, N) slab back to the strided slice it came from (overlaps add).
                with np.errstate():  # restores NumPy's ufunc buffer size on exit
                    # A ufunc on strided operands copies them through its buffer (8192 values) to make longer inner
                    # loops; when one contiguous run of a slice fills the buffer, it adds in place: ~2x faster for
                    # runs of 64+ values (shorter runs are faster buffered).
                    if run >= 64:
                        np.setbufsize(min(np.getbufsize(), -(-run // 16) * 16))
                    for i in range(kh):
                        top = y0 * sh + i * dh
                        rows_in = slice(top, top + sh * (y1 - y0 - 1) + 1, sh)
                        for j in range(kw):
                            cols_in = slice(j * dw, j * dw + sw * (w_out - 1) + 1, sw)
                            gxp_groups[:, :, rows_in, cols_in] += block[:, :, i, j]
            gx = gxp[:, ph:hp - ph, pw:wp - pw].transpose(3, 0, 1, 2)  # crop the padding; (N, C_in, H, W) view
        return (gx, gw, gb) if self.has_bias else (gx, gw)


def _matmul(a, b, out=None):
    """a (G, M, K) @ b (G, K, P) -> (G, M, P), into `out` if given; a plain 2-D GEMM when G == 1 (NumPy's batched
    matmul splits work differently)."""
    if a.shape[0] == 1:
        result = np.matmul(a[0], b[0], out=None if out is None else out[0])
        return result[None]
    return np.matmul(a, b, out=out)
