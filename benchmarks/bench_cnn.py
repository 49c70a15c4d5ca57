"""One training step of a small CNN (issue 4's workload) in glassbox and PyTorch, timed in one process:
Conv2d(1,32,3) ReLU MaxPool2d(2) Conv2d(32,64,3) ReLU MaxPool2d(2) Flatten Linear(1600,128) ReLU Linear(128,10),
batch 64 of 1x28x28, cross-entropy, Adam, float32."""

import argparse

import numpy as np
import torch
from bench_mlp import report, warm_and_time
from machine import describe

import glassbox as gb

BATCH = 64


def build(nn):
    """The same architecture from either library's nn."""
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))


def step_fn(lib, model, x_np, y_np):
    x, y = lib.from_numpy(x_np), lib.from_numpy(y_np)
    optimizer = lib.optim.Adam(model.parameters(), lr=1e-3)
    criterion = lib.nn.CrossEntropyLoss()

    def step():
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rewarm", type=int, default=2)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, BATCH, dtype=np.int64)
    torch_model = build(torch.nn)
    glassbox_model = build(gb.nn)
    glassbox_model.load_state_dict({k: v.detach().numpy() for k, v in torch_model.state_dict().items()})
    steps = {"glassbox": step_fn(gb, glassbox_model, x, y), "pytorch": step_fn(torch, torch_model, x, y)}
    times, gap = warm_and_time(steps, args)
    print("\n".join(describe(torch)))
    print(f"workload: {__doc__.splitlines()[1]} batch {BATCH}, Adam, float32")
    print(f"loss gap over {args.warmup} warm-up steps: {gap:.1e}")
    report("cnn", times, gap)


if __name__ == "__main__":
    main()
