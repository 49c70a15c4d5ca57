"""DistributedDataParallel: the same model on every rank, each on its own shard of the batch, gradients averaged.

    dist.init_process_group()
    model = DistributedDataParallel(build_model())      # rank 0's weights are copied to every rank
    fit(model, data, batch_size=64, ...)                 # each rank trains on its shard; weights stay equal

After every backward pass each parameter's .grad is the mean of the ranks' gradients, so N ranks with local batch
B/N take the same step as one process with batch B. The reduction is bucketed: parameters are grouped, in reverse
order of registration (roughly the order backward finishes them), into flat buffers of about `bucket_cap_mb`;
each bucket's all-reduce starts (MPI_Iallreduce, non-blocking) as soon as backward has produced all of its
gradients, while backward goes on with the earlier layers, and backward ends by waiting for the last ones.
Buckets start strictly in order, so every rank issues the same collectives in the same order.
"""

import contextlib
import time

import numpy as np

from ..autograd import engine
from ..nn.module import Module
from ..tensor import Tensor
from .collectives import broadcast_array
from .process_group import init_process_group, is_initialized


class _Bucket:
    """A flat buffer holding the gradients of a few parameters of one dtype, reduced with one MPI call."""

    def __init__(self, params, dtype):
        self.params = params
        self.offsets = np.cumsum([0] + [p.data.size for p in params])
        self.buffer = np.zeros(int(self.offsets[-1]), dtype=dtype)
        self.ready = 0
        self.request = None


