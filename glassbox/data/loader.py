"""DataLoader: batches of a Dataset in sampler order, reproducible from a seed and resumable from a state_dict."""

import copy
import warnings

import numpy as np

from ..random import Generator, default_generator
from .collate import default_collate, default_convert
from .dataset import fetch_batch
from .sampler import BatchSampler, RandomSampler, SequentialSampler


def _sampler_generator(sampler):
    """The glassbox.Generator a sampler draws its order from (looked for on it and on a wrapped .sampler)."""
    for owner in (sampler, getattr(sampler, "sampler", None)):
        generator = getattr(owner, "generator", None)
        if isinstance(generator, Generator):
            return generator
    return None


class DataLoader:
    """Iterate over `dataset` in batches, with PyTorch's arguments and semantics.

    Each iter() is one epoch. With shuffle=True the order is a fresh permutation per epoch drawn from `generator`;
    when no generator is given the loader makes its own, seeded by one draw from the default generator when the
    loader is built, so `gb.manual_seed(s)` before building it fixes every epoch's order. (PyTorch instead draws a
    seed from the default generator at every iter(), which ties the data order to how much randomness the model
    used in between; an own generator keeps the order independent of that and lets state_dict capture it.)

    Speed: when the data set has a vectorised `get_batch` (TensorDataset, Subsets of it, MNIST and CIFAR10 without
    transforms) and collate_fn is the default, a batch is fetched with one fancy-indexing call per array instead
    of `batch_size` calls to `__getitem__` and a stack; the batches are identical either way.

    Resuming: `state_dict()` returns plain JSON-able data (the epoch counter, the batches already taken in the
    current epoch, and the generator state at the start of that epoch); `load_state_dict()` on a loader built the
    same way makes the next iter() continue with exactly the batches an uninterrupted run would have produced.
    This is exact whenever the order comes from a Generator the loader can see: shuffle=True, or a sampler built
    with generator=. (A sampler left on the default generator cannot be captured; its state is saved as None.)

    num_workers, pin_memory and the other multiprocessing arguments are accepted so that PyTorch scripts run
    unchanged; glassbox always loads in the main process.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", in_order=True):
        if generator is not None and not isinstance(generator, Generator):
            raise TypeError(f"DataLoader: generator must be a glassbox.Generator, got {type(generator).__name__}")
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers option should be a non-negative integer, got {num_workers}")
        if num_workers > 0:
            warnings.warn(f"DataLoader: num_workers={num_workers} is ignored; glassbox loads batches in the main "
                          "process", stacklevel=2)
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle; shuffle inside the "
                             "sampler (e.g. RandomSampler) or drop shuffle=True")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, "
                                 "sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None:
            if drop_last:
                raise ValueError("DataLoader: batch_size=None option disables auto-batching and is mutually "
                                 "exclusive with drop_last")
        elif not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size should be a positive integer value (or None to disable "
                             f"batching), but got batch_size={batch_size!r}")
        if sampler is None:
            if shuffle:
                if generator is None:
                    generator = Generator(int(default_generator.numpy.integers(2**63)))
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self._auto_collation = batch_sampler is not None
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        # Progress of the most recent iterator, for state_dict: epochs begun, batches taken in the current one,
        # the generator state before that epoch's order was drawn, and batches to skip on the next iter().
        self._epoch = 0
        self._batches_done = 0
        self._in_epoch = False
        self._epoch_start_state = None
        self._skip = 0

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self):
        """Batches per epoch: ceil(n / batch_size), or floor with drop_last (n samples without batching)."""
        return len(self._index_sampler)

    def __iter__(self):
        generator = _sampler_generator(self._index_sampler)
        start_state = generator.get_state() if generator is not None else None
        indices = iter(self._index_sampler)  # samplers draw the epoch's order here, right after the snapshot
        skip, self._skip = self._skip, 0
        for _ in range(skip):  # resuming mid-epoch: pass over the batches already taken, without loading them
            next(indices, None)
        self._epoch += 1
        self._epoch_start_state = start_state
        self._batches_done = skip
        self._in_epoch = True
        return self._batches(indices)

    def _batches(self, indices):
        dataset, collate_fn = self.dataset, self.collate_fn
        fast = self._auto_collation and collate_fn is default_collate
        for index in indices:
            if not self._auto_collation:
                batch = collate_fn(dataset[index])
            else:
                batch = fetch_batch(dataset, np.asarray(index, dtype=np.int64)) if fast else None
                if batch is None:
                    fast = False  # this data set has no fast path (or it does not apply): stop asking
                    batch = collate_fn([dataset[i] for i in index])
            self._batches_done += 1
            yield batch
        self._in_epoch = False

    def _epoch_complete(self):
        if not self._in_epoch:
            return True
        try:
            return self._batches_done >= len(self)
        except TypeError:  # a custom sampler without __len__
            return False

    def state_dict(self):
        """Where the loader is, as plain Python data (ints, strings, dicts: json.dumps works on it):
        {"epoch": completed epochs, "batches_done": batches taken in the next one, "generator": state or None}."""
        generator = _sampler_generator(self._index_sampler)
        if self._epoch_complete():
            state = generator.get_state() if generator is not None else None
            return {"epoch": self._epoch, "batches_done": 0, "generator": state}
        return {"epoch": self._epoch - 1, "batches_done": self._batches_done,
                "generator": copy.deepcopy(self._epoch_start_state)}

    def load_state_dict(self, state_dict):
        """Restore a state_dict() so that the next iter() continues where the saved loader was."""
        missing = {"epoch", "batches_done", "generator"} - set(state_dict)
        if missing:
            raise KeyError(f"DataLoader.load_state_dict: missing keys {sorted(missing)}")
        generator = _sampler_generator(self._index_sampler)
        saved = state_dict["generator"]
        if (saved is None) != (generator is None):
            raise ValueError("DataLoader.load_state_dict: the saved loader " + ("had no" if saved is None else "had a")
                             + " generator but this one " + ("has one" if saved is None else "has none")
                             + "; build the loader with the same shuffle/sampler/generator arguments as the saved one")
        if generator is not None:
            generator.set_state(copy.deepcopy(saved))
        self._epoch = int(state_dict["epoch"])
        self._skip = int(state_dict["batches_done"])
        self._batches_done = 0
        self._in_epoch = False
        self._epoch_start_state = None
