"""Fetching data set files into a cache folder: mirrors, checksums, atomic moves, safe tar extraction, and errors
that say how to put the files in place by hand."""

import hashlib
import os
import shutil
import sys
import tarfile
from pathlib import Path, PurePosixPath
from typing import NamedTuple

# Seconds a connection may stay silent (connecting, or between two reads) before the download is given up.
# Read at each call, so assigning a new value works; the GLASSBOX_DOWNLOAD_TIMEOUT environment variable wins.
DEFAULT_TIMEOUT = 30.0
_CHUNK = 1 << 20


class DownloadError(OSError):
    """A data file could not be fetched or is not the expected file. The message names the file, the URLs tried
    and what went wrong at each, and where to put the file by hand."""


class Resource(NamedTuple):
    """One file of a data set: its name (also the last part of its URL), its size in bytes (None if unknown) and
    the sha256 of its bytes."""

    filename: str
    size: int | None
    sha256: str


def data_root(root=None):
    """The folder data sets live in: `root` if given, else $GLASSBOX_DATA, else ~/.cache/glassbox/datasets."""
    if root is None:
        root = os.environ.get("GLASSBOX_DATA") or Path.home() / ".cache" / "glassbox" / "datasets"
    return Path(root).expanduser()


def _timeout(timeout):
    if timeout is not None:
        return float(timeout)
    return float(os.environ.get("GLASSBOX_DOWNLOAD_TIMEOUT") or DEFAULT_TIMEOUT)


def _sha256_of_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_file(path, resource):
    """None when the file at `path` has the resource's size and sha256, else a sentence saying what differs."""
    size = os.path.getsize(path)
    if resource.size is not None and size != resource.size:
        return f"it has {size} bytes, expected {resource.size} (truncated or a different file)"
    actual = _sha256_of_file(path)
    if actual != resource.sha256:
        return f"sha256 mismatch: expected {resource.sha256}, got {actual}"
    return None


def _manual_hint(resource, urls, path):
    where = "\n".join(f"    {url}" for url in urls)
    size = f", {resource.size} bytes" if resource.size is not None else ""
    return (f"To install it by hand, download {resource.filename} from one of\n{where}\nand put it at\n    {path}\n"
            f"(sha256 {resource.sha256}{size}).")


_ROOT_HINT = "Pass root= or set GLASSBOX_DATA to use another folder."


def _fetch(url, partial, timeout):
    """Stream `url` into the file `partial`; returns the number of bytes received. Raises on HTTP errors, network
    errors, timeouts, and on a body shorter than its Content-Length."""
    import urllib.request  # here, not at import: it costs import time and only downloads need it

    request = urllib.request.Request(url, headers={"User-Agent": "glassbox"})
    received = 0
    with urllib.request.urlopen(request, timeout=timeout) as response, open(partial, "wb") as out:
        expected = response.headers.get("Content-Length")
        while chunk := response.read(_CHUNK):
            out.write(chunk)
            received += len(chunk)
    # http.client returns a short body without complaint when the server closes early, so count the bytes.
    if expected is not None and received != int(expected):
        raise ConnectionError(f"connection closed after {received} of {expected} bytes")
    return received


def _describe(error, timeout):
    """A short reason for a failed fetch, for the error message."""
    import urllib.error

    reason = error.reason if isinstance(error, urllib.error.URLError) and not isinstance(
        error, urllib.error.HTTPError) else error
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        return (f"timed out: no data for {timeout:g} s (raise the limit with the GLASSBOX_DOWNLOAD_TIMEOUT "
                "environment variable)")
    return f"{type(reason).__name__}: {reason}"


def download(urls, path, resource, timeout=None):
    """Download `resource` to `path`, trying each URL of `urls` in turn until one gives the expected bytes.

    The bytes go to `<path>.partial` first and move into place (os.replace, atomic) only once their size and sha256
    match, so `path` never holds a partial or wrong file. Raises DownloadError, naming every URL tried and why it
    failed, when none works. `timeout` (seconds without data) defaults to DEFAULT_TIMEOUT.
    """
    import http.client
    import urllib.error

    path = Path(path)
    timeout = _timeout(timeout)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    failures = []
    for url in urls:
        print(f"glassbox: downloading {url} -> {path}", file=sys.stderr)
        try:
            _fetch(url, partial, timeout)
            problem = check_file(partial, resource)
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
            problem = _describe(error, timeout)
        except BaseException:  # Ctrl-C mid-download: leave no partial file behind either
            partial.unlink(missing_ok=True)
            raise
        if problem is None:
            os.replace(partial, path)
            return path
        partial.unlink(missing_ok=True)
        failures.append(f"  {url}: {problem}")
    tried = "\n".join(failures)
    raise DownloadError(f"could not download {resource.filename}:\n{tried}\n{_manual_hint(resource, urls, path)}\n"
                        f"{_ROOT_HINT}")


def ensure_files(dataset_name, folder, resources, mirrors, download_missing, timeout=None):
    """Make sure each of `resources` is in `folder` with the right checksum; returns their paths.

    Files already there are verified. Missing or bad files are downloaded from the `mirrors` (base URLs ending in
    '/') when `download_missing` is true; otherwise DownloadError says which files are needed and where from."""
    folder = Path(folder)
    paths, missing = [], []
    for resource in resources:
        path = folder / resource.filename
        urls = [mirror + resource.filename for mirror in mirrors]
        paths.append(path)
        if path.exists():
            problem = check_file(path, resource)
            if problem is None:
                continue
            if not download_missing:
                raise DownloadError(f"{dataset_name}: {path} is not the expected file: {problem}. Delete it and "
                                    f"pass download=True, or replace it by hand.\n{_manual_hint(resource, urls, path)}")
        if download_missing:
            try:
                download(urls, path, resource, timeout)
            except DownloadError as error:
                raise DownloadError(f"{dataset_name}: {error}") from None
        else:
            missing.append(_manual_hint(resource, urls, path))
    if missing:
        hints = "\n".join(missing)
        raise DownloadError(f"{dataset_name}: data files not found in {folder}; pass download=True to fetch them.\n"
                            f"{hints}\n{_ROOT_HINT}")
    return paths


def _unsafe_member_reason(member):
    name = PurePosixPath(member.name)
    if name.is_absolute() or member.name.startswith(("/", "\\")):
        return "has an absolute path"
    if ".." in name.parts:
        return "contains '..'"
    if not (member.isfile() or member.isdir()):
        return "is a link or special file"
    return None


def extract_tar(archive, folder):
    """Extract the (possibly compressed) tar `archive` into `folder`, refusing the whole archive with a
    DownloadError if any member has an absolute path, a '..' component, or is a link or device.

    Members are extracted into a temporary folder first and each top-level entry is then moved into `folder`
    (os.replace), so an interrupted extraction leaves no half-written data set behind."""
    archive, folder = Path(archive), Path(folder)
    staging = folder / (archive.name + ".partial")
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                reason = _unsafe_member_reason(member)
                if reason is not None:
                    raise DownloadError(f"refusing to extract {archive}: member {member.name!r} {reason}; the "
                                        "archive is not the expected one, delete it and download it again")
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            # The 'data' filter (Python >= 3.12, and 3.8-3.11 security releases) repeats these checks in tarfile.
            extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(staging, members=members, **extra)
    except (tarfile.TarError, EOFError, OSError) as error:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, DownloadError):
            raise
        raise DownloadError(f"cannot extract {archive}: {error}; delete it and download it again") from error
    for entry in staging.iterdir():
        target = folder / entry.name
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(entry, target)
    shutil.rmtree(staging)
