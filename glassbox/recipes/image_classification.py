"""What mnist-cnn, fashion-cnn and cifar10-resnet share: finding (or downloading) their data, a bounded training
run on a subset with batched augmentation and a one-cycle schedule, and the numbers and pictures of the run."""

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import nn, optim
from ..data.dataset import Dataset
from ..data.datasets import DownloadError, data_root
from ..random import manual_seed
from ..tensor import Tensor
from ..train import Trainer, evaluate, fit, plots, predict
from ..train.metrics import confusion_matrix
from .common import RunConfig, prepare_output, write_run
from .digits_cnn import write_conv_pictures


@dataclass(frozen=True)
class ImageTask:
    """One recipe's choices. `dataset`: MNIST, FashionMNIST or CIFAR10 (the class); `build_model()` -> a module
    taking (N, C, H, W) float images; `first_conv(model)` -> its first Conv2d and `first_block(model)` -> a callable
    giving that conv's activations after normalisation and ReLU (for filters.png and feature_maps.png);
    `train_examples`: how many training images one run uses by default (None: all but the validation ones);
    `test_examples`: how many of the test images (the first ones, in the file's order) are evaluated (None: all);
    `augment()` -> a batched transform from glassbox.data.augment, or None; mean/std per channel of x / 255."""

    name: str
    dataset: type
    build_model: Callable
    first_conv: Callable
    first_block: Callable
    mean: tuple
    std: tuple
    train_examples: int = None
    val_examples: int = 2000
    test_examples: int = None
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 3e-3
    weight_decay: float = 5e-4
    augment: Callable = None
    class_names: tuple = None


class NormalizedImages(Dataset):
    """uint8 images (N, C, H, W) and int labels (N,), served as float32 (x / 255 - mean[c]) / std[c].

    Keeping uint8 in memory and converting one batch at a time costs a quarter of the memory of float32 (CIFAR-10's
    50000 training images: 150 MB instead of 600 MB); `get_batch` is the DataLoader's vectorised fast path."""

    def __init__(self, images, labels, mean, std):
        self.images, self.labels = images, np.asarray(labels, dtype=np.int64)
        self.scale = (1.0 / (255.0 * np.asarray(std, dtype=np.float32))).reshape(-1, 1, 1)
        self.shift = (np.asarray(mean, dtype=np.float32) / np.asarray(std, dtype=np.float32)).reshape(-1, 1, 1)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        images, labels = self.get_batch(np.array([index]))
        return Tensor._make(images.data[0]), Tensor._make(labels.data[0])

    def get_batch(self, indices):
        """(images float32 Tensor (B, C, H, W), labels int64 Tensor (B,)) at `indices` (B,)."""
        images = self.images[indices].astype(np.float32)
        images *= self.scale
        images -= self.shift
        return Tensor._make(images), Tensor._make(self.labels[indices])


# ----- the data --------------------------------------------------------------------------------------------------

def _resources(dataset_class):
    """The files a data set downloads: MNIST-style train and test files, or CIFAR-10's one archive."""
    resources = getattr(dataset_class, "resources", None)
    if resources is not None:
        return [r for split in ("train", "test") for r in resources[split]]
    return [dataset_class.archive]


def _manual_steps(dataset_class, folder):
    files = ", ".join(r.filename for r in _resources(dataset_class))
    return (f"download {files} from {dataset_class.mirrors[0]} into {folder} (or set GLASSBOX_DATA to a folder that "
            f"holds {dataset_class.folder}/), then run again")


def _first_reason(error):
    """The first per-URL failure of a DownloadError's message (its lines '  URL: what went wrong'), else line 1."""
    lines = str(error).splitlines()
    return next((line.strip() for line in lines[1:] if line.startswith("  ") and "://" in line), lines[0])


def _what_is_wrong(error):
    """The first line of the loader's DownloadError ('MNIST: data files not found in ...' or '... is not the
    expected file: sha256 mismatch ...'), without its advice for Python callers (download=True)."""
    first = str(error).splitlines()[0]
    for advice in ("; pass download=True", ". Delete it and pass download=True"):
        first = first.split(advice)[0]
    return first


def _both_splits(dataset_class, root, download):
    return dataset_class(root=root, train=True, download=download), dataset_class(root=root, train=False,
                                                                                    download=download)


def load_splits(dataset_class, data=None, verbose=1):
    """(train, test) datasets of `dataset_class`, from the data root `data` (a folder holding e.g. mnist/; the
    data set's own folder is accepted too) without downloading, or, when `data` is None, from the default root
    ($GLASSBOX_DATA or ~/.cache/glassbox/datasets), downloading what is missing. Raises a DownloadError with a
    one-line message saying what to do when the data is not there and cannot be fetched."""
    name = dataset_class.__name__
    if data is not None:
        root = Path(data).expanduser()
        if not (root / dataset_class.folder).exists() and root.name == dataset_class.folder:
            root = root.parent  # the user pointed at the data set's folder itself
        folder = root / dataset_class.folder
        try:
            return _both_splits(dataset_class, root, download=False)
        except DownloadError as error:
            raise DownloadError(f"{_what_is_wrong(error)}: {_manual_steps(dataset_class, folder)}; or leave out "
                                "--data to download it into the default folder") from None
    folder = data_root() / dataset_class.folder
    try:
        return _both_splits(dataset_class, None, download=False)
    except DownloadError:
        pass  # not there yet (or damaged): try to fetch it
    if verbose:
        megabytes = sum(r.size for r in _resources(dataset_class)) / 1e6
        print(f"glassbox: {name} is not in {folder}; downloading it ({megabytes:.0f} MB, once)", file=sys.stderr)
    try:
        return _both_splits(dataset_class, None, download=True)
    except DownloadError as error:
        raise DownloadError(f"{name}: the data is not in {folder} and the download failed ({_first_reason(error)}): "
                            f"{_manual_steps(dataset_class, folder)}") from None


