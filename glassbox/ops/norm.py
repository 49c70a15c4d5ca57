"""Normalisation primitives: batch norm and layer norm.

Both are fused: written as a graph of composites they would cost about ten ops (mean, sub, square, mean, add,
rsqrt, mul, mul, add), each with its own temporaries and backward; the closed-form gradient below needs a few
reductions and elementwise passes. Reductions are np.einsum calls, which sum without materialising products (and
run 2-3x faster than np.sum over several axes); elementwise work is done in place where the buffer is ours.
Variance is mean((x - m)^2), never mean(x^2) - m^2, which cancels badly when |m| >> std.
"""

import numpy as np

from ..autograd.function import Function


def _unpack_affine(affine, has_weight, has_bias):
    weight = affine[0] if has_weight else None
    bias = affine[int(has_weight)] if has_bias else None
    return weight, bias


def _per_channel(values, length):
    """(C,) values laid out to broadcast over an (N, C, L) array. For L > 1 they are repeated into a (C, L) array:
    NumPy's inner loop over L is 2x slower when one operand has stride 0 there, and C * L is small next to N * C * L."""
    return values[:, None] if length == 1 else np.repeat(values[:, None], length, axis=1)


def _scale_and_shift(xhat, weight, bias, length):
    """xhat * weight + bias (each optional, shape (C,)) in a new array of xhat's shape (N, C, L), or (M, D) for
    length=None, where weight and bias have shape (D,) and broadcast as they are."""
    expand = (lambda v: v) if length is None else (lambda v: _per_channel(v, length))
    if weight is not None:
        out = xhat * expand(weight)
        if bias is not None:
            out += expand(bias)
        return out
    # never hand out xhat itself: backward reads it, and the caller may change the output in place
    return xhat + expand(bias) if bias is not None else xhat.copy()


def _needs(self):
    """Whether input, weight and bias need gradients (weight and bias count as not needed when absent)."""
    need = self.needs_input_grad
    return need[0], self.has_weight and need[1], self.has_bias and need[1 + self.has_weight]


def _affine_grads(self, grad_weight, grad_bias):
    """The gradients of the weight and bias inputs that were given, in order."""
    return ([grad_weight] if self.has_weight else []) + ([grad_bias] if self.has_bias else [])


class BatchNorm(Function):
    """Batch normalisation over every dim but the channel dim 1: x (N, C, *) -> (N, C, *).

    Inputs: x, then weight (C,) if has_weight, then bias (C,) if has_bias. training=True normalises with the
    batch mean and biased variance and, when running_mean/running_var arrays (C,) are given, updates them in place
    (running = (1 - momentum) running + momentum batch, with the unbiased batch variance, as PyTorch does).
    training=False normalises with running_mean and running_var: then the op is an affine map of x.
    The work happens on an (N, C, L) view, L the product of the trailing dims (1 for (N, C) input).
    """

    def forward(self, x, *affine, has_weight, has_bias, training, running_mean, running_var, momentum, eps):
        self.has_weight, self.has_bias, self.training = has_weight, has_bias, training
        self.x_shape = x.shape
        x3 = x.reshape(x.shape[0], x.shape[1], -1)
        weight, bias = _unpack_affine(affine, has_weight, has_bias)
        self.weight = weight
        length = x3.shape[2]
        if training:
            count = x3.shape[0] * length
            mean = np.einsum("ncl->c", x3) / count
            centred = x3 - _per_channel(mean, length)
            var = np.einsum("ncl,ncl->c", centred, centred) / count
            self.inv_std = 1.0 / np.sqrt(var + eps)
            centred *= _per_channel(self.inv_std, length)  # centred is ours: normalise it in place into xhat
            self.xhat = centred
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean
                running_var *= 1 - momentum
                running_var += (momentum * count / (count - 1)) * var
            out = _scale_and_shift(centred, weight, bias, length)
        else:
            # y = (x - m) / sqrt(v + eps) * weight + bias = x * scale + shift, with statistics that do not depend on x
            self.inv_std = (1.0 / np.sqrt(running_var + eps)).astype(x.dtype)
            self.running_mean = running_mean.astype(x.dtype)  # a copy: running statistics may change before backward
            self.x3 = x3
            scale = self.inv_std * weight if weight is not None else self.inv_std
            shift = -self.running_mean * scale + (bias if bias is not None else 0)
            out = x3 * _per_channel(scale, length)
            out += _per_channel(shift, length)
        return out.reshape(x.shape)

    def backward(self, grad):
        need_x, need_weight, need_bias = _needs(self)
        g3 = grad.reshape(self.x_shape[0], self.x_shape[1], -1)
        length = g3.shape[2]
        scale = self.inv_std * self.weight if self.weight is not None else self.inv_std
        grad_weight = grad_bias = gx = None
        if self.training:
            xhat = self.xhat
            sum_g = np.einsum("ncl->c", g3) if need_x or need_bias else None
            sum_g_xhat = np.einsum("ncl,ncl->c", g3, xhat) if need_x or need_weight else None
            grad_weight = sum_g_xhat if need_weight else None
            grad_bias = sum_g if need_bias else None
            if need_x:
                # With xhat = (x - mean) / std over n values per channel and g the output gradient:
                # dL/dx = weight / std * (g - mean(g) - xhat * mean(g * xhat)), the means taken per channel.
                # Written as four passes over one new array: big fresh arrays cost page faults, not just flops.
                count = g3.shape[0] * length
                gx = xhat * _per_channel(-sum_g_xhat / count, length)
                gx += g3
                gx -= _per_channel(sum_g / count, length)
                gx *= _per_channel(scale, length)
        else:
            if need_x:
                gx = g3 * _per_channel(scale, length)  # y = x * weight / std + const: dL/dx = g * weight / std
            if need_weight:  # dL/dweight = sum(g * xhat), xhat = (x - m) / std
                centred = self.x3 - _per_channel(self.running_mean, length)
                grad_weight = np.einsum("ncl,ncl->c", g3, centred) * self.inv_std
            if need_bias:
                grad_bias = np.einsum("ncl->c", g3)
        return (gx.reshape(self.x_shape) if gx is not None else None, *_affine_grads(self, grad_weight, grad_bias))


