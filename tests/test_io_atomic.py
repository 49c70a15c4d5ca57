"""Atomic writes: an error or a SIGKILL at any moment leaves the old file or the new one, and no temporaries pile up."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from glassbox.io import atomic_write, load_checkpoint, save_checkpoint, write_atomically

ROOT = Path(__file__).resolve().parents[1]
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and flock are POSIX")


def _child_env():
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))


def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _temporaries(directory, name):
    return sorted(p.name for p in Path(directory).iterdir() if p.name.startswith(f".{name}.tmp-"))


def test_a_clean_exit_replaces_the_file_and_leaves_nothing_else(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    with atomic_write(path) as tmp:
        assert Path(tmp).parent == tmp_path and Path(tmp).name.startswith(".f.bin.tmp-")
        assert path.read_bytes() == b"old"  # untouched while the new file is being written
        Path(tmp).write_bytes(b"new")
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_an_error_leaves_the_old_file_and_removes_the_temporary(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_write(path) as tmp:
            Path(tmp).write_bytes(b"half")
            raise RuntimeError("disk full")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_write_atomically_returns_what_the_writer_returns(tmp_path):
    assert write_atomically(tmp_path / "f.bin", lambda tmp: Path(tmp).write_bytes(b"abc")) == 3
    assert (tmp_path / "f.bin").read_bytes() == b"abc"


def test_a_relative_path_in_the_current_directory_works(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with atomic_write("plain.bin") as tmp:
        Path(tmp).write_bytes(b"x")
    assert (tmp_path / "plain.bin").read_bytes() == b"x"


@posix_only
def test_a_dead_writers_temporary_is_removed_by_the_next_write(tmp_path):
    stale = tmp_path / f".f.bin.tmp-{_dead_pid()}-0"
    stale.write_bytes(b"half a file")
    unrelated = tmp_path / ".g.bin.tmp-1-0"  # another target's temporary is not ours to touch
    unrelated.write_bytes(b"x")
    with atomic_write(tmp_path / "f.bin") as tmp:
        Path(tmp).write_bytes(b"new")
    assert not stale.exists() and unrelated.exists()


@posix_only
def test_a_locked_temporary_is_kept_even_when_its_pid_looks_dead(tmp_path):
    # A writer on another machine sharing the directory has a pid that means nothing here; its lock still counts.
    temporary = tmp_path / f".f.bin.tmp-{_dead_pid()}-0"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT); "
                               "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)",
         str(temporary)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with atomic_write(tmp_path / "f.bin") as tmp:
            Path(tmp).write_bytes(b"new")
        assert temporary.exists()
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    with atomic_write(tmp_path / "f.bin") as tmp:  # its writer is gone now: the next write cleans up
        Path(tmp).write_bytes(b"newer")
    assert not temporary.exists()


# The child saves checkpoints of ~10 MB in a loop, each filled with its version number, and prints each version
# once save_checkpoint has returned.
_SAVER = """
import sys
import numpy as np
from glassbox.io import save_checkpoint
path, version, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
while True:
    save_checkpoint(path, model_state={"w": np.full(size, version, np.float32),
                                       "b": np.full(size // 4, version, np.int64)},
                    optimizer_state={"state": {0: {"m": np.full(size // 2, version, np.float64)}}},
                    extra={"version": version})
    print(version, flush=True)
    version += 1
"""
_SIZE = 1_000_000


def _check_consistent(path):
    """The checkpoint loads and every array in it holds the one version it says it is; returns that version."""
    checkpoint = load_checkpoint(path)
    version = checkpoint["extra"]["version"]
    arrays = [checkpoint["model_state"]["w"], checkpoint["model_state"]["b"],
              checkpoint["optimizer_state"]["state"][0]["m"]]
    assert [a.shape for a in arrays] == [(_SIZE,), (_SIZE // 4,), (_SIZE // 2,)]
    for array in arrays:
        assert array.min() == array.max() == version
    return version


def _kill_savers_repeatedly(directory, kills, seed):
    rng = random.Random(seed)
    path = Path(directory) / "ckpt.safetensors"
    for i in range(kills):
        first = i * 1_000_000  # each child's versions are distinct from every other child's
        child = subprocess.Popen([sys.executable, "-c", _SAVER, str(path), str(first), str(_SIZE)],
                                 stdout=subprocess.PIPE, text=True, env=_child_env(), cwd=directory)
        try:
            line = child.stdout.readline()  # one save is complete: from here on the kill lands among saves
            assert line.strip() == str(first), "the saving child died before its first save"
            time.sleep(rng.uniform(0.0, 0.12))  # a save takes ~30 ms: anywhere in the write, fsync or rename
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            completed = [int(line)] + [int(v) for v in child.stdout.read().split()]
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            child.stdout.close()
        assert child.returncode == -signal.SIGKILL
        version = _check_consistent(path)
        # Never older than the last save that returned; newer by one if the kill fell after the rename.
        assert version in (completed[-1], completed[-1] + 1), (version, completed)
        # The killed child may leave its one temporary; the next save removes it, so they never pile up.
        assert len(_temporaries(directory, path.name)) <= 1
    save_checkpoint(path, model_state={"w": np.zeros(_SIZE, np.float32), "b": np.zeros(_SIZE // 4, np.int64)},
                    optimizer_state={"state": {0: {"m": np.zeros(_SIZE // 2)}}}, extra={"version": 0})
    assert _check_consistent(path) == 0
    assert _temporaries(directory, path.name) == []


@posix_only
def test_sigkill_during_checkpoint_saves_never_leaves_a_broken_file(tmp_path):
    _kill_savers_repeatedly(tmp_path, kills=4, seed=0)


@posix_only
@pytest.mark.slow
def test_many_sigkills_during_checkpoint_saves_never_leave_a_broken_file(tmp_path):
    _kill_savers_repeatedly(tmp_path, kills=60, seed=1)
