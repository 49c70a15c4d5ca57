"""The process group: who we are (rank) among how many (world size), set up from the MPI environment.

glassbox runs data-parallel training on MPI through mpi4py (the optional `mpi` extra, which also installs an MPI
runtime, MPICH, from PyPI). Launch N copies of a script with `mpiexec -n N python script.py` (or
`mpiexec -n N glassbox run RECIPE`); each copy calls `init_process_group()` and then knows its rank and the world
size. A script started without mpiexec gets a group of one process, so the same script runs on a laptop unchanged.

When a rank raises an uncaught exception, init_process_group's exception hook prints it with the rank's number and
calls MPI_Abort, which ends every process of the job at once: the other ranks would otherwise wait forever in
their next all-reduce.
"""

import os
import sys
import traceback

# Variables that MPI launchers set in every process they start: with one of them above 1, we are one rank of a
# multi-process job (MPICH/Hydra, Intel MPI and Slurm with PMI: PMI_SIZE; Open MPI: OMPI_COMM_WORLD_SIZE).
_WORLD_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")

_group = None


class ProcessGroup:
    """One MPI communicator and our place in it: `rank` in [0, world_size), `comm` (the mpi4py communicator, or
    None for a group of one process that runs without MPI)."""

    def __init__(self, comm):
        self.comm = comm
        self.rank = comm.Get_rank() if comm is not None else 0
        self.world_size = comm.Get_size() if comm is not None else 1

    def __repr__(self):
        backend = "mpi" if self.comm is not None else "single process"
        return f"ProcessGroup(rank={self.rank}, world_size={self.world_size}, backend={backend!r})"


def launched_by_mpi():
    """True when an MPI launcher (mpiexec/mpirun/srun) started this process as one of several."""
    for name in _WORLD_SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 1:
            return True
    return False


def _import_mpi():
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ImportError("glassbox.distributed: this process was started by an MPI launcher but mpi4py is not "
                          "installed; install it with `pip install 'glassbox[mpi]'` (mpi4py and an MPI runtime)"
                          ) from error
    return MPI


def is_available():
    """True when mpi4py can be imported (multi-process training is possible)."""
    try:
        _import_mpi()
    except ImportError:
        return False
    return True


def init_process_group(backend="mpi", abort_on_error=True):
    """Join the job's process group (idempotent) and return it.

    backend: "mpi" (the only one). Under an MPI launcher this uses MPI.COMM_WORLD; started alone, without MPI in
    the environment, it makes a group of one process, so a data-parallel script also runs as a plain script.
    abort_on_error: install an exception hook that ends the whole job when this rank fails (see the module doc).
    """
    global _group
    if backend != "mpi":
        raise ValueError(f"init_process_group: backend must be 'mpi' (the only one glassbox has), got {backend!r}")
    if _group is not None:
        return _group
    if launched_by_mpi():
        _group = ProcessGroup(_import_mpi().COMM_WORLD)
    else:
        _group = ProcessGroup(None)
    if _group.world_size > 1:
        _share_cores(_group)
        if abort_on_error:
            _install_abort_hook(_group)
    return _group


def _share_cores(group):
    """Give each rank on a machine its share of the cores for BLAS (unless the user set OPENBLAS/OMP threads).

    Two ranks that each run two OpenBLAS threads on two cores keep four spinning threads on two cores: measured
    here, a small MLP epoch went from 0.14 s to 1.2 s. NumPy is loaded before MPI, so the limit is set through
    threadpoolctl (part of the `mpi` extra) rather than an environment variable.
    """
    if any(name in os.environ for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")):
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    from mpi4py import MPI

    node = group.comm.Split_type(MPI.COMM_TYPE_SHARED)
    local_ranks = node.Get_size()
    node.Free()
    threads = max(1, (os.cpu_count() or 1) // local_ranks)
    threadpool_limits(limits=threads, user_api="blas")


def _install_abort_hook(group):
    previous = sys.excepthook

    def abort_job(kind, value, tb):
        if issubclass(kind, KeyboardInterrupt):
            return previous(kind, value, tb)
        message = "".join(traceback.format_exception(kind, value, tb))
        sys.stderr.write(f"glassbox.distributed: rank {group.rank} of {group.world_size} failed; aborting the "
                         f"whole job so that the other ranks do not wait for it forever.\n{message}")
        sys.stderr.flush()
        group.comm.Abort(1)

    sys.excepthook = abort_job


def abort(message, exit_code=1):
    """End every process of the job now (MPI_Abort), after printing `message` with this rank's number."""
    group = _require_group("abort")
    sys.stderr.write(f"glassbox.distributed: rank {group.rank} of {group.world_size}: {message}\n")
    sys.stderr.flush()
    if group.comm is None:
        raise SystemExit(exit_code)
    group.comm.Abort(exit_code)


def is_initialized():
    return _group is not None


def _require_group(caller):
    if _group is None:
        raise RuntimeError(f"{caller}: the process group is not initialised; call "
                           "glassbox.distributed.init_process_group() first")
    return _group


def get_group():
    """The process group joined by init_process_group()."""
    return _require_group("get_group")


def get_rank():
    """This process's rank; 0 when no process group was initialised (a plain single-process run)."""
    return _group.rank if _group is not None else 0


def get_world_size():
    """How many processes train together; 1 when no process group was initialised."""
    return _group.world_size if _group is not None else 1


def is_main_process():
    """True on rank 0, the process that logs, writes files and saves checkpoints."""
    return get_rank() == 0


def barrier():
    """Wait until every rank has reached this call."""
    group = _require_group("barrier")
    if group.comm is not None:
        group.comm.Barrier()


def destroy_process_group():
    """Leave the process group (MPI itself is finalised by mpi4py at exit)."""
    global _group
    _group = None