class DistributedDataParallel(Module):
    """Wrap `module` for data-parallel training over the process group (torch.nn.parallel's name and behaviour).

    module: the model; its parameters and buffers are overwritten with rank 0's when the wrapper is built.
    bucket_cap_mb: size of a gradient bucket in MiB (torch's default 25); smaller buckets start reducing sooner.
    broadcast_buffers: copy rank 0's buffers (BatchNorm's running statistics) to every rank before each forward in
      training mode, so all ranks hold the same model.
    The wrapped model is `self.module`; the wrapper's state_dict keys carry the prefix 'module.', as in torch.
    `communication_seconds` adds up the time spent on the reduction: copying gradients into buckets, starting the
    all-reduces and waiting for them at the end of backward (what communication costs the step).
    """

    def __init__(self, module, bucket_cap_mb=25, broadcast_buffers=True, process_group=None):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be a glassbox nn.Module, got "
                            f"{type(module).__name__}")
        if isinstance(module, DistributedDataParallel):
            raise TypeError("DistributedDataParallel: the module is already wrapped; wrap the plain model once")
        if bucket_cap_mb <= 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb}")
        self.module = module
        group = process_group if process_group is not None else init_process_group()
        object.__setattr__(self, "process_group", group)
        object.__setattr__(self, "broadcast_buffers", broadcast_buffers)
        object.__setattr__(self, "_sync", True)
        object.__setattr__(self, "_queued", False)
        object.__setattr__(self, "_next_bucket", 0)
        object.__setattr__(self, "communication_seconds", 0.0)
        for tensor in list(module.parameters()) + list(module.buffers()):
            broadcast_array(tensor.data, src=0)
        params = [p for p in module.parameters() if p.requires_grad]
        object.__setattr__(self, "_buckets", self._make_buckets(params, bucket_cap_mb * 2**20))
        slots = {}
        for index, bucket in enumerate(self._buckets):
            for position, param in enumerate(bucket.params):
                slots[id(param)] = (index, position)
        object.__setattr__(self, "_slots", slots)
        handles = [p.register_post_accumulate_grad_hook(self._make_hook()) for p in params]
        object.__setattr__(self, "_handles", handles)

    @staticmethod
    def _make_buckets(params, cap_bytes):
        buckets, current, size = [], [], 0
        for param in reversed(params):  # backward reaches the last layers first
            nbytes = param.data.nbytes
            if current and (size + nbytes > cap_bytes or param.data.dtype != current[0].data.dtype):
                buckets.append(_Bucket(current, current[0].data.dtype))
                current, size = [], 0
            current.append(param)
            size += nbytes
        if current:
            buckets.append(_Bucket(current, current[0].data.dtype))
        return buckets

    def _make_hook(self):
        # A plain function, not a bound method: copy.deepcopy of a model keeps functions as they are but would
        # copy a bound method's whole wrapper.
        def on_gradient_ready(param):
            self._gradient_ready(param)
        return on_gradient_ready

    # ----- forward -------------------------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        if self.training and self.broadcast_buffers and self.process_group.world_size > 1:
            for buffer in self.module.buffers():
                broadcast_array(buffer.data, src=0)
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Inside this block backward only accumulates local gradients (for gradient accumulation); the first
        backward after it averages everything accumulated."""
        object.__setattr__(self, "_sync", False)
        try:
            yield
        finally:
            object.__setattr__(self, "_sync", True)

    # ----- the gradient reduction ----------------------------------------------------------------------------------
    def _gradient_ready(self, param):
        slot = self._slots.get(id(param))
        if slot is None or not self._sync or self.process_group.world_size == 1:
            return  # (a deep copy of the model keeps the hook but is not this wrapper's to reduce)
        if not self._queued:
            object.__setattr__(self, "_queued", True)
            engine.queue_callback(self._finish_reduction)
        bucket = self._buckets[slot[0]]
        bucket.ready += 1
        self._start_ready_buckets()

    def _start_ready_buckets(self):
        """Start, in order, every bucket whose gradients are all in (a later bucket waits for earlier ones)."""
        index = self._next_bucket
        while index < len(self._buckets) and self._buckets[index].ready == len(self._buckets[index].params):
            self._start(self._buckets[index])
            index += 1
        object.__setattr__(self, "_next_bucket", index)
        if index < len(self._buckets) and index > 0:
            self._buckets[index - 1].request.Test()  # lets MPI move the started reductions along

    def _start(self, bucket):
        from mpi4py import MPI

        started = time.perf_counter()
        for param, start, stop in zip(bucket.params, bucket.offsets[:-1], bucket.offsets[1:]):
            if param.grad is None:
                bucket.buffer[start:stop] = 0  # no gradient on this rank (an unused branch): it adds nothing
            else:
                bucket.buffer[start:stop] = param.grad.data.reshape(-1)
        bucket.request = self.process_group.comm.Iallreduce(MPI.IN_PLACE, bucket.buffer, op=MPI.SUM)
        self._count_communication(started)

    def _count_communication(self, started):
        object.__setattr__(self, "communication_seconds", self.communication_seconds + time.perf_counter() - started)

    def _finish_reduction(self):
        """At the end of backward: start what is left (parameters that got no gradient), wait, write the means."""
        from mpi4py import MPI

        for bucket in self._buckets[self._next_bucket:]:
            self._start(bucket)
        started = time.perf_counter()
        MPI.Request.Waitall([bucket.request for bucket in self._buckets])
        scale = 1.0 / self.process_group.world_size
        for bucket in self._buckets:
            bucket.buffer *= scale
            for param, start, stop in zip(bucket.params, bucket.offsets[:-1], bucket.offsets[1:]):
                mean = bucket.buffer[start:stop].reshape(param.data.shape).copy()
                if param.grad is None:
                    param.grad = Tensor._make(mean)
                else:
                    param.grad.data = mean
            bucket.ready, bucket.request = 0, None
        object.__setattr__(self, "_next_bucket", 0)
        object.__setattr__(self, "_queued", False)
        self._count_communication(started)

    def extra_repr(self):
        sizes = ", ".join(f"{bucket.buffer.nbytes / 2**20:.2f}" for bucket in self._buckets)
        return f"world_size={self.process_group.world_size}, buckets_mb=[{sizes}]"


def unwrap(model):
    """The plain model inside a DistributedDataParallel wrapper (or `model` itself)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def wrap_if_distributed(model):
    """`model` wrapped in DistributedDataParallel when a process group of more than one rank is running."""
    if is_initialized() and init_process_group().world_size > 1 and not isinstance(model, DistributedDataParallel):
        return DistributedDataParallel(model)
    return model
