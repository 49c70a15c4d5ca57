"""Tests of the embedded data sets: the digits loader, its checksum guard, and the train/test split."""

import gzip

import numpy as np
import pytest

from glassbox.data import datasets


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
    raw = (datasets._DATA_DIR / "digits.csv.gz").read_bytes()
    # Change one label in the data: still a valid gzip CSV, so only the checksum can catch it.
    text = gzip.decompress(raw).decode("ascii").replace(",0\n", ",1\n", 1).encode("ascii")
    monkeypatch.setattr(datasets, "_DATA_DIR", _copy_with(tmp_path, gzip.compress(text)))
    with pytest.raises(ValueError, match=r"digits\.csv\.gz.*corrupted"):
        datasets.load_digits()


def test_truncated_file_raises(tmp_path, monkeypatch):
    raw = (datasets._DATA_DIR / "digits.csv.gz").read_bytes()
    monkeypatch.setattr(datasets, "_DATA_DIR", _copy_with(tmp_path, raw[: len(raw) // 2]))
    with pytest.raises(ValueError, match=r"digits\.csv\.gz.*sha256"):
        datasets.load_digits()


def test_missing_file_raises(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "_DATA_DIR", tmp_path)
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
