"""Batched image augmentation on NumPy arrays: one call transforms a whole batch (N, C, H, W), each image with its
own random parameters, with no Python loop over the images.

Every random transform takes `generator=`: a glassbox.Generator, an int seed (a private Generator started from it),
or None for the process-wide default generator (glassbox.manual_seed). The same generator state gives the same
output. Inputs are NumPy arrays (a glassbox Tensor is accepted too and a Tensor is returned, without gradient) of
shape (N, C, H, W), or one image (C, H, W), which is treated as a batch of one. Crops, flips and shifts keep the
dtype (uint8 works); RandomAffine with bilinear sampling and Normalize return floats (see each class). Outputs are
new arrays; the input is never changed.
"""

import numbers

import numpy as np

from ..random import Generator, numpy_generator
from ..tensor import Tensor
from .transforms import Compose  # noqa: F401  (one Compose for transforms and augmentations alike)

_PADDING_MODES = {"constant": "constant", "edge": "edge", "reflect": "reflect", "symmetric": "symmetric"}


def _rng(generator):
    """The NumPy generator behind `generator` (a glassbox.Generator, an int seed, or None for the default)."""
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        generator = Generator(int(generator))
    return numpy_generator(generator)


def _as_batch(x, name):
    """(array (N, C, H, W), whether the input was a Tensor, whether it was one unbatched image)."""
    is_tensor = isinstance(x, Tensor)
    array = x.data if is_tensor else np.asarray(x)
    if array.ndim not in (3, 4):
        raise ValueError(f"{name}: expected a batch (N, C, H, W) or an image (C, H, W), got shape {array.shape}")
    single = array.ndim == 3
    return (array[None] if single else array), is_tensor, single


def _restore(out, is_tensor, single):
    out = out[0] if single else out
    return Tensor._make(np.ascontiguousarray(out)) if is_tensor else out


def _pair(value, name):
    if isinstance(value, numbers.Number):
        return int(value), int(value)
    value = tuple(int(v) for v in value)
    if len(value) != 2:
        raise ValueError(f"{name}: expected an int or a pair of ints, got {value}")
    return value


class RandomCrop:
    """Crop each image of a batch (N, C, H, W) to `size` (an int or (h, w)) at its own random offset, after padding
    every side by `padding` pixels (an int, (left/right, top/bottom), or (left, top, right, bottom), as in
    torchvision). padding_mode: 'constant' (with `fill`), 'edge', 'reflect' or 'symmetric'.
    Returns (N, C, h, w) in the input's dtype.

    Vectorised: a strided sliding-window view of the padded batch, indexed with one (n, i, j) triple per image.
    """

    def __init__(self, size, padding=0, padding_mode="constant", fill=0, generator=None):
        self.size = _pair(size, "RandomCrop")
        if isinstance(padding, numbers.Number):
            padding = (int(padding),) * 4
        padding = tuple(int(p) for p in padding)
        if len(padding) == 2:
            padding = padding * 2
        if len(padding) != 4 or min(padding) < 0:
            raise ValueError(f"RandomCrop: padding must be a non-negative int or a sequence of 2 or 4, got {padding}")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"RandomCrop: padding_mode must be one of {tuple(_PADDING_MODES)}, got {padding_mode!r}")
        self.padding, self.padding_mode, self.fill = padding, padding_mode, fill
        self.generator = generator
        self._rng = _rng(generator)

    def pad(self, batch):
        """The batch (N, C, H, W) padded as this transform pads it before cropping."""
        left, top, right, bottom = self.padding
        if not any(self.padding):
            return batch
        widths = ((0, 0), (0, 0), (top, bottom), (left, right))
        if self.padding_mode == "constant":
            return np.pad(batch, widths, mode="constant", constant_values=self.fill)
        return np.pad(batch, widths, mode=_PADDING_MODES[self.padding_mode])

    def __call__(self, x):
        batch, is_tensor, single = _as_batch(x, "RandomCrop")
        padded = self.pad(batch)
        n, _, height, width = padded.shape
        h, w = self.size
        if h > height or w > width:
            raise ValueError(f"RandomCrop: crop size {(h, w)} is larger than the padded image {(height, width)}")
        top = self._rng.integers(0, height - h + 1, size=n)
        left = self._rng.integers(0, width - w + 1, size=n)
        windows = np.lib.stride_tricks.sliding_window_view(padded, (h, w), axis=(2, 3))  # (N, C, H-h+1, W-w+1, h, w)
        out = windows[np.arange(n), :, top, left]  # the advanced indices go first: (N, C, h, w), a copy
        return _restore(out, is_tensor, single)

    def __repr__(self):
        return f"RandomCrop(size={self.size}, padding={self.padding}, padding_mode={self.padding_mode!r})"


