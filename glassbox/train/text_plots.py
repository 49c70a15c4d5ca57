"""Pictures of word vectors: a labelled 2-D PCA projection (matplotlib, an optional extra)."""

import numpy as np

from .plots import _pyplot


def pca_2d(vectors):
    """(N, D) -> (N, 2): the projection on the two principal axes (centred, by SVD; signs fixed so that the
    largest coordinate of each axis is positive, which makes the picture the same on every run)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.ndim != 2 or vectors.shape[0] < 2:
        raise ValueError(f"pca_2d: expected vectors of shape (N >= 2, D), got {vectors.shape}")
    centred = vectors - vectors.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    axes = axes[:2]
    if axes.shape[0] < 2:  # D == 1: a flat second axis
        axes = np.vstack([axes, np.zeros_like(axes)])
    signs = np.sign(axes[np.arange(2), np.abs(axes).argmax(axis=1)])
    return centred @ (axes * np.where(signs == 0, 1, signs)[:, None]).T


def plot_embeddings(vectors, labels, path, title=None):
    """A scatter of vectors (N, D) projected by PCA to 2-D, each point labelled with its word, saved to path."""
    if len(labels) != len(vectors):
        raise ValueError(f"plot_embeddings: {len(vectors)} vectors but {len(labels)} labels")
    plt = _pyplot()
    points = pca_2d(vectors)
    figure, axis = plt.subplots(figsize=(11, 9))
    axis.scatter(points[:, 0], points[:, 1], s=8, color="tab:blue", alpha=0.6)
    for (x, y), label in zip(points, labels):
        axis.annotate(label, (x, y), fontsize=7, xytext=(2, 2), textcoords="offset points")
    axis.set_xlabel("principal axis 1")
    axis.set_ylabel("principal axis 2")
    axis.grid(alpha=0.3)
    if title:
        axis.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
