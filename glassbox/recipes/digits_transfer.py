"""digits-transfer: pretrain a small CNN on digits 0-4, fine-tune it on 5-9 from k examples per class, vs scratch.

The experiment, on the embedded 8x8 digits (pixels / 16):
1. pretrain DigitsCNN on digits 0-4 (80% of them; the other 20% give `pretrain_accuracy`), and save it as
   pretrained.safetensors;
2. split digits 5-9 in half, stratified: a pool to draw labelled examples from, and a held-out test set;
3. for each budget k in BUDGETS and each of SEEDS draws of k examples per class from the pool:
   - transfer: load pretrained.safetensors (load_pretrained), a fresh 5-way head (replace_head), the convolutional
     features frozen (freeze), the classifier trained at HEAD_LR (param_groups);
   - scratch: the same architecture from a fresh init, every layer at HEAD_LR;
   both get the same FINETUNE_STEPS optimisation steps on the same examples, then are tested on the test set.
metrics.json holds the headline k (`examples_per_class`), the mean test accuracy of each method there, and the whole
curve as flat keys (`transfer_accuracy_k1`, `scratch_std_k1`, ...); transfer_curve.png plots it; the run files
(model.safetensors, history.csv, curves.png) are those of the fine-tuned model at the headline k, first draw.
"""

import math
import os
import time

import numpy as np

from .. import nn, optim
from ..data.datasets import train_test_split
from ..io import read_state_dict, safetensors_io
from ..models.transfer import freeze, load_pretrained, param_groups, replace_head, trainable_parameters
from ..random import manual_seed
from ..train import evaluate, fit
from ..train.plots import _pyplot
from .common import RunConfig, prepare_output, write_run
from .digits_mlp import load_data

NAME = "digits-transfer"
DESCRIPTION = ("transfer learning: a CNN pretrained on digits 0-4, fine-tuned on 5-9 from 1-20 examples per class, "
               "against the same CNN trained from scratch")
DEFAULT_EPOCHS = 30  # pretraining epochs on digits 0-4

BUDGETS = (1, 2, 5, 10, 20)  # labelled examples per class of 5-9
HEADLINE_K = 5
SEEDS = 3  # draws of the k examples per budget, averaged
FINETUNE_STEPS = 100  # optimisation steps per fine-tuning / scratch run: the same budget for both
BATCH_SIZE = 32
PRETRAIN_LR = 1e-3
HEAD_LR = 1e-2
SOURCE_CLASSES = (0, 1, 2, 3, 4)
TARGET_CLASSES = (5, 6, 7, 8, 9)


