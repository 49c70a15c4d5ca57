"""The fused 2-D convolution primitive (conv1d reuses it with a height of 1).

Fused because a composite of pad + unfold + matmul would make several full-size copies and graph nodes per layer.
Here the forward pass is one padding copy, one im2col copy taken from a strided view, and one batched GEMM whose
output already is (N, C_out, H_out, W_out); the backward pass is one batched GEMM per gradient and a col2im that
adds back kH*kW whole shifted slices (a loop over kernel offsets only, never over the batch or pixels).
"""

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..autograd.function import Function


def _out_size(size, kernel, stride, dilation):
    return (size - dilation * (kernel - 1) - 1) // stride + 1


class Conv2d(Function):
    """out[n, o, y, x] = bias[o] + sum_{c, i, j} w[o, c, i, j] * xp[n, g*Cg + c, y*sH + i*dH, x*sW + j*dW]

    with xp the zero-padded input, g = o // (C_out / groups) the group of output channel o and Cg = C_in / groups.
    input (N, C_in, H, W), weight (C_out, C_in/groups, kH, kW), bias (C_out,) or absent.

    Layout: cols[n, g, (c, i, j), (y, x)] = xp[n, g*Cg + c, y*sH + i*dH, x*sW + j*dW], i.e. (N, G, K, L) with
    K = Cg*kH*kW and L = H_out*W_out. It is a strided view of xp made contiguous in one copy; then
    weight (G, C_out/G, K) @ cols (N, G, K, L) -> (N, G, C_out/G, L), which *is* (N, C_out, H_out, W_out) in memory.
    """

    def forward(self, x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
        n, c_in, h, w = x.shape
        c_out, c_group, kh, kw = weight.shape
        (sh, sw), (ph, pw), (dh, dw), g = stride, padding, dilation, groups
        if ph or pw:
            x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        hp, wp = x.shape[2:]
        h_out, w_out = _out_size(hp, kh, sh, dh), _out_size(wp, kw, sw, dw)
        if h_out <= 0 or w_out <= 0:
            raise ValueError(f"kernel {(kh, kw)} with dilation {(dh, dw)} is larger than the padded input {(hp, wp)}")
        s_n, s_c, s_h, s_w = x.strides
        view = as_strided(x, shape=(n, g, c_group, kh, kw, h_out, w_out),
                          strides=(s_n, c_group * s_c, s_c, dh * s_h, dw * s_w, sh * s_h, sw * s_w), writeable=False)
        k, length = c_group * kh * kw, h_out * w_out
        cols = np.ascontiguousarray(view).reshape(n, g, k, length)  # im2col: the one copy
        w_mat = weight.reshape(g, c_out // g, k)
        out = np.matmul(w_mat, cols)  # (N, G, C_out/G, L): broadcast over N, one GEMM per (sample, group)
        out = out.reshape(n, c_out, h_out, w_out)  # free: the GEMM output is already in this order
        if bias is not None:
            out += bias.reshape(c_out, 1, 1)
        self.cols = cols if self.needs_input_grad[1] else None
        self.w_mat = w_mat
        self.geometry = (x.shape, (ph, pw), (sh, sw), (dh, dw), (kh, kw), (h_out, w_out))
        self.has_bias = bias is not None
        return out

    def backward(self, grad):
        needs = self.needs_input_grad
        padded_shape, (ph, pw), (sh, sw), (dh, dw), (kh, kw), (h_out, w_out) = self.geometry
        g, c_out_group, k = self.w_mat.shape
        n = grad.shape[0]
        grad_mat = grad.reshape(n, g, c_out_group, h_out * w_out)  # (N, G, C_out/G, L)
        gx = gw = gb = None
        if needs[0]:
            # d out / d cols = weight:  grad_cols = W^T @ grad, (G, K, C_out/G) @ (N, G, C_out/G, L) -> (N, G, K, L)
            grad_cols = np.matmul(self.w_mat.transpose(0, 2, 1), grad_mat)
            grad_cols = grad_cols.reshape(n, g, k // (kh * kw), kh, kw, h_out, w_out)
            # col2im: cols[.., i, j, y, x] was read from xp[.., y*sH + i*dH, x*sW + j*dW]; send each kernel offset's
            # whole (N, G, Cg, H_out, W_out) slab back to the strided slice it came from (overlaps add up).
            gxp = np.zeros(padded_shape, dtype=grad.dtype)
            gxp_groups = gxp.reshape(n, g, k // (kh * kw), *padded_shape[2:])
            for i in range(kh):
                rows = slice(i * dh, i * dh + sh * (h_out - 1) + 1, sh)
                for j in range(kw):
                    gxp_groups[:, :, :, rows, j * dw:j * dw + sw * (w_out - 1) + 1:sw] += grad_cols[:, :, :, i, j]
            gx = gxp[:, :, ph:padded_shape[2] - ph, pw:padded_shape[3] - pw]  # crop the padding
        if needs[1]:
            # d out / d W = cols:  grad_W[g] = sum_n grad[n, g] @ cols[n, g]^T. BLAS reads cols^T through strides
            # (no copy); each (sample, group) is one GEMM and the batch sum is one reduction.
            gw = np.matmul(grad_mat, self.cols.transpose(0, 1, 3, 2)).sum(axis=0)
            gw = gw.reshape(g * c_out_group, k // (kh * kw), kh, kw)
        if self.has_bias and needs[2]:
            gb = grad.sum(axis=(0, 2, 3))  # d out / d bias[o] = 1 at every sample and pixel of channel o
        return (gx, gw, gb) if self.has_bias else (gx, gw)
