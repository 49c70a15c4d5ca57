"""glassbox.distributed in one process: the sampler's shards, the single-process group, DistributedDataParallel's
wrapper behaviour and fit's use of it. The multi-process behaviour is tested under mpiexec in
test_distributed_mpi.py."""

import numpy as np
import pytest

import glassbox as gb
import glassbox.distributed as dist
from glassbox import nn, optim
from glassbox.data import DataLoader
from glassbox.train import fit


@pytest.fixture
def single_process_group(monkeypatch):
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    dist.destroy_process_group()
    yield dist.init_process_group()
    dist.destroy_process_group()


def _shards(n, replicas, epoch=0, **options):
    shards = []
    for rank in range(replicas):
        sampler = dist.DistributedSampler(range(n), num_replicas=replicas, rank=rank, **options)
        sampler.set_epoch(epoch)
        shards.append(list(sampler))
        assert len(shards[-1]) == len(sampler)
    return shards


@pytest.mark.parametrize("n", [12, 13, 1, 5])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
def test_shards_are_disjoint_and_cover_the_data(n, replicas):
    shards = _shards(n, replicas, pad=False)
    everything = sum(shards, [])
    assert sorted(everything) == list(range(n))  # pad=False: each example exactly once
    padded = _shards(n, replicas)
    assert {len(s) for s in padded} == {-(-n // replicas)}
    assert set(sum(padded, [])) == set(range(n)) and len(sum(padded, [])) == -(-n // replicas) * replicas
    dropped = _shards(n, replicas, drop_last=True)
    assert {len(s) for s in dropped} == {n // replicas} and len(set(sum(dropped, []))) == n // replicas * replicas


def test_every_rank_draws_the_same_order_and_a_new_one_each_epoch():
    orders = [sum(zip(*_shards(12, 3, epoch=e, seed=7)), ()) for e in (0, 0, 1)]
    assert orders[0] == orders[1] != orders[2]
    assert _shards(12, 3, seed=7) != _shards(12, 3, seed=8)
    assert sum(zip(*_shards(12, 3, shuffle=False)), ()) == tuple(range(12))


def test_rank_batches_together_are_the_single_process_batch():
    # N ranks with batch B/N see, step by step, exactly the examples one process with batch B sees.
    single = list(DataLoader(range(24), batch_size=6, sampler=dist.DistributedSampler(range(24), 1, 0, seed=3)))
    ranks = [list(DataLoader(range(24), batch_size=2, sampler=dist.DistributedSampler(range(24), 3, r, seed=3)))
             for r in range(3)]
    for step, batch in enumerate(single):
        together = sorted(int(i) for r in range(3) for i in ranks[r][step].data)
        assert together == sorted(int(i) for i in batch.data)


def test_sampler_checks_its_arguments():
    with pytest.raises(ValueError, match="rank should be in the interval"):
        dist.DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas must be a positive integer"):
        dist.DistributedSampler(range(4), num_replicas=0, rank=0)
    with pytest.raises(ValueError, match="contradict"):
        dist.DistributedSampler(range(4), 2, 0, drop_last=True, pad=False)


def test_a_script_started_without_mpi_is_a_group_of_one(single_process_group):
    assert (single_process_group.rank, single_process_group.world_size) == (0, 1)
    assert dist.is_initialized() and dist.is_main_process() and not dist.launched_by_mpi()
    t = gb.tensor([1.0, 2.0])
    assert dist.all_reduce(t) is t and t.tolist() == [1.0, 2.0]
    assert dist.broadcast_object({"a": 1}) == {"a": 1} and dist.all_gather_object(3) == [3]
    with pytest.raises(ValueError, match="op must be one of"):
        dist.all_reduce(t, op="mean")
    with pytest.raises(ValueError, match="backend must be 'mpi'"):
        dist.init_process_group(backend="nccl")


def test_collectives_need_a_process_group():
    dist.destroy_process_group()
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.all_reduce(gb.ones(2))
    assert dist.get_rank() == 0 and dist.get_world_size() == 1


def test_launch_is_recognised_from_the_launchers_environment(monkeypatch):
    monkeypatch.setenv("PMI_SIZE", "4")
    assert dist.launched_by_mpi()
    monkeypatch.setenv("PMI_SIZE", "1")
    assert not dist.launched_by_mpi()


def test_wrapper_keeps_torchs_keys_and_forwards(single_process_group):
    gb.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    wrapped = dist.DistributedDataParallel(model, bucket_cap_mb=1)
    assert list(wrapped.state_dict()) == ["module." + key for key in model.state_dict()]
    x = gb.randn(5, 3)
    model.eval()
    np.testing.assert_array_equal(wrapped(x).data, model(x).data)
    assert dist.unwrap(wrapped) is model and dist.unwrap(model) is model
    with pytest.raises(TypeError, match="already wrapped"):
        dist.DistributedDataParallel(wrapped)
    with pytest.raises(TypeError, match="nn.Module"):
        dist.DistributedDataParallel(lambda x: x)


def test_buckets_fill_in_reverse_layer_order_up_to_their_size(single_process_group):
    model = nn.Sequential(nn.Linear(100, 100), nn.Linear(100, 100), nn.Linear(100, 10))  # 40 KB per weight
    wrapped = dist.DistributedDataParallel(model, bucket_cap_mb=50_000 / 2**20)
    first = wrapped._buckets[0].params
    assert first[0] is model[2].bias and first[1] is model[2].weight
    assert all(sum(p.data.nbytes for p in b.params) <= 50_000 or len(b.params) == 1 for b in wrapped._buckets)
    assert sum(len(b.params) for b in wrapped._buckets) == 6


def test_fit_with_a_wrapped_model_in_one_process_equals_fit_without(single_process_group):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 5)), rng.integers(0, 3, size=40)
    finals = []
    for wrap in (False, True):
        gb.manual_seed(0)
        model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3)).double()
        trained = dist.DistributedDataParallel(model) if wrap else model
        fit(trained, (x, y), epochs=2, batch_size=8, loss="cross_entropy",
            optimizer=optim.Adam(model.parameters(), lr=0.01), verbose=0)
        finals.append([p.data.copy() for p in model.parameters()])
    for a, b in zip(*finals):
        np.testing.assert_array_equal(a, b)