class DigitsCNN(nn.Module):
    """A LeNet-style CNN for 8x8 digits: input (N, 1, 8, 8) -> logits (N, num_classes).

    features: conv 3x3 (16) - ReLU - maxpool 2 -> (N, 16, 4, 4) - conv 3x3 (32) - ReLU - maxpool 2 -> (N, 32, 2, 2);
    classifier: flatten (128) - Linear 64 - ReLU - Linear num_classes.
    """

    def __init__(self, num_classes=5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


def split_classes(x, labels, classes):
    """The rows whose label is in `classes`, relabelled 0..len(classes)-1 in that order."""
    keep = np.isin(labels, classes)
    relabel = {c: i for i, c in enumerate(classes)}
    return x[keep], np.array([relabel[int(c)] for c in labels[keep]], dtype=np.int64)


def sample_per_class(labels, k, rng):
    """Indices of k examples of every class in `labels` (without replacement), in a shuffled order."""
    chosen = []
    for c in np.unique(labels):
        where = np.flatnonzero(labels == c)
        if len(where) < k:
            raise ValueError(f"{NAME}: class {c} has only {len(where)} examples in the pool, fewer than k={k}")
        chosen.extend(rng.choice(where, size=k, replace=False))
    return rng.permutation(np.array(chosen))


def train_steps(model, optimizer, x, y, steps, verbose=0):
    """Train for (about) `steps` optimisation steps: whole epochs of batches of up to BATCH_SIZE (fit), with
    ceil(steps / batches per epoch) epochs; the same x, y and steps give the same number of steps."""
    batch_size = min(BATCH_SIZE, len(x))
    epochs = max(1, math.ceil(steps / math.ceil(len(x) / batch_size)))
    return fit(model, (x, y), epochs=epochs, batch_size=batch_size, loss=nn.CrossEntropyLoss(),
               optimizer=optimizer, metrics=["accuracy"], verbose=verbose)


def fine_tune(pretrained, x, y, steps, seed):
    """transfer: the pretrained CNN with a new 5-way head and frozen features; returns (model, history)."""
    manual_seed(seed)
    model = DigitsCNN(len(SOURCE_CLASSES))
    load_pretrained(model, pretrained)  # strict: the same architecture, so every key must match
    replace_head(model, len(TARGET_CLASSES))
    freeze(model.features)
    # Only the classifier is trainable; param_groups leaves the frozen features out of the optimizer.
    optimizer = optim.Adam(param_groups(model, {"classifier": HEAD_LR}))
    return model, train_steps(model, optimizer, x, y, steps)


def from_scratch(x, y, steps, seed):
    """scratch: the same CNN from a fresh init, every layer trained, with the same steps; returns (model, history)."""
    manual_seed(seed)
    model = DigitsCNN(len(TARGET_CLASSES))
    optimizer = optim.Adam(model.parameters(), lr=HEAD_LR)
    return model, train_steps(model, optimizer, x, y, steps)


def pretrain(x, y, epochs, seed, verbose):
    manual_seed(seed)
    model = DigitsCNN(len(SOURCE_CLASSES))
    fit(model, (x, y), epochs=epochs, batch_size=BATCH_SIZE, loss=nn.CrossEntropyLoss(),
        optimizer=optim.Adam(model.parameters(), lr=PRETRAIN_LR), metrics=["accuracy"], verbose=verbose)
    return model


def accuracy(model, x, y):
    return evaluate(model, (x, y), metrics=["accuracy"])["accuracy"]


def run(config: RunConfig, *, budgets=BUDGETS, seeds=SEEDS, finetune_steps=FINETUNE_STEPS, headline_k=HEADLINE_K):
    """The experiment above; `budgets`, `seeds`, `finetune_steps` and `headline_k` shrink it for quick tests."""
    if headline_k not in budgets:
        raise ValueError(f"{NAME}: headline_k={headline_k} must be one of the budgets {tuple(budgets)}")
    out = prepare_output(config.out)
    started = time.perf_counter()
    images, labels = load_data(config.data)
    missing = sorted(set(SOURCE_CLASSES + TARGET_CLASSES) - set(np.unique(labels).tolist()))
    if missing:
        raise ValueError(f"{NAME}: the data has no examples of digit(s) {missing}; it needs all of 0-9")
    x = (images / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)  # pixels 0..16 -> 0..1, as (N, C, H, W)

    # 1. pretraining on 0-4
    x_src, y_src = split_classes(x, labels, SOURCE_CLASSES)
    xs_train, xs_test, ys_train, ys_test = train_test_split(x_src, y_src, test_fraction=0.2, seed=config.seed)
    source_model = pretrain(xs_train, ys_train, config.epochs or DEFAULT_EPOCHS, config.seed, config.verbose)
    pretrained_path = os.path.join(out, "pretrained.safetensors")
    safetensors_io.save(source_model.state_dict(), pretrained_path)
    pretrained = read_state_dict(pretrained_path)  # what a user would do with a downloaded file
    pretrain_seconds = time.perf_counter() - started

    # 2. the 5-9 pool and test set
    x_tgt, y_tgt = split_classes(x, labels, TARGET_CLASSES)
    pool_x, test_x, pool_y, test_y = train_test_split(x_tgt, y_tgt, test_fraction=0.5, seed=config.seed + 1,
                                                      stratify=y_tgt)

    # 3. the curve
    results = {"transfer": {k: [] for k in budgets}, "scratch": {k: [] for k in budgets}}
    saved = None
    for draw in range(seeds):
        rng = np.random.default_rng([config.seed, draw])
        for k in budgets:
            chosen = sample_per_class(pool_y, k, rng)
            xk, yk = pool_x[chosen], pool_y[chosen]
            run_seed = config.seed * 1000 + draw * 100 + k
            model, history = fine_tune(pretrained, xk, yk, finetune_steps, run_seed)
            results["transfer"][k].append(accuracy(model, test_x, test_y))
            if draw == 0 and k == headline_k:
                saved = model, history
            scratch, _ = from_scratch(xk, yk, finetune_steps, run_seed)
            results["scratch"][k].append(accuracy(scratch, test_x, test_y))
            if config.verbose:
                print(f"k={k:>2} draw {draw}: transfer {results['transfer'][k][-1]:.3f}  "
                      f"scratch {results['scratch'][k][-1]:.3f}")
    seconds = time.perf_counter() - started

    model, history = saved
    metrics = {"transfer_accuracy": _mean(results["transfer"][headline_k]),
               "scratch_accuracy": _mean(results["scratch"][headline_k]),
               "examples_per_class": headline_k, "seeds": seeds, "finetune_steps": finetune_steps,
               "pretrain_accuracy": accuracy(source_model, xs_test, ys_test), "pretrain_examples": len(xs_train),
               "pool_examples": len(pool_x), "test_examples": len(test_x),
               "trainable_parameters": trainable_parameters(model).trainable,
               "frozen_parameters": trainable_parameters(model).frozen,
               "seconds": round(seconds, 3), "pretrain_seconds": round(pretrain_seconds, 3)}
    for method in ("transfer", "scratch"):
        for k in budgets:
            metrics[f"{method}_accuracy_k{k}"] = _mean(results[method][k])
            metrics[f"{method}_std_k{k}"] = float(np.std(results[method][k]))
    title = (f"{NAME}: k={headline_k} per class, transfer {metrics['transfer_accuracy']:.3f} vs scratch "
             f"{metrics['scratch_accuracy']:.3f}")
    write_run(out, model, history, metrics, title=title)
    plot_transfer_curve(budgets, results, os.path.join(out, "transfer_curve.png"))
    return metrics


def _mean(values):
    return float(np.mean(values))


def plot_transfer_curve(budgets, results, path):
    """Test accuracy against labelled examples per class (log x), mean and spread over the draws, both methods."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 3.8))
    for method, label in (("transfer", "fine-tuned (pretrained on 0-4)"), ("scratch", "from scratch")):
        means = [np.mean(results[method][k]) for k in budgets]
        stds = [np.std(results[method][k]) for k in budgets]
        axis.errorbar(budgets, means, yerr=stds, marker="o", capsize=3, label=label)
    axis.set_xscale("log")
    axis.set_xticks(list(budgets))
    axis.set_xticklabels([str(k) for k in budgets])
    axis.set_xlabel("labelled examples per class (digits 5-9)")
    axis.set_ylabel("test accuracy")
    axis.set_ylim(0, 1)
    axis.grid(alpha=0.3)
    axis.legend()
    axis.set_title("Transfer vs scratch on digits 5-9")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
