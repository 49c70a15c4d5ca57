"""Run under `mpiexec -n 2` by tests/test_distributed_mpi.py: DistributedDataParallel.no_sync() for gradient
accumulation. Each rank runs two micro-batches, the first inside no_sync(); after the second backward every rank
must hold the mean over ranks of its summed micro-batch gradients, which each rank also computes alone (the
oracle) from all four micro-batches with an unwrapped copy of the model. Rank 0 writes the largest difference and
whether the gradients after the first (unsynchronised) backward differed between the ranks."""

import json
import sys

import numpy as np

import glassbox as gb
import glassbox.distributed as dist
from glassbox import nn


def build():
    gb.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 2)).double()


def main(out):
    group = dist.init_process_group()
    rng = np.random.default_rng(0)
    micro = [(gb.tensor(rng.normal(size=(3, 5))), gb.tensor(rng.normal(size=(3, 2)))) for _ in range(4)]
    loss_fn = nn.MSELoss()
    model = dist.DistributedDataParallel(build())
    mine = micro[2 * group.rank: 2 * group.rank + 2]
    with model.no_sync():
        loss_fn(model(mine[0][0]), mine[0][1]).backward()
    local = np.concatenate([p.grad.data.ravel() for p in model.parameters()])
    differ = len({a.tobytes() for a in dist.all_gather_object(local)}) > 1
    loss_fn(model(mine[1][0]), mine[1][1]).backward()
    reduced = np.concatenate([p.grad.data.ravel() for p in model.parameters()])
    oracle = build()
    for x, y in micro:
        loss_fn(oracle(x), y).backward()
    expected = np.concatenate([p.grad.data.ravel() for p in oracle.parameters()]) / group.world_size
    if group.rank == 0:
        with open(out, "w") as handle:
            json.dump({"max_difference": float(np.abs(reduced - expected).max()), "local_grads_differed": differ},
                      handle)


if __name__ == "__main__":
    main(sys.argv[1])
