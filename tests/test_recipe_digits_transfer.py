"""digits-transfer: a smoke run with tiny budgets checks the run directory; the real run (slow) checks the claim."""

import json

import numpy as np
import pytest

from glassbox.io import load
from glassbox.recipes import digits_transfer
from glassbox.recipes.common import RunConfig

PNG = b"\x89PNG\r\n\x1a\n"


def test_smoke_run_writes_metrics_curve_and_model(tmp_path):
    config = RunConfig(epochs=1, seed=0, out=str(tmp_path), verbose=0)
    metrics = digits_transfer.run(config, budgets=(1, 2), seeds=1, finetune_steps=3, headline_k=2)
    with open(tmp_path / "metrics.json") as handle:
        saved = json.load(handle)
    assert saved == pytest.approx(metrics)
    for key in ("transfer_accuracy", "scratch_accuracy", "examples_per_class", "seconds", "transfer_accuracy_k1",
                "scratch_accuracy_k2"):
        assert key in saved, key
    assert saved["examples_per_class"] == 2
    assert saved["transfer_accuracy"] == saved["transfer_accuracy_k2"]
    assert 0.0 <= saved["transfer_accuracy"] <= 1.0 and 0.0 <= saved["scratch_accuracy"] <= 1.0
    for picture in ("transfer_curve.png", "curves.png"):
        assert (tmp_path / picture).read_bytes()[:8] == PNG, picture
    weights = load(tmp_path / "model.safetensors")
    assert weights["classifier.3.weight"].shape == (5, 64)  # the fine-tuned 5-way model
    pretrained = load(tmp_path / "pretrained.safetensors")
    # Frozen features: the saved fine-tuned model has exactly the pretrained convolution weights.
    assert np.array_equal(weights["features.0.weight"].data, pretrained["features.0.weight"].data)
    assert saved["frozen_parameters"] == sum(v.data.size for k, v in pretrained.items() if k.startswith("features"))


def test_sampling_takes_k_distinct_examples_of_every_class():
    labels = np.repeat(np.arange(5), 7)
    chosen = digits_transfer.sample_per_class(labels, 3, np.random.default_rng(0))
    assert len(set(chosen.tolist())) == 15 and np.array_equal(np.bincount(labels[chosen]), [3] * 5)
    with pytest.raises(ValueError, match="fewer than k=8"):
        digits_transfer.sample_per_class(labels, 8, np.random.default_rng(0))


@pytest.mark.slow
def test_real_run(tmp_path):
    """What the real run guarantees, then the claim it does not meet yet (an expected failure with the numbers)."""
    metrics = digits_transfer.run(RunConfig(out=str(tmp_path), verbose=0))
    assert metrics["examples_per_class"] == digits_transfer.HEADLINE_K
    assert metrics["pretrain_accuracy"] > 0.95
    for method in ("transfer", "scratch"):
        curve = [metrics[f"{method}_accuracy_k{k}"] for k in digits_transfer.BUDGETS]
        assert curve[-1] > 0.8 and curve[-1] > curve[0] + 0.15, (method, curve)  # more labels help, far above 0.2
    if metrics["transfer_accuracy"] <= metrics["scratch_accuracy"]:
        pytest.xfail(f"transfer {metrics['transfer_accuracy']:.3f} <= scratch {metrics['scratch_accuracy']:.3f} at "
                     f"k={digits_transfer.HEADLINE_K}: on the 8x8 digits, features pretrained on 0-4 do not help 5-9 "
                     "(README); this test passes once a setup transfers")
