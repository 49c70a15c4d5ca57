"""digits-dbn: a smoke run with tiny budgets checks every file and metric; the real run (slow) checks the claim."""

import json

import pytest

from glassbox.io import load
from glassbox.recipes import digits_dbn
from glassbox.recipes.common import RunConfig

PNG = b"\x89PNG\r\n\x1a\n"


def test_smoke_run_writes_every_file(tmp_path, monkeypatch):
    monkeypatch.setattr(digits_dbn, "SIZES", (64, 10, 8))
    monkeypatch.setattr(digits_dbn, "DRAWS", 2)
    monkeypatch.setattr(digits_dbn, "LABELS_PER_CLASS", 2)
    monkeypatch.setattr(digits_dbn, "FINETUNE_EPOCHS", 2)
    metrics = digits_dbn.run(RunConfig(epochs=1, seed=0, out=str(tmp_path), verbose=0))
    with open(tmp_path / "metrics.json") as handle:
        saved = json.load(handle)
    assert saved == pytest.approx(metrics)
    for key in ("pretrained_accuracy", "scratch_accuracy", "pretraining_helps", "labels_per_class", "draws",
                "pretrained_accuracy_draw1", "scratch_accuracy_draw1", "rbm1_test_pseudo_likelihood", "seconds"):
        assert key in saved, key
    assert saved["labelled_examples"] == 20 and saved["draws"] == 2 and saved["pretrain_epochs"] == 1
    mean = (saved["pretrained_accuracy_draw0"] + saved["pretrained_accuracy_draw1"]) / 2
    assert saved["pretrained_accuracy"] == pytest.approx(mean)
    assert saved["pretraining_helps"] == (saved["pretrained_accuracy"] > saved["scratch_accuracy"])
    for picture in ("filters.png", "curves.png", "comparison.png"):
        assert (tmp_path / picture).read_bytes()[:8] == PNG, picture
    mlp = load(tmp_path / "model.safetensors")
    assert mlp["0.weight"].shape == (10, 64) and mlp["4.weight"].shape == (10, 8)
    dbn = load(tmp_path / "dbn.safetensors")
    assert dbn["rbms.0.weight"].shape == (64, 10) and dbn["rbms.1.weight"].shape == (10, 8)


@pytest.mark.slow
def test_real_run(tmp_path):
    """Both MLPs learn from 100 labels; the claim is that DBN pretraining beats random init at that budget."""
    m = digits_dbn.run(RunConfig(out=str(tmp_path), verbose=0))
    assert m["labelled_examples"] == 10 * digits_dbn.LABELS_PER_CLASS
    assert m["pretrained_accuracy"] > 0.8 and m["scratch_accuracy"] > 0.6  # far above chance (0.1)
    assert m["pretrained_accuracy"] > m["scratch_accuracy"] + 0.01, m