def _arrays(dataset):
    """(images uint8 (N, C, H, W), labels int64 (N,)) of an MNIST-style (N, H, W) or CIFAR-style (N, H, W, C) set."""
    images, labels = dataset.data, dataset.targets
    images = images.data if isinstance(images, Tensor) else np.asarray(images)
    labels = labels.data if isinstance(labels, Tensor) else np.asarray(labels)
    images = images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(images), labels.astype(np.int64)


def _for_display(images):
    """uint8 (N, C, H, W) -> float (N, H, W) grey or (N, H, W, 3) colour in [0, 1], as plot_examples draws them."""
    images = images.astype(np.float32) / 255.0
    return images[:, 0] if images.shape[1] == 1 else images.transpose(0, 2, 3, 1)


def augmented_train_step(augment):
    """A fit() train_step that replaces each training batch's images (N, C, H, W) by `augment(images)` (a batched
    transform from glassbox.data.augment) before the standard step; validation and test see the images unchanged."""

    def step(trainer, batch):
        images, labels = batch
        return Trainer.train_step(trainer, (Tensor._make(augment(images.data)), labels))

    return step


# ----- the run ---------------------------------------------------------------------------------------------------

def _optimizer(task, model, epochs, steps_per_epoch):
    """The optimizer and a one-cycle lr schedule (stepped per batch): warm up, then anneal to ~0, which gets the
    most out of the few epochs a bounded CPU run can afford."""
    if task.optimizer == "sgd":
        optimizer = optim.SGD(model.parameters(), lr=task.lr, momentum=0.9, nesterov=True,
                              weight_decay=task.weight_decay)
    else:
        optimizer = optim.AdamW(model.parameters(), lr=task.lr, weight_decay=task.weight_decay)
    scheduler = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=task.lr, epochs=epochs,
                                              steps_per_epoch=steps_per_epoch, pct_start=0.25)
    return optimizer, scheduler


def write_pictures(out, task, model, predictions, test_labels, test_images, first_image):
    """confusion_matrix.png, examples.png (with class names), filters.png and feature_maps.png."""
    names = list(task.class_names) if task.class_names else None
    matrix = confusion_matrix(predictions, test_labels, 10)
    plots.plot_confusion_matrix(matrix, f"{out}/confusion_matrix.png", class_names=names)
    shown = min(32, len(test_labels))
    plots.plot_examples(_for_display(test_images[:shown]), test_labels[:shown], predictions[:shown],
                        f"{out}/examples.png", class_names=names)
    label = int(test_labels[0])
    write_conv_pictures(out, model, task.first_conv(model), task.first_block(model), first_image,
                        names[label] if names else label)


def run_task(task: ImageTask, config: RunConfig, default_epochs):
    """Train task.build_model() on a seeded subset of the training set, validating on `val_examples` other
    training images each epoch, then evaluate on the test set (or its first task.test_examples images) and write
    the run directory.

    config.data: the data root (None: the default root, downloading if needed). The training subset size is
    `config.train_examples` when set (0: all), else task.train_examples."""
    out = prepare_output(config.out)
    manual_seed(config.seed)
    train_set, test_set = load_splits(task.dataset, config.data, config.verbose)
    train_images, train_labels = _arrays(train_set)
    test_images, test_labels = _arrays(test_set)
    test_images, test_labels = test_images[:task.test_examples], test_labels[:task.test_examples]
    limit = task.train_examples if config.train_examples is None else (config.train_examples or None)
    order = np.random.default_rng(config.seed).permutation(len(train_labels))
    n_val = min(task.val_examples, len(order) // 5)  # tiny data sets (tests) keep most images for training
    val_rows, fit_rows = order[:n_val], order[n_val:]
    fit_rows = np.sort(fit_rows[:limit])  # sorted: gathers from memory in order; the loader shuffles anyway
    data = {name: NormalizedImages(images, labels, task.mean, task.std) for name, images, labels in (
        ("fit", train_images[fit_rows], train_labels[fit_rows]),
        ("val", train_images[val_rows], train_labels[val_rows]),
        ("test", test_images, test_labels))}

    model = task.build_model()
    epochs = config.epochs or default_epochs
    optimizer, scheduler = _optimizer(task, model, epochs, math.ceil(len(data["fit"]) / task.batch_size))
    loss = nn.CrossEntropyLoss()
    augment = task.augment() if task.augment is not None else None
    started = time.perf_counter()
    history = fit(model, data["fit"], val=data["val"] if n_val else None, epochs=epochs, batch_size=task.batch_size,
                  loss=loss, optimizer=optimizer, scheduler=scheduler, scheduler_interval="step",
                  train_step=augmented_train_step(augment) if augment is not None else None,
                  metrics=["accuracy"], verbose=config.verbose)
    seconds = time.perf_counter() - started
    test = evaluate(model, data["test"], loss=loss, metrics=["accuracy"])
    predictions = predict(model, data["test"]).data.argmax(axis=1)
    metrics = {"test_accuracy": test["accuracy"], "test_loss": test["loss"], "epochs": len(history.epoch),
               "seconds": round(seconds, 3), "parameters": model.num_parameters(),
               "train_examples": len(data["fit"]), "val_examples": n_val, "test_examples": len(test_labels)}
    if n_val:
        metrics["best_val_loss"] = min(history.history["val_loss"])
    write_run(out, model, history, metrics, title=f"{task.name}: test accuracy {test['accuracy']:.3f}")
    write_pictures(out, task, model, predictions, test_labels, test_images,
                   data["test"].get_batch(np.array([0]))[0].data[0])
    return metrics
