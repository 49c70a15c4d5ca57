"""Atomic file replacement: a killed writer leaves the old file or the new one at the path, never half a file."""

import contextlib
import itertools
import os

try:  # POSIX only: on Windows stale temporaries are simply left for the user to delete
    import fcntl
except ImportError:  # pragma: no cover - exercised on Windows only
    fcntl = None

_counter = itertools.count()  # two saves to one path from two threads of one process get distinct temporaries


@contextlib.contextmanager
def atomic_write(path):
    """Yield a temporary path next to `path`; when the block ends without error, the temporary becomes `path`.

    Write the whole file to the yielded path (by name: any writer works, `open`, `np.save`, safetensors). On a
    clean exit the temporary is fsynced, renamed over `path` with os.replace (atomic on POSIX and Windows), and
    the directory is fsynced so that the rename itself survives a crash. On an exception the temporary is removed
    and `path` is untouched. A SIGKILL leaves at most one temporary `.<name>.tmp-<pid>-<n>`, which the next
    atomic_write to the same path removes once its writer is gone.

        with atomic_write("model.safetensors") as tmp:
            safetensors.numpy.save_file(arrays, tmp)
    """
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    _remove_stale_temporaries(directory, name)
    tmp, lock_fd = _create_temporary(directory, name)
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        if lock_fd is not None:
            os.close(lock_fd)  # releases the lock; the file is already renamed or removed
    _fsync_directory(directory)


def write_atomically(path, write_fn):
    """Call `write_fn(tmp_path)` to write the file, then atomically put it at `path` (see atomic_write)."""
    with atomic_write(path) as tmp:
        return write_fn(tmp)


def _temporary_prefix(name):
    return f".{name}.tmp-"


def _create_temporary(directory, name):
    """Create an empty temporary file that no one else can be using; on POSIX hold an exclusive lock on it.

    The lock is how another process tells a live writer's temporary from a dead one's: the kernel drops a
    process's locks when it dies, even by SIGKILL, and flock works across machines on NFS, where pids do not.
    """
    prefix = _temporary_prefix(name)
    while True:
        tmp = os.path.join(directory, f"{prefix}{os.getpid()}-{next(_counter)}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:  # left by a dead process whose pid we now reuse: take the next number
            continue
        if fcntl is None:
            # Windows cannot rename a file that is open, so the descriptor cannot be kept.
            os.close(fd)
            return tmp, None
        fcntl.flock(fd, fcntl.LOCK_EX)
        return tmp, fd


def _remove_stale_temporaries(directory, name):
    """Delete temporaries of `name` left by writers that were killed (their pid is gone and nobody locks them)."""
    if fcntl is None:
        return
    prefix = _temporary_prefix(name)
    try:
        entries = [entry.name for entry in os.scandir(directory) if entry.name.startswith(prefix)]
    except OSError:
        return
    for entry in entries:
        pid = entry[len(prefix):].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _pid_alive(int(pid)):
            continue
        # The pid test alone could be fooled by a writer on another machine sharing the directory; the lock
        # cannot. A shared lock on a read-only descriptor is what NFS allows; it conflicts with the writer's.
        tmp = os.path.join(directory, entry)
        try:
            fd = os.open(tmp, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            os.unlink(tmp)
        except OSError:
            pass  # a live writer holds it, or someone else removed it first
        finally:
            os.close(fd)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists but belongs to another user
        return True
    return True


def _fsync_file(path):
    """Flush the file's data to the disk, so that the rename can never expose a file whose bytes are not there."""
    # Opened afresh because the writer may have replaced the inode we created; read-write because Windows
    # only flushes handles that can write.
    fd = os.open(path, os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(directory):
    """Flush the directory entry so that the rename survives a power cut; not possible on Windows, so skipped."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories; the rename is still atomic, only less durable
    finally:
        os.close(fd)
