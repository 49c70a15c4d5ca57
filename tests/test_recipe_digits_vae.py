"""digits-vae: the latent grid's normal quantiles and the Bernoulli floor by hand, a short smoke run that checks every
file and metric (the test ELBO recomputed from the saved model), and (slow) the real run against an untrained model."""

import csv
import json
import math

import numpy as np
import pytest

import glassbox as gb
from glassbox.data.datasets import load_digits, train_test_split
from glassbox.models.vae import VAE
from glassbox.recipes import digits_vae
from glassbox.recipes.common import RunConfig

PNG = b"\x89PNG\r\n\x1a\n"
FILES = ("metrics.json", "history.csv", "model.safetensors", "curves.png", "samples.png", "traversal.png")
KEYS = {"test_elbo", "test_reconstruction", "test_kl", "test_reconstruction_floor", "untrained_test_elbo",
        "final_train_loss", "latent", "epochs", "seconds", "parameters", "train_examples", "test_examples",
        "eval_samples"}


def test_normal_quantiles_invert_the_normal_cdf():
    q = digits_vae.normal_quantiles(4)
    probabilities = [0.5 * (1 + math.erf(v / math.sqrt(2))) for v in q]
    np.testing.assert_allclose(probabilities, [0.125, 0.375, 0.625, 0.875], atol=1e-12)
    assert q[1] == pytest.approx(-0.318639, abs=1e-6)  # the 0.375 quantile of N(0, 1), from a table


def test_bernoulli_floor_is_the_summed_binary_entropy():
    x = np.array([[0.5, 0.0, 1.0], [0.25, 0.75, 0.5]])
    h = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert digits_vae.bernoulli_floor(x) == pytest.approx(((math.log(2)) + (2 * h + math.log(2))) / 2)


def test_smoke_run_writes_every_file_and_consistent_metrics(tmp_path, monkeypatch):
    draws = 100
    monkeypatch.setattr(digits_vae, "EVAL_SAMPLES", draws)  # many draws, so that the recomputation below can agree
    out = tmp_path / "run"
    metrics = digits_vae.run(RunConfig(epochs=2, seed=0, out=str(out), verbose=0))
    for name in FILES:
        assert (out / name).exists(), name
    for name in ("curves.png", "samples.png", "traversal.png"):
        assert (out / name).read_bytes()[:8] == PNG
    assert set(metrics) == KEYS and json.loads((out / "metrics.json").read_text()) == pytest.approx(metrics)
    assert metrics["epochs"] == 2 and metrics["latent"] == digits_vae.LATENT
    assert metrics["test_elbo"] == pytest.approx(-(metrics["test_reconstruction"] + metrics["test_kl"]))
    assert metrics["test_kl"] > 0 and metrics["test_reconstruction"] > metrics["test_reconstruction_floor"]
    rows = list(csv.DictReader(open(out / "history.csv")))
    assert len(rows) == 2 and {"loss", "reconstruction", "kl"} <= set(rows[0])
    # recompute the test ELBO from the saved model with independent noise: a Monte Carlo estimate, so within
    # a tolerance set by its spread
    images, labels = load_digits()
    _, x_test, _, _ = train_test_split((images / 16.0).astype(np.float32), labels, test_fraction=0.2, seed=0)
    model = VAE(64, digits_vae.HIDDEN, digits_vae.LATENT)
    model.load_state_dict(gb.load(out / "model.safetensors"))
    model.eval()
    rng = np.random.default_rng(123)
    with gb.no_grad():
        estimates = [model.elbo(gb.tensor(x_test), rng=rng).numpy().mean() for _ in range(draws)]
    # both sides average `draws` estimates: their difference has standard error std * sqrt(2 / draws)
    assert metrics["test_elbo"] == pytest.approx(np.mean(estimates), abs=5 * np.std(estimates) * np.sqrt(2 / draws))


@pytest.mark.slow
def test_real_run_beats_an_untrained_model(tmp_path):
    metrics = digits_vae.run(RunConfig(seed=0, out=str(tmp_path), verbose=0))
    assert all(np.isfinite(metrics[k]) for k in ("test_elbo", "test_reconstruction", "test_kl"))
    assert metrics["test_elbo"] > metrics["untrained_test_elbo"] + 15  # nats per image
    assert metrics["test_kl"] > 1  # the latent space is used, not collapsed onto the prior
    # the reconstruction's excess over the best a Bernoulli decoder can do for grey-level pixels shrinks to well
    # under half of an untrained model's (whose -ELBO bounds its reconstruction term from above)
    floor = metrics["test_reconstruction_floor"]
    assert metrics["test_reconstruction"] - floor < 0.4 * (-metrics["untrained_test_elbo"] - floor)
