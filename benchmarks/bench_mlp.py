"""One MLP training step (784-512-256-10, batch 128, SGD momentum) in glassbox and PyTorch, timed in one process.

Two glassbox versions of the step: `engine` (tensors, nn.functional and a hand-written update: the engine's own
speed) and `nn` (nn.Sequential, nn.CrossEntropyLoss and optim.SGD: what a user writes). The PyTorch side is always
the user's version."""

import argparse
import math
import statistics
import time

import numpy as np
import torch
from machine import describe

import glassbox as gb
import glassbox.nn.functional as F

SIZES = (784, 512, 256, 10)
BATCH = 128
LR, MOMENTUM = 0.01, 0.9


def initial_weights(rng):
    """(weight, bias) arrays per layer, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) like nn.Linear; shared by both sides
    so that both frameworks do exactly the same arithmetic (checked by comparing their losses)."""
    arrays = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        bound = 1 / math.sqrt(fan_in)
        arrays.append(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32))
        arrays.append(rng.uniform(-bound, bound, fan_out).astype(np.float32))
    return arrays


def glassbox_step_fn(weights, x_np, y_np):
    """A step with engine tensors and ops only: forward, cross-entropy, backward, hand-written SGD momentum."""
    params = [gb.tensor(w, requires_grad=True) for w in weights]
    buffers = [np.zeros_like(w) for w in weights]
    x, y = gb.from_numpy(x_np), gb.from_numpy(y_np)

    def step():
        w1, b1, w2, b2, w3, b3 = params
        h = F.relu(F.linear(x, w1, b1))
        h = F.relu(F.linear(h, w2, b2))
        loss = F.cross_entropy(F.linear(h, w3, b3), y)
        loss.backward()
        with gb.no_grad():
            for p, buf in zip(params, buffers):
                buf *= MOMENTUM  # torch.optim.SGD: buf = momentum * buf + grad; p -= lr * buf
                buf += p.grad.data
                p.data -= LR * buf
                p.grad = None
        return loss

    return step


def glassbox_nn_step_fn(weights, x_np, y_np):
    """The same step as a glassbox user writes it: nn.Sequential, nn.CrossEntropyLoss, optim.SGD."""
    layers = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        layers += [gb.nn.Linear(fan_in, fan_out), gb.nn.ReLU()]
    model = gb.nn.Sequential(*layers[:-1])
    model.load_state_dict(dict(zip(model.state_dict(), weights)))
    criterion = gb.nn.CrossEntropyLoss()
    opt = gb.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    x, y = gb.from_numpy(x_np), gb.from_numpy(y_np)

    def step():
        loss = criterion(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss

    return step


def torch_step_fn(weights, x_np, y_np):
    """The same step as a PyTorch user writes it: nn.Sequential, nn.functional.cross_entropy, optim.SGD."""
    layers = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])  # no ReLU after the last layer
    with torch.no_grad():
        for p, w in zip(model.parameters(), weights):
            p.copy_(torch.from_numpy(w))
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)

    def step():
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad()  # set_to_none=True, like `p.grad = None` on the glassbox side
        return loss

    return step


def time_per_step(step, steps, rewarm):
    """Mean ms per step over `steps` steps, after `rewarm` untimed ones: switching frameworks wakes the other's
    thread pool (OpenMP for torch, OpenBLAS for NumPy) and the first step after a switch can take 10-30x longer,
    which would measure the alternation, not the framework."""
    for _ in range(rewarm):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=9, help="timed rounds per framework (median is reported)")
    parser.add_argument("--steps", type=int, default=30, help="training steps per round")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps per framework before timing")
    parser.add_argument("--rewarm", type=int, default=5, help="untimed steps at the start of every round")
    parser.add_argument("--api", choices=("engine", "nn", "both"), default="both",
                        help="which glassbox version of the step to time against PyTorch")
    args = parser.parse_args()
    print("\n".join(describe(torch)))
    for api in ("engine", "nn") if args.api == "both" else (args.api,):
        compare(api, args)


def compare(api, args):

    rng = np.random.default_rng(0)
    weights = initial_weights(rng)
    x = rng.standard_normal((BATCH, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], BATCH, dtype=np.int64)
    glassbox_step = glassbox_step_fn if api == "engine" else glassbox_nn_step_fn
    steps = {"glassbox": glassbox_step(weights, x, y), "pytorch": torch_step_fn(weights, x, y)}

    # Warm up (allocator, BLAS thread pools, caches), check both sides computed the same losses, then alternate.
    times, gap = warm_and_time(steps, args)

    print(
        f"\n[{api}] workload: MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, ReLU, cross-entropy, SGD(lr={LR}, "
        f"momentum={MOMENTUM}), float32"
    )
    print(
        f"timing: {args.warmup} warm-up steps each, then {args.rounds} alternating rounds of "
        f"{args.rewarm} untimed + {args.steps} timed steps"
    )
    print(
        f"largest loss gap between the two over the warm-up steps: {gap:.1e}"
    )
    report(api, times, gap)


def warm_and_time(steps, args):
    """Warm each side up, then alternate them for args.rounds rounds (the order flips every round, so drift hits
    both alike). steps: {name: step function returning the loss}. Returns ({name: [ms per step per round]},
    the largest loss gap between the two sides over the warm-up steps)."""
    losses = {name: [step().item() for _ in range(args.warmup)] for name, step in steps.items()}
    gap = max(abs(a - b) for a, b in zip(losses["glassbox"], losses["pytorch"]))
    times = {name: [] for name in steps}
    for r in range(args.rounds):
        for name in sorted(steps, reverse=bool(r % 2)):
            times[name].append(time_per_step(steps[name], args.steps, args.rewarm))
    return times, gap


def report(label, times, gap):
    """Print each side's median ms/step and the ratio; fail if the two sides' losses diverged."""
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, t in times.items():
        print(f"{name:9s} median {medians[name]:7.3f} ms/step  (min {min(t):.3f}, max {max(t):.3f})")
    print(f"[{label}] ratio glassbox/pytorch: {medians['glassbox'] / medians['pytorch']:.2f}")
    if gap > 1e-3:
        raise SystemExit(f"the two sides diverged (loss gap {gap:.1e}): they are not running the same workload")


if __name__ == "__main__":
    main()
