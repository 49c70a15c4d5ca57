"""DataLoader worker processes: the loop a worker runs, WorkerInfo/get_worker_info, per-worker seeding, and the pool
the main process drives (hand out index lists, put batches back in sampler order, detect failures, shut down)."""

import collections
import multiprocessing
import os
import pickle
import queue
import random
import signal
import time
import traceback
import weakref

import numpy as np

from ..random import default_generator
from ..tensor import Tensor
from .collate import default_collate
from .dataset import fetch_batch

# How often a worker waiting for work checks that its parent still lives, and how often the main process waiting
# for a batch checks that its workers do. The main side is short because a dead worker means a stalled epoch.
_WORKER_POLL_SECONDS = 1.0
_MAIN_POLL_SECONDS = 0.1
# How long shutdown waits for workers to finish their current batch and leave before it terminates them.
_JOIN_SECONDS = 2.0


# ----- inside a worker ---------------------------------------------------------------------------------------------

class WorkerInfo:
    """What a worker process knows about itself: `id` (0 .. num_workers - 1), `num_workers`, `seed` (the seed of
    its glassbox, NumPy and `random` generators this epoch) and `dataset` (its copy of the data set)."""

    __slots__ = ("id", "num_workers", "seed", "dataset")

    def __init__(self, id, num_workers, seed, dataset):  # noqa: A002 -- PyTorch's attribute name
        self.id = id
        self.num_workers = num_workers
        self.seed = seed
        self.dataset = dataset

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed})"


_worker_info = None


def get_worker_info():
    """The WorkerInfo of the current DataLoader worker process, or None in the main process.

    Use it in `Dataset.__getitem__` or `worker_init_fn` to split work between workers or to see the worker's seed."""
    return _worker_info


def worker_seeds(base_seed, num_workers):
    """One independent 64-bit seed per worker, from `numpy.random.SeedSequence(base_seed).spawn(num_workers)`."""
    children = np.random.SeedSequence(base_seed).spawn(num_workers)
    return [int(child.generate_state(1, np.uint64)[0]) for child in children]


def seed_worker(seed):
    """Seed this process's glassbox default generator, NumPy's global RNG and Python's `random` from `seed`.

    NumPy's legacy seed takes 32-bit words, so it gets four words drawn from the seed rather than a truncation."""
    default_generator.manual_seed(seed)
    np.random.seed(np.random.SeedSequence(seed).generate_state(4))
    random.seed(seed)


class BatchFetcher:
    """Turns one item of the index sampler into one batch, the same way in the main process and in a worker.

    With auto-collation the item is a list of B sample indices and the batch is `collate_fn([dataset[i] ...])`, or
    one vectorised `fetch_batch` call when collate_fn is default_collate and the data set supports it. Without it
    (batch_size=None) the item is one sample index and the batch is `collate_fn(dataset[index])`."""

    def __init__(self, dataset, auto_collation, collate_fn):
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.fast = auto_collation and collate_fn is default_collate

    def __call__(self, index):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if self.fast:
            batch = fetch_batch(self.dataset, np.asarray(index, dtype=np.int64))
            if batch is not None:
                return batch
            self.fast = False  # this data set has no fast path (or it does not apply): stop asking
        return self.collate_fn([self.dataset[i] for i in index])


class _PackedTensor:
    """A Tensor on its way between processes: just its array (no graph, no grad, no hooks) and requires_grad."""

    __slots__ = ("array", "requires_grad")

    def __init__(self, array, requires_grad):
        self.array = array
        self.requires_grad = requires_grad

    def __getstate__(self):
        return self.array, self.requires_grad

    def __setstate__(self, state):
        self.array, self.requires_grad = state


def _pack(obj):
    """Replace every plain Tensor inside tuples, lists and dicts by its array, keeping the structure."""
    if type(obj) is Tensor:
        return _PackedTensor(obj.data, obj.requires_grad)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuple
        return type(obj)(*(_pack(o) for o in obj))
    if type(obj) in (tuple, list):
        return type(obj)(_pack(o) for o in obj)
    if type(obj) is dict:
        return {key: _pack(value) for key, value in obj.items()}
    return obj  # anything else crosses as pickle makes it (Tensor subclasses included)


def _unpack(obj):
    """Inverse of _pack: arrays back into Tensors (sharing the received array, no copy)."""
    if type(obj) is _PackedTensor:
        return Tensor._make(obj.array, requires_grad=obj.requires_grad)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_unpack(o) for o in obj))
    if type(obj) in (tuple, list):
        return type(obj)(_unpack(o) for o in obj)
    if type(obj) is dict:
        return {key: _unpack(value) for key, value in obj.items()}
    return obj


class _Message(str):
    """A message whose repr is itself: KeyError shows repr(arg), which would print the traceback as one line."""

    def __repr__(self):
        return str(self)


