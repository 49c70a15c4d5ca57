"""ResNet-18 inference (eval mode, no_grad) on a batch of 16 images 3x224x224 in glassbox and PyTorch, timed in
one process with the same weights (torch's random init and random BN statistics, copied through its state_dict).

torchvision is not required: the PyTorch side is torchvision's ResNet-18 written out below in plain torch (the
logit gap printed checks that both sides compute the same function). --profile prints where glassbox's time goes.
"""

import argparse
import cProfile
import pstats

import numpy as np
import torch
from bench_mlp import report, time_per_step
from machine import describe

import glassbox as gb
from glassbox.models.resnet import resnet18

BATCH, SIZE = 16, 224
tnn = torch.nn


class TorchBasicBlock(tnn.Module):
    """torchvision's BasicBlock: conv3x3-BN-ReLU-conv3x3-BN + shortcut (1x1 conv + BN when the shape changes)."""

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = tnn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.relu = tnn.ReLU(inplace=True)
        self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = tnn.Sequential(tnn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                             tnn.BatchNorm2d(planes))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class TorchResNet18(tnn.Module):
    """torchvision's resnet18() (same modules, keys and forward)."""

    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = tnn.BatchNorm2d(64)
        self.relu = tnn.ReLU(inplace=True)
        self.maxpool = tnn.MaxPool2d(3, 2, 1)
        planes = [64, 128, 256, 512]
        inplanes = 64
        for i, p in enumerate(planes):
            stride = 1 if i == 0 else 2
            setattr(self, f"layer{i + 1}", tnn.Sequential(TorchBasicBlock(inplanes, p, stride), TorchBasicBlock(p, p)))
            inplanes = p
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def torch_model(seed=0):
    """A torch ResNet-18 with random weights and random BN affine parameters and running statistics (identity
    statistics would make eval-mode BN a no-op), in eval mode."""
    torch.manual_seed(seed)
    model = TorchResNet18()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, tnn.Conv2d):
                tnn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, tnn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    return model.eval()


def step_fn(lib, model, x_np):
    x = lib.from_numpy(x_np)

    def step():
        with lib.no_grad():
            return model(x)

    return step


def profile(step, steps, top):
    """cProfile `steps` glassbox steps; print the `top` functions by own time and by cumulative time."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        step()
    profiler.disable()
    stats = pstats.Stats(profiler).strip_dirs()
    print(f"\ncProfile of {steps} glassbox steps, by own time:")
    stats.sort_stats("tottime").print_stats(top)
    print("by cumulative time:")
    stats.sort_stats("cumulative").print_stats(top)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds per framework (median is reported)")
    parser.add_argument("--steps", type=int, default=2, help="forward passes per round")
    parser.add_argument("--warmup", type=int, default=2, help="untimed forward passes per framework first")
    parser.add_argument("--rewarm", type=int, default=1, help="untimed forward passes at the start of each round")
    parser.add_argument("--profile", type=int, default=0, metavar="STEPS",
                        help="after timing, cProfile this many glassbox steps and print the top functions")
    parser.add_argument("--top", type=int, default=25, help="functions to print with --profile")
    args = parser.parse_args()
    x = np.random.default_rng(0).standard_normal((BATCH, 3, SIZE, SIZE), dtype=np.float32)
    theirs = torch_model()
    ours = resnet18().eval()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    steps = {"glassbox": step_fn(gb, ours, x), "pytorch": step_fn(torch, theirs, x)}
    logits = {name: [step().numpy() for _ in range(args.warmup)][-1] for name, step in steps.items()}
    gap = float(np.abs(logits["glassbox"] - logits["pytorch"]).max())
    times = {name: [] for name in steps}
    for r in range(args.rounds):
        for name in sorted(steps, reverse=bool(r % 2)):
            times[name].append(time_per_step(steps[name], args.steps, args.rewarm))
    print("\n".join(describe(torch)))
    print(f"workload: ResNet-18 inference (eval, no_grad), batch {BATCH} of 3x{SIZE}x{SIZE}, float32")
    print(f"timing: {args.warmup} warm-up passes each, then {args.rounds} alternating rounds of {args.rewarm} "
          f"untimed + {args.steps} timed passes (ms/step = ms per batch of {BATCH})")
    print(f"max |logit gap|: {gap:.1e} (largest |logit| {np.abs(logits['pytorch']).max():.2f})")
    report("resnet18", times, gap)
    if args.profile:
        profile(steps["glassbox"], args.profile, args.top)


if __name__ == "__main__":
    main()
