"""Normalisation layers: BatchNorm1d and BatchNorm2d (on a shared _BatchNorm base) and LayerNorm."""

import numpy as np

from .. import dtypes
from ..creation import empty, ones, zeros
from ..errors import ShapeError
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter


class _BatchNorm(Module):
    """Batch normalisation (Ioffe & Szegedy, 2015) over every dim but the channel dim 1.

    Parameters weight (C,) = 1 and bias (C,) = 0 when affine; buffers running_mean (C,) = 0, running_var (C,) = 1
    and num_batches_tracked (int64, 0-d) when track_running_stats. Training mode normalises with the batch's
    statistics and updates the running ones (momentum=None: a cumulative average over all batches so far); eval
    mode uses the running statistics. A subclass gives `_input_dims` (the accepted input dims) and `_layout`.
    """

    _input_dims = ()
    _layout = ""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, dtype=None, *,
                 bias=True):
        super().__init__()
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dtype = dtypes.as_dtype(dtype) or dtypes.get_default_dtype()
        if affine:
            self.weight = Parameter(empty(num_features, dtype=dtype))
            if bias:
                self.bias = Parameter(empty(num_features, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input(self, input):
        if input.ndim not in self._input_dims or input.shape[1] != self.num_features:
            raise ShapeError(f"{type(self).__name__}(num_features={self.num_features}) expected input of shape "
                             f"{self._layout.format(C=self.num_features)}, got {tuple(input.shape)}")

    def forward(self, input):
        """input (N, C, *) -> the same shape, normalised per channel."""
        self._check_input(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            counter = self.num_batches_tracked
            counter.data += 1
            counter._version[0] += 1
            if self.momentum is None:  # cumulative average: the k-th batch gets weight 1/k
                factor = 1.0 / float(counter.data)
        # Batch statistics while training, and in eval mode too when there are no running statistics.
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        keep_running = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if keep_running else None,
                            self.running_var if keep_running else None, self.weight, self.bias, use_batch_stats,
                            factor, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input, per channel C."""

    _input_dims = (2, 3)
    _layout = "(N, {C}) or (N, {C}, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) input, per channel C (statistics over N, H and W)."""

    _input_dims = (4,)
    _layout = "(N, {C}, H, W)"


class LayerNorm(Module):
    """Layer normalisation (Ba et al., 2016) over the last dims, given by normalized_shape:
    input (*, *normalized_shape) -> the same shape. weight = 1 and bias = 0, of shape normalized_shape, when
    elementwise_affine (bias=False leaves the bias out)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(n) for n in normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        dtype = dtypes.as_dtype(dtype) or dtypes.get_default_dtype()
        add_affine_parameters(self, self.normalized_shape, elementwise_affine, bias, dtype)

    def reset_parameters(self):
        reset_affine_parameters(self)

    def forward(self, input):
        k = len(self.normalized_shape)
        if input.ndim < k or tuple(input.shape[input.ndim - k:]) != self.normalized_shape:
            raise ShapeError(f"LayerNorm(normalized_shape={self.normalized_shape}) expected input of shape "
                             f"(*, {', '.join(map(str, self.normalized_shape))}), got {tuple(input.shape)}: the last "
                             f"{k} dim(s) must equal normalized_shape")
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


def add_affine_parameters(module, shape, affine, bias, dtype):
    """Register `weight` (ones) and `bias` (zeros) of `shape`, or None placeholders, as the norm layers do."""
    if affine:
        module.weight = Parameter(empty(shape, dtype=dtype))
        if bias:
            module.bias = Parameter(empty(shape, dtype=dtype))
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)
    reset_affine_parameters(module)


def reset_affine_parameters(module):
    """weight = 1, bias = 0: a norm layer starts as a pure normalisation."""
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)