class WorkerError:
    """An exception raised in a worker, carried to the main process as its type and formatted traceback."""

    def __init__(self, worker_id, exc, where=""):
        self.worker_id = worker_id
        self.type_name = type(exc).__name__
        self.where = where
        self.traceback = "".join(traceback.format_exception(exc))
        try:  # the type itself crosses when it can be pickled (importable); else the main raises RuntimeError
            pickle.loads(pickle.dumps(type(exc)))
            self.exc_type = type(exc)
        except Exception:
            self.exc_type = RuntimeError

    def exception(self):
        """The exception to raise in the main process: the worker's type when it takes one message argument."""
        message = _Message(f"Caught {self.type_name} in DataLoader worker process {self.worker_id}{self.where}.\n"
                           f"Original {self.traceback}")
        try:
            error = self.exc_type(message)
        except Exception:
            error = RuntimeError(message)
        try:
            error.worker_id = self.worker_id
        except AttributeError:
            pass
        return error


def _parent_alive(parent_pid):
    parent = multiprocessing.parent_process()  # the process that started us, also under forkserver
    if parent is not None:
        return parent.is_alive()
    return os.getppid() == parent_pid


def _worker_loop(dataset, auto_collation, collate_fn, index_queue, result_queue, worker_id, num_workers, seed,
                 worker_init_fn, parent_pid):
    """Run in each worker process: take ("batch", tag, idx, index) messages, send back (tag, idx, ok, payload) with
    payload the pickled batch (ok=True) or a WorkerError; ("seed", s) reseeds for a new epoch; None stops."""
    global _worker_info
    try:
        seed_worker(seed)
        _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
        init_error = None
        if worker_init_fn is not None:
            try:
                worker_init_fn(worker_id)
            except Exception as exc:  # reported with the first batch this worker is asked for, as PyTorch does
                init_error = WorkerError(worker_id, exc, " (in worker_init_fn)")
        fetch = BatchFetcher(dataset, auto_collation, collate_fn)
        while True:
            try:
                message = index_queue.get(timeout=_WORKER_POLL_SECONDS)
            except queue.Empty:
                if not _parent_alive(parent_pid):  # the main process died without telling us: do not linger
                    break
                continue
            if message is None:
                break
            if message[0] == "seed":
                seed_worker(message[1])
                _worker_info = WorkerInfo(worker_id, num_workers, message[1], dataset)
                continue
            _, tag, idx, index = message
            if init_error is not None:
                result_queue.put((tag, idx, False, init_error))
                continue
            try:
                # Pickled here rather than in the queue's feeder thread, so that an unpicklable batch becomes an
                # error the main process sees instead of a batch that never arrives.
                result = True, pickle.dumps(_pack(fetch(index)), protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:
                result = False, WorkerError(worker_id, exc)
            result_queue.put((tag, idx) + result)
    except KeyboardInterrupt:
        pass  # Ctrl-C reaches the whole process group; the main process raises it, the worker just leaves
    # Results still queued are no longer wanted: do not let exit wait for them to be read.
    result_queue.cancel_join_thread()


# ----- in the main process -----------------------------------------------------------------------------------------

def _describe_exit(code):
    if code is not None and code < 0:
        try:
            return f"exit code {code} (killed by signal {signal.Signals(-code).name})"
        except ValueError:
            pass
    return f"exit code {code}"


def _shutdown(owner_pid, workers, index_queues, results):
    """Stop the workers (ask, wait up to _JOIN_SECONDS, then terminate) and reap them, so none is left a zombie."""
    if os.getpid() != owner_pid:  # a forked copy of the pool (in another loader's worker) owns no processes
        return
    for q in index_queues:
        try:
            q.put(None)
        except (OSError, ValueError):  # queue already closed
            pass
    deadline = time.monotonic() + _JOIN_SECONDS
    for w in workers:
        w.join(max(0.0, deadline - time.monotonic()))
    for w in workers:
        if w.is_alive():
            w.terminate()
            w.join(1.0)
            if w.is_alive():
                w.kill()
                w.join()
    for q in (*index_queues, results):
        q.cancel_join_thread()
        q.close()


class WorkerPool:
    """`num_workers` daemon processes that each turn index lists into batches; the main process's side of them.

    Processes start at construction (seeded with `seeds`, one per worker) and run until shutdown(), which also
    happens when the pool is garbage-collected or at interpreter exit. `epoch(indices)` hands out the items of one
    pass of the index sampler and yields the batches back, at most `prefetch_factor` per worker in flight."""

    def __init__(self, dataset, auto_collation, collate_fn, seeds, worker_init_fn=None, context=None,
                 prefetch_factor=2, timeout=0):
        context = context if context is not None else multiprocessing.get_context()
        self.num_workers = len(seeds)
        self.prefetch_factor = prefetch_factor
        self.timeout = timeout
        self._tag = 0  # which epoch a task belongs to: results of an abandoned epoch are recognised and dropped
        self._results = context.Queue()
        self._index_queues = []
        self._workers = []
        self._finalizer = weakref.finalize(self, _shutdown, os.getpid(), self._workers, self._index_queues,
                                           self._results)
        try:
            for worker_id, seed in enumerate(seeds):
                index_queue = context.Queue()
                self._index_queues.append(index_queue)
                worker = context.Process(
                    target=_worker_loop, name=f"glassbox DataLoader worker {worker_id}", daemon=True,
                    args=(dataset, auto_collation, collate_fn, index_queue, self._results, worker_id,
                          self.num_workers, seed, worker_init_fn, os.getpid()))
                worker.start()
                self._workers.append(worker)
        except BaseException:
            self.shutdown()
            raise

    @property
    def closed(self):
        return not self._finalizer.alive

    @property
    def pids(self):
        return [w.pid for w in self._workers]

    def shutdown(self):
        """Stop and reap every worker; safe to call more than once."""
        self._finalizer()

    def reseed(self, seeds):
        """Give each worker a new seed (sent behind any work still queued for it, so it applies to the next epoch)."""
        for index_queue, seed in zip(self._index_queues, seeds):
            index_queue.put(("seed", seed))

    def epoch(self, indices, in_order=True):
        """An iterator over the batches of the items of `indices`; starts sending work at once."""
        if self.closed:
            raise RuntimeError("DataLoader: its worker processes were shut down; start a new iter()")
        self._tag += 1
        return _Epoch(self, indices, self._tag, in_order)

    def _submit(self, worker_id, tag, idx, index):
        self._index_queues[worker_id].put(("batch", tag, idx, index))

    def _receive(self):
        """The next (tag, idx, ok, payload) from any worker; raises if a worker died or `timeout` passed."""
        start = time.monotonic()
        while True:
            try:
                return self._results.get(timeout=_MAIN_POLL_SECONDS)
            except queue.Empty:
                pass
            dead = [(i, w) for i, w in enumerate(self._workers) if w.exitcode is not None]
            if dead:
                self.shutdown()
                worker_id, worker = dead[0]
                raise RuntimeError(f"DataLoader worker {worker_id} (pid {worker.pid}) exited unexpectedly with "
                                   f"{_describe_exit(worker.exitcode)}; if it ran out of memory, try fewer "
                                   "workers, a smaller batch_size or prefetch_factor")
            if self.timeout > 0 and time.monotonic() - start >= self.timeout:
                self.shutdown()
                raise RuntimeError(f"DataLoader timed out after {self.timeout} seconds waiting for a batch from its "
                                   f"{self.num_workers} worker processes")


class _Epoch:
    """One pass over the index sampler through a WorkerPool: items go to workers round-robin; batches come back
    in sampler order (in_order=True) or as they arrive (in_order=False)."""

    def __init__(self, pool, indices, tag, in_order):
        self.pool = pool
        self.indices = indices
        self.tag = tag
        self.in_order = in_order
        self.sent = 0  # items handed out so far (item k has idx k)
        self.taken = 0  # batches returned to the caller
        self.exhausted = False
        self.arrived = {} if in_order else collections.deque()
        self._fill()

    def _fill(self):
        # Batches waiting in `arrived` still count as in flight: that is what bounds memory.
        limit = self.pool.prefetch_factor * self.pool.num_workers
        while not self.exhausted and self.sent - self.taken < limit:
            index = next(self.indices, _END)
            if index is _END:
                self.exhausted = True
                return
            self.pool._submit(self.sent % self.pool.num_workers, self.tag, self.sent, index)
            self.sent += 1

    def _ready(self):
        if self.in_order:
            return self.arrived.pop(self.taken, None)
        return self.arrived.popleft() if self.arrived else None

    def __iter__(self):
        return self

    def __next__(self):
        pool = self.pool
        if pool.closed:
            raise RuntimeError("DataLoader: its worker processes were shut down (after an error, or at exit); "
                               "start a new iter()")
        if pool._tag != self.tag:
            raise RuntimeError("DataLoader: this iterator was replaced by a newer iter() of the same loader, whose "
                               "persistent workers now serve the new epoch")
        while True:
            result = self._ready()
            if result is not None:
                self.taken += 1
                ok, payload = result
                if not ok:
                    pool.shutdown()
                    raise payload.exception()
                self._fill()
                return _unpack(pickle.loads(payload))
            if self.exhausted and self.taken == self.sent:
                raise StopIteration
            tag, idx, ok, payload = pool._receive()
            if tag != self.tag:
                continue  # left over from an epoch that was broken off
            if self.in_order:
                self.arrived[idx] = (ok, payload)
            else:
                self.arrived.append((ok, payload))


_END = object()