class RandomShift(RandomCrop):
    """Shift each image by its own random whole-pixel offset in [-max_shift, max_shift] along each axis, filling
    what moves in with `fill` (padding_mode='constant') or by another padding mode. The output has the input's shape
    and dtype. This is a RandomCrop of the input's size after padding by max_shift on every side."""

    def __init__(self, max_shift, padding_mode="constant", fill=0, generator=None):
        self.max_shift = int(max_shift)
        super().__init__(1, self.max_shift, padding_mode, fill, generator)

    def __call__(self, x):
        shape = x.shape
        self.size = (shape[-2], shape[-1])
        return super().__call__(x)

    def __repr__(self):
        return f"RandomShift(max_shift={self.max_shift}, padding_mode={self.padding_mode!r})"


class RandomHorizontalFlip:
    """Flip each image of a batch left-right with probability p, independently. Returns a new array of the input's
    shape and dtype; `last_flipped` holds the (N,) bool mask of the images the last call flipped."""

    def __init__(self, p=0.5, generator=None):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p}")
        self.p = p
        self.generator = generator
        self._rng = _rng(generator)
        self.last_flipped = None

    def __call__(self, x):
        batch, is_tensor, single = _as_batch(x, "RandomHorizontalFlip")
        flip = self._rng.random(batch.shape[0]) < self.p
        out = batch.copy()
        out[flip] = batch[flip, :, :, ::-1]
        self.last_flipped = flip
        return _restore(out, is_tensor, single)

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"