class LayerNorm(Function):
    """Layer normalisation over the last `normalized_ndim` dims of x: x (*, *normalized_shape) -> same shape.

    Inputs: x, then weight (normalized_shape) if has_weight, then bias (normalized_shape) if has_bias. The work
    happens on an (M, D) view: M rows of D = prod(normalized_shape) values, each normalised on its own.
    """

    def forward(self, x, *affine, has_weight, has_bias, normalized_ndim, eps):
        self.has_weight, self.has_bias = has_weight, has_bias
        self.x_shape, self.normalized_shape = x.shape, x.shape[x.ndim - normalized_ndim:]
        width = int(np.prod(self.normalized_shape))
        x2 = x.reshape(-1, width)
        weight, bias = _unpack_affine(affine, has_weight, has_bias)
        self.weight = weight.reshape(width) if weight is not None else None
        mean = np.einsum("md->m", x2) / width
        centred = x2 - mean[:, None]
        var = np.einsum("md,md->m", centred, centred) / width
        self.inv_std = 1.0 / np.sqrt(var + eps)
        centred *= self.inv_std[:, None]  # centred is ours: normalise it in place into xhat
        self.xhat = centred
        out = _scale_and_shift(centred, self.weight, bias.reshape(width) if bias is not None else None, None)
        return out.reshape(x.shape)

    def backward(self, grad):
        need_x, need_weight, need_bias = _needs(self)
        xhat = self.xhat
        width = xhat.shape[1]
        g2 = grad.reshape(-1, width)
        grad_weight = np.einsum("md,md->d", g2, xhat).reshape(self.normalized_shape) if need_weight else None
        grad_bias = np.einsum("md->d", g2).reshape(self.normalized_shape) if need_bias else None
        gx = None
        if need_x:
            # With xhat = (x - mean) / std over the normalised dims and h = g * weight:
            # dL/dx = (h - mean(h) - xhat * mean(h * xhat)) / std, the means taken over the normalised dims.
            # Written as passes over as few new arrays as possible: big fresh arrays cost page faults.
            h = g2 * self.weight if self.weight is not None else g2
            mean_h = np.einsum("md->m", h) / width
            mean_h_xhat = np.einsum("md,md->m", h, xhat) / width
            gx = xhat * -mean_h_xhat[:, None]
            gx += h
            gx -= mean_h[:, None]
            gx *= self.inv_std[:, None]
            gx = gx.reshape(self.x_shape)
        return (gx, *_affine_grads(self, grad_weight, grad_bias))
