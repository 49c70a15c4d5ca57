"""Collective operations over the process group: all_reduce, broadcast and their object forms, torch's names.

Tensors are reduced in place (every rank ends with the same values), as in torch.distributed. In a group of one
process every collective is the identity, so code written for N ranks runs unchanged on one.
"""

import numpy as np

from ..tensor import Tensor
from .process_group import get_group


class ReduceOp:
    """How all_reduce combines the ranks' values."""

    SUM = "sum"
    AVG = "avg"
    MAX = "max"
    MIN = "min"
    PRODUCT = "product"


_OPS = (ReduceOp.SUM, ReduceOp.AVG, ReduceOp.MAX, ReduceOp.MIN, ReduceOp.PRODUCT)


def _mpi_op(op):
    from mpi4py import MPI

    return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.MAX: MPI.MAX, ReduceOp.MIN: MPI.MIN,
            ReduceOp.PRODUCT: MPI.PROD}[op]


def _array_of(tensor, caller):
    if isinstance(tensor, Tensor):
        return tensor.data
    if isinstance(tensor, np.ndarray):
        return tensor
    raise TypeError(f"{caller}: expected a glassbox Tensor or a NumPy array, got {type(tensor).__name__}")


def _check_op(op, caller):
    if op not in _OPS:
        raise ValueError(f"{caller}: op must be one of {', '.join(_OPS)} (glassbox.distributed.ReduceOp), "
                         f"got {op!r}")


def all_reduce_array(array, op=ReduceOp.SUM):
    """Combine a NumPy array across ranks in place (contiguous arrays go straight to MPI); returns it."""
    _check_op(op, "all_reduce")
    group = get_group()
    if group.comm is None:
        return array
    from mpi4py import MPI

    if array.flags.c_contiguous and array.flags.writeable:
        group.comm.Allreduce(MPI.IN_PLACE, array, op=_mpi_op(op))
    else:
        buffer = np.ascontiguousarray(array)
        group.comm.Allreduce(MPI.IN_PLACE, buffer, op=_mpi_op(op))
        array[...] = buffer
    if op == ReduceOp.AVG:
        array /= group.world_size
    return array


def all_reduce(tensor, op=ReduceOp.SUM):
    """Replace `tensor` on every rank by the reduction (sum by default) of all ranks' tensors, in place."""
    all_reduce_array(_array_of(tensor, "all_reduce"), op)
    return tensor


def broadcast_array(array, src=0):
    """Overwrite `array` on every rank with rank `src`'s values, in place; returns it."""
    group = get_group()
    if not 0 <= src < group.world_size:
        raise ValueError(f"broadcast: src must be a rank in [0, {group.world_size}), got {src}")
    if group.comm is None:
        return array
    if array.flags.c_contiguous and array.flags.writeable:
        group.comm.Bcast(array, root=src)
    else:
        buffer = np.ascontiguousarray(array)
        group.comm.Bcast(buffer, root=src)
        array[...] = buffer
    return array


def broadcast(tensor, src=0):
    """Give every rank rank `src`'s values of `tensor`, in place."""
    broadcast_array(_array_of(tensor, "broadcast"), src)
    return tensor


def broadcast_object(obj, src=0):
    """Rank `src`'s picklable `obj`, returned on every rank. (Objects travel pickled between the ranks of one
    job; nothing loaded from a file goes this way.)"""
    group = get_group()
    if group.comm is None:
        return obj
    return group.comm.bcast(obj, root=src)


def all_gather_object(obj):
    """A list with every rank's `obj`, in rank order, on every rank."""
    group = get_group()
    if group.comm is None:
        return [obj]
    return group.comm.allgather(obj)


def all_reduce_sums(values):
    """The element-wise sum over ranks of a sequence of numbers, as a float64 array (one MPI call for many
    metric totals)."""
    array = np.asarray(values, dtype=np.float64).copy()
    return all_reduce_array(array, ReduceOp.SUM)
