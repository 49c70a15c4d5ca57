"""Data-parallel scaling on this machine: training throughput of two CNN workloads on 1 and 2 MPI ranks, with the
share of step time spent on gradient communication, and the cost of one all-reduce of the gradients alone.

    python benchmarks/bench_distributed.py            # launches mpiexec -n 1 and -n 2 itself

Workloads (float32, SGD with momentum, synthetic inputs of the right shape; global batch split over the ranks):
  digits-cnn  the digits-cnn recipe's SmallCNN (Conv 32, Conv 64 with batch norm, Linear 256-10, 8x8 inputs),
              batch 32 as in the recipe: 0.08 MiB of gradients
  cnn         bench_cnn.py's CNN (Conv 32, Conv 64, Linear 1600-128, 1x28x28 inputs), batch 128: 0.9 MB
Each rank limits BLAS to its share of the cores (glassbox.distributed does this), so 1 rank uses both cores and
2 ranks one each: the comparison is the same machine used two ways. The peer is PyTorch's DistributedDataParallel
on the same workloads (gloo over loopback, torch.set_num_threads(cores / ranks)); --no-torch leaves it out.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

WORKLOADS = {"digits-cnn": 32, "cnn": 128}


def _build(name, gb):
    if name == "digits-cnn":
        from glassbox.recipes.digits_cnn import build_model

        return build_model(), (1, 8, 8)
    nn = gb.nn
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
    return model, (1, 28, 28)


def _step_function(lib, model, wrapped, rng, local, shape):
    """One SGD-with-momentum step of `wrapped` on a fixed local batch, in glassbox or torch (`lib`)."""
    x = lib.from_numpy(rng.standard_normal((local, *shape), dtype=np.float32))
    y = lib.from_numpy(rng.integers(0, 10, local))
    optimizer = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    criterion = lib.nn.CrossEntropyLoss()

    def step():
        loss = criterion(wrapped(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def _time_steps(step, steps, warmup, barrier, communication_seconds):
    """Seconds per step and communication seconds per step, after `warmup` steps and a barrier."""
    for _ in range(warmup):
        step()
    barrier()
    times, comm = [], []
    for _ in range(steps):
        before = communication_seconds()
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
        comm.append(communication_seconds() - before)
    return times, comm


def worker(name, steps, warmup):
    """Runs on every rank under mpiexec; rank 0 prints one JSON line."""
    import glassbox as gb
    import glassbox.distributed as dist

    group = dist.init_process_group()
    gb.manual_seed(0)
    model, shape = _build(name, gb)
    params = sum(p.data.size for p in model.parameters())
    wrapped = dist.DistributedDataParallel(model) if group.world_size > 1 else model
    local = WORKLOADS[name] // group.world_size
    rng = np.random.default_rng(group.rank)
    step = _step_function(gb, model, wrapped, rng, local, shape)
    times, comm = _time_steps(step, steps, warmup, dist.barrier,
                              lambda: getattr(wrapped, "communication_seconds", 0.0))
    allreduce = []
    if group.world_size > 1:  # one all-reduce of all the gradients, nothing else running
        buffer = np.zeros(params, dtype=np.float32)
        for _ in range(30):
            dist.barrier()
            started = time.perf_counter()
            dist.all_reduce_array(buffer)
            allreduce.append(time.perf_counter() - started)
    if group.rank == 0:
        print(json.dumps({"step": statistics.median(times), "comm": statistics.median(comm),
                          "allreduce": statistics.median(allreduce) if allreduce else 0.0, "params": params}))


def torch_worker(name, steps, warmup):
    """The same workload in PyTorch's DistributedDataParallel (gloo over loopback), ranks from the MPI launcher."""
    import torch
    import torch.distributed as tdist

    rank, world = int(os.environ.get("PMI_RANK", 0)), int(os.environ.get("PMI_SIZE", 1))
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))  # each rank its share of the cores, as ours
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29533")
    tdist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(0)
    nn = torch.nn
    if name == "digits-cnn":
        model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64),
                              nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.3), nn.Linear(256, 10))
        shape = (1, 8, 8)
    else:
        model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
        shape = (1, 28, 28)
    wrapped = nn.parallel.DistributedDataParallel(model) if world > 1 else model
    local = WORKLOADS[name] // world
    rng = np.random.default_rng(rank)
    step = _step_function(torch, model, wrapped, rng, local, shape)
    times, _ = _time_steps(step, steps, warmup, tdist.barrier, lambda: 0.0)
    params = sum(p.numel() for p in model.parameters())
    if rank == 0:
        print(json.dumps({"step": statistics.median(times), "comm": float("nan"), "allreduce": float("nan"),
                          "params": params}))
    tdist.destroy_process_group()


def _launch(name, ranks, steps, warmup, peer="glassbox"):
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    command = [mpiexec if os.path.exists(mpiexec) else "mpiexec", "-n", str(ranks), sys.executable,
               os.path.abspath(__file__), "--worker", name, "--steps", str(steps), "--warmup", str(warmup),
               "--peer", peer]
    result = subprocess.run(command, capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", choices=list(WORKLOADS), help=argparse.SUPPRESS)
    parser.add_argument("--peer", choices=["glassbox", "torch"], default="glassbox", help=argparse.SUPPRESS)
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch's DDP (gloo) as the peer")
    parser.add_argument("--rounds", type=int, default=5, help="launches per workload and rank count (median)")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()
    if args.worker:
        (torch_worker if args.peer == "torch" else worker)(args.worker, args.steps, args.warmup)
        return
    from machine import describe

    print("\n".join(describe(None)))
    peers = ["glassbox"] if args.no_torch else ["glassbox", "torch"]
    print(f"{'workload':<11} {'peer':<8} {'ranks':>5} {'step ms':>8} {'examples/s':>11} {'speed-up':>8} "
          f"{'comm ms':>8} {'comm share':>10} {'allreduce ms':>12}")
    for name, batch in WORKLOADS.items():
        for peer in peers:
            base = None
            for ranks in (1, 2):
                # each launch is a fresh job; the medians are over launches (and over steps within one)
                runs = [_launch(name, ranks, args.steps, args.warmup, peer) for _ in range(args.rounds)]
                step = statistics.median(r["step"] for r in runs)
                comm = statistics.median(r["comm"] for r in runs)
                allreduce = statistics.median(r["allreduce"] for r in runs)
                throughput = batch / step
                base = base or throughput
                print(f"{name:<11} {peer:<8} {ranks:>5} {step * 1e3:>8.2f} {throughput:>11.0f} "
                      f"{throughput / base:>8.2f} {comm * 1e3:>8.2f} {comm / step:>10.1%} {allreduce * 1e3:>12.3f}")
        print(f"{'':<11} gradients: {runs[0]['params']:,} float32 ({runs[0]['params'] * 4 / 2**20:.2f} MiB)")


if __name__ == "__main__":
    main()
