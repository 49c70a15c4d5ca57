"""Tests of Dataset, TensorDataset, Subset, ConcatDataset and random_split."""

import numpy as np
import pytest

import glassbox as gb
from glassbox.data import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from glassbox.data.dataset import fetch_batch


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return i * i

    def __len__(self):
        return self.n


def test_dataset_base_names_what_is_missing():
    class Empty(Dataset):
        pass

    with pytest.raises(NotImplementedError, match=r"Empty must implement __getitem__"):
        Empty()[0]
    with pytest.raises(NotImplementedError, match=r"Empty must implement __len__"):
        len(Empty())


def test_tensor_dataset_rows_and_length():
    x = gb.arange(12, dtype=gb.float32).reshape(6, 2)
    y = gb.arange(6)
    ds = TensorDataset(x, y)
    assert len(ds) == 6
    xi, yi = ds[4]
    assert xi.tolist() == [8.0, 9.0] and yi.item() == 4
    assert isinstance(xi, gb.Tensor) and yi.dtype == np.int64


def test_tensor_dataset_accepts_arrays_without_copying():
    x = np.zeros((3, 2), dtype=np.float32)
    ds = TensorDataset(x)
    x[1] = 7
    assert ds[1][0].tolist() == [7.0, 7.0]


def test_tensor_dataset_size_mismatch_names_the_sizes():
    with pytest.raises(ValueError, match=r"size mismatch.*\[5, 4\]"):
        TensorDataset(gb.zeros(5, 3), gb.zeros(4))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()
    with pytest.raises(ValueError, match="first"):
        TensorDataset(gb.tensor(3.0))


def test_tensor_dataset_get_batch_equals_rows():
    x = gb.randn(10, 3)
    y = gb.arange(10)
    ds = TensorDataset(x, y)
    idx = np.array([7, 2, 2, 9])
    xb, yb = fetch_batch(ds, idx)
    assert np.array_equal(xb.data, x.data[idx]) and yb.tolist() == [7, 2, 2, 9]
    xb.data[:] = 0  # a batch is a copy: changing it leaves the data set alone
    assert not np.all(x.data[idx] == 0)


def test_fast_path_is_skipped_when_a_subclass_overrides_getitem():
    class Doubled(TensorDataset):
        def __getitem__(self, i):
            return tuple(t[i] * 2 for t in self.tensors)

    ds = Doubled(gb.arange(5))
    assert fetch_batch(ds, np.array([1, 2])) is None
    assert fetch_batch(TensorDataset(gb.arange(5)), np.array([1, 2]))[0].tolist() == [1, 2]


def test_subset_maps_indices_and_keeps_the_fast_path():
    base = TensorDataset(gb.arange(10) * 10)
    sub = Subset(base, [3, 1, 4])
    assert len(sub) == 3 and sub[0][0].item() == 30 and sub[2][0].item() == 40
    assert fetch_batch(sub, np.array([2, 0]))[0].tolist() == [40, 30]
    assert Subset(Squares(5), [4, 2])[0] == 16
    assert fetch_batch(Subset(Squares(5), [4, 2]), np.array([0])) is None  # no fast path underneath
    with pytest.raises(TypeError, match="indices"):
        Subset(base, [[1, 2]])


def test_concat_dataset_indexing_like_torch(torch):
    a, b = Squares(3), Squares(4)
    ours = ConcatDataset([a, b])
    theirs = torch.utils.data.ConcatDataset([a, b])
    assert len(ours) == len(theirs) == 7
    assert [ours[i] for i in range(-7, 7)] == [theirs[i] for i in range(-7, 7)]
    assert ours.cumulative_sizes == theirs.cumulative_sizes
    assert len(a + b) == 7
    with pytest.raises(IndexError):
        ours[7]
    with pytest.raises(ValueError, match="empty"):
        ConcatDataset([])


def test_random_split_is_a_deterministic_partition():
    ds = Squares(50)
    parts = random_split(ds, [30, 15, 5], generator=gb.Generator(0))
    assert [len(p) for p in parts] == [30, 15, 5]
    indices = [i for p in parts for i in p.indices]
    assert sorted(indices) == list(range(50))  # disjoint and complete
    again = random_split(ds, [30, 15, 5], generator=gb.Generator(0))
    assert [p.indices for p in again] == [p.indices for p in parts]
    other = random_split(ds, [30, 15, 5], generator=gb.Generator(1))
    assert other[0].indices != parts[0].indices
    assert parts[1][0] == parts[1].indices[0] ** 2


def test_random_split_default_generator_follows_manual_seed():
    gb.manual_seed(5)
    first = [p.indices for p in random_split(Squares(20), [10, 10])]
    gb.manual_seed(5)
    assert [p.indices for p in random_split(Squares(20), [10, 10])] == first


@pytest.mark.filterwarnings("ignore:.*is 0")
@pytest.mark.parametrize("n, fractions", [(10, [0.5, 0.5]), (11, [0.7, 0.2, 0.1]), (7, [1 / 3] * 3), (3, [0.8, 0.2])])
def test_random_split_fraction_lengths_match_torch(torch, n, fractions):
    ours = random_split(Squares(n), fractions, generator=gb.Generator(0))
    theirs = torch.utils.data.random_split(Squares(n), fractions, generator=torch.Generator().manual_seed(0))
    assert [len(p) for p in ours] == [len(p) for p in theirs]


def test_random_split_warns_about_an_empty_split():
    with pytest.warns(UserWarning, match="index 1 is 0"):
        parts = random_split(Squares(3), [0.8, 0.2], generator=gb.Generator(0))
    assert [len(p) for p in parts] == [3, 0]


def test_random_split_errors():
    with pytest.raises(ValueError, match=r"does not equal the length of the input dataset \(10\)"):
        random_split(Squares(10), [3, 3])
    with pytest.raises(ValueError, match="non-negative ints"):
        random_split(Squares(10), [5.5, 4.5])
    with pytest.raises(ValueError, match="between 0 and 1"):
        random_split(Squares(10), [1.5, -0.5])
