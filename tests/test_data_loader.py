"""Tests of DataLoader, the samplers and default_collate: coverage, reproducibility, resuming, the fast path."""

import collections
import itertools
import json

import numpy as np
import pytest

import glassbox as gb
from glassbox.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    default_collate,
    default_convert,
)


class Rows(Dataset):
    """Sample i is (features row i, label i): like TensorDataset but with no fast path."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])

    def __len__(self):
        return len(self.y)


def _tensor_dataset(n=23):
    x = gb.arange(n * 3, dtype=gb.float32).reshape(n, 3)
    return TensorDataset(x, gb.arange(n))


def _labels(loader):
    """The label batches of one epoch, as lists."""
    return [batch[1].tolist() for batch in loader]


@pytest.mark.parametrize("shuffle", [False, True])
def test_each_epoch_covers_the_data_exactly_once(shuffle):
    loader = DataLoader(_tensor_dataset(23), batch_size=5, shuffle=shuffle)
    for _ in range(3):
        batches = list(loader)
        assert [len(b[1]) for b in batches] == [5, 5, 5, 5, 3]
        seen = [i for b in batches for i in b[1].tolist()]
        assert sorted(seen) == list(range(23))
        for x, y in batches:  # rows stay aligned with their labels
            assert np.array_equal(x.data[:, 0], 3.0 * y.data)
    assert (seen == sorted(seen)) != shuffle


def test_shuffle_is_reproducible_from_manual_seed_and_differs_per_epoch():
    def run():
        gb.manual_seed(123)
        loader = DataLoader(_tensor_dataset(), batch_size=4, shuffle=True)
        return [_labels(loader) for _ in range(3)]

    first = run()
    assert run() == first
    assert first[0] != first[1] != first[2]
    gb.manual_seed(124)
    assert _labels(DataLoader(_tensor_dataset(), batch_size=4, shuffle=True)) != first[0]


def test_shuffle_order_comes_from_the_given_generator():
    orders = [_labels(DataLoader(_tensor_dataset(), batch_size=4, shuffle=True, generator=gb.Generator(7)))
              for _ in range(2)]
    assert orders[0] == orders[1]
    gb.manual_seed(0)
    draws_before = gb.randn(3).tolist()
    gb.manual_seed(0)
    list(DataLoader(_tensor_dataset(), batch_size=4, shuffle=True, generator=gb.Generator(7)))
    assert gb.randn(3).tolist() == draws_before  # an explicit generator leaves the default stream alone


def test_loader_order_does_not_depend_on_other_random_draws_between_epochs():
    gb.manual_seed(3)
    loader = DataLoader(_tensor_dataset(), batch_size=4, shuffle=True)
    quiet = [_labels(loader) for _ in range(2)]
    gb.manual_seed(3)
    loader = DataLoader(_tensor_dataset(), batch_size=4, shuffle=True)
    busy = [_labels(loader), (gb.randn(100), _labels(loader))[1]]  # e.g. dropout drawing between epochs
    assert busy == quiet


@pytest.mark.parametrize("n, batch_size", [(10, 3), (9, 3), (1, 4), (0, 2), (100, 7)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_len_and_batch_sizes_match_torch(torch, n, batch_size, drop_last):
    data = np.arange(n)
    ours = DataLoader(TensorDataset(data), batch_size=batch_size, drop_last=drop_last)
    theirs = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(data)),
                                         batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs)
    assert [b[0].tolist() for b in ours] == [b[0].tolist() for b in theirs]


def test_drop_last_drops_only_the_short_batch():
    loader = DataLoader(_tensor_dataset(23), batch_size=5, shuffle=True, drop_last=True)
    batches = _labels(loader)
    assert len(batches) == len(loader) == 4 and all(len(b) == 5 for b in batches)
    assert len(set(i for b in batches for i in b)) == 20


def test_fast_path_gives_the_same_batches_as_the_generic_path():
    ds = _tensor_dataset(50)
    fast = DataLoader(ds, batch_size=8, shuffle=True, generator=gb.Generator(1))
    slow = DataLoader(ds, batch_size=8, shuffle=True, generator=gb.Generator(1),
                      collate_fn=lambda b: default_collate(b))  # not default_collate itself: no fast path
    rows = DataLoader(Rows(ds.tensors[0].data, ds.tensors[1].data), batch_size=8, shuffle=True,
                      generator=gb.Generator(1))
    for _ in range(2):
        for (xf, yf), (xs, ys), (xr, yr) in zip(fast, slow, rows, strict=True):
            for a, b in ((xf, xs), (yf, ys), (xf, xr), (yf, yr)):
                assert a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a.data, b.data)


def test_fast_path_through_subsets_of_random_split():
    ds = _tensor_dataset(40)
    train, _ = gb.data.random_split(ds, [0.75, 0.25], generator=gb.Generator(0))
    batches = list(DataLoader(train, batch_size=7))
    labels = [i for b in batches for i in b[1].tolist()]
    assert labels == list(train.indices)
    assert np.array_equal(batches[0][0].data, ds.tensors[0].data[train.indices[:7]])


def test_custom_collate_fn_gets_the_list_of_samples():
    calls = []

    def collate(samples):
        calls.append(samples)
        return sum(label for _, label in samples)

    ds = Rows(np.zeros((7, 2)), np.arange(7))
    assert list(DataLoader(ds, batch_size=3, collate_fn=collate)) == [0 + 1 + 2, 3 + 4 + 5, 6]
    assert [len(c) for c in calls] == [3, 3, 1] and calls[0][1][1] == 1


def test_custom_collate_fn_also_replaces_the_fast_path():
    ds = _tensor_dataset(6)
    sizes = list(DataLoader(ds, batch_size=4, collate_fn=len))
    assert sizes == [4, 2]


def test_sampler_and_batch_sampler():
    ds = _tensor_dataset(20)
    picked = [3, 5, 7, 11, 13]
    loader = DataLoader(ds, batch_size=2, sampler=SubsetRandomSampler(picked, generator=gb.Generator(0)))
    assert len(loader) == 3
    seen = [i for b in _labels(loader) for i in b]
    assert sorted(seen) == picked
    by_batches = DataLoader(ds, batch_sampler=[[0, 1], [5], [19, 2, 4]])
    assert _labels(by_batches) == [[0, 1], [5], [19, 2, 4]]
    assert len(by_batches) == 3


def test_batch_size_none_yields_single_converted_samples():
    ds = Rows(np.arange(6, dtype=np.float32).reshape(3, 2), np.arange(3))
    samples = list(DataLoader(ds, batch_size=None))
    assert len(samples) == 3
    x, y = samples[1]
    assert isinstance(x, gb.Tensor) and x.tolist() == [2.0, 3.0] and y == 1


@pytest.mark.parametrize("kwargs, match", [
    ({"batch_size": 0}, "batch_size should be a positive integer"),
    ({"batch_size": -3}, "batch_size should be a positive integer"),
    ({"batch_size": 2.5}, "batch_size should be a positive integer"),
    ({"shuffle": True, "sampler": [0, 1]}, "sampler option is mutually exclusive with shuffle"),
    ({"batch_sampler": [[0]], "batch_size": 4}, "batch_sampler option is mutually exclusive"),
    ({"batch_sampler": [[0]], "drop_last": True}, "batch_sampler option is mutually exclusive"),
    ({"batch_size": None, "drop_last": True}, "mutually exclusive with drop_last"),
    ({"num_workers": -1}, "num_workers"),
])
def test_bad_arguments_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DataLoader(_tensor_dataset(), **kwargs)


def test_generator_must_be_a_glassbox_generator():
    with pytest.raises(TypeError, match="glassbox.Generator"):
        DataLoader(_tensor_dataset(), shuffle=True, generator=np.random.default_rng(0))


# ----- resuming -----------------------------------------------------------------------------------------------------

def _resumed_run(make_loader, epochs, stop_epoch, stop_batch):
    """Label batches of `epochs` epochs when the run is interrupted after `stop_batch` batches of epoch
    `stop_epoch`, its loader state saved as JSON, and a new loader (built after other random draws) restored."""
    loader = make_loader()
    out = [b for _ in range(stop_epoch) for b in _labels(loader)]
    out += [batch[1].tolist() for batch in itertools.islice(iter(loader), stop_batch)]
    saved = json.dumps(loader.state_dict())
    gb.randn(10)  # the interrupted process is gone: the default stream is elsewhere now
    loader = make_loader()
    loader.load_state_dict(json.loads(saved))
    while len(out) < epochs * len(loader):
        out += _labels(loader)
    return out


@pytest.mark.parametrize("stop_epoch, stop_batch", [(1, 0), (2, 0), (1, 3), (0, 5)])
def test_state_dict_resume_gives_the_uninterrupted_order(stop_epoch, stop_batch):
    def make_loader():
        return DataLoader(_tensor_dataset(23), batch_size=4, shuffle=True)

    gb.manual_seed(11)
    loader = make_loader()
    uninterrupted = [b for _ in range(4) for b in _labels(loader)]
    gb.manual_seed(11)
    assert _resumed_run(make_loader, 4, stop_epoch, stop_batch) == uninterrupted


def test_state_dict_is_plain_json_data_with_the_epoch_counter():
    loader = DataLoader(_tensor_dataset(10), batch_size=4, shuffle=True, generator=gb.Generator(0))
    assert loader.state_dict()["epoch"] == 0
    list(loader)
    list(loader)
    state = loader.state_dict()
    assert state["epoch"] == 2 and state["batches_done"] == 0
    assert json.loads(json.dumps(state)) == state
    iterator = iter(loader)
    next(iterator)
    assert loader.state_dict()["epoch"] == 2 and loader.state_dict()["batches_done"] == 1


def test_resume_without_shuffle_skips_the_batches_taken():
    loader = DataLoader(_tensor_dataset(10), batch_size=3)
    iterator = iter(loader)
    next(iterator)
    state = loader.state_dict()
    assert state["generator"] is None and state["batches_done"] == 1
    fresh = DataLoader(_tensor_dataset(10), batch_size=3)
    fresh.load_state_dict(state)
    assert _labels(fresh) == [[3, 4, 5], [6, 7, 8], [9]]
    assert _labels(fresh)[0] == [0, 1, 2]  # the epoch after starts at the beginning


def test_load_state_dict_rejects_a_state_from_a_different_loader():
    shuffled = DataLoader(_tensor_dataset(), batch_size=4, shuffle=True)
    plain = DataLoader(_tensor_dataset(), batch_size=4)
    with pytest.raises(ValueError, match="same shuffle"):
        plain.load_state_dict(shuffled.state_dict())
    with pytest.raises(ValueError, match="same shuffle"):
        shuffled.load_state_dict(plain.state_dict())
    with pytest.raises(KeyError, match="generator"):
        plain.load_state_dict({"epoch": 0, "batches_done": 0})


# ----- samplers -----------------------------------------------------------------------------------------------------

def test_batch_sampler_matches_torch(torch):
    for n, size, drop in [(10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False)]:
        ours = BatchSampler(SequentialSampler(range(n)), size, drop)
        theirs = torch.utils.data.BatchSampler(torch.utils.data.SequentialSampler(range(n)), size, drop)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)


def test_random_sampler_permutes_and_replaces():
    sampler = RandomSampler(range(10), generator=gb.Generator(0))
    first, second = list(sampler), list(sampler)
    assert sorted(first) == sorted(second) == list(range(10)) and first != second
    with_replacement = list(RandomSampler(range(5), replacement=True, num_samples=50, generator=gb.Generator(0)))
    assert len(with_replacement) == 50 and set(with_replacement) <= set(range(5)) and len(set(with_replacement)) == 5
    longer = list(RandomSampler(range(4), num_samples=10, generator=gb.Generator(0)))
    assert len(longer) == 10 and sorted(longer[:4]) == [0, 1, 2, 3] and sorted(longer[4:8]) == [0, 1, 2, 3]


def test_random_sampler_without_generator_follows_manual_seed():
    gb.manual_seed(9)
    first = list(RandomSampler(range(30)))
    gb.manual_seed(9)
    assert list(RandomSampler(range(30))) == first


def test_sampler_errors():
    with pytest.raises(ValueError, match="num_samples"):
        RandomSampler(range(0))
    with pytest.raises(TypeError, match="replacement"):
        RandomSampler(range(3), replacement=1)
    with pytest.raises(ValueError, match="batch_size"):
        BatchSampler(SequentialSampler(range(3)), 0, False)
    with pytest.raises(ValueError, match="drop_last"):
        BatchSampler(SequentialSampler(range(3)), 2, None)


# ----- default_collate ----------------------------------------------------------------------------------------------

def test_default_collate_stacks_tensors_arrays_and_numbers():
    batch = default_collate([(np.full((2, 2), i, dtype=np.uint8), gb.tensor([i, i]), i, float(i), True, np.float64(i))
                             for i in range(3)])
    assert isinstance(batch, tuple) and len(batch) == 6
    images, vectors, ints, floats, flags, scalars = batch
    assert images.shape == (3, 2, 2) and images.dtype == np.uint8 and images.data[2].tolist() == [[2, 2], [2, 2]]
    assert vectors.shape == (3, 2) and vectors.dtype == np.int64
    assert ints.dtype == np.int64 and ints.tolist() == [0, 1, 2]
    assert floats.dtype == np.float32 and flags.dtype == np.bool_ and scalars.dtype == np.float64


def test_default_collate_structures_like_torch(torch):
    samples = [{"image": np.ones((2, 3), dtype=np.float32) * i, "label": i, "name": f"s{i}",
                "pair": [np.int32(i), np.arange(2) + i]} for i in range(4)]
    ours = default_collate(samples)
    theirs = torch.utils.data.default_collate(samples)
    assert set(ours) == set(theirs)
    assert ours["name"] == theirs["name"]
    for a, b in [(ours["image"], theirs["image"]), (ours["label"], theirs["label"]),
                 (ours["pair"][0], theirs["pair"][0]), (ours["pair"][1], theirs["pair"][1])]:
        assert a.shape == tuple(b.shape) and str(a.dtype) == str(b.dtype).replace("torch.", "")
        assert np.array_equal(a.data, b.numpy())
    Point = collections.namedtuple("Point", "x y")
    points = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(points, Point) and points.x.tolist() == [1, 3]


def test_default_collate_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"different shapes \[\(2,\), \(3,\)\]"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(ValueError, match="same number of fields"):
        default_collate([(1, 2), (1,)])
    with pytest.raises(TypeError, match="collate_fn"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="non-empty"):
        default_collate([])


def test_default_convert_keeps_structure():
    converted = default_convert({"x": np.arange(3), "y": (np.float32(2), "name")})
    assert isinstance(converted["x"], gb.Tensor) and converted["x"].tolist() == [0, 1, 2]
    assert isinstance(converted["y"], tuple) and converted["y"][0].dtype == np.float32 and converted["y"][1] == "name"


def test_loader_over_subset_without_fast_path_uses_getitem():
    ds = Rows(np.arange(10, dtype=np.float32)[:, None], np.arange(10))
    assert _labels(DataLoader(Subset(ds, [9, 0, 4]), batch_size=2)) == [[9, 0], [4]]
