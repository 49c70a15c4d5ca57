"""Map-style data sets: the Dataset protocol, TensorDataset, Subset, ConcatDataset and random_split."""

import bisect
import math
import warnings
from itertools import accumulate

import numpy as np

from ..creation import as_tensor
from ..random import numpy_generator
from ..tensor import Tensor


class Dataset:
    """A map-style data set: `dataset[i]` is sample i and `len(dataset)` the number of samples.

    Subclasses implement `__getitem__(index)` and `__len__()`. Optionally they implement `get_batch(indices)`:
    given an int64 index array of shape (B,), return the batch exactly as `default_collate([self[i] for i in
    indices])` would, or None when it cannot (for example because a transform is set). The DataLoader then fetches
    a whole batch with one vectorised call instead of B calls to `__getitem__` plus a stack; see `fetch_batch`.
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index)")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__()")

    def __add__(self, other):
        return ConcatDataset([self, other])


def _defining_class(cls, name):
    return next(klass for klass in cls.__mro__ if name in vars(klass))


def fetch_batch(dataset, indices):
    """The collated batch of `dataset` at `indices` (int64 array, shape (B,)) from the data set's vectorised
    `get_batch`, or None when it has none, or has one that does not apply (the caller then falls back to
    per-sample `__getitem__` and `default_collate`)."""
    get_batch = getattr(dataset, "get_batch", None)
    if get_batch is None:
        return None
    # A subclass that overrides __getitem__ (to augment samples, say) but inherits get_batch would have its
    # __getitem__ silently bypassed: take the fast path only when the same class defines both.
    cls = type(dataset)
    if _defining_class(cls, "__getitem__") is not _defining_class(cls, "get_batch"):
        return None
    return get_batch(indices)


class TensorDataset(Dataset):
    """Samples are rows of equally long tensors: `dataset[i] == (tensors[0][i], tensors[1][i], ...)`.

    Accepts Tensors (or NumPy arrays, wrapped without copying) whose first dimension is the sample dimension.
    The DataLoader takes a fast path for it: one fancy-indexing call per tensor and batch (`get_batch`).
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        self.tensors = tuple(t if isinstance(t, Tensor) else as_tensor(t) for t in tensors)
        sizes = [t.shape[0] if t.ndim else None for t in self.tensors]
        if None in sizes:
            raise ValueError(f"TensorDataset: every tensor needs a first (sample) dimension, got shapes "
                             f"{[tuple(t.shape) for t in self.tensors]}")
        if any(size != sizes[0] for size in sizes):
            raise ValueError(f"TensorDataset: size mismatch between tensors: first dimensions are {sizes}; "
                             "every tensor needs one row per sample")

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]

    def get_batch(self, indices):
        """The tensors' rows at `indices` (int64, shape (B,)): a tuple of Tensors with first dimension B."""
        return tuple(Tensor._make(t.data[indices]) for t in self.tensors)


class Subset(Dataset):
    """The samples of `dataset` at `indices` (a sequence of ints), in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices
        array = np.asarray(indices)
        if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
            raise TypeError(f"Subset: indices must be a 1-d sequence of ints, got {type(indices).__name__} of "
                            f"dtype {array.dtype} and shape {array.shape}")
        # Kept as an array too so that a batch of positions maps to dataset indices in one indexing call.
        self._index_array = array.astype(np.int64)

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self):
        return len(self.indices)

    def get_batch(self, indices):
        """The fast path of the underlying data set, if it has one, at the mapped indices."""
        return fetch_batch(self.dataset, self._index_array[indices])


class ConcatDataset(Dataset):
    """Several data sets one after the other: indices 0 .. len(d0)-1 address d0, the next len(d1) address d1, ..."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        self.cumulative_sizes = list(accumulate(len(d) for d in self.datasets))

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        if index < 0:
            if -index > len(self):
                raise ValueError(f"ConcatDataset: index {index} is out of range for length {len(self)}")
            index += len(self)
        part = bisect.bisect_right(self.cumulative_sizes, index)
        if part == len(self.datasets):
            raise IndexError(f"ConcatDataset: index {index} is out of range for length {len(self)}")
        offset = self.cumulative_sizes[part - 1] if part else 0
        return self.datasets[part][index - offset]


def _lengths_from_fractions(fractions, n):
    """PyTorch's rule: floor(n * fraction) each, then the remainder handed out one by one from the first split."""
    for i, fraction in enumerate(fractions):
        if not 0 <= fraction <= 1:
            raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1, got {fraction}")
    lengths = [math.floor(n * fraction) for fraction in fractions]
    for i in range(n - sum(lengths)):
        lengths[i % len(lengths)] += 1
    for i, length in enumerate(lengths):
        if length == 0:
            warnings.warn(f"random_split: length of split at index {i} is 0; this split will be empty", stacklevel=3)
    return lengths


def random_split(dataset, lengths, generator=None):
    """Split `dataset` into non-overlapping Subsets of the given lengths, in random order.

    `lengths` are ints summing to len(dataset), or fractions summing to 1 (turned into lengths like PyTorch does).
    The permutation is drawn from `generator` (a glassbox.Generator; default: the default generator), so the split
    is the same for the same seed.
    """
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        lengths = _lengths_from_fractions(lengths, n)
    for length in lengths:
        if not isinstance(length, (int, np.integer)) or isinstance(length, bool) or length < 0:
            raise ValueError(f"random_split: lengths must be non-negative ints or fractions summing to 1, "
                             f"got {lengths}")
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths {lengths} = {sum(lengths)} does not equal the length "
                         f"of the input dataset ({n})")
    order = numpy_generator(generator).permutation(n).tolist()
    return [Subset(dataset, order[end - length:end]) for end, length in zip(accumulate(lengths), lengths)]
