"""A seeded train/test split of NumPy arrays, optionally stratified by class."""

import numpy as np


def _stratified_order(labels, n_test, rng):
    """Test and train row indices with each class's share of the test part as close to n_test * its frequency as
    whole rows allow (largest remainders get the leftover rows), each part in random order."""
    classes, class_of_row, counts = np.unique(labels, return_inverse=True, return_counts=True)
    exact = counts * (n_test / len(labels))
    take = np.floor(exact).astype(np.int64)
    leftover = n_test - int(take.sum())
    # Ties between equal remainders go to the earlier class (stable sort), so the split is deterministic.
    take[np.argsort(-(exact - take), kind="stable")[:leftover]] += 1
    test, train = [], []
    for c in range(len(classes)):
        rows = rng.permutation(np.flatnonzero(class_of_row == c))
        test.append(rows[:take[c]])
        train.append(rows[take[c]:])
    return rng.permutation(np.concatenate(test)), rng.permutation(np.concatenate(train))


def train_test_split(*arrays, test_fraction=0.2, seed=0, stratify=None):
    """Shuffle the rows of equally long arrays with a fixed seed and split each into (train, test);
    returns train_0, test_0, train_1, test_1, ... like scikit-learn's train_test_split.

    The test part has max(1, round(n * test_fraction)) rows. With `stratify` (labels, shape (n,)) every class gets
    the same share of the test part as of the whole, up to rounding."""
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(f"train_test_split: arrays have different lengths {[len(a) for a in arrays]}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"train_test_split: test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    n_test = max(1, round(n * test_fraction))
    if stratify is None:
        order = rng.permutation(n)
        test, train = order[:n_test], order[n_test:]
    else:
        stratify = np.asarray(stratify)
        if stratify.shape != (n,):
            raise ValueError(f"train_test_split: stratify must be labels of shape ({n},), got {stratify.shape}")
        test, train = _stratified_order(stratify, n_test, rng)
    return [part for a in arrays for part in (a[train], a[test])]
