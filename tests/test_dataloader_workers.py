"""DataLoader(num_workers=N): same batches as in-process loading, per-worker seeds, errors, shutdown, resuming."""

import collections
import gc
import json
import multiprocessing
import os
import pickle
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import glassbox as gb
from glassbox.data import DataLoader, Dataset, TensorDataset
from glassbox.data.worker import get_worker_info

Pair = collections.namedtuple("Pair", "x y")


def _tensor_dataset(n=22):
    return TensorDataset(np.arange(2 * n, dtype=np.float32).reshape(n, 2), np.arange(n) % 3)


class DictDataset(Dataset):
    """No get_batch: batches go through __getitem__ and default_collate (dict of tensor, int, string, namedtuple)."""

    def __init__(self, n=13):
        self.n = n

    def __getitem__(self, i):
        return {"x": np.full(3, i, dtype=np.float64), "y": i, "name": f"s{i}", "pair": Pair(np.int64(i), float(i))}

    def __len__(self):
        return self.n


class RandomDataset(Dataset):
    """Each sample: (worker id, worker seed, a glassbox, a NumPy-global and a Python `random` draw)."""

    def __len__(self):
        return 12

    def __getitem__(self, i):
        info = get_worker_info()
        return (np.int64(info.id), np.uint64(info.seed), gb.rand(1).item(), np.random.random(), random.random())


