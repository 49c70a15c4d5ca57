"""Dropout: zero activations at random while training (Srivastava et al., 2014); identity in eval mode.

Dropout2d (Tompson et al., 2015) zeroes whole channels instead: neighbouring pixels of a feature map are strongly
correlated, so element-wise dropout barely regularises a convolutional layer.
"""

import numpy as np

from ..autograd.function import Function
from ..errors import ShapeError
from ..functional import arithmetic as ar
from ..functional.operands import floating
from ..random import numpy_generator
from . import functional as F
from .module import Module


class ChannelDropout(Function):
    """Zero each channel (all of its spatial values at once) with probability p and scale the others by 1/(1-p).

    x (N, C, *) -> the same shape; one Bernoulli draw per (sample, channel), kept as an (N, C, 1, ...) mask that
    broadcasts over the trailing dims. dL/dx = g * mask.
    """

    save_inputs = False

    def forward(self, x, p, rng):
        keep = rng.random(x.shape[:2], dtype=np.float32) >= p
        self.mask = (keep.astype(x.dtype) * (1.0 / (1.0 - p))).reshape(x.shape[:2] + (1,) * (x.ndim - 2))
        return x * self.mask

    def backward(self, grad):
        return (grad * self.mask,)


def dropout2d(input, p=0.5, training=True, inplace=False, generator=None):
    """Channel-wise dropout of `input` (N, C, H, W), or one unbatched image (C, H, W): while training, each channel
    is zeroed with probability p (every value of it) and the kept ones are scaled by 1/(1-p); identity otherwise.

    Unlike torch, which warns and treats 3-D input as (N, C, L), a 3-D input here is one (C, H, W) image, as the
    documentation of torch.nn.Dropout2d describes. inplace is accepted for compatibility; the result is new.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout2d: probability has to be between 0 and 1, but got {p}")
    input = floating(input, "dropout2d")
    if input.ndim not in (3, 4):
        raise ShapeError(f"dropout2d: expected input of shape (N, C, H, W) or (C, H, W), got {input.shape}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return ar.mul(input, 0.0)
    if input.ndim == 3:  # one image: its channels are dim 0
        return ChannelDropout.apply(input.unsqueeze(0), p=p, rng=numpy_generator(generator)).squeeze(0)
    return ChannelDropout.apply(input, p=p, rng=numpy_generator(generator))


class Dropout(Module):
    """Zero each element with probability p during training and scale the others by 1/(1-p)."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace  # accepted for PyTorch compatibility; the result is always a new tensor

    def forward(self, input):
        return F.dropout(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout):
    """Zero whole channels of (N, C, H, W) or (C, H, W) input with probability p during training and scale the
    others by 1/(1-p); identity in eval mode."""

    def forward(self, input):
        return dropout2d(input, self.p, self.training)
