"""Data-parallel training across real MPI processes: `mpiexec -n 2` on this machine (loopback only).

The programs run here live in tests/mpi_programs/. Each test compares the N-rank run with a one-process run of the
same program (the oracle) or checks a property every rank must share. Skipped without mpi4py and an mpiexec.
"""

import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

PROGRAMS = os.path.join(os.path.dirname(__file__), "mpi_programs")


def _mpiexec():
    pytest.importorskip("mpi4py")
    beside_python = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    found = beside_python if os.path.exists(beside_python) else shutil.which("mpiexec")
    if found is None:
        pytest.skip("no mpiexec: install the MPI runtime with `pip install 'glassbox[mpi]'`")
    return found


def run_mpi(ranks, *args, timeout=120):
    """Run `python args...` on `ranks` MPI processes; returns the CompletedProcess (never hangs past timeout)."""
    command = [_mpiexec(), "-n", str(ranks), sys.executable, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _checked(result):
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


@pytest.mark.parametrize("mode", ["fit", "sampler"])
def test_two_ranks_take_the_same_steps_as_one_process_with_the_global_batch(tmp_path, mode):
    program = os.path.join(PROGRAMS, "data_parallel_fit.py")
    _checked(run_mpi(1, program, str(tmp_path / "one.npz"), mode))
    _checked(run_mpi(2, program, str(tmp_path / "two.npz"), mode))
    one, two = np.load(tmp_path / "one.npz"), np.load(tmp_path / "two.npz")
    # 96 examples, global batch 12, 3 epochs: 24 steps, after each of which the ranks' parameters were compared
    assert int(two["steps"]) == int(one["steps"]) == 24
    names = [name for name in one.files if "." in name]
    assert len(names) == 6
    for name in names:
        np.testing.assert_allclose(two[name], one[name], rtol=0, atol=1e-10, err_msg=name)
    # the logged numbers were reduced over the ranks: the same as one process computing them over all the data
    for key in ("loss", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(two[key], one[key], rtol=0, atol=1e-10, err_msg=key)


def test_a_resumed_data_parallel_run_continues_exactly(tmp_path):
    _checked(run_mpi(2, os.path.join(PROGRAMS, "data_parallel_fit.py"), str(tmp_path / "r.npz"), "resume"))
    result = np.load(tmp_path / "r.npz")
    assert int(result["files"]) == 1  # the checkpoint, written by rank 0 alone
    names = [name[len("straight."):] for name in result.files if name.startswith("straight.")]
    assert len(names) == 4
    for name in names:  # same weights, same data order (the sampler's seed came back from the checkpoint)
        np.testing.assert_array_equal(result["resumed." + name], result["straight." + name], err_msg=name)


def test_no_sync_accumulates_locally_and_the_next_backward_averages_everything(tmp_path):
    out = tmp_path / "accumulate.json"
    _checked(run_mpi(2, os.path.join(PROGRAMS, "gradient_accumulation.py"), str(out)))
    result = json.loads(out.read_text())
    assert result["local_grads_differed"]  # inside no_sync each rank kept its own gradients
    assert result["max_difference"] < 1e-12


def test_a_failing_rank_ends_the_whole_job_quickly_with_its_message():
    started = time.perf_counter()
    result = run_mpi(2, os.path.join(PROGRAMS, "failing_rank.py"), timeout=60)
    elapsed = time.perf_counter() - started
    assert result.returncode != 0
    assert elapsed < 30
    assert "rank 1 of 2 failed" in result.stderr
    assert "a deliberate failure in rank 1's third step" in result.stderr


@pytest.mark.parametrize("size", [40, 43])
def test_the_sampler_gives_each_example_to_one_rank_per_epoch(tmp_path, size):
    out = tmp_path / "indices.json"
    _checked(run_mpi(2, os.path.join(PROGRAMS, "sampler_coverage.py"), str(out), str(size)))
    result = json.loads(out.read_text())
    epochs = result["epochs"]
    assert len(epochs) == 3
    orders = []
    for shards in epochs:
        assert len(shards) == 2 and len(shards[0]) == len(shards[1]) == -(-size // 2)
        everything = shards[0] + shards[1]
        assert sorted(set(everything)) == list(range(size))  # every example, on some rank
        # exactly once, except the padding that evens out the shards when the size is odd (torch's semantics)
        assert len(everything) - size == (size % 2)
        if size % 2 == 0:
            assert not set(shards[0]) & set(shards[1])
        orders.append(everything)
    assert orders[0] != orders[1] != orders[2]  # a new order each epoch
    if "OPENBLAS_NUM_THREADS" not in os.environ and "OMP_NUM_THREADS" not in os.environ:
        # each of the 2 ranks on this machine gets its share of the cores for BLAS
        assert result["blas_threads"] == [max(1, (os.cpu_count() or 1) // 2)] * 2


def test_glassbox_run_trains_a_recipe_data_parallel_and_only_rank_zero_writes(tmp_path):
    out = tmp_path / "run"
    result = _checked(run_mpi(2, "-m", "glassbox", "run", "digits-mlp", "--epochs", "1", "--out", str(out),
                              timeout=300))
    assert "data-parallel over 2 MPI ranks" in result.stdout
    assert result.stdout.count('"test_accuracy"') == 1  # one rank printed the metrics
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 1 and metrics["test_accuracy"] > 0.5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no other rank wrote beside it


def test_an_error_in_a_recipe_on_one_rank_does_not_hang_the_others(tmp_path):
    # A --data file that is not a table fails on every rank: each prints one line and the job ends.
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2\n3\n")
    started = time.perf_counter()
    result = run_mpi(2, "-m", "glassbox", "run", "digits-mlp", "--data", str(bad), "--out", str(tmp_path / "o"),
                     timeout=60)
    assert result.returncode != 0 and time.perf_counter() - started < 30
    assert "glassbox: error:" in result.stderr
