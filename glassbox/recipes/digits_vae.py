"""digits-vae: a variational autoencoder with a 2-D latent space on the 8x8 digits (ELBO, samples, latent grid)."""

import os
import time

import numpy as np

from .. import optim
from ..autograd.grad_mode import no_grad
from ..data.datasets import train_test_split
from ..models.vae import VAE, vae_step
from ..random import manual_seed, numpy_generator
from ..tensor import Tensor
from ..train import fit, plots
from .common import RunConfig, prepare_output, write_run
from .digits_mlp import load_data

NAME = "digits-vae"
DESCRIPTION = "VAE 64-256-(2-D latent)-256-64 with a Bernoulli decoder on the 8x8 digits (ELBO, samples, latent grid)"
DEFAULT_EPOCHS = 100

# Knobs (module constants so that a test can shrink the run).
HIDDEN = (256,)
LATENT = 2  # two dimensions, so that traversal.png can show the whole latent space as one grid
BATCH_SIZE = 32
LR = 1e-3
EVAL_SAMPLES = 10  # draws of z per test image when estimating the test ELBO
GRID = 12  # traversal.png is GRID x GRID decoded latent points


def evaluate_elbo(model, x, samples, rng):
    """Mean over the images x (N, D) of the ELBO and its parts, each a single-sample estimate averaged over
    `samples` draws of z: {'elbo', 'reconstruction', 'kl'} in nats per image."""
    model.eval()
    reconstruction, kl = 0.0, 0.0
    with no_grad():
        inputs = Tensor._make(x)
        for _ in range(samples):
            r, k = model.terms(inputs, rng=rng)
            reconstruction, kl = reconstruction + float(r.data.mean()), kl + float(k.data.mean())
    reconstruction, kl = reconstruction / samples, kl / samples
    return {"elbo": -(reconstruction + kl), "reconstruction": reconstruction, "kl": kl}


def bernoulli_floor(x):
    """The smallest possible Bernoulli reconstruction term for grey-level targets x (N, D) in [0, 1], in nats per
    image: the summed binary entropy of the pixels (reached when the decoder outputs exactly x). Pixels between 0
    and 1 are not coin flips, so the reconstruction term cannot go to 0; this says how far it can go."""
    p = np.clip(x.astype(np.float64), 1e-12, 1 - 1e-12)
    return float(np.mean(np.sum(-(p * np.log(p) + (1 - p) * np.log1p(-p)), axis=1)))


def normal_quantiles(n):
    """n points of the standard normal at equally spaced probabilities (k + 0.5) / n: a grid that covers the
    prior evenly (the inverse CDF by bisection on erf, so no SciPy)."""
    from math import erf, sqrt

    def cdf(v):
        return 0.5 * (1 + erf(v / sqrt(2)))

    points = []
    for p in (np.arange(n) + 0.5) / n:
        low, high = -10.0, 10.0
        for _ in range(60):
            mid = 0.5 * (low + high)
            low, high = (mid, high) if cdf(mid) < p else (low, mid)
        points.append(0.5 * (low + high))
    return np.array(points)


def latent_grid_images(model, n):
    """(n * n, D) decoded means of a grid of latent points (first two latent dims over normal quantiles, others 0),
    row by row: the second dim decreasing down the rows, the first increasing across."""
    q = normal_quantiles(n)
    z = np.zeros((n * n, model.latent), dtype=np.float32)
    z[:, 0] = np.tile(q, n)
    if model.latent > 1:
        z[:, 1] = np.repeat(q[::-1], n)
    with no_grad():
        return model.mean(model.decode(Tensor._make(z))).data


def run(config: RunConfig):
    out = prepare_output(config.out)
    manual_seed(config.seed)
    rng = numpy_generator()
    images, labels = load_data(config.data)
    x = (images / 16.0).astype(np.float32)  # pixels in [0, 1]: the targets of the Bernoulli decoder
    x_train, x_test, _, _ = train_test_split(x, labels, test_fraction=0.2, seed=config.seed)
    model = VAE(64, HIDDEN, LATENT, likelihood="bernoulli")
    untrained = evaluate_elbo(model, x_test, EVAL_SAMPLES, rng)
    started = time.perf_counter()
    history = fit(model, (x_train,), epochs=config.epochs or DEFAULT_EPOCHS, batch_size=BATCH_SIZE,
                  optimizer=optim.Adam(model.parameters(), lr=LR), train_step=vae_step(rng), verbose=config.verbose)
    seconds = time.perf_counter() - started
    test = evaluate_elbo(model, x_test, EVAL_SAMPLES, rng)
    metrics = {"test_elbo": test["elbo"], "test_reconstruction": test["reconstruction"], "test_kl": test["kl"],
               "test_reconstruction_floor": bernoulli_floor(x_test),
               "untrained_test_elbo": untrained["elbo"], "final_train_loss": history.history["loss"][-1],
               "latent": LATENT, "epochs": len(history.epoch), "seconds": round(seconds, 3),
               "parameters": model.num_parameters(), "train_examples": len(x_train), "test_examples": len(x_test),
               "eval_samples": EVAL_SAMPLES}
    write_run(out, model, history, metrics, title=f"{NAME}: test ELBO {test['elbo']:.2f} nats per image")
    samples = model.sample(64, rng).data.reshape(-1, 8, 8)
    plots.plot_image_grid(samples, os.path.join(out, "samples.png"), columns=8,
                          title="64 digits decoded from z ~ N(0, I) (Bernoulli means)")
    grid = latent_grid_images(model, GRID).reshape(-1, 8, 8)
    plots.plot_image_grid(grid, os.path.join(out, "traversal.png"), columns=GRID,
                          title="the latent plane: z1 across, z2 down, at normal quantiles")
    return metrics
