"""Group normalisation (Wu & He, 2018) as one fused primitive.

Fused for the same reason as batch_norm and layer_norm (ops/norm.py): as composites it would be about ten ops
(reshape, mean, sub, square, mean, add, rsqrt, mul, mul, add), each with its own temporaries and backward, where the
closed-form gradient needs two reductions and a few elementwise passes. Variance is mean((x - m)^2), never
mean(x^2) - m^2, which cancels badly when |m| >> std.
"""

import numpy as np

from ..autograd.function import Function
from .norm import _affine_grads, _needs, _per_channel, _scale_and_shift, _unpack_affine


class GroupNorm(Function):
    """x (N, C, *) -> the same shape: the C channels are split into `num_groups` groups of C / num_groups
    consecutive channels, and each (sample, group) is normalised over its channels and all trailing dims.

    Inputs: x, then weight (C,) if has_weight, then bias (C,) if has_bias (a per-channel affine map after the
    normalisation). The statistics are taken on an (N, G, D) view, D = C / G * L with L the product of the trailing
    dims; the affine map and its gradients on the (N, C, L) view of the same memory.
    """

    def forward(self, x, *affine, has_weight, has_bias, num_groups, eps):
        self.has_weight, self.has_bias = has_weight, has_bias
        self.x_shape = x.shape
        n, c = x.shape[0], x.shape[1]
        x3 = x.reshape(n, num_groups, -1)
        width = x3.shape[2]
        weight, bias = _unpack_affine(affine, has_weight, has_bias)
        self.weight = weight
        mean = np.einsum("ngd->ng", x3) / width
        centred = x3 - mean[:, :, None]
        var = np.einsum("ngd,ngd->ng", centred, centred) / width
        self.inv_std = 1.0 / np.sqrt(var + eps)
        centred *= self.inv_std[:, :, None]  # centred is ours: normalise it in place into xhat
        self.xhat = centred  # (N, G, D)
        xhat_c = centred.reshape(n, c, -1)  # (N, C, L): the channel view for the affine map
        out = _scale_and_shift(xhat_c, weight, bias, xhat_c.shape[2])
        return out.reshape(x.shape)

    def backward(self, grad):
        need_x, need_weight, need_bias = _needs(self)
        xhat = self.xhat
        n, groups, width = xhat.shape
        c = self.x_shape[1]
        g3 = grad.reshape(n, c, -1)
        length = g3.shape[2]
        xhat_c = xhat.reshape(n, c, length)
        grad_weight = np.einsum("ncl,ncl->c", g3, xhat_c) if need_weight else None
        grad_bias = np.einsum("ncl->c", g3) if need_bias else None
        gx = None
        if need_x:
            # With xhat = (x - mean) / std over each (sample, group) and h = g * weight (per channel):
            # dL/dx = (h - mean(h) - xhat * mean(h * xhat)) / std, the means taken over the group.
            h = g3 * _per_channel(self.weight, length) if self.weight is not None else g3
            h = h.reshape(n, groups, width)
            mean_h = np.einsum("ngd->ng", h) / width
            mean_h_xhat = np.einsum("ngd,ngd->ng", h, xhat) / width
            gx = xhat * -mean_h_xhat[:, :, None]
            gx += h
            gx -= mean_h[:, :, None]
            gx *= self.inv_std[:, :, None]
            gx = gx.reshape(self.x_shape)
        return (gx, *_affine_grads(self, grad_weight, grad_bias))
