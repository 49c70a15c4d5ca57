"""Independent blocks of one op's work on two threads: NumPy's ufuncs and BLAS release the GIL while they compute.

Used where an op's work splits into parts that share nothing, and each part is a long run of small NumPy calls
that one BLAS thread serves best -- the batch rows of a recurrent layer's time loop (ops/rnn.py): each half of the
batch runs its own recurrence, so the two threads never wait for each other inside the loop.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

_pool = None
_pool_lock = threading.Lock()


def available_cores():
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def row_blocks(rows, min_rows=8):
    """[(start, stop), ...]: `rows` cut in two halves when there are two cores and each half has min_rows, else one
    block."""
    if available_cores() < 2 or rows < 2 * min_rows:
        return [(0, rows)]
    half = rows // 2
    return [(0, half), (half, rows)]


def run_blocks(fn, blocks):
    """fn(start, stop) for every block: the first on this thread, the second on a worker thread, both at once."""
    if len(blocks) == 1:
        fn(*blocks[0])
        return
    future = _worker().submit(fn, *blocks[1])
    try:
        fn(*blocks[0])
    finally:
        future.result()  # wait even if this thread's block raised: the worker writes into shared arrays


def _worker():
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="glassbox-worker")
        return _pool
