"""Tests of the download machinery against a loopback HTTP server started by the test (never the internet):
checksums, atomic moves, truncation, HTTP errors, timeouts, mirrors, the cache folder and safe tar extraction."""

import gzip
import hashlib
import io
import struct
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from glassbox.data.datasets import MNIST, DownloadError, data_root
from glassbox.data.datasets import download as dl
from glassbox.data.datasets.download import Resource

PAYLOAD = bytes(range(256)) * 40


def _resource(name, payload=PAYLOAD):
    return Resource(name, len(payload), hashlib.sha256(payload).hexdigest())


class _Handler(BaseHTTPRequestHandler):
    """Serves self.server.routes: path -> ("ok", bytes) | ("status", code) | ("truncate", bytes, declared length)
    | ("stall",), the last waiting (bounded) until the test ends."""

    def do_GET(self):  # noqa: N802 (the name http.server calls)
        route = self.server.routes.get(self.path, ("status", 404))
        self.server.hits.append(self.path)
        kind = route[0]
        if kind == "status":
            self.send_error(route[1])
            return
        if kind == "stall":
            self.server.release.wait(timeout=10)
            return
        body = route[1]
        self.send_response(200)
        self.send_header("Content-Length", str(route[2] if kind == "truncate" else len(body)))
        self.end_headers()
        self.wfile.write(body)  # HTTP/1.0: the connection closes after this, short or not

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch):
    """A loopback HTTP server in a thread; `server.url` is its base URL. Shut down after the test."""
    for name in ("no_proxy", "NO_PROXY"):  # never send loopback requests to a proxy from the environment
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.routes, httpd.hits, httpd.release = {}, [], threading.Event()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.release.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def _listing(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_good_file_is_verified_and_moved_into_place(server, tmp_path):
    server.routes["/a/file.bin"] = ("ok", PAYLOAD)
    path = dl.download([server.url + "/a/file.bin"], tmp_path / "sub" / "file.bin", _resource("file.bin"), timeout=5)
    assert path.read_bytes() == PAYLOAD
    assert _listing(tmp_path / "sub") == ["file.bin"]  # no .partial left behind


def test_truncated_body_is_an_error_and_leaves_no_file(server, tmp_path):
    server.routes["/f"] = ("truncate", PAYLOAD[:5000], len(PAYLOAD))
    with pytest.raises(DownloadError, match=rf"{server.url}/f: ConnectionError: connection closed after 5000 of "
                                            rf"{len(PAYLOAD)} bytes"):
        dl.download([server.url + "/f"], tmp_path / "f", _resource("f"), timeout=5)
    assert _listing(tmp_path) == []


def test_short_file_without_content_length_fails_the_size_check(server, tmp_path):
    server.routes["/f"] = ("ok", PAYLOAD[:100])
    with pytest.raises(DownloadError, match=rf"it has 100 bytes, expected {len(PAYLOAD)}"):
        dl.download([server.url + "/f"], tmp_path / "f", _resource("f"), timeout=5)
    assert _listing(tmp_path) == []


def test_wrong_bytes_fail_the_checksum_naming_both_digests(server, tmp_path):
    wrong = PAYLOAD[::-1]  # same size, other bytes
    server.routes["/f"] = ("ok", wrong)
    resource = _resource("f")
    with pytest.raises(DownloadError) as info:
        dl.download([server.url + "/f"], tmp_path / "f", resource, timeout=5)
    message = str(info.value)
    assert f"expected {resource.sha256}, got {hashlib.sha256(wrong).hexdigest()}" in message
    assert _listing(tmp_path) == []


@pytest.mark.parametrize("status", [404, 500])
def test_server_errors_name_the_url_and_the_status(server, tmp_path, status):
    server.routes["/f"] = ("status", status)
    with pytest.raises(DownloadError, match=rf"{server.url}/f: HTTPError: HTTP Error {status}") as info:
        dl.download([server.url + "/f"], tmp_path / "f", _resource("f"), timeout=5)
    message = str(info.value)
    assert "put it at" in message and str(tmp_path / "f") in message  # what to do by hand
    assert _listing(tmp_path) == []


def test_a_stalled_server_times_out(server, tmp_path):
    server.routes["/f"] = ("stall",)
    start = time.monotonic()
    with pytest.raises(DownloadError, match="timed out: no data for 0.3 s"):
        dl.download([server.url + "/f"], tmp_path / "f", _resource("f"), timeout=0.3)
    assert time.monotonic() - start < 5
    assert _listing(tmp_path) == []


def test_timeout_comes_from_the_environment_or_the_module_default(monkeypatch):
    monkeypatch.delenv("GLASSBOX_DOWNLOAD_TIMEOUT", raising=False)
    assert dl._timeout(None) == dl.DEFAULT_TIMEOUT == 30.0
    monkeypatch.setattr(dl, "DEFAULT_TIMEOUT", 7)
    assert dl._timeout(None) == 7.0
    monkeypatch.setenv("GLASSBOX_DOWNLOAD_TIMEOUT", "2.5")
    assert dl._timeout(None) == 2.5 and dl._timeout(1) == 1.0


def test_mirrors_are_tried_in_order(server, tmp_path):
    server.routes["/good/f"] = ("ok", PAYLOAD)
    server.routes["/bad/f"] = ("ok", b"x" * len(PAYLOAD))
    urls = [server.url + "/missing/f", server.url + "/bad/f", server.url + "/good/f"]
    assert dl.download(urls, tmp_path / "f", _resource("f"), timeout=5).read_bytes() == PAYLOAD
    assert server.hits == ["/missing/f", "/bad/f", "/good/f"]


def test_no_network_error_lists_every_url_and_the_manual_steps(tmp_path, monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    probe = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    port = probe.server_address[1]
    probe.server_close()  # nothing listens on this port any more: connection refused, as with no network
    urls = [f"http://127.0.0.1:{port}/m1/f.gz", f"http://127.0.0.1:{port}/m2/f.gz"]
    with pytest.raises(DownloadError) as info:
        dl.download(urls, tmp_path / "f.gz", _resource("f.gz"), timeout=5)
    message = str(info.value)
    assert message.startswith("could not download f.gz")
    assert all(url in message for url in urls) and "Connection refused" in message
    assert str(tmp_path / "f.gz") in message and _resource("f.gz").sha256 in message and "GLASSBOX_DATA" in message


def test_data_root_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("GLASSBOX_DATA", raising=False)
    assert str(data_root()).endswith(".cache/glassbox/datasets")
    monkeypatch.setenv("GLASSBOX_DATA", str(tmp_path / "env"))
    assert data_root() == tmp_path / "env"
    assert data_root(tmp_path / "arg") == tmp_path / "arg"


def test_ensure_files_replaces_a_corrupted_file_when_downloading(server, tmp_path):
    server.routes["/f"] = ("ok", PAYLOAD)
    (tmp_path / "f").write_bytes(b"old")
    with pytest.raises(DownloadError, match="is not the expected file: it has 3 bytes"):
        dl.ensure_files("Thing", tmp_path, [_resource("f")], [server.url + "/"], download_missing=False)
    (path,) = dl.ensure_files("Thing", tmp_path, [_resource("f")], [server.url + "/"], download_missing=True)
    assert path.read_bytes() == PAYLOAD
    server.hits.clear()
    dl.ensure_files("Thing", tmp_path, [_resource("f")], [server.url + "/"], download_missing=True)
    assert server.hits == []  # a good file in place is not fetched again


def test_mnist_downloads_from_a_mirror(server, tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=6, dtype=np.uint8)
    files = {}
    for name, array in (("t10k-images-idx3-ubyte.gz", images), ("t10k-labels-idx1-ubyte.gz", labels)):
        header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
        files[name] = gzip.compress(header + array.tobytes())
        server.routes[f"/mirror2/{name}"] = ("ok", files[name])
    monkeypatch.setattr(MNIST, "mirrors", [server.url + "/mirror1/", server.url + "/mirror2/"])
    monkeypatch.setattr(MNIST, "resources", {"test": tuple(_resource(n, p) for n, p in files.items())})
    ds = MNIST(root=tmp_path, train=False, download=True)
    assert np.array_equal(ds.data.data, images) and ds.targets.tolist() == labels.tolist()
    assert _listing(tmp_path / "mnist") == sorted(files)
    assert len(MNIST(root=tmp_path, train=False)) == 6  # and later without download=True


# ----- safe extraction ----------------------------------------------------------------------------------------------

def _tar(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _member(name, kind=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


@pytest.mark.parametrize("bad, reason", [
    (_member("../evil"), "contains '..'"),
    (_member("data/../../evil"), "contains '..'"),
    (_member("/tmp/evil"), "absolute path"),
    (_member("data/link", tarfile.SYMTYPE, "/etc/passwd"), "link or special file"),
    (_member("data/hard", tarfile.LNKTYPE, "data/a.bin"), "link or special file"),
    (_member("data/fifo", tarfile.FIFOTYPE), "link or special file"),
], ids=["parent", "nested-parent", "absolute", "symlink", "hardlink", "fifo"])
def test_unsafe_archives_are_refused_whole(tmp_path, bad, reason):
    folder = tmp_path / "out"
    folder.mkdir()
    data = None if bad.type in (tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE) else b"evil"
    archive = _tar(tmp_path / "a.tar.gz", [(_member("data/a.bin"), b"good"), (bad, data)])
    with pytest.raises(DownloadError, match=rf"refusing to extract .*a\.tar\.gz: member .* {reason}"):
        dl.extract_tar(archive, folder)
    assert _listing(folder) == [] and not (tmp_path / "evil").exists()


def test_safe_archive_is_extracted_with_no_staging_left(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    archive = _tar(tmp_path / "a.tar.gz", [(_member("data", tarfile.DIRTYPE), None),
                                            (_member("data/a.bin"), b"aaa"), (_member("data/sub/b.bin"), b"bb")])
    (folder / "data").mkdir()
    (folder / "data" / "stale.bin").write_bytes(b"old")  # a previous, partial extraction is replaced
    dl.extract_tar(archive, folder)
    assert _listing(folder) == ["data"]
    assert (folder / "data" / "a.bin").read_bytes() == b"aaa" and (folder / "data" / "sub" / "b.bin").exists()
    assert not (folder / "data" / "stale.bin").exists()


def test_corrupt_archive_is_a_download_error(tmp_path):
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(gzip.compress(b"not a tar file at all" * 30)[:50])
    with pytest.raises(DownloadError, match=r"cannot extract .*a\.tar\.gz"):
        dl.extract_tar(archive, tmp_path)
    assert _listing(tmp_path) == ["a.tar.gz"]
