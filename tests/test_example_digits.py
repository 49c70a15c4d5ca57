"""Runs examples/train_digits_mlp.py end to end: the engine alone must learn the digits to >= 95% test accuracy."""

import importlib.util
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "train_digits_mlp.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("train_digits_mlp", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_digits_example_reaches_95_percent(capsys):
    accuracy = _load_example().main()
    out = capsys.readouterr().out
    assert accuracy >= 0.95, out
    assert f"test_accuracy: {accuracy:.3f}" in out
    losses = [float(line.split("loss")[1]) for line in out.splitlines() if line.startswith("epoch")]
    assert len(losses) >= 2 and losses[-1] < losses[0] / 2, out  # the loss really went down
