"""Sample transforms in torchvision's style: Compose, ToTensor, Normalize, Lambda."""

import numpy as np

from .. import dtypes
from ..tensor import Tensor


class Compose:
    """Apply `transforms` (a list of callables) one after the other."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for transform in self.transforms:
            x = transform(x)
        return x

    def __repr__(self):
        inner = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"Compose({inner}\n)"


class ToTensor:
    """An image array of shape (H, W, C) or (H, W) -> a Tensor of shape (C, H, W) (C = 1 for (H, W)).

    uint8 images (values 0..255) become the default float dtype scaled to [0, 1]; other dtypes keep their values
    and dtype, as in torchvision. A Tensor input is taken to be (H, W, C) / (H, W) too.
    """

    def __call__(self, pic):
        array = pic.data if isinstance(pic, Tensor) else np.asarray(pic)
        if array.ndim == 2:
            array = array[:, :, None]
        if array.ndim != 3:
            raise ValueError(f"ToTensor: expected an image of shape (H, W, C) or (H, W), got shape {array.shape}")
        chw = np.ascontiguousarray(array.transpose(2, 0, 1))
        if chw.dtype == np.uint8:
            chw = chw.astype(dtypes.get_default_dtype()) / np.asarray(255, dtype=dtypes.get_default_dtype())
        return Tensor._make(chw)

    def __repr__(self):
        return "ToTensor()"


class Normalize:
    """(x - mean[c]) / std[c] for each channel c of a float image (C, H, W) or batch (N, C, H, W).

    `mean` and `std` are sequences of C numbers (or one number for all channels). Works on Tensors (out of place
    through glassbox ops, so gradients flow, or in place on the data with inplace=True) and on NumPy arrays.
    """

    def __init__(self, mean, std, inplace=False):
        self.mean = [float(m) for m in np.atleast_1d(mean)]
        self.std = [float(s) for s in np.atleast_1d(std)]
        self.inplace = inplace
        if np.any(np.asarray(self.std) == 0):
            raise ValueError(f"Normalize: std {self.std} contains a zero, which would divide by zero")

    def __call__(self, x):
        array = x.data if isinstance(x, Tensor) else np.asarray(x)
        if array.dtype.kind != "f":
            raise TypeError(f"Normalize: expected a float image, got dtype {array.dtype}; convert first "
                            "(e.g. ToTensor() scales uint8 images to [0, 1])")
        if array.ndim < 3:
            raise ValueError(f"Normalize: expected an image (C, H, W) or a batch (N, C, H, W), got shape "
                             f"{array.shape}")
        channels = array.shape[-3]
        for name, values in (("mean", self.mean), ("std", self.std)):
            if len(values) not in (1, channels):
                raise ValueError(f"Normalize: {name} has {len(values)} values but the image has {channels} "
                                 f"channels (shape {array.shape}, channels are dim -3)")
        mean = np.asarray(self.mean, dtype=array.dtype).reshape(-1, 1, 1)
        std = np.asarray(self.std, dtype=array.dtype).reshape(-1, 1, 1)
        if isinstance(x, Tensor):  # through glassbox ops, so autograd and its in-place checks apply
            if self.inplace:
                return x.sub_(Tensor._make(mean)).div_(Tensor._make(std))
            return (x - Tensor._make(mean)) / Tensor._make(std)
        if self.inplace:
            array -= mean
            array /= std
            return x
        return (array - mean) / std

    def __repr__(self):
        return f"Normalize(mean={self.mean}, std={self.std})"


class Lambda:
    """Wrap any callable `fn` as a transform."""

    def __init__(self, fn):
        if not callable(fn):
            raise TypeError(f"Lambda: argument should be callable, got {type(fn).__name__}")
        self.fn = fn

    def __call__(self, x):
        return self.fn(x)

    def __repr__(self):
        return f"Lambda({getattr(self.fn, '__name__', repr(self.fn))})"
