"""shapes-segmentation: a small U-Net labels each pixel of generated scenes background, circle, square or triangle."""

import os
import time

import numpy as np

from .. import nn, optim
from ..models.unet import unet
from ..optim.lr_scheduler import OneCycleLR
from ..random import manual_seed
from ..tensor import Tensor
from ..train import EarlyStopping, Metric, evaluate, fit, plots, predict
from ..train.metrics import confusion_matrix
from .common import RunConfig, prepare_output, write_run
from .shapes_data import CLASS_NAMES, NUM_CLASSES, make_scenes

NAME = "shapes-segmentation"
DESCRIPTION = "U-Net (base 8 channels, depth 4) segmenting generated 32x32 scenes of circles, squares and triangles"
DEFAULT_EPOCHS = 12

# Sizes of the run; module-level so that a smoke test can shrink them (monkeypatch) without new options.
IMAGE_SIZE = 32
TRAIN_SCENES, VAL_SCENES, TEST_SCENES = 1600, 200, 500
ROTATE = False  # axis-aligned squares, upright triangles: randomly rotated ones learnt far more slowly in a trial
BASE_CHANNELS, DEPTH = 8, 4
BATCH_SIZE = 16
MAX_LR = 5e-3
SHOWN = 8  # test scenes drawn in segmentation.png
# one colour per class for the mask pictures: background dark grey, circle red, square green, triangle blue
CLASS_COLOURS = np.array([[0.15, 0.15, 0.15], [0.90, 0.25, 0.20], [0.25, 0.75, 0.30], [0.25, 0.45, 0.95]])


def iou_per_class(predicted, target, num_classes):
    """IoU of each class c: |pred = c and true = c| / |pred = c or true = c|, from the confusion matrix over all
    pixels; NaN for a class that appears in neither (it then does not count towards the mean)."""
    counts = confusion_matrix(predicted, target, num_classes).astype(np.float64)
    intersection = np.diag(counts)
    union = counts.sum(axis=0) + counts.sum(axis=1) - intersection
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, intersection / union, np.nan)


def mean_iou(predicted, target, num_classes):
    """Mean over classes (background included) of the per-class IoU, skipping classes absent from both."""
    return float(np.nanmean(iou_per_class(predicted, target, num_classes)))


class MeanIoU(Metric):
    """Mean IoU over an epoch for fit(): accumulates the pixel confusion matrix of (N, C, H, W) logits against
    (N, H, W) class indices, so the epoch's value is exact, not a mean of batch values."""

    name = "miou"

    def __init__(self, num_classes):
        self.num_classes = num_classes
        super().__init__()

    def reset(self):
        self.counts = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)

    def update(self, output, target):
        output = output.data if isinstance(output, Tensor) else np.asarray(output)
        target = target.data if isinstance(target, Tensor) else np.asarray(target)
        self.counts += confusion_matrix(output.argmax(axis=1), target, self.num_classes)

    def compute(self):
        intersection = np.diag(self.counts).astype(np.float64)
        union = self.counts.sum(axis=0) + self.counts.sum(axis=1) - intersection
        if not union.any():
            return float("nan")
        return float(np.mean(intersection[union > 0] / union[union > 0]))


def build_model():
    return unet(in_channels=3, num_classes=NUM_CLASSES, base_channels=BASE_CHANNELS, depth=DEPTH)


def colour_masks(masks):
    """(N, H, W) class indices -> (N, H, W, 3) RGB with CLASS_COLOURS."""
    return CLASS_COLOURS[np.asarray(masks)]


