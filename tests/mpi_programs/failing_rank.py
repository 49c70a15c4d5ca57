"""Run under `mpiexec -n 2` by tests/test_distributed_mpi.py: rank 1 raises in its third training step.

The job must end (MPI_Abort through glassbox.distributed's exception hook) instead of leaving rank 0 waiting in
its next gradient all-reduce forever.
"""

import numpy as np

import glassbox as gb
import glassbox.distributed as dist
from glassbox import nn
from glassbox.train import Callback, fit


class FailOnRankOne(Callback):
    def on_train_batch_begin(self, batch, logs=None):
        if dist.get_rank() == 1 and batch == 2:
            raise ValueError("a deliberate failure in rank 1's third step")


def main():
    dist.init_process_group()
    gb.manual_seed(0)
    x = np.random.default_rng(0).normal(size=(400, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    fit(model, (x, y), epochs=50, batch_size=8, loss="cross_entropy", optimizer="sgd", callbacks=[FailOnRankOne()],
        verbose=0)


if __name__ == "__main__":
    main()
