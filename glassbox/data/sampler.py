"""Samplers: the order in which a DataLoader visits sample indices, and how it groups them into batches."""

from itertools import islice

import numpy as np

from ..random import Generator, default_generator


def _check_generator(generator, owner):
    if generator is not None and not isinstance(generator, Generator):
        raise TypeError(f"{owner}: generator must be a glassbox.Generator or None, got {type(generator).__name__}")
    return generator


def _epoch_generator(generator):
    """`generator` itself, or (when None) a fresh Generator seeded by one draw from the default generator, as
    PyTorch does at each iter(): the default stream advances by one number per epoch whatever the data size."""
    if generator is not None:
        return generator
    return Generator(int(default_generator.numpy.integers(2**63)))


class Sampler:
    """Yields sample indices (ints); `len(sampler)` is how many it yields per pass."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__()")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1, in order."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation of 0 .. len(data_source) - 1 per pass (or, with replacement=True, `num_samples` indices
    drawn uniformly with replacement). Each iter() draws from `generator`, so successive passes differ and a run
    is reproducible from the generator's seed; with generator=None each pass draws a fresh seed from the default
    generator (PyTorch's behaviour). The draw happens in iter() itself, not at the first next()."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = _check_generator(generator, "RandomSampler")
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a boolean value, but got replacement={replacement}")
        if not isinstance(self.num_samples, int) or isinstance(self.num_samples, bool) or self.num_samples <= 0:
            raise ValueError(f"RandomSampler: num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")

    @property
    def num_samples(self):
        # The data set may grow or shrink between passes, so its length is read each time.
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        rng = _epoch_generator(self.generator).numpy
        n = len(self.data_source)
        if self.replacement:
            order = rng.integers(0, n, size=self.num_samples)
        else:
            # num_samples larger than n means several whole permutations back to back, as in PyTorch.
            reps = -(-self.num_samples // n)
            order = np.concatenate([rng.permutation(n) for _ in range(reps)])[:self.num_samples]
        return iter(order.tolist())

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given `indices` in a random order, a new one per pass (drawn like RandomSampler's)."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = _check_generator(generator, "SubsetRandomSampler")

    def __iter__(self):
        order = _epoch_generator(self.generator).numpy.permutation(len(self.indices))
        return iter([self.indices[i] for i in order.tolist()])

    def __len__(self):
        return len(self.indices)


class BatchSampler(Sampler):
    """Groups the indices of `sampler` into lists of `batch_size`; the last, shorter list is dropped when
    drop_last=True. Like the samplers above, iter() starts the underlying sampler at once."""

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"BatchSampler: batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    def __iter__(self):
        return self._batches(iter(self.sampler))

    def _batches(self, indices):
        while batch := list(islice(indices, self.batch_size)):
            if len(batch) < self.batch_size and self.drop_last:
                return
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
