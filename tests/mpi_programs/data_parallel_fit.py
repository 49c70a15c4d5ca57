"""Run under `mpiexec -n N` by tests/test_distributed_mpi.py: trains a small float64 model and writes the result.

    python data_parallel_fit.py OUT.npz MODE

MODE 'fit': fit() with (x, y) arrays, shuffle=False: fit wraps the model and shards the data by itself.
MODE 'sampler': a DataLoader with a DistributedSampler(shuffle=True, seed=5) and an explicit DDP wrapper with tiny
buckets (many bucketed all-reduces per step). With N ranks the local batch is 12 / N.
MODE 'resume': fit(shuffle=True) for 3 epochs straight, and again as 2 epochs with a checkpoint plus a second fit
resumed from it (after a different manual_seed); rank 0 saves both final parameter sets ('straight.*',
'resumed.*') and how many checkpoint files the ranks wrote.
Every rank checks after every step that all ranks hold identical parameters; rank 0 saves the final parameters,
the validation logs and the number of steps checked.
"""

import sys

import numpy as np

import glassbox as gb
import glassbox.distributed as dist
from glassbox import nn, optim
from glassbox.data import DataLoader, TensorDataset
from glassbox.train import Callback, fit

GLOBAL_BATCH = 12


class SameParametersEverywhere(Callback):
    """After each step: every rank's parameters, bit for bit, equal rank 0's."""

    def __init__(self):
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        flat = np.concatenate([p.data.ravel() for p in self.model.parameters()])
        digests = dist.all_gather_object(flat.tobytes())
        if any(d != digests[0] for d in digests):
            raise AssertionError(f"parameters differ between ranks after step {self.steps}")
        self.steps += 1


def _resume(out):
    import os
    import tempfile

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(96, 6)), rng.integers(0, 3, size=96)
    folder = dist.broadcast_object(tempfile.mkdtemp(prefix="gb-resume-") if dist.get_rank() == 0 else None)
    path = os.path.join(folder, "fit.ckpt")

    def run(epochs, seed, **options):
        gb.manual_seed(seed)
        model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3)).double()
        fit(model, (x, y), epochs=epochs, batch_size=GLOBAL_BATCH, loss=nn.CrossEntropyLoss(),
            optimizer=optim.Adam(model.parameters(), lr=0.01), verbose=0, **options)
        return {name: p.data.copy() for name, p in model.named_parameters()}

    straight = run(3, 0)
    run(2, 0, checkpoint=path)
    dist.barrier()  # rank 0 has written the checkpoint
    resumed = run(3, 123, resume_from=path)
    if dist.get_rank() == 0:
        arrays = {f"straight.{k}": v for k, v in straight.items()} | {f"resumed.{k}": v for k, v in resumed.items()}
        np.savez(out, files=len(os.listdir(folder)), **arrays)


def main(out, mode):
    dist.init_process_group()
    if mode == "resume":
        return _resume(out)
    world = dist.get_world_size()
    gb.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 6))
    y = rng.integers(0, 3, size=96)
    x_val, y_val = rng.normal(size=(30, 6)), rng.integers(0, 3, size=30)
    gb.manual_seed(1 + dist.get_rank())  # different initial weights per rank: DDP must copy rank 0's
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3)).double()
    if world == 1:  # the reference run builds exactly rank 0's initial model
        gb.manual_seed(1)
        model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3)).double()
    checker = SameParametersEverywhere()
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    if mode == "fit":
        history = fit(model, (x, y), val=(x_val, y_val), epochs=3, batch_size=GLOBAL_BATCH, shuffle=False,
                      loss=nn.CrossEntropyLoss(), optimizer=optimizer, metrics=["accuracy"], callbacks=[checker],
                      verbose=0)
    else:
        data = TensorDataset(gb.tensor(x), gb.tensor(y))
        sampler = dist.DistributedSampler(data, shuffle=True, seed=5)
        loader = DataLoader(data, batch_size=GLOBAL_BATCH // world, sampler=sampler)
        wrapped = dist.DistributedDataParallel(model, bucket_cap_mb=0.0005) if world > 1 else model
        history = fit(wrapped, loader, val=(x_val, y_val), epochs=3, loss=nn.CrossEntropyLoss(),
                      optimizer=optimizer, metrics=["accuracy"], callbacks=[checker], verbose=0)
    if dist.get_rank() == 0:
        params = {name: p.data for name, p in model.named_parameters()}
        np.savez(out, steps=checker.steps, val_loss=history.history["val_loss"],
                 val_accuracy=history.history["val_accuracy"], loss=history.history["loss"], **params)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
