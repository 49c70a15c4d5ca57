"""The fused 2-D transposed convolution primitive.

Fused for the same reason as conv2d, and built from conv2d's own halves: the forward pass of a transposed
convolution *is* conv2d's input gradient (one GEMM, then col2im), and its backward pass *is* conv2d's forward
pass on the output gradient (one im2col copy and one GEMM give the input gradient; the weight gradient is one more
GEMM against the same columns). So this module runs ops/conv.py's Conv2d.forward/backward on raw arrays.
"""

import numpy as np

from ..autograd.function import Function
from . import conv as cv


def _conv_ctx(needs):
    """A bare conv.Conv2d node, used only to run its forward/backward on arrays (no graph is recorded)."""
    ctx = cv.Conv2d.__new__(cv.Conv2d)
    ctx.needs_input_grad = needs
    return ctx


class ConvTranspose2d(Function):
    """out[n, g*Cog + o, y*sH + i*dH - pH, x*sW + j*dW - pW] += x[n, g*Cig + c, y, x] * w[g*Cig + c, o, i, j]

    summed over c, i, j and input pixels (y, x); g the group, Cig = C_in/groups, Cog = C_out/groups.
    input (N, C_in, H, W), weight (C_in, C_out/groups, kH, kW), bias (C_out,) or absent;
    H_out = (H - 1)*sH - 2*pH + dH*(kH - 1) + output_padding_H + 1.

    It is the adjoint of conv2d with the same weight: forward = conv2d's input gradient, backward = conv2d's forward.
    """

    def forward(self, x, weight, bias=None, stride=(1, 1), padding=(0, 0), output_padding=(0, 0), dilation=(1, 1),
                groups=1):
        n, c_in, h, w = x.shape
        _, c_out_group, kh, kw = weight.shape
        (sh, sw), (ph, pw), (oh, ow), (dh, dw), g = stride, padding, output_padding, dilation, groups
        # the padded canvas conv2d's col2im writes into: every tap lands inside, plus output_padding rows/cols
        hp, wp = (h - 1) * sh + dh * (kh - 1) + 1 + oh, (w - 1) * sw + dw * (kw - 1) + 1 + ow
        conv = _conv_ctx((True, False))
        conv.w_mat = weight.reshape(g, c_in // g, c_out_group * kh * kw)
        conv.geometry = ((n, c_out_group * g, hp, wp), (ph, pw), (sh, sw), (dh, dw), (kh, kw), (h, w))
        conv.has_bias = False
        out = conv.backward(x)[0]  # col2im(W^T @ x), cropped by the padding
        if bias is not None:
            out += bias.reshape(-1, 1, 1)
        self.x = x if self.needs_input_grad[1] else None
        self.weight = weight
        self.params = ((sh, sw), (ph, pw), (dh, dw), g, (h, w))
        self.has_bias = bias is not None
        return out

    def backward(self, grad):
        needs = self.needs_input_grad
        (sh, sw), (ph, pw), (dh, dw), g, (h, w) = self.params
        kh, kw = self.weight.shape[2:]
        # conv2d reads rows y*sH + i*dH of the padded gradient; cut it to exactly the rows those reach, so that
        # conv2d's output is (H, W) even when output_padding >= stride (allowed when it is < dilation).
        gp = np.pad(grad, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        gp = gp[:, :, :(h - 1) * sh + dh * (kh - 1) + 1, :(w - 1) * sw + dw * (kw - 1) + 1]
        conv = _conv_ctx((needs[0], needs[1]))
        gx = conv.forward(gp, self.weight, stride=(sh, sw), dilation=(dh, dw), groups=g)  # d out / d x = conv2d
        gw = gb = None
        if needs[1]:
            # d out / d W[c, o, i, j] = sum x[n, c, y, x] * gp[n, o, y*sH + i*dH, x*sW + j*dW]: x @ cols^T per group
            c_in = self.x.shape[1]
            x_mat = self.x.reshape(self.x.shape[0], g, c_in // g, h * w)
            gw = np.matmul(x_mat, conv.cols.transpose(0, 1, 3, 2)).sum(axis=0).reshape(self.weight.shape)
        if self.has_bias and needs[2]:
            gb = grad.sum(axis=(0, 2, 3))
        return ((gx if needs[0] else None), gw, gb) if self.has_bias else ((gx if needs[0] else None), gw)
