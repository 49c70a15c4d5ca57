"""Tests of the embedded data sets (digits, iris, diabetes), their checksum guard, and the train/test split."""

import gzip

import numpy as np
import pytest

from glassbox.data import datasets
from glassbox.data.datasets import embedded


def test_load_digits_shapes_dtypes_and_ranges():
    images, labels = datasets.load_digits()
    assert images.shape == (1797, 64) and images.dtype == np.float32
    assert labels.shape == (1797,) and labels.dtype == np.int64
    assert images.min() == 0 and images.max() == 16
    assert np.array_equal(images, np.round(images))  # raw counts, not yet scaled
    assert set(np.unique(labels).tolist()) == set(range(10))
    assert np.bincount(labels).min() >= 150  # every class well represented (about 180 each)


def test_load_digits_returns_fresh_arrays():
    images, labels = datasets.load_digits()
    images[:] = -1
    labels[:] = -1
    images2, labels2 = datasets.load_digits()
    assert images2.min() == 0 and labels2.min() == 0


def _copy_with(tmp_path, payload):
    (tmp_path / "digits.csv.gz").write_bytes(payload)
    return tmp_path


def test_corrupted_file_raises_naming_the_file(tmp_path, monkeypatch):
    raw = (embedded._DATA_DIR / "digits.csv.gz").read_bytes()
    # Change one label in the data: still a valid gzip CSV, so only the checksum can catch it.
    text = gzip.decompress(raw).decode("ascii").replace(",0\n", ",1\n", 1).encode("ascii")
    monkeypatch.setattr(embedded, "_DATA_DIR", _copy_with(tmp_path, gzip.compress(text)))
    with pytest.raises(ValueError, match=r"digits\.csv\.gz.*corrupted"):
        datasets.load_digits()


def test_truncated_file_raises(tmp_path, monkeypatch):
    raw = (embedded._DATA_DIR / "digits.csv.gz").read_bytes()
    monkeypatch.setattr(embedded, "_DATA_DIR", _copy_with(tmp_path, raw[: len(raw) // 2]))
    with pytest.raises(ValueError, match=r"digits\.csv\.gz.*sha256"):
        datasets.load_digits()


def test_missing_file_raises(tmp_path, monkeypatch):
    monkeypatch.setattr(embedded, "_DATA_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"digits\.csv\.gz"):
        datasets.load_digits()


def test_train_test_split_is_deterministic_and_partitions():
    images, labels = datasets.load_digits()
    index = np.arange(len(labels))
    x_tr, x_te, y_tr, y_te, i_tr, i_te = datasets.train_test_split(images, labels, index, test_fraction=0.2, seed=0)
    assert len(i_te) == round(0.2 * 1797) and len(i_tr) + len(i_te) == 1797
    assert np.array_equal(np.sort(np.concatenate([i_tr, i_te])), index)  # a partition: no row lost or repeated
    assert np.array_equal(x_tr, images[i_tr]) and np.array_equal(y_te, labels[i_te])  # rows stay aligned
    again = datasets.train_test_split(images, labels, index, test_fraction=0.2, seed=0)
    assert np.array_equal(again[5], i_te)
    other = datasets.train_test_split(images, labels, index, test_fraction=0.2, seed=1)
    assert not np.array_equal(other[5], i_te)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1])
def test_train_test_split_rejects_bad_fraction(fraction):
    with pytest.raises(ValueError, match="test_fraction"):
        datasets.train_test_split(np.zeros(10), test_fraction=fraction)


def test_train_test_split_rejects_unequal_lengths():
    with pytest.raises(ValueError, match="different lengths"):
        datasets.train_test_split(np.zeros(10), np.zeros(9))


def test_load_iris_shapes_dtypes_and_classes():
    features, labels = datasets.load_iris()
    assert features.shape == (150, 4) and features.dtype == np.float32
    assert labels.shape == (150,) and labels.dtype == np.int64
    assert np.bincount(labels).tolist() == [50, 50, 50]
    assert datasets.IRIS_CLASSES == ("setosa", "versicolor", "virginica")
    assert 0 < features.min() and features.max() < 8  # centimetres
    # Setosa's petals are famously short: every setosa petal length is below every other flower's.
    assert features[labels == 0, 2].max() < features[labels != 0, 2].min()


def test_load_diabetes_shapes_dtypes_and_ranges():
    features, target = datasets.load_diabetes()
    assert features.shape == (442, 10) and features.dtype == np.float32
    assert target.shape == (442,) and target.dtype == np.float32
    assert set(np.unique(features[:, 1]).tolist()) == {1.0, 2.0}  # sex coded 1/2: the raw, unscaled copy
    assert 19 <= features[:, 0].min() and features[:, 0].max() <= 79  # age in years
    assert target.min() == 25 and target.max() == 346


@pytest.mark.parametrize("name, loader", [("iris.csv", datasets.load_iris),
                                          ("diabetes_data_raw.csv.gz", datasets.load_diabetes),
                                          ("diabetes_target.csv.gz", datasets.load_diabetes)])
def test_iris_and_diabetes_checksums_are_verified(tmp_path, monkeypatch, name, loader):
    for f in ("iris.csv", "diabetes_data_raw.csv.gz", "diabetes_target.csv.gz"):
        (tmp_path / f).write_bytes((embedded._DATA_DIR / f).read_bytes())
    raw = (tmp_path / name).read_bytes()
    (tmp_path / name).write_bytes(raw[:-1] + bytes([raw[-1] ^ 1]))  # flip one bit
    monkeypatch.setattr(embedded, "_DATA_DIR", tmp_path)
    with pytest.raises(ValueError, match=rf"{name}.*corrupted"):
        loader()


def test_stratified_split_keeps_class_shares():
    features, labels = datasets.load_iris()
    x_tr, x_te, y_tr, y_te = datasets.train_test_split(features, labels, test_fraction=0.2, seed=3, stratify=labels)
    assert np.bincount(y_te).tolist() == [10, 10, 10] and np.bincount(y_tr).tolist() == [40, 40, 40]
    again = datasets.train_test_split(features, labels, test_fraction=0.2, seed=3, stratify=labels)
    assert np.array_equal(again[1], x_te) and np.array_equal(again[0], x_tr)
    # Rows stay whole: every test row is a row of the original table with its own label.
    rows = {tuple(r): l for r, l in zip(features.tolist(), labels.tolist())}
    assert all(rows[tuple(r)] == l for r, l in zip(x_te.tolist(), y_te.tolist()))
    assert not np.array_equal(y_te, np.sort(y_te))  # shuffled, not grouped by class


def test_stratified_split_uneven_classes_rounds_to_the_requested_size():
    labels = np.array([0] * 7 + [1] * 5 + [2] * 3)
    index = np.arange(15)
    i_tr, i_te = datasets.train_test_split(index, test_fraction=0.4, seed=0, stratify=labels)
    assert len(i_te) == 6 and len(i_tr) == 9  # round(15 * 0.4), as without stratify
    assert np.array_equal(np.sort(np.concatenate([i_tr, i_te])), index)
    counts = np.bincount(labels[i_te], minlength=3)
    assert np.all(np.abs(counts - np.array([7, 5, 3]) * 0.4) < 1)  # each class within one row of its share


def test_stratify_must_match_the_arrays():
    with pytest.raises(ValueError, match="stratify"):
        datasets.train_test_split(np.zeros(10), stratify=np.zeros(9))
