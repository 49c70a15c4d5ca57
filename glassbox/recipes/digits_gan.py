"""digits-gan: a DCGAN that learns to draw the 8x8 digits, judged by a digits classifier (Fréchet distance, confidence,
class coverage)."""

import os
import time

import numpy as np

from .. import nn, optim
from ..autograd.grad_mode import no_grad
from ..data.datasets import load_digits, train_test_split
from ..io import safetensors_io
from ..models.gan import DCGANDiscriminator, DCGANGenerator
from ..random import Generator, manual_seed
from ..tensor import Tensor
from ..train import Callback, fit, plots, predict
from ..train.adversarial import AdversarialStep
from .common import RunConfig, load_csv, prepare_output, write_history, write_metrics

NAME = "digits-gan"
DESCRIPTION = ("DCGAN on the embedded 8x8 digits (sample grids, loss curves, Fréchet distance in a digits classifier's "
               "features)")
DEFAULT_EPOCHS = 60

# Knobs (module constants so that a test can shrink the run).
LATENT_DIM = 32
BASE = 32  # channels of the generator's last and the discriminator's first layer
BATCH_SIZE = 64
LR = 2e-4
BETAS = (0.5, 0.999)  # the DCGAN paper's: beta1 = 0.9 makes the two players oscillate
SAMPLE_EVERY = 10  # write samples_epoch_XX.png every this many epochs
GRID = 64  # samples in each picture
EVAL_SAMPLES = 1000  # generated samples for the scores
CONFIDENT = 0.9  # a sample is "confident" when the classifier's top class probability exceeds this
CLASSIFIER_EPOCHS = 15
CLASSIFIER_FEATURES = 32  # width of the classifier's penultimate layer: the space where the Fréchet distance is taken


def load_data(path=None):
    """(images (N, 64) pixels 0..16, labels (N,)): the embedded digits or a CSV file in the same format."""
    if path is None:
        return load_digits()
    table = load_csv(path, 65, "rows of 64 pixel values and a label")
    return table[:, :64].astype(np.float32), table[:, 64].astype(np.int64)


def to_images(pixels):
    """(N, 64) pixels 0..16 -> (N, 1, 8, 8) float32 in [-1, 1], the range of the generator's tanh."""
    return (np.asarray(pixels, dtype=np.float32) / 8.0 - 1.0).reshape(-1, 1, 8, 8)


# ----- the judge: a small CNN classifier and its penultimate features ---------------------------------------------
class DigitsJudge(nn.Module):
    """Classifier of (N, 1, 8, 8) digits in [-1, 1] -> logits (N, 10); features(x) -> (N, CLASSIFIER_FEATURES).
    conv 16@3x3 -> pool -> conv 32@3x3 -> pool -> (N, 128) -> Linear -> ReLU (the features) -> Linear(10)."""

    def __init__(self, features=CLASSIFIER_FEATURES):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 2 * 2, features), nn.ReLU(),
        )
        self.head = nn.Linear(features, 10)

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))


def train_judge(x_train, y_train, x_test, y_test, epochs):
    """The classifier trained on the real training digits; returns (model, test accuracy)."""
    judge = DigitsJudge()
    fit(judge, (x_train, y_train), epochs=epochs, batch_size=32, loss=nn.CrossEntropyLoss(),
        optimizer=optim.Adam(judge.parameters(), lr=2e-3), verbose=0)
    accuracy = float((predict(judge, Tensor._make(x_test)).data.argmax(axis=1) == y_test).mean())
    return judge, accuracy


