"""DataLoader: batches of a Dataset in sampler order, reproducible from a seed and resumable from a state_dict."""

import copy
import multiprocessing

import numpy as np

from ..random import Generator, default_generator
from .collate import default_collate, default_convert
from .sampler import BatchSampler, RandomSampler, SequentialSampler
from .worker import BatchFetcher, WorkerPool, worker_seeds


def _sampler_generator(sampler):
    """The glassbox.Generator a sampler draws its order from (looked for on it and on a wrapped .sampler)."""
    for owner in (sampler, getattr(sampler, "sampler", None)):
        generator = getattr(owner, "generator", None)
        if isinstance(generator, Generator):
            return generator
    return None


def _multiprocessing_context(context):
    """A multiprocessing context from None (fork where the platform has it, as PyTorch on Linux), a start method
    name ('fork', 'spawn', 'forkserver') or a context object."""
    if context is None:
        methods = multiprocessing.get_all_start_methods()
        return multiprocessing.get_context("fork" if "fork" in methods else None)
    if isinstance(context, str):
        if context not in multiprocessing.get_all_start_methods():
            raise ValueError(f"DataLoader: multiprocessing_context option should specify a valid start method in "
                             f"{multiprocessing.get_all_start_methods()!r}, but got {context!r}")
        return multiprocessing.get_context(context)
    if not isinstance(context, multiprocessing.context.BaseContext):
        raise TypeError(f"DataLoader: multiprocessing_context option should be a start method name or a "
                        f"multiprocessing context, got {type(context).__name__}")
    return context


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

    Workers: with num_workers=N > 0, N processes (started with `multiprocessing_context`, 'fork' on Linux by
    default) each take whole index lists from the batch sampler and return collated batches, which the loader yields
    in sampler order (in_order=False: as they arrive); `prefetch_factor` batches (default 2) per worker are in flight.
    The batches equal num_workers=0's. Workers start at iter() and stop when the epoch ends, when the iterator is
    broken off or garbage-collected, on an error, and at exit; with persistent_workers=True they stay up for the
    next epoch (and stop when the loader is garbage-collected). `worker_init_fn(worker_id)` runs once in each;
    `glassbox.data.get_worker_info()` tells code running in a worker which one it is.

    Worker seeds: every epoch each worker seeds glassbox's default generator, NumPy's global RNG and `random` from
    its own child of `SeedSequence(base_seed).spawn(N)`, so random augmentations differ between workers and repeat
    exactly in a run from the same `gb.manual_seed`. base_seed is derived from the state at the start of the epoch
    of the generator the order comes from, plus the epoch number, without drawing from it (a draw would change the
    data order); with no such generator, from `generator` or from one draw of the default generator made when the
    loader is built. A state_dict therefore restores the order and the seeds; in an epoch resumed part-way the
    workers' streams restart at their seeds, so draws in __getitem__ repeat exactly from the next epoch on.

    Failures: an exception in a worker is raised in the main process with the worker's id and traceback; a worker
    that dies, or no batch within `timeout` seconds (when > 0), raises RuntimeError. Under the 'spawn' and
    'forkserver' contexts the data set, collate_fn and worker_init_fn must be picklable.

    pin_memory and pin_memory_device are accepted so that PyTorch scripts run unchanged; they do nothing on a CPU.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", in_order=True):
        if generator is not None and not isinstance(generator, Generator):
            raise TypeError(f"DataLoader: generator must be a glassbox.Generator, got {type(generator).__name__}")
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers option should be a non-negative integer, got {num_workers}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("DataLoader: prefetch_factor option could only be specified in multiprocessing; let "
                             "num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None")
        if prefetch_factor is not None and (not isinstance(prefetch_factor, int) or prefetch_factor <= 0):
            raise ValueError(f"DataLoader: prefetch_factor should be a positive integer, got {prefetch_factor!r}")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
        if not isinstance(timeout, (int, float)) or timeout < 0:
            raise ValueError(f"DataLoader: timeout option should be non-negative, got {timeout!r}")
        context = multiprocessing_context
        if num_workers > 0 or context is not None:
            context = _multiprocessing_context(context)
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
        self.prefetch_factor = 2 if prefetch_factor is None and num_workers > 0 else prefetch_factor
        self.persistent_workers = persistent_workers
        self.multiprocessing_context = context
        self.in_order = in_order
        self._auto_collation = batch_sampler is not None
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        # Where workers' seeds come from when no generator decides the order: `generator`, else an own one seeded
        # by one draw from the default generator now, so that gb.manual_seed before building the loader fixes it.
        self._seed_source = None
        if num_workers > 0 and _sampler_generator(self._index_sampler) is None:
            self._seed_source = generator or Generator(int(default_generator.numpy.integers(2**63)))
        self._pool = None  # the persistent workers, between epochs
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
        if self.num_workers == 0:
            return self._batches(indices)
        pool = self._worker_pool(self._base_seed(start_state))
        return self._worker_batches(pool, pool.epoch(indices, self.in_order))

    def _batches(self, indices):
        fetch = BatchFetcher(self.dataset, self._auto_collation, self.collate_fn)
        for index in indices:
            batch = fetch(index)
            self._batches_done += 1
            yield batch
        self._in_epoch = False

    def _base_seed(self, start_state):
        """This epoch's base seed for the workers: a hash of the order generator's state at the start of the epoch
        (or of the seed source's, which is never drawn from) and the epoch number, so a state_dict restores it."""
        if start_state is None:
            if self._seed_source is None:  # num_workers was raised after the loader was built
                self._seed_source = self.generator or Generator(int(default_generator.numpy.integers(2**63)))
            start_state = self._seed_source.get_state()
        state = start_state["bit_generator"]["state"]
        entropy = [int(state["state"]), int(state["inc"]), int(start_state["seed"]), self._epoch]
        return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0])

    def _worker_pool(self, base_seed):
        seeds = worker_seeds(base_seed, self.num_workers)
        if self._pool is not None and not self._pool.closed:
            self._pool.reseed(seeds)
            return self._pool
        pool = WorkerPool(self.dataset, self._auto_collation, self.collate_fn, seeds, self.worker_init_fn,
                          _multiprocessing_context(self.multiprocessing_context), self.prefetch_factor or 2,
                          self.timeout)
        self._pool = pool if self.persistent_workers else None
        return pool

    def _worker_batches(self, pool, epoch):
        try:
            for batch in epoch:
                self._batches_done += 1
                yield batch
            self._in_epoch = False
        finally:  # also reached on break (the generator is closed) and on an error in a worker
            if not self.persistent_workers or pool.closed:
                pool.shutdown()
                if self._pool is pool:
                    self._pool = None

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