class RandomAffine:
    """Rotate each image by its own angle drawn uniformly from [-degrees, degrees] (or from (lo, hi)) about its
    centre, and translate it by up to translate[0] * W pixels horizontally and translate[1] * H vertically (drawn
    uniformly, as torchvision; None: no translation). Pixels that come from outside the image get `fill`.

    interpolation='nearest' keeps the dtype; 'bilinear' returns float (the input's dtype if float, else float32).
    Vectorised over the batch: one inverse-mapped sampling grid (N, H, W) and one gather.
    """

    def __init__(self, degrees, translate=None, interpolation="nearest", fill=0, generator=None):
        if isinstance(degrees, numbers.Number):
            if degrees < 0:
                raise ValueError(f"RandomAffine: degrees must be non-negative, got {degrees}")
            degrees = (-float(degrees), float(degrees))
        self.degrees = tuple(float(d) for d in degrees)
        if translate is not None:
            translate = tuple(float(t) for t in translate)
            if len(translate) != 2 or not all(0.0 <= t <= 1.0 for t in translate):
                raise ValueError(f"RandomAffine: translate must be a pair of fractions in [0, 1], got {translate}")
        self.translate = translate
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"RandomAffine: interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
        self.interpolation, self.fill = interpolation, fill
        self.generator = generator
        self._rng = _rng(generator)

    def _source_coordinates(self, n, height, width):
        """Where each output pixel samples the input: float (N, H, W) arrays of rows and columns."""
        angle = np.deg2rad(self._rng.uniform(self.degrees[0], self.degrees[1], size=n))
        if self.translate is not None:
            tx = np.round(self._rng.uniform(-self.translate[0], self.translate[0], size=n) * width)
            ty = np.round(self._rng.uniform(-self.translate[1], self.translate[1], size=n) * height)
        else:
            tx = ty = np.zeros(n)
        cy, cx = (height - 1) / 2.0, (width - 1) / 2.0
        rows = np.arange(height, dtype=np.float64)[None, :, None] - cy - ty[:, None, None]
        cols = np.arange(width, dtype=np.float64)[None, None, :] - cx - tx[:, None, None]
        cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
        # the output is the input rotated by +angle (counter-clockwise on screen, rows growing downwards) and then
        # shifted: sample the input at the inverse rotation of the un-shifted output coordinates
        src_cols = cos * cols - sin * rows + cx
        src_rows = sin * cols + cos * rows + cy
        return src_rows, src_cols

    def __call__(self, x):
        batch, is_tensor, single = _as_batch(x, "RandomAffine")
        n, c, height, width = batch.shape
        src_rows, src_cols = self._source_coordinates(n, height, width)
        flat = batch.reshape(n, c, height * width)
        n_index = np.arange(n)[:, None, None]
        c_index = np.arange(c)[None, :, None]

        def gather(rows, cols):
            """Input values at integer (rows, cols) (N, H, W), fill outside: (N, C, H * W), and the inside mask."""
            inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
            index = (np.clip(rows, 0, height - 1) * width + np.clip(cols, 0, width - 1)).reshape(n, 1, -1)
            return flat[n_index, c_index, index], inside.reshape(n, 1, -1)

        if self.interpolation == "nearest":
            # floor(v + 0.5), not np.rint: coordinates meant to be whole (0 degrees) then land exactly on pixels
            values, inside = gather(np.floor(src_rows + 0.5).astype(np.intp), np.floor(src_cols + 0.5).astype(np.intp))
            out = np.where(inside, values, np.asarray(self.fill, dtype=batch.dtype))
        else:
            dtype = batch.dtype if batch.dtype.kind == "f" else np.dtype(np.float32)
            r0, c0 = np.floor(src_rows), np.floor(src_cols)
            fr, fc = (src_rows - r0).reshape(n, 1, -1), (src_cols - c0).reshape(n, 1, -1)
            r0, c0 = r0.astype(np.intp), c0.astype(np.intp)
            out = np.zeros((n, c, height * width), dtype=np.float64)
            for dr, dc, weight in ((0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc), (1, 0, fr * (1 - fc)),
                                   (1, 1, fr * fc)):
                values, inside = gather(r0 + dr, c0 + dc)
                out += weight * np.where(inside, values, self.fill)
            out = out.astype(dtype)
        return _restore(out.reshape(n, c, height, width), is_tensor, single)

    def __repr__(self):
        return (f"RandomAffine(degrees={self.degrees}, translate={self.translate}, "
                f"interpolation={self.interpolation!r})")


class Normalize:
    """(x - mean[c]) / std[c] for each channel c of a batch (N, C, H, W) or image (C, H, W).

    mean and std are sequences of C numbers (or one number for every channel). Float input keeps its dtype; integer
    input (e.g. uint8) is converted to float32 first, without rescaling.
    """

    def __init__(self, mean, std):
        self.mean = [float(m) for m in np.atleast_1d(mean)]
        self.std = [float(s) for s in np.atleast_1d(std)]
        if any(s == 0 for s in self.std):
            raise ValueError(f"Normalize: std {self.std} contains a zero, which would divide by zero")

    def __call__(self, x):
        batch, is_tensor, single = _as_batch(x, "Normalize")
        channels = batch.shape[1]
        for name, values in (("mean", self.mean), ("std", self.std)):
            if len(values) not in (1, channels):
                raise ValueError(f"Normalize: {name} has {len(values)} values but the batch has {channels} "
                                 f"channels (shape {batch.shape}, channels are dim 1)")
        dtype = batch.dtype if batch.dtype.kind == "f" else np.dtype(np.float32)
        mean = np.asarray(self.mean, dtype=dtype).reshape(-1, 1, 1)
        std = np.asarray(self.std, dtype=dtype).reshape(-1, 1, 1)
        out = batch.astype(dtype, copy=True)
        out -= mean
        out /= std
        return _restore(out, is_tensor, single)

    def __repr__(self):
        return f"Normalize(mean={self.mean}, std={self.std})"


__all__ = ["Compose", "RandomCrop", "RandomShift", "RandomHorizontalFlip", "RandomAffine", "Normalize"]
