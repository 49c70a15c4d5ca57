"""Hostile and broken files: each raises ModelFileError naming the file and the problem, and nothing is executed."""

import json
import pickle
import struct
import zipfile

import numpy as np
import pytest
import safetensors.numpy

import glassbox as gb
from glassbox.io import ModelFileError, load, load_checkpoint, load_metadata, save


class _Payload:
    """Unpickling this creates the marker file: the proof that a loader executed code from a file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(autouse=True)
def _no_unpickling(monkeypatch):
    """Belt and braces next to the marker files: any attempt to unpickle or np.load fails the test outright."""

    def refuse(*args, **kwargs):
        raise AssertionError("a loader tried to unpickle or np.load a file")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(np, "load", refuse)


def _safetensors_bytes(header, data=b"", length=None):
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


def _assert_refused(path, fragment, loader=load):
    with pytest.raises(ModelFileError) as info:
        loader(path)
    message = str(info.value)
    assert str(path) in message, message
    assert fragment.lower() in message.lower(), message
    return message


def test_the_payload_really_executes_when_unpickled(tmp_path, monkeypatch):
    # A corpus that cannot hurt proves nothing: check that this payload is live, once, under our control.
    monkeypatch.undo()
    marker = tmp_path / "executed"
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.exists()


@pytest.mark.parametrize("name", ["model.safetensors", "model.pt", "weights.bin"])
def test_a_malicious_pickle_is_recognised_and_never_executed(tmp_path, name):
    marker = tmp_path / "executed"
    path = tmp_path / name
    path.write_bytes(pickle.dumps({"state_dict": _Payload(marker)}, protocol=2))
    for loader in (load, load_metadata, load_checkpoint):
        message = _assert_refused(path, "pickle", loader)
        assert "never unpickles" in message and "safetensors" in message
    assert not marker.exists()


def test_a_torch_checkpoint_with_a_payload_is_recognised_and_never_executed(tmp_path):
    torch = pytest.importorskip("torch")
    marker = tmp_path / "executed"
    path = tmp_path / "model.pt"
    torch.save({"weight": torch.zeros(3), "evil": _Payload(marker)}, path)
    assert not marker.exists()
    message = _assert_refused(path, "PyTorch checkpoint")
    assert "torch.load" in message and "weights_only=True" in message and "save_file" in message
    assert not marker.exists()


def test_a_plain_torch_state_dict_is_recognised(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pth"
    torch.save(torch.nn.Linear(2, 3).state_dict(), path)
    _assert_refused(path, "written by torch.save")


def test_a_legacy_torch_file_is_recognised_as_a_pickle(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "legacy.pt"
    torch.save({"w": torch.ones(2)}, path, _use_new_zipfile_serialization=False)
    _assert_refused(path, "pickle")


def test_a_torch_style_zip_is_recognised_without_torch(tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "fake.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps(_Payload(marker), protocol=2))
        archive.writestr("archive/version", "3\n")
    _assert_refused(path, "PyTorch checkpoint")
    assert not marker.exists()


def test_other_zips_are_named_for_what_they_are(tmp_path):
    npz = tmp_path / "arrays.npz"
    np.savez(npz, a=np.arange(3))
    _assert_refused(npz, ".npz archive")
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("readme.txt", "hello")
    _assert_refused(other, "zip archive")
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    _assert_refused(broken, "zip archive")


def test_an_object_npy_is_recognised_and_never_executed(tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "weights.npy"
    with open(path, "wb") as f:
        np.lib.format.write_array(f, np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    assert not marker.exists()
    _assert_refused(path, "NumPy .npy")
    assert not marker.exists()


@pytest.mark.parametrize("content, fragment", [
    (b"", "empty"),
    (b"abc", "only 3 bytes"),
    (b"\x89HDF\r\n\x1a\n" + b"\x00" * 32, "HDF5"),
    (b"GGUF\x03\x00\x00\x00" + b"\x00" * 32, "GGUF"),
    (b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n", "git lfs pull"),
    (b"<!DOCTYPE html><html><body>403 Forbidden</body></html>", "HTML page"),
    (b'{"architectures": ["BertModel"], "hidden_size": 768}', "JSON text file"),
])
def test_known_wrong_files_are_named(tmp_path, content, fragment):
    path = tmp_path / "model.safetensors"
    path.write_bytes(content)
    _assert_refused(path, fragment)


_F32_4 = {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}


@pytest.mark.parametrize("content, fragment", [
    # the length field
    (struct.pack("<Q", 1000) + b'{"a": 1}', "header length of 1000 bytes but the file holds only 8"),
    (struct.pack("<Q", 2**63) + b"{" + b" " * 20, "more than the 100000000 bytes"),
    (struct.pack("<Q", 10) + b"hello worl" + b"\x00" * 16, "does not start with '{'"),
    # the JSON
    (struct.pack("<Q", 12) + b"{not json!!}", "not valid safetensors JSON"),
    (struct.pack("<Q", 4) + b"{\xff\xfe}", "not UTF-8"),
    (struct.pack("<Q", 22) + b'{"a": NaN, "b": 1.0}  ', "NaN is not valid JSON"),
    (struct.pack("<Q", 20) + b'{"a": {}, "a": {}}  ', "appears twice"),
    # the entries
    (_safetensors_bytes({"fc.weight": {"dtype": "F32", "shape": [1024], "data_offsets": [0, 4096]}}, b"\x00" * 100),
     "tensor 'fc.weight' has 4096 bytes (bytes 0 to 4096 of the data) but the file holds only 100"),
    (_safetensors_bytes({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}}, b"\x00" * 16),
     "takes 12 bytes, but its data_offsets span 16"),
    (_safetensors_bytes({"w": {"dtype": "Q7", "shape": [4], "data_offsets": [0, 16]}}, b"\x00" * 16),
     "unknown dtype 'Q7'"),
    (_safetensors_bytes({"w": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}}, b"\x00" * 16),
     "list of non-negative ints"),
    (_safetensors_bytes({"w": {"dtype": "F32", "shape": [True, 4], "data_offsets": [0, 16]}}, b"\x00" * 16),
     "list of non-negative ints"),
    (_safetensors_bytes({"w": {"dtype": "F32", "shape": [4], "data_offsets": [16, 0]}}, b"\x00" * 16),
     "0 <= begin <= end"),
    (_safetensors_bytes({"w": {"dtype": "F32", "shape": [4]}}, b"\x00" * 16), "must be an object with dtype"),
    (_safetensors_bytes({"w": "F32"}, b"\x00" * 16), "must be an object with dtype"),
    (_safetensors_bytes({"__metadata__": {"epoch": 3}, "w": _F32_4}, b"\x00" * 16), "map strings to strings"),
    # the tiling of the data buffer
    (_safetensors_bytes({"a": _F32_4, "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}},
                        b"\x00" * 24), "overlap"),
    (_safetensors_bytes({"a": _F32_4, "b": _F32_4}, b"\x00" * 16), "overlap"),
    (_safetensors_bytes({"a": {"dtype": "F32", "shape": [4], "data_offsets": [4, 20]}}, b"\x00" * 20),
     "leaves bytes 0 to 4 of the data unused"),
    (_safetensors_bytes({"a": _F32_4}, b"\x00" * 20), "4 bytes after the last tensor"),
    # dtypes the format knows but NumPy cannot hold
    (_safetensors_bytes({"w": {"dtype": "BF16", "shape": [4], "data_offsets": [0, 8]}}, b"\x00" * 8),
     "dtype BF16, which NumPy"),
    # dtypes NumPy holds but glassbox tensors do not
    (_safetensors_bytes({"w": {"dtype": "U64", "shape": [1], "data_offsets": [0, 8]}}, b"\xff" * 8),
     "glassbox tensors do not support"),
    (_safetensors_bytes({"w": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}, b"\x00" * 8),
     "glassbox tensors do not support"),
])
def test_broken_headers_are_explained(tmp_path, content, fragment):
    path = tmp_path / "model.safetensors"
    path.write_bytes(content)
    _assert_refused(path, fragment)


def test_an_entry_that_is_not_an_object_is_refused_and_an_empty_header_is_fine(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(struct.pack("<Q", 6) + b"{}" + b"    ")  # valid, empty: the control
    assert load(path) == {}
    raw = b'{"a": [1, 2]}'
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)
    _assert_refused(path, "must be an object with dtype")


def test_a_deeply_nested_array_header_is_refused(tmp_path):
    path = tmp_path / "model.safetensors"
    raw = b"{" + b'"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)
    _assert_refused(path, "nested too deeply")


@pytest.mark.parametrize("cut", [1, 7, 100, 1000])
def test_truncated_files_are_refused(tmp_path, cut):
    path = tmp_path / "model.safetensors"
    save({"a": gb.ones(100), "b": gb.zeros(300, dtype=gb.int64)}, path)
    content = path.read_bytes()
    path.write_bytes(content[:-cut])
    _assert_refused(path, "truncated")


def test_a_file_truncated_inside_its_header_is_refused(tmp_path):
    path = tmp_path / "model.safetensors"
    save({"a": gb.ones(100)}, path)
    path.write_bytes(path.read_bytes()[:30])
    _assert_refused(path, "truncated")


@pytest.mark.parametrize("seed", range(20))
def test_random_bytes_are_refused(tmp_path, seed):
    rng = np.random.default_rng(seed)
    path = tmp_path / "random.safetensors"
    path.write_bytes(rng.bytes(int(rng.integers(1, 5000))))
    with pytest.raises(ModelFileError) as info:
        load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("seed", range(20))
def test_random_corruption_of_a_valid_file_never_escapes_as_another_error(tmp_path, seed):
    # Flipped bytes anywhere: either the file still loads (a flipped data byte is just another value) or the
    # error is a ModelFileError; never an IndexError, a crash, or a MemoryError from a lying header.
    rng = np.random.default_rng(seed)
    path = tmp_path / "model.safetensors"
    save({"w": gb.ones(8, 4), "b": gb.zeros(4, dtype=gb.int64), "m": gb.tensor([True])}, path,
         metadata={"k": "v"})
    content = bytearray(path.read_bytes())
    for i in rng.integers(0, len(content), size=int(rng.integers(1, 4))):
        content[i] = int(rng.integers(0, 256))
    path.write_bytes(bytes(content))
    try:
        load(path)
    except ModelFileError as e:
        assert str(path) in str(e)


def test_checkpoint_loader_refuses_the_same_corpus(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    path.write_bytes(b"abc")
    _assert_refused(path, "only 3 bytes", load_checkpoint)
    safetensors.numpy.save_file({"w": np.ones(2, np.float32)}, str(path))
    _assert_refused(path, "not a glassbox checkpoint", load_checkpoint)
