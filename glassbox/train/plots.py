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
    _grid_margins(figure, rows, title)
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


def _grid(tiles, path, titles=None, columns=8, title=None, cmap="gray"):
    """Draw equally sized 2-D tiles (or (H, W, 3) colour tiles) in a grid and save it."""
    plt = _pyplot()
    count = len(tiles)
    if count == 0:
        raise ValueError("image grid: nothing to draw (0 images)")
    columns = min(columns, count)
    rows = int(np.ceil(count / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(1.3 * columns, 1.4 * rows + (0.4 if title else 0)),
                                squeeze=False)
    for k, axis in enumerate(axes.flat):
        axis.axis("off")
        if k < count:
            axis.imshow(tiles[k], cmap=None if np.ndim(tiles[k]) == 3 else cmap)
            if titles is not None:
                axis.set_title(str(titles[k]), fontsize=8)
    if title:
        figure.suptitle(title)
    _grid_margins(figure, rows, title)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _grid_margins(figure, rows, title):
    """Fixed margins for a grid of image panels: tight_layout measures every panel's text, which takes seconds for
    a 64-panel grid, and equal tiles need no measuring."""
    height = figure.get_figheight()
    top = 1 - (0.7 if title else 0.25) / height
    figure.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=top, wspace=0.08, hspace=0.35 if rows > 1 else 0)


def plot_image_grid(images, path, titles=None, columns=8, title=None):
    """Images (N, H, W), (N, 1, H, W) or (N, 3, H, W) in a grid (colour images are scaled to [0, 1] together)."""
    images = np.asarray(images.data if hasattr(images, "data") and not isinstance(images, np.ndarray) else images)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    elif images.ndim == 4 and images.shape[1] == 3:
        low, high = images.min(), images.max()
        images = ((images - low) / (high - low if high > low else 1)).transpose(0, 2, 3, 1)
    elif images.ndim != 3:
        raise ValueError(f"plot_image_grid: expected images of shape (N, H, W), (N, 1, H, W) or (N, 3, H, W), "
                         f"got {images.shape}")
    _grid(list(images), path, titles, columns, title)


def plot_filters(weight, path, columns=8, title="First-layer filters"):
    """Convolution filters (C_out, C_in, kH, kW): one tile per output channel (RGB when C_in is 3, else the mean
    over input channels), each scaled to its own range so that the pattern shows."""
    weight = np.asarray(weight.data if hasattr(weight, "data") and not isinstance(weight, np.ndarray) else weight)
    if weight.ndim != 4:
        raise ValueError(f"plot_filters: expected a conv weight of shape (C_out, C_in, kH, kW), got {weight.shape}")
    tiles = weight.transpose(0, 2, 3, 1) if weight.shape[1] == 3 else weight.mean(axis=1)
    low = tiles.min(axis=tuple(range(1, tiles.ndim)), keepdims=True)
    high = tiles.max(axis=tuple(range(1, tiles.ndim)), keepdims=True)
    tiles = (tiles - low) / np.where(high > low, high - low, 1)
    _grid(list(tiles), path, [str(i) for i in range(len(tiles))], columns, title)


def plot_feature_maps(activations, path, columns=8, title="Feature maps"):
    """One example's activations (C, H, W) — or the first example of (N, C, H, W) — one tile per channel."""
    activations = np.asarray(activations.data if hasattr(activations, "data")
                             and not isinstance(activations, np.ndarray) else activations)
    if activations.ndim == 4:
        activations = activations[0]
    if activations.ndim != 3:
        raise ValueError(f"plot_feature_maps: expected activations of shape (C, H, W) or (N, C, H, W), got "
                         f"{activations.shape}")
    _grid(list(activations), path, [str(i) for i in range(len(activations))], columns, title, cmap="viridis")
