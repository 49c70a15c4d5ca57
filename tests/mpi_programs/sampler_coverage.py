"""Run under `mpiexec -n N` by tests/test_distributed_mpi.py: gathers every rank's DistributedSampler indices for
three epochs and, on rank 0, writes them as JSON: [[rank 0's indices, rank 1's, ...] per epoch]."""

import json
import sys

import glassbox.distributed as dist


def main(out, size):
    dist.init_process_group()
    sampler = dist.DistributedSampler(range(size), shuffle=True, seed=3)
    epochs = []
    for epoch in range(3):
        sampler.set_epoch(epoch)
        epochs.append(dist.all_gather_object(list(sampler)))
    if dist.get_rank() == 0:
        with open(out, "w") as handle:
            json.dump(epochs, handle)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
