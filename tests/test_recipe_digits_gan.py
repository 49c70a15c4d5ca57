"""The digits-gan recipe: a tiny run that writes every file and metric, and (slow) the real run's claim that the
trained generator's digits are far closer to real ones than the untrained generator's."""

import json
import os

import numpy as np
import pytest

from glassbox.recipes import digits_gan
from glassbox.recipes.common import RunConfig

METRIC_KEYS = {"fid_digits", "fid_digits_untrained", "fid_ratio", "fid_digits_real_split", "confident_share",
               "class_coverage", "confident_share_real", "class_coverage_real", "judge_test_accuracy",
               "final_d_loss", "final_g_loss", "final_d_real", "final_d_fake", "epochs", "train_seconds",
               "generator_parameters", "discriminator_parameters", "train_examples", "test_examples",
               "generated_samples"}


def test_to_images_maps_pixels_to_minus_one_one():
    images = digits_gan.to_images(np.array([[0.0] * 32 + [16.0] * 32]))
    assert images.shape == (1, 1, 8, 8)
    assert images.min() == -1.0 and images.max() == 1.0


def test_smoke_run_writes_every_file_and_metric(tmp_path, monkeypatch):
    for name, value in {"BASE": 4, "SAMPLE_EVERY": 1, "GRID": 8, "EVAL_SAMPLES": 60, "CLASSIFIER_EPOCHS": 1,
                        "BATCH_SIZE": 128}.items():
        monkeypatch.setattr(digits_gan, name, value)
    out = str(tmp_path / "run")
    metrics = digits_gan.run(RunConfig(epochs=2, out=out, verbose=0))
    assert set(metrics) == METRIC_KEYS
    assert metrics["epochs"] == 2 and metrics["generated_samples"] == 60
    for key in METRIC_KEYS:
        assert np.isfinite(metrics[key]), key
    assert metrics["fid_digits_untrained"] > 0
    assert 0 <= metrics["confident_share"] <= 1 and 0 <= metrics["class_coverage"] <= 1
    files = set(os.listdir(out))
    assert {"metrics.json", "history.csv", "model.safetensors", "samples.png", "losses.png", "curves.png",
            "samples_epoch_00.png", "samples_epoch_01.png", "samples_epoch_02.png"} <= files
    with open(os.path.join(out, "metrics.json")) as handle:
        assert set(json.load(handle)) == METRIC_KEYS


@pytest.mark.slow
def test_real_run_generates_digits(tmp_path):
    metrics = digits_gan.run(RunConfig(out=str(tmp_path), verbose=0))
    # seed 0 measured: fid 6.4 against 1243 untrained (ratio 0.005), real-vs-real 3.5, confident share 0.66,
    # class coverage 0.98 (real test digits: 0.97 and 1.00)
    assert metrics["fid_digits"] < 0.05 * metrics["fid_digits_untrained"]
    assert metrics["fid_digits"] < 4 * metrics["fid_digits_real_split"]
    assert metrics["confident_share"] > 0.45
    assert metrics["class_coverage"] > 0.85
    assert metrics["confident_share_real"] > 0.9
