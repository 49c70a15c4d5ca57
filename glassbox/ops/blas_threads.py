"""One BLAS thread for loops of small GEMMs, such as the steps of a recurrent layer.

Why: OpenBLAS splits even a (32, 256) @ (256, 1024) GEMM over its threads, and on small products the hand-off costs
more than the work: measured on a 2-core machine, 2.1 ms with two threads against 0.33-0.48 ms with one (and 16 ms
with two when another process competes for the cores). Large GEMMs (input projections, weight gradients,
convolutions) keep every thread. The thread count is set through threadpoolctl, which knows how to reach each BLAS
NumPy may be linked against; without it (or without a BLAS it knows) this does nothing.
"""

import contextlib

_controllers = None


def _blas_controllers():
    """threadpoolctl's controllers of the BLAS libraries loaded in this process (looked up once)."""
    global _controllers
    if _controllers is None:
        try:
            from threadpoolctl import ThreadpoolController

            _controllers = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
        except Exception:  # not installed, or a platform threadpoolctl cannot inspect: leave BLAS alone
            _controllers = []
    return _controllers


@contextlib.contextmanager
def single_blas_thread():
    """Inside the block, BLAS runs on one thread; the previous thread counts come back on exit. The setting is
    process-wide while the block runs (other threads calling BLAS meanwhile also get one thread)."""
    saved = [(controller, controller.num_threads) for controller in _blas_controllers()]
    saved = [(controller, count) for controller, count in saved if count > 1]
    for controller, _ in saved:
        controller.set_num_threads(1)
    try:
        yield
    finally:
        for controller, count in saved:
            controller.set_num_threads(count)
