"""digits-autoencoder: a denoising dense autoencoder with a 2-D code on the 8x8 digits (reconstructions, code map)."""

import os
import time

import numpy as np

from .. import nn, optim
from ..data.datasets import train_test_split
from ..models.autoencoder import Autoencoder, add_noise, denoising_step
from ..random import manual_seed, numpy_generator
from ..tensor import Tensor
from ..train import fit, plots, predict
from .common import RunConfig, prepare_output, write_run
from .digits_mlp import load_data

NAME = "digits-autoencoder"
DESCRIPTION = "denoising autoencoder 64-128-64-2-64-128-64 on the 8x8 digits (2-D code map, reconstructions)"
DEFAULT_EPOCHS = 150

# Knobs (module constants so that a test can shrink the run).
HIDDEN = (128, 64)
CODE_SIZE = 2  # one model, whose code is both what the decoder sees and what codes.png plots
NOISE = "masking"  # each training input pixel is zeroed with probability NOISE_LEVEL; targets stay clean
NOISE_LEVEL = 0.2
BATCH_SIZE = 32
LR = 2e-3
SHOWN = 12  # test digits in reconstructions.png


def pca_mse(x_train, x_test, k):
    """Test MSE of the best linear k-D code: project on the top k principal directions of the training data
    (through its mean) and back. The linear baseline a k-D autoencoder should beat."""
    mean = x_train.mean(axis=0)
    _, _, vt = np.linalg.svd(x_train - mean, full_matrices=False)
    basis = vt[:k]
    reconstruction = (x_test - mean) @ basis.T @ basis + mean
    return float(np.mean((reconstruction - x_test) ** 2))


def plot_codes(codes, labels, path, title):
    """Scatter of 2-D codes (N, 2) coloured by label, each class's median code marked by its digit; the view
    frames the central 98% of the codes (outliers fall outside)."""
    plt = plots._pyplot()
    figure, axis = plt.subplots(figsize=(5.6, 5.0))
    scatter = axis.scatter(codes[:, 0], codes[:, 1], c=labels, cmap="tab10", s=10, alpha=0.8, vmin=-0.5, vmax=9.5)
    for digit in np.unique(labels):
        centre = np.median(codes[labels == digit], axis=0)
        axis.text(centre[0], centre[1], str(digit), fontsize=13, weight="bold", ha="center", va="center",
                  bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "alpha": 0.7, "linewidth": 0})
    # a few outliers would squeeze the bulk of the codes into a corner: frame the central 98% of them
    low, high = np.percentile(codes, 1, axis=0), np.percentile(codes, 99, axis=0)
    margin = 0.08 * (high - low)
    axis.set_xlim(low[0] - margin[0], high[0] + margin[0])
    axis.set_ylim(low[1] - margin[1], high[1] + margin[1])
    figure.colorbar(scatter, ax=axis, ticks=range(10), label="digit")
    axis.set_xlabel("code 1")
    axis.set_ylabel("code 2")
    axis.set_title(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def run(config: RunConfig):
    out = prepare_output(config.out)
    manual_seed(config.seed)
    images, labels = load_data(config.data)
    x = (images / 16.0).astype(np.float32)  # pixels 0..16 -> 0..1, matching the sigmoid output
    x_train, x_test, y_train, y_test = train_test_split(x, labels, test_fraction=0.2, seed=config.seed)
    x_fit, x_val, _, _ = train_test_split(x_train, y_train, test_fraction=0.15, seed=config.seed + 1)
    model = Autoencoder(64, HIDDEN, CODE_SIZE)
    loss = nn.MSELoss()
    started = time.perf_counter()
    history = fit(model, (x_fit, x_fit), val=(x_val, x_val), epochs=config.epochs or DEFAULT_EPOCHS,
                  batch_size=BATCH_SIZE, loss=loss, optimizer=optim.Adam(model.parameters(), lr=LR),
                  train_step=denoising_step(NOISE, NOISE_LEVEL), verbose=config.verbose)
    seconds = time.perf_counter() - started
    reconstructions = predict(model, Tensor._make(x_test)).data
    codes = predict(model.encoder, Tensor._make(x_test)).data
    test_mse = float(np.mean((reconstructions - x_test) ** 2))
    baseline = float(np.mean((x_fit.mean(axis=0) - x_test) ** 2))  # predict the mean training image
    metrics = {"test_reconstruction_mse": test_mse, "baseline_mse": baseline,
               f"pca{CODE_SIZE}_mse": pca_mse(x_fit, x_test, CODE_SIZE), "code_size": CODE_SIZE,
               "noise": NOISE, "noise_level": NOISE_LEVEL, "epochs": len(history.epoch),
               "final_val_loss": history.history["val_loss"][-1], "seconds": round(seconds, 3),
               "parameters": model.num_parameters(), "train_examples": len(x_fit), "val_examples": len(x_val),
               "test_examples": len(x_test)}
    write_run(out, model, history, metrics, title=f"{NAME}: test reconstruction MSE {test_mse:.4f} "
                                                   f"(mean image {baseline:.4f})")
    shown = min(SHOWN, len(x_test))
    noisy = add_noise(x_test[:shown], NOISE, NOISE_LEVEL, numpy_generator())
    with_noise = predict(model, Tensor._make(noisy)).data
    rows = np.concatenate([x_test[:shown], noisy, with_noise, reconstructions[:shown]]).reshape(-1, 8, 8)
    plots.plot_image_grid(np.clip(rows, 0, 1), os.path.join(out, "reconstructions.png"), columns=shown,
                          title="rows: test digits, with noise, reconstructed from the noisy, from the clean")
    plot_codes(codes[:, :2], y_test, os.path.join(out, "codes.png"),  # the whole code when CODE_SIZE is 2
               f"{NAME}: 2-D codes of the {len(x_test)} test digits")
    return metrics
