"""Run under `mpiexec -n N` by tests/test_distributed_mpi.py: gathers every rank's DistributedSampler indices for
three epochs and, on rank 0, writes them as JSON: {"epochs": [[rank 0's indices, rank 1's, ...] per epoch],
"blas_threads": [each rank's BLAS thread count after init_process_group]}."""

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
    from threadpoolctl import threadpool_info

    threads = max((pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"), default=None)
    blas_threads = dist.all_gather_object(threads)
    if dist.get_rank() == 0:
        with open(out, "w") as handle:
            json.dump({"epochs": epochs, "blas_threads": blas_threads}, handle)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