class PidDataset(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        return os.getpid()


class FailingDataset(Dataset):
    """Raises in worker 1 only."""

    def __len__(self):
        return 12

    def __getitem__(self, i):
        if get_worker_info().id == 1:
            raise ValueError(f"cannot read sample {i}")
        return np.float32(i)


class SuicidalDataset(Dataset):
    """Worker 1 kills itself with SIGKILL, as the kernel's OOM killer would."""

    def __len__(self):
        return 12

    def __getitem__(self, i):
        if get_worker_info().id == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        return np.float32(i)


class SlowDataset(Dataset):
    """Worker 0 is slow, so worker 1's batches arrive first: the loader must still yield them in order."""

    def __init__(self, delay=0.05, n=12):
        self.delay, self.n = delay, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if get_worker_info().id == 0:
            time.sleep(self.delay)
        return np.int64(i)


def _plain(batch):
    """A batch as nested Python data, with each tensor's type and dtype, to compare structures exactly."""
    if isinstance(batch, gb.Tensor):
        return ("tensor", str(batch.dtype), batch.tolist())
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return (type(batch).__name__, [_plain(b) for b in batch])
    if isinstance(batch, (tuple, list)):
        return (type(batch).__name__, [_plain(b) for b in batch])
    if isinstance(batch, dict):
        return {key: _plain(value) for key, value in batch.items()}
    return batch


def _epochs(make_loader, epochs=2):
    gb.manual_seed(3)
    loader = make_loader()
    return [[_plain(batch) for batch in loader] for _ in range(epochs)]


def _no_children():
    """True once every worker process has been reaped (they are joined at shutdown; allow a moment for slow CI)."""
    for _ in range(50):
        if not multiprocessing.active_children():
            return True
        time.sleep(0.05)
    return False


def _sum_collate(samples):
    return [gb.tensor([float(sum(s[0].tolist()) + int(s[1])) for s in samples]), len(samples)]


@pytest.mark.parametrize("kwargs", [
    {"batch_size": 4},
    {"batch_size": 4, "shuffle": True},
    {"batch_size": 4, "shuffle": True, "drop_last": True},
    {"batch_size": 3, "collate_fn": _sum_collate},
    {"batch_size": None},
    {"batch_size": None, "shuffle": True},
], ids=["plain", "shuffle", "drop_last", "collate_fn", "no_batching", "no_batching_shuffle"])
def test_batches_equal_the_in_process_ones(kwargs):
    expected = _epochs(lambda: DataLoader(_tensor_dataset(), **kwargs))
    got = _epochs(lambda: DataLoader(_tensor_dataset(), num_workers=2, **kwargs))
    assert got == expected
    assert expected[0] != [] and _no_children()


def test_structures_of_tensors_come_back_with_the_same_types_through_getitem():
    expected = _epochs(lambda: DataLoader(DictDataset(), batch_size=5, shuffle=True))
    got = _epochs(lambda: DataLoader(DictDataset(), batch_size=5, shuffle=True, num_workers=2))
    assert got == expected
    batch = next(iter(DataLoader(DictDataset(), batch_size=5, num_workers=2)))
    assert isinstance(batch["pair"], Pair) and isinstance(batch["pair"].x, gb.Tensor)
    assert batch["x"].dtype == np.float64 and batch["name"] == ["s0", "s1", "s2", "s3", "s4"]


def test_a_tensor_pickles_with_its_values_and_dtype():
    t = gb.tensor([[1.5, -2.0]], dtype=gb.float64)
    back = pickle.loads(pickle.dumps(t))
    assert isinstance(back, gb.Tensor) and back.dtype == np.float64 and back.tolist() == [[1.5, -2.0]]


def test_batches_come_back_in_sampler_order_when_workers_finish_out_of_order():
    loader = DataLoader(SlowDataset(), batch_size=2, num_workers=2, prefetch_factor=3)
    assert [b.tolist() for b in loader] == [[i, i + 1] for i in range(0, 12, 2)]


def test_in_order_false_yields_every_batch_once():
    loader = DataLoader(SlowDataset(delay=0.1, n=8), batch_size=1, num_workers=2, in_order=False)
    got = [b.item() for b in loader]
    assert sorted(got) == list(range(8))
    assert got != list(range(8))  # worker 1's fast batches overtake worker 0's slow ones


def test_len_is_unchanged_with_workers():
    assert len(DataLoader(_tensor_dataset(22), batch_size=4, num_workers=2, drop_last=True)) == 5


# ----- seeds -------------------------------------------------------------------------------------------------------

def _random_run(seed, epochs=2, **kwargs):
    gb.manual_seed(seed)
    loader = DataLoader(RandomDataset(), batch_size=3, num_workers=2, **kwargs)
    return [[tuple(t.tolist() for t in batch) for batch in loader] for _ in range(epochs)]


def _samples(run_epoch):
    """(worker id, seed, glassbox draw, numpy draw, random draw) per sample of one epoch."""
    return [sample for batch in run_epoch for sample in zip(*batch)]


def test_worker_seeds_differ_between_workers_and_epochs_and_repeat_with_the_same_manual_seed():
    run = _random_run(0)
    assert run == _random_run(0)
    assert _random_run(1) != run
    first, second = _samples(run[0]), _samples(run[1])
    seeds = {wid: {s[1] for s in first if s[0] == wid} for wid in (0, 1)}
    assert all(len(s) == 1 for s in seeds.values()) and seeds[0] != seeds[1]  # one seed per worker, not shared
    assert {s[1] for s in second}.isdisjoint(seeds[0] | seeds[1])  # new seeds each epoch
    draws = [s[2:] for s in first + second]
    assert len(set(draws)) == len(draws)  # no two samples share a draw of any of the three generators


def test_each_worker_seeds_glassbox_numpy_and_random_from_its_seed():
    samples = _samples(_random_run(5, epochs=1)[0])
    for wid in (0, 1):
        mine = [s for s in samples if s[0] == wid]
        seed = mine[0][1] % 2**64  # the uint64 seed was collated into an int64 tensor
        # Hand computation of the first draws after seeding, independent of the worker code.
        assert mine[0][2] == pytest.approx(gb.Generator(seed).numpy.random(), rel=1e-6)
        np_rng = np.random.RandomState(np.random.SeedSequence(seed).generate_state(4))
        assert mine[0][3] == pytest.approx(np_rng.random_sample())
        assert mine[0][4] == pytest.approx(random.Random(seed).random())


def test_persistent_workers_get_the_same_seeds_as_fresh_ones():
    assert _random_run(2, epochs=3, persistent_workers=True) == _random_run(2, epochs=3)


# ----- worker info and init ----------------------------------------------------------------------------------------

class InfoDataset(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        info = get_worker_info()
        return (np.int64(info.id), np.int64(info.num_workers), np.int64(len(info.dataset)),
                np.int64(os.environ.get("GB_TEST_INIT", -1)))


def _init(worker_id):
    assert get_worker_info().id == worker_id
    os.environ["GB_TEST_INIT"] = str(10 + worker_id)


def test_get_worker_info_is_none_in_the_main_process_and_describes_the_worker_inside():
    assert get_worker_info() is None
    from glassbox.data import worker
    assert worker.get_worker_info is get_worker_info
    loader = DataLoader(InfoDataset(), batch_size=1, num_workers=2, worker_init_fn=_init)
    rows = [tuple(t.item() for t in batch) for batch in loader]
    assert sorted(set(rows)) == [(0, 2, 6, 10), (1, 2, 6, 11)]
    assert get_worker_info() is None and "GB_TEST_INIT" not in os.environ


# ----- errors ------------------------------------------------------------------------------------------------------

def test_an_exception_in_worker_1_is_raised_with_its_id_and_traceback():
    loader = DataLoader(FailingDataset(), batch_size=2, num_workers=2)
    it = iter(loader)
    assert next(it).tolist() == [0.0, 1.0]  # worker 0's batch comes first, in order
    with pytest.raises(ValueError) as info:
        next(it)
    message = str(info.value)
    assert "Caught ValueError in DataLoader worker process 1" in message
    assert "Original Traceback (most recent call last)" in message
    assert "cannot read sample 2" in message and "in __getitem__" in message
    assert info.value.worker_id == 1
    assert _no_children()


def _failing_init(worker_id):
    raise KeyError(f"no config for worker {worker_id}")


def test_an_exception_in_worker_init_fn_is_raised():
    loader = DataLoader(_tensor_dataset(), batch_size=2, num_workers=2, worker_init_fn=_failing_init)
    with pytest.raises(KeyError, match=r"worker process 0 \(in worker_init_fn\)[\s\S]*no config for worker 0"):
        list(loader)
    assert _no_children()


def test_an_unpicklable_batch_is_an_error_not_a_hang():
    loader = DataLoader(_tensor_dataset(), batch_size=2, num_workers=2, collate_fn=lambda b: (lambda: b),
                        timeout=30)
    with pytest.raises(Exception, match="DataLoader worker process 0"):
        next(iter(loader))
    assert _no_children()


def test_a_killed_worker_raises_instead_of_hanging():
    loader = DataLoader(SuicidalDataset(), batch_size=2, num_workers=2, timeout=30)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"DataLoader worker 1 \(pid \d+\) exited unexpectedly.*SIGKILL"):
        list(loader)
    assert time.monotonic() - start < 20  # found by the liveness check, not by the 30 s timeout
    assert _no_children()


def test_timeout_raises_when_no_batch_arrives():
    loader = DataLoader(SlowDataset(delay=3.0, n=4), batch_size=1, num_workers=2, timeout=0.3)
    with pytest.raises(RuntimeError, match="timed out after 0.3 seconds"):
        list(loader)
    assert _no_children()


@pytest.mark.parametrize("kwargs, error, match", [
    ({"prefetch_factor": 2}, ValueError, "prefetch_factor option could only be specified in multiprocessing"),
    ({"num_workers": 2, "prefetch_factor": 0}, ValueError, "prefetch_factor should be a positive integer"),
    ({"persistent_workers": True}, ValueError, "persistent_workers option needs num_workers > 0"),
    ({"num_workers": 2, "timeout": -1}, ValueError, "timeout option should be non-negative"),
    ({"num_workers": 2, "multiprocessing_context": "threads"}, ValueError, "valid start method"),
    ({"num_workers": 2, "multiprocessing_context": 3}, TypeError, "multiprocessing context"),
])
def test_bad_worker_arguments_raise_clear_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        DataLoader(_tensor_dataset(), **kwargs)


# ----- shutdown and persistent workers ------------------------------------------------------------------------------

def test_break_mid_epoch_stops_the_workers_and_the_next_epoch_is_whole():
    loader = DataLoader(_tensor_dataset(), batch_size=2, num_workers=2)
    for _ in loader:
        assert len(multiprocessing.active_children()) == 2
        break
    assert _no_children()
    assert [b[1].tolist() for b in loader] == [(np.arange(i, min(i + 2, 22)) % 3).tolist() for i in range(0, 22, 2)]
    assert _no_children()


def test_an_abandoned_iterator_stops_its_workers_when_collected():
    it = iter(DataLoader(_tensor_dataset(), batch_size=2, num_workers=2))
    next(it)
    del it
    gc.collect()
    assert _no_children()


def test_persistent_workers_serve_every_epoch_from_the_same_processes():
    loader = DataLoader(PidDataset(), batch_size=2, num_workers=2, persistent_workers=True)
    pids = [{pid for batch in loader for pid in batch.tolist()} for _ in range(3)]
    assert len(pids[0]) == 2 and os.getpid() not in pids[0] and pids[0] == pids[1] == pids[2]
    for _ in loader:  # break off an epoch: its batches still in flight must not leak into the next one
        break
    assert [len(b) for b in loader] == [2, 2, 2, 2]
    assert {p.pid for p in multiprocessing.active_children()} == pids[0]
    del loader
    gc.collect()
    assert _no_children()


def test_persistent_workers_after_a_broken_epoch_give_the_right_batches():
    reference = DataLoader(_tensor_dataset(), batch_size=3, shuffle=True, generator=gb.Generator(0))
    expected = [[b[1].tolist() for b in reference] for _ in range(2)]
    loader = DataLoader(_tensor_dataset(), batch_size=3, shuffle=True, generator=gb.Generator(0), num_workers=2,
                        persistent_workers=True)
    for batch in loader:
        assert batch[1].tolist() == expected[0][0]
        break
    assert [b[1].tolist() for b in loader] == expected[1]
    del loader
    gc.collect()
    assert _no_children()


_EXIT_SCRIPT = """
import numpy as np
from glassbox.data import DataLoader, TensorDataset
loader = DataLoader(TensorDataset(np.arange(40.0)), batch_size=2, num_workers=2, persistent_workers=True)
it = iter(loader)
next(it)
print(*loader._pool.pids)
"""


def test_workers_left_running_stop_at_interpreter_exit():
    done = subprocess.run([sys.executable, "-c", _EXIT_SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == ""
    for pid in map(int, done.stdout.split()):
        for _ in range(50):  # the workers were children of the finished process: gone, not merely orphaned
            if not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z":
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"worker {pid} outlived the interpreter")


# ----- resuming ----------------------------------------------------------------------------------------------------

def _labels_and_draws(loader):
    return [(batch[0].tolist(), batch[2].tolist()) for batch in loader]


class IndexedRandomDataset(Dataset):
    """(index, label, a glassbox draw): deterministic labels plus an augmentation-like random value."""

    def __len__(self):
        return 14

    def __getitem__(self, i):
        return np.int64(i), np.int64(i % 3), gb.rand(1).item()


@pytest.mark.parametrize("persistent", [False, True])
def test_state_dict_resume_with_workers_gives_the_uninterrupted_batches(persistent):
    def make():
        return DataLoader(IndexedRandomDataset(), batch_size=3, shuffle=True, num_workers=2,
                          persistent_workers=persistent)

    gb.manual_seed(7)
    loader = make()
    uninterrupted = [_labels_and_draws(loader) for _ in range(3)]

    gb.manual_seed(7)
    loader = make()
    out = [_labels_and_draws(loader)]
    it = iter(loader)
    resumed = [(b[0].tolist(), b[2].tolist()) for b in (next(it), next(it))]
    saved = json.dumps(loader.state_dict())
    del it, loader
    gb.randn(10)  # the new process's default stream is elsewhere
    loader = make()
    loader.load_state_dict(json.loads(saved))
    out += [resumed + _labels_and_draws(loader), _labels_and_draws(loader)]
    assert [[x[0] for x in epoch] for epoch in out] == [[x[0] for x in epoch] for epoch in uninterrupted]
    # Whole epochs' seeds are restored too; inside the resumed epoch the workers' streams restart at the seeds, so
    # only the batches taken before the interruption and the epochs after it repeat their random draws.
    assert out[0] == uninterrupted[0] and out[2] == uninterrupted[2] and out[1][:2] == uninterrupted[1][:2]
    gb.manual_seed(7)
    plain = DataLoader(IndexedRandomDataset(), batch_size=3, shuffle=True)
    assert [[x[0] for x in epoch] for epoch in out] == [[b[0].tolist() for b in plain] for _ in range(3)]
    del loader
    gc.collect()
    assert _no_children()


# ----- other start methods -----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_spawn_context_gives_the_same_batches():
    expected = _epochs(lambda: DataLoader(DictDataset(), batch_size=4, shuffle=True))
    got = _epochs(lambda: DataLoader(DictDataset(), batch_size=4, shuffle=True, num_workers=2,
                                     multiprocessing_context="spawn"))
    assert got == expected
    assert _no_children()
