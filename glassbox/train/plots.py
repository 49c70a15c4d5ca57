"""Pictures of a run: learning curves, a confusion matrix, a grid of examples with predictions (matplotlib,
an optional extra: pip install glassbox[viz])."""

import numpy as np


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plots need matplotlib, an optional extra: pip install 'glassbox[viz]' "
                          "(or pip install matplotlib)") from None
    matplotlib.use("Agg")  # files only: no window, works on machines without a display
    import matplotlib.pyplot as plt

    return plt


def plot_curves(history, path, title=None):
    """Loss and each metric per epoch, training against validation: one panel per quantity."""
    plt = _pyplot()
    logs = history.history if hasattr(history, "history") else history
    quantities = [k for k in logs if not k.startswith("val_") and k not in ("lr", "seconds")]
    figure, axes = plt.subplots(1, len(quantities), figsize=(4.5 * len(quantities), 3.4), squeeze=False)
    for axis, key in zip(axes[0], quantities):
        epochs = np.arange(1, len(logs[key]) + 1)
        axis.plot(epochs, logs[key], marker="o", markersize=3, label="train")
        if "val_" + key in logs:
            axis.plot(epochs, logs["val_" + key], marker="o", markersize=3, label="validation")
        axis.set_xlabel("epoch")
        axis.set_ylabel(key)
        axis.set_title(key)
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_confusion_matrix(matrix, path, class_names=None, title="Confusion matrix (test)"):
    """counts[i, j] as an image: true class down, predicted class across, each cell annotated."""
    plt = _pyplot()
    matrix = np.asarray(matrix)
    n = matrix.shape[0]
    names = class_names or [str(i) for i in range(n)]
    figure, axis = plt.subplots(figsize=(1.0 + 0.55 * n, 0.8 + 0.5 * n))
    image = axis.imshow(matrix, cmap="Blues")
    axis.set_xticks(range(n), names, rotation=45 if max(len(s) for s in names) > 2 else 0)
    axis.set_yticks(range(n), names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(title)
    threshold = matrix.max() / 2 if matrix.size else 0
    for i in range(n):
        for j in range(n):
            axis.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8,
                      color="white" if matrix[i, j] > threshold else "black")
    figure.colorbar(image, ax=axis, fraction=0.046)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_examples(images, labels, predictions, path, class_names=None, columns=8, title="Test examples"):
    """A grid of images (N, H, W) titled 'predicted (true)'; wrong predictions in red."""
    plt = _pyplot()
    images = np.asarray(images)
    count = len(images)
    rows = int(np.ceil(count / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(1.3 * columns, 1.45 * rows), squeeze=False)
    names = class_names or None
    for k, axis in enumerate(axes.flat):
        axis.axis("off")
        if k >= count:
            continue
        axis.imshow(images[k], cmap="gray_r")
        predicted, true = int(predictions[k]), int(labels[k])
        text = f"{names[predicted] if names else predicted} ({names[true] if names else true})"
        axis.set_title(text, fontsize=8, color="black" if predicted == true else "red")
    figure.suptitle(title + ": predicted (true)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_regression(predicted, target, path, title="Test set: predicted against true"):
    """Scatter of predictions against targets with the identity line."""
    plt = _pyplot()
    predicted, target = np.asarray(predicted).reshape(-1), np.asarray(target).reshape(-1)
    figure, axis = plt.subplots(figsize=(4.2, 4.0))
    axis.scatter(target, predicted, s=10, alpha=0.7)
    low, high = min(target.min(), predicted.min()), max(target.max(), predicted.max())
    axis.plot([low, high], [low, high], color="gray", linestyle="--", linewidth=1)
    axis.set_xlabel("true")
    axis.set_ylabel("predicted")
    axis.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
