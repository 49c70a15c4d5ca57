"""`glassbox backprop`: print the step-through backward pass of a tiny example (a neuron, an MLP or a CNN)."""

import argparse
import sys

from .backprop_steps import BackpropStepper, demo_graph, save_steps, step_through

EXAMPLES = ("neuron", "mlp", "cnn")


def build_example(name, seed=0):
    """A BackpropStepper over one of the EXAMPLES, traced so that every node's value is known:
    neuron  z = w·x + b, y = σ(z), loss = (y − t)² (demo_graph)
    mlp     Linear(2, 3) -> Tanh -> Linear(3, 2), cross-entropy on 4 points
    cnn     Conv2d(1, 2, 3, padding=1) -> BatchNorm2d -> ReLU -> MaxPool2d(2) -> Flatten -> Linear(8, 3),
            cross-entropy on 2 images of 4x4
    """
    if name == "neuron":
        return demo_graph()
    from .. import creation, nn
    from ..nn import functional
    from ..random import manual_seed

    manual_seed(seed)
    if name == "mlp":
        model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 2))
        x, y = creation.randn(4, 2), creation.tensor([0, 1, 1, 0])
    elif name == "cnn":
        model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(8, 3))
        x, y = creation.randn(2, 1, 4, 4), creation.tensor([0, 2])
    else:
        raise ValueError(f"build_example: unknown example {name!r}; expected one of {', '.join(EXAMPLES)}")
    model.train()
    return BackpropStepper.trace(lambda: functional.cross_entropy(model(x), y), model=model,
                                 names={"input": x, "target": y})


def build_parser():
    parser = argparse.ArgumentParser(prog="glassbox backprop",
                                     description="Step through backpropagation one graph node at a time: the value, "
                                                 "the upstream gradient, the local derivative and the leaf gradients "
                                                 "accumulated so far.")
    parser.add_argument("--model", choices=EXAMPLES, default="neuron",
                        help="the example graph (default: neuron, y = σ(w·x + b), loss = (y − t)²)")
    parser.add_argument("--interactive", "-i", action="store_true", help="wait for Enter between steps")
    parser.add_argument("--json", metavar="PATH", help="also write the steps as JSON (backprop_steps.json format)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the mlp and cnn weights and inputs")
    return parser


def main(argv=None):
    """Run the command; returns the exit code."""
    args = build_parser().parse_args(argv)
    stepper = build_example(args.model, args.seed)
    names = ", ".join(stepper.leaves)
    print(f"backward pass of the {args.model} example, {len(stepper.node_names)} nodes; leaves: {names}\n")
    steps = step_through(stepper, interactive=args.interactive)
    if args.json:
        if not stepper.done:
            steps = stepper.run_all()
        save_steps(steps, args.json)
        print(f"\nwrote {len(steps)} steps to {args.json}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
