"""Data-parallel training over MPI (mpi4py, the optional `mpi` extra): process group, collectives, sampler, DDP.

    mpiexec -n 2 python train.py          # or: mpiexec -n 2 glassbox run digits-cnn

    import glassbox.distributed as dist
    dist.init_process_group()                          # rank and world size from the MPI launcher
    model = dist.DistributedDataParallel(model)        # fit() also wraps the model by itself when N > 1
"""

from .collectives import (
    ReduceOp,
    all_gather_object,
    all_reduce,
    all_reduce_array,
    all_reduce_sums,
    broadcast,
    broadcast_array,
    broadcast_object,
)
from .data_parallel import DistributedDataParallel, unwrap, wrap_if_distributed
from .process_group import (
    ProcessGroup,
    abort,
    barrier,
    destroy_process_group,
    get_group,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
    is_main_process,
    launched_by_mpi,
)
from .sampler import DistributedSampler

__all__ = ["ReduceOp", "all_gather_object", "all_reduce", "all_reduce_array", "all_reduce_sums", "broadcast",
           "broadcast_array", "broadcast_object", "DistributedDataParallel", "unwrap", "wrap_if_distributed",
           "ProcessGroup", "abort", "barrier", "destroy_process_group", "get_group", "get_rank", "get_world_size",
           "init_process_group", "is_available", "is_initialized", "is_main_process", "launched_by_mpi",
           "DistributedSampler"]