def judge_outputs(judge, images):
    """(features (N, F) float64, class probabilities (N, 10) float64) of the judge on images (N, 1, 8, 8)."""
    judge.eval()
    with no_grad():
        x = Tensor._make(np.asarray(images, dtype=np.float32))
        features = judge.features(x)
        logits = judge.head(features).data.astype(np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    probabilities = np.exp(logits)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return features.data.astype(np.float64), probabilities


# ----- scores ----------------------------------------------------------------------------------------------------
def sqrtm_psd(matrix):
    """The symmetric square root of a symmetric positive semi-definite matrix (D, D), by eigendecomposition
    (eigenvalues below 0, which only rounding makes, are clipped to 0)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def gaussian_fit(features):
    """(mean (D,), covariance (D, D)) of the rows of features (N, D), N >= 2 (unbiased covariance)."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"gaussian_fit: expected features of shape (N >= 2, D), got {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False).reshape(features.shape[1], features.shape[1])


def frechet_distance(mean1, cov1, mean2, cov2):
    """Fréchet (2-Wasserstein squared) distance between N(mean1, cov1) and N(mean2, cov2):

        |mean1 - mean2|^2 + tr(cov1) + tr(cov2) - 2 tr((cov1^(1/2) cov2 cov1^(1/2))^(1/2))

    The last trace equals tr((cov1 cov2)^(1/2)) of the usual FID formula, but is the square root of a symmetric
    positive semi-definite matrix, so eigh gives it without the complex round-off of a general matrix root."""
    root1 = sqrtm_psd(cov1)
    cross = np.linalg.eigvalsh(root1 @ cov2 @ root1)
    value = (np.sum((mean1 - mean2) ** 2) + np.trace(cov1) + np.trace(cov2)
             - 2.0 * np.sum(np.sqrt(np.clip(cross, 0.0, None))))
    return float(max(value, 0.0))  # rounding can leave -1e-12 for identical sets


def feature_distance(features1, features2):
    """The Fréchet distance between Gaussian fits of two sets of features (N1, D) and (N2, D)."""
    return frechet_distance(*gaussian_fit(features1), *gaussian_fit(features2))


def class_scores(probabilities, threshold=CONFIDENT):
    """confident_share: share of samples whose top class probability exceeds threshold; class_coverage: entropy of
    the predicted-class histogram of the confident samples over log(10) (1 = all ten classes equally often, 0 = one
    class only or no confident sample)."""
    top = probabilities.max(axis=1)
    confident = top > threshold
    counts = np.bincount(probabilities[confident].argmax(axis=1), minlength=probabilities.shape[1])
    if counts.sum() == 0:
        return {"confident_share": 0.0, "class_coverage": 0.0}
    share = counts[counts > 0] / counts.sum()
    return {"confident_share": float(confident.mean()),
            "class_coverage": float(-(share * np.log(share)).sum() / np.log(probabilities.shape[1]))}


# ----- the GAN ---------------------------------------------------------------------------------------------------
def generate(generator, latents):
    """Samples (N, 1, 8, 8) in [-1, 1] of the generator in eval mode (batch norm with running statistics)."""
    generator.eval()
    return predict(generator, latents).data


class SampleGrids(Callback):
    """Writes samples_epoch_XX.png (the generator's images for a fixed latent batch) every `every` epochs."""

    def __init__(self, generator, latents, out, every):
        self.generator, self.latents, self.out, self.every = generator, latents, out, every
        self.written = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0 or epoch + 1 == self.trainer.epochs:
            path = os.path.join(self.out, f"samples_epoch_{epoch + 1:02d}.png")
            plots.plot_image_grid(generate(self.generator, self.latents), path,
                                  title=f"{NAME}: epoch {epoch + 1}")
            self.written.append(os.path.basename(path))
            self.generator.train()  # fit sets train mode only at the start of the next epoch; keep it consistent


def plot_losses(history, path):
    """losses.png: both players' losses per epoch, and the discriminator's mean output on real and fake samples."""
    plt = plots._pyplot()
    logs = history.history
    epochs = np.arange(1, len(logs["d_loss"]) + 1)
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.plot(epochs, logs["d_loss"], label="discriminator")
    left.plot(epochs, logs["g_loss"], label="generator")
    left.set_title("losses")
    right.plot(epochs, logs["d_real"], label="D(real)")
    right.plot(epochs, logs["d_fake"], label="D(fake)")
    right.axhline(0.5, color="gray", linewidth=0.8, linestyle="--")
    right.set_title("discriminator's mean output")
    for axis in (left, right):
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle(f"{NAME}: training")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def run(config: RunConfig):
    out = prepare_output(config.out)
    manual_seed(config.seed)
    pixels, labels = load_data(config.data)
    images = to_images(pixels)
    x_train, x_test, y_train, y_test = train_test_split(images, labels, test_fraction=0.2, seed=config.seed)
    judge, judge_accuracy = train_judge(x_train, y_train, x_test, y_test, CLASSIFIER_EPOCHS)

    generator = DCGANGenerator(LATENT_DIM, 1, BASE, 8)
    discriminator = DCGANDiscriminator(1, BASE, 8)
    gan = nn.ModuleDict({"generator": generator, "discriminator": discriminator})
    latent_rng = Generator(config.seed + 1)
    fixed = np.asarray(latent_rng.numpy.standard_normal((GRID, LATENT_DIM)), dtype=np.float32)
    evaluation = np.asarray(latent_rng.numpy.standard_normal((EVAL_SAMPLES, LATENT_DIM)), dtype=np.float32)
    untrained = generate(generator, Tensor._make(evaluation))
    plots.plot_image_grid(untrained[:GRID], os.path.join(out, "samples_epoch_00.png"), title=f"{NAME}: untrained")

    step = AdversarialStep(generator, discriminator, optim.Adam(generator.parameters(), lr=LR, betas=BETAS),
                           optim.Adam(discriminator.parameters(), lr=LR, betas=BETAS), LATENT_DIM,
                           rng=Generator(config.seed + 2))
    grids = SampleGrids(generator, Tensor._make(fixed), out, SAMPLE_EVERY)
    epochs = config.epochs or DEFAULT_EPOCHS
    started = time.perf_counter()
    history = fit(gan, (x_train,), epochs=epochs, batch_size=BATCH_SIZE, train_step=step, callbacks=[grids],
                  verbose=config.verbose)
    seconds = time.perf_counter() - started

    generated = generate(generator, Tensor._make(evaluation))
    real_features, real_probabilities = judge_outputs(judge, x_test)
    generated_features, generated_probabilities = judge_outputs(judge, generated)
    untrained_features, _ = judge_outputs(judge, untrained)
    # The real reference: as many training digits as generated samples against the same test digits, so that the
    # sample sizes (which bias a Fréchet distance upwards) match: the score a generator that reproduced its
    # training data exactly would get.
    reference = np.random.default_rng(config.seed).permutation(len(x_train))[:EVAL_SAMPLES]
    train_features, _ = judge_outputs(judge, x_train[reference])
    fid = feature_distance(generated_features, real_features)
    fid_untrained = feature_distance(untrained_features, real_features)
    generated_scores = class_scores(generated_probabilities)
    real_scores = class_scores(real_probabilities)
    metrics = {"fid_digits": fid, "fid_digits_untrained": fid_untrained,
               "fid_ratio": fid / fid_untrained if fid_untrained > 0 else float("nan"),
               "fid_digits_real_split": feature_distance(train_features, real_features),
               "confident_share": generated_scores["confident_share"],
               "class_coverage": generated_scores["class_coverage"],
               "confident_share_real": real_scores["confident_share"],
               "class_coverage_real": real_scores["class_coverage"],
               "judge_test_accuracy": judge_accuracy, "final_d_loss": history.history["d_loss"][-1],
               "final_g_loss": history.history["g_loss"][-1], "final_d_real": history.history["d_real"][-1],
               "final_d_fake": history.history["d_fake"][-1], "epochs": len(history.epoch),
               "train_seconds": round(seconds, 3), "generator_parameters": generator.num_parameters(),
               "discriminator_parameters": discriminator.num_parameters(), "train_examples": len(x_train),
               "test_examples": len(x_test), "generated_samples": EVAL_SAMPLES}
    write_metrics(metrics, os.path.join(out, "metrics.json"))
    write_history(history, os.path.join(out, "history.csv"))
    safetensors_io.save(gan.state_dict(), os.path.join(out, "model.safetensors"))
    predicted = generated_probabilities[:GRID].argmax(axis=1)
    titles = [f"{c} ({p:.2f})" for c, p in zip(predicted, generated_probabilities[:GRID].max(axis=1))]
    plots.plot_image_grid(generated[:GRID], os.path.join(out, "samples.png"), titles=titles,
                          title=f"{NAME}: samples after {len(history.epoch)} epochs (judge's class, probability)")
    plot_losses(history, os.path.join(out, "losses.png"))
    plots.plot_curves(history, os.path.join(out, "curves.png"), title=f"{NAME}: training logs")
    return metrics
