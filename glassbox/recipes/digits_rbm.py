"""digits-rbm: a restricted Boltzmann machine (64 binary pixels, 100 binary hidden units) learns the 8x8 digits by
contrastive divergence; its filters and the digits its Gibbs chains dream up are the pictures."""

import csv
import os
import time

import numpy as np

from ..data.datasets import load_digits, train_test_split
from ..io import safetensors_io
from ..models.rbm import BernoulliRBM
from ..random import manual_seed, numpy_generator
from ..train import plots
from .common import RunConfig, prepare_output, write_metrics

NAME = "digits-rbm"
DESCRIPTION = "Bernoulli RBM 64-100 trained by CD-1 on the 8x8 digits (filters, Gibbs samples, pseudo-likelihood)"
DEFAULT_EPOCHS = 50

# Knobs (module constants so that a test can shrink the run).
HIDDEN = 100
BATCH_SIZE = 20
LR = 0.05
MOMENTUM = 0.9
WEIGHT_DECAY = 1e-4
K = 1  # Gibbs steps per gradient estimate (CD-k)
PERSISTENT = False  # PCD; on these digits CD-1 with these settings reached the better test pseudo-likelihood
BINARIZE = True  # each batch's pixels are drawn as binary samples of their intensity: the model is binary
SAMPLE_STEPS = 1000  # Gibbs steps of the chains drawn in samples.png
SAMPLE_CHAINS = 16


def run(config: RunConfig):
    out = prepare_output(config.out)
    manual_seed(config.seed)
    rng = numpy_generator()
    images, labels = load_digits()
    x = (images / 16.0).astype(np.float32)  # pixels 0..16 -> probabilities of a binary pixel being on
    x_train, x_test, _, _ = train_test_split(x, labels, test_fraction=0.2, seed=config.seed)
    rbm = BernoulliRBM(64, HIDDEN)
    untrained = {"untrained_pseudo_likelihood": rbm.pseudo_likelihood(x_test),
                 "untrained_reconstruction_error": rbm.reconstruction_error(x_test)}
    epochs = config.epochs or DEFAULT_EPOCHS
    started = time.perf_counter()
    history = rbm.fit(x_train, epochs=epochs, batch_size=BATCH_SIZE, lr=LR, momentum=MOMENTUM,
                      weight_decay=WEIGHT_DECAY, k=K, persistent=PERSISTENT, binarize=BINARIZE, rng=rng,
                      monitor=x_test, verbose=config.verbose)
    seconds = time.perf_counter() - started
    metrics = {"test_pseudo_likelihood": rbm.pseudo_likelihood(x_test),
               "test_reconstruction_error": rbm.reconstruction_error(x_test),
               "train_pseudo_likelihood": rbm.pseudo_likelihood(x_train),
               "train_reconstruction_error": rbm.reconstruction_error(x_train),
               **untrained, "epochs": epochs, "hidden_units": HIDDEN, "cd_k": K, "persistent": PERSISTENT,
               "train_examples": len(x_train), "test_examples": len(x_test), "seconds": round(seconds, 3)}
    write_metrics(metrics, os.path.join(out, "metrics.json"))
    with open(os.path.join(out, "history.csv"), "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch", "test_reconstruction_error", "test_pseudo_likelihood"])
        writer.writerows([e + 1, r, p] for e, (r, p) in enumerate(zip(history["reconstruction_error"],
                                                                      history["pseudo_likelihood"])))
    plots.plot_curves({"test_reconstruction_error": history["reconstruction_error"],
                       "test_pseudo_likelihood": history["pseudo_likelihood"]},
                      os.path.join(out, "curves.png"), title=f"{NAME}: monitored on the test digits")
    safetensors_io.save(rbm.state_dict(), os.path.join(out, "model.safetensors"))
    # filters.png: each hidden unit's 64 weights as an 8x8 image (plot_filters wants (C_out, C_in, kH, kW))
    shown = min(64, HIDDEN)
    plots.plot_filters(rbm.weight.data.T[:shown].reshape(shown, 1, 8, 8), os.path.join(out, "filters.png"),
                       title=f"{NAME}: weights of {shown} hidden units")
    # samples.png: top rows from uniform noise, bottom rows from test digits, after SAMPLE_STEPS Gibbs steps each
    half = SAMPLE_CHAINS // 2
    from_noise = rbm.sample(half, SAMPLE_STEPS, rng)
    from_test = rbm.sample(SAMPLE_CHAINS - half, SAMPLE_STEPS, rng, start=(x_test[:SAMPLE_CHAINS - half] >= 0.5))
    titles = ["noise"] * half + ["test digit"] * (SAMPLE_CHAINS - half)
    plots.plot_image_grid(np.concatenate([from_noise, from_test]).reshape(-1, 8, 8),
                          os.path.join(out, "samples.png"), titles=titles,
                          title=f"{NAME}: p(v|h) after {SAMPLE_STEPS} Gibbs steps")
    return metrics