def plot_segmentation(images, masks, predictions, path, title=None):
    """segmentation.png: one column per scene, rows input / true mask / predicted mask (with the scene's pixel
    accuracy), and a legend of the class colours. images (N, 3, H, W) in [0, 1]; masks, predictions (N, H, W)."""
    plt = plots._pyplot()
    from matplotlib.patches import Patch

    count = len(images)
    figure, axes = plt.subplots(3, count, figsize=(1.35 * count, 4.6), squeeze=False)
    rows = (np.clip(np.asarray(images).transpose(0, 2, 3, 1), 0, 1), colour_masks(masks), colour_masks(predictions))
    for r, (tiles, label) in enumerate(zip(rows, ("input", "true", "predicted"))):
        for k in range(count):
            axis = axes[r, k]
            axis.imshow(tiles[k], interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if k == 0:
                axis.set_ylabel(label)
            if r == 2:
                axis.set_title(f"{np.mean(predictions[k] == masks[k]):.1%} right", fontsize=8)
    handles = [Patch(color=CLASS_COLOURS[c], label=name) for c, name in enumerate(CLASS_NAMES)]
    figure.legend(handles=handles, loc="lower center", ncol=len(CLASS_NAMES), fontsize=8, frameon=False)
    if title:
        figure.suptitle(title)
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)


def run(config: RunConfig):
    """Generate train/val/test scenes from config.seed, train the U-Net (Adam with a one-cycle lr schedule stepped
    per batch; the weights of the epoch with the best val_miou are kept), write the run directory (metrics.json,
    history.csv, curves.png, model.safetensors, segmentation.png) and return the metrics. There is no --data file:
    the scenes are generated."""
    if config.data is not None:
        raise ValueError(f"{NAME}: generates its own scenes and takes no --data file (got {config.data!r})")
    out = prepare_output(config.out)
    manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)  # one stream: train, val and test scenes never repeat each other
    x_fit, y_fit = make_scenes(TRAIN_SCENES, IMAGE_SIZE, rng, rotate=ROTATE)
    x_val, y_val = make_scenes(VAL_SCENES, IMAGE_SIZE, rng, rotate=ROTATE)
    x_test, y_test = make_scenes(TEST_SCENES, IMAGE_SIZE, rng, rotate=ROTATE)
    model = build_model()
    loss = nn.CrossEntropyLoss()  # per pixel: (N, C, H, W) logits against (N, H, W) class indices
    epochs = config.epochs or DEFAULT_EPOCHS
    optimizer = optim.Adam(model.parameters(), lr=MAX_LR)
    steps_per_epoch = -(-TRAIN_SCENES // BATCH_SIZE)
    scheduler = OneCycleLR(optimizer, max_lr=MAX_LR, epochs=epochs, steps_per_epoch=steps_per_epoch, pct_start=0.2)
    started = time.perf_counter()
    history = fit(model, (x_fit, y_fit), val=(x_val, y_val), epochs=epochs, batch_size=BATCH_SIZE, loss=loss,
                  optimizer=optimizer, scheduler=scheduler, scheduler_interval="step",
                  metrics=["accuracy", MeanIoU(NUM_CLASSES)], verbose=config.verbose,
                  callbacks=[EarlyStopping("val_miou", mode="max", patience=epochs, restore_best_weights=True)])
    seconds = time.perf_counter() - started
    test = evaluate(model, (x_test, y_test), loss=loss, metrics=["accuracy"])
    predictions = predict(model, Tensor._make(x_test)).data.argmax(axis=1)
    ious = iou_per_class(predictions, y_test, NUM_CLASSES)
    metrics = {"test_miou": mean_iou(predictions, y_test, NUM_CLASSES), "test_pixel_accuracy": test["accuracy"],
               "test_loss": test["loss"], "epochs": len(history.epoch), "seconds": round(seconds, 3),
               "parameters": model.num_parameters(), "train_examples": len(x_fit), "val_examples": len(x_val),
               "test_examples": len(x_test), "best_val_miou": max(history.history["val_miou"])}
    metrics.update({f"test_iou_{name}": float(iou) for name, iou in zip(CLASS_NAMES, ious)})
    write_run(out, model, history, metrics, title=f"{NAME}: test mIoU {metrics['test_miou']:.3f}")
    shown = min(SHOWN, len(x_test))
    plot_segmentation(x_test[:shown], y_test[:shown], predictions[:shown], os.path.join(out, "segmentation.png"),
                      title=f"Test scenes: mIoU {metrics['test_miou']:.3f}, pixel accuracy "
                            f"{metrics['test_pixel_accuracy']:.3f}")
    return metrics
