"""Tests of MNIST, FashionMNIST and CIFAR10 on tiny files in the real formats (idx .gz, CIFAR binary .tar.gz),
written by the tests: parsing, validation errors, safe extraction, and the DataLoader fast path. No network."""

import gzip
import hashlib
import io
import struct
import tarfile

import numpy as np
import pytest

from glassbox.data import DataLoader, default_collate, transforms
from glassbox.data.datasets import CIFAR10, MNIST, DownloadError, FashionMNIST
from glassbox.data.datasets.download import Resource
from glassbox.data.datasets.mnist import read_idx


def idx_bytes(array, type_code=0x08):
    """`array` in the idx format: magic 0x0000<type><ndim>, big-endian uint32 dims, then the bytes."""
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def resource_for(path):
    raw = path.read_bytes()
    return Resource(path.name, len(raw), hashlib.sha256(raw).hexdigest())


def write_mnist(folder, n_train=12, n_test=5, seed=0):
    """Tiny MNIST-format files in `folder`; returns (resources dict, {split: (images, labels)})."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    resources, arrays = {}, {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        pair = []
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            path = folder / f"{prefix}-{kind}-ubyte.gz"
            path.write_bytes(gzip.compress(idx_bytes(array)))
            pair.append(resource_for(path))
        resources[split], arrays[split] = tuple(pair), (images, labels)
    return resources, arrays


@pytest.fixture
def mnist_root(tmp_path, monkeypatch):
    resources, arrays = write_mnist(tmp_path / "mnist")
    monkeypatch.setattr(MNIST, "resources", resources)
    return tmp_path, arrays


def test_mnist_reads_idx_files(mnist_root):
    root, arrays = mnist_root
    for train, split in ((True, "train"), (False, "test")):
        ds = MNIST(root=root, train=train)
        images, labels = arrays[split]
        assert len(ds) == len(labels)
        image, label = ds[3]
        assert image.shape == (28, 28) and image.dtype == np.uint8 and np.array_equal(image, images[3])
        assert isinstance(label, int) and label == labels[3]
        assert ds.data.shape == (len(labels), 28, 28) and ds.data.dtype == np.uint8
        assert ds.targets.dtype == np.int64 and ds.targets.tolist() == labels.tolist()
    assert "Number of datapoints: 5" in repr(ds) and "Split: Test" in repr(ds)


def test_mnist_root_from_environment(mnist_root, monkeypatch):
    root, arrays = mnist_root
    monkeypatch.setenv("GLASSBOX_DATA", str(root))
    assert len(MNIST()) == len(arrays["train"][1])


def test_mnist_transforms_and_loader_fast_path(mnist_root):
    root, arrays = mnist_root
    plain = MNIST(root=root)
    fast = list(DataLoader(plain, batch_size=5))
    slow = list(DataLoader(plain, batch_size=5, collate_fn=lambda b: default_collate(b)))
    for (xf, yf), (xs, ys) in zip(fast, slow, strict=True):
        assert xf.dtype == xs.dtype == np.uint8 and np.array_equal(xf.data, xs.data)
        assert yf.dtype == ys.dtype == np.int64 and np.array_equal(yf.data, ys.data)
    assert fast[0][0].shape == (5, 28, 28)
    scaled = MNIST(root=root, transform=transforms.ToTensor(), target_transform=lambda y: y + 100)
    x, y = scaled[0]
    assert x.shape == (1, 28, 28) and x.dtype == np.float32 and np.allclose(x.data[0] * 255, arrays["train"][0][0])
    assert y == arrays["train"][1][0] + 100
    xb, yb = next(iter(DataLoader(scaled, batch_size=4)))  # transforms set: the per-sample path
    assert xb.shape == (4, 1, 28, 28) and yb.tolist() == (arrays["train"][1][:4] + 100).tolist()


def test_fashion_mnist_uses_its_own_folder_and_classes(tmp_path, monkeypatch):
    resources, arrays = write_mnist(tmp_path / "fashion-mnist", seed=1)
    monkeypatch.setattr(FashionMNIST, "resources", resources)
    ds = FashionMNIST(root=tmp_path, train=False)
    assert len(ds) == 5 and ds.classes[9] == "Ankle boot"
    assert np.array_equal(ds[4][0], arrays["test"][0][4])


def test_missing_files_without_download_say_what_to_do(tmp_path):
    with pytest.raises(DownloadError) as info:
        MNIST(root=tmp_path)
    message = str(info.value)
    assert "download=True" in message and str(tmp_path / "mnist" / "train-images-idx3-ubyte.gz") in message
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/train-labels-idx1-ubyte.gz" in message


def test_a_wrong_file_in_place_is_caught_by_its_checksum(mnist_root):
    root, _ = mnist_root
    path = root / "mnist" / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(path.read_bytes())
    raw[-9] ^= 0xFF  # same size, different bytes
    path.write_bytes(bytes(raw))
    expected, actual = MNIST.resources["test"][1].sha256, hashlib.sha256(raw).hexdigest()
    with pytest.raises(DownloadError, match=rf"t10k-labels.*expected {expected}, got {actual}"):
        MNIST(root=root, train=False)


# ----- the idx parser -----------------------------------------------------------------------------------------------

def _idx_file(tmp_path, payload, name="x-idx3-ubyte.gz"):
    path = tmp_path / name
    path.write_bytes(gzip.compress(payload))
    return path


def test_read_idx_round_trip_and_other_types(tmp_path):
    images = np.arange(2 * 28 * 28, dtype=np.uint32).astype(np.uint8).reshape(2, 28, 28)
    assert np.array_equal(read_idx(_idx_file(tmp_path, idx_bytes(images)), (None, 28, 28)), images)
    values = np.array([[1.5, -2.0]], dtype=">f4")
    path = tmp_path / "f.idx"  # not compressed
    path.write_bytes(idx_bytes(values, type_code=0x0D))
    out = read_idx(path, (1, 2), type_code=0x0D)
    assert out.dtype == np.float32 and out.dtype.isnative and out.tolist() == [[1.5, -2.0]]


@pytest.mark.parametrize("payload, match", [
    (idx_bytes(np.zeros((2, 28, 28), np.uint8))[:-1], r"bytes \(uncompressed\).*truncated"),
    (idx_bytes(np.zeros((2, 28, 28), np.uint8)) + b"\0", "need"),
    (idx_bytes(np.zeros((2, 27, 28), np.uint8)), r"dimensions are \(2, 27, 28\), expected \(N, 28, 28\)"),
    (idx_bytes(np.zeros(5, np.uint8)), r"magic number 0x00000801, expected 0x00000803"),
    (b"\x1f\x8b\x08\x00" + bytes(10), "magic number 0x1F8B0800"),
    (b"\0\0", "shorter than 4 bytes"),
    (bytes([0, 0, 8, 3, 0, 0]), "header is truncated"),
], ids=["short-data", "extra-byte", "wrong-dims", "labels-magic", "double-gzip", "tiny", "short-header"])
def test_read_idx_rejects_bad_files_naming_them(tmp_path, payload, match):
    path = _idx_file(tmp_path, payload)
    with pytest.raises(ValueError, match=match) as info:
        read_idx(path, (None, 28, 28))
    assert str(path) in str(info.value)


def test_read_idx_rejects_broken_gzip(tmp_path):
    path = tmp_path / "broken-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((1, 28, 28), np.uint8)))[:-10])
    with pytest.raises(ValueError, match="broken-idx3-ubyte.gz.*gzip"):
        read_idx(path, (None, 28, 28))


def test_mnist_label_checks(tmp_path, monkeypatch):
    folder = tmp_path / "mnist"
    resources, _ = write_mnist(folder)
    labels = folder / "train-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(idx_bytes(np.full(11, 3, np.uint8))))  # one label short
    resources["train"] = (resources["train"][0], resource_for(labels))
    monkeypatch.setattr(MNIST, "resources", resources)
    with pytest.raises(ValueError, match="12 images but .* 11 labels"):
        MNIST(root=tmp_path)
    labels.write_bytes(gzip.compress(idx_bytes(np.full(12, 10, np.uint8))))
    resources["train"] = (resources["train"][0], resource_for(labels))
    with pytest.raises(ValueError, match="label 10 is outside 0..9"):
        MNIST(root=tmp_path)


# ----- CIFAR-10 binary ----------------------------------------------------------------------------------------------

def cifar_records(n, seed):
    """n CIFAR-10 binary records and the (N, 32, 32, 3) images and labels they encode."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    planes = images.transpose(0, 3, 1, 2).reshape(n, 3072)  # red plane, green plane, blue plane, row by row
    return np.concatenate([labels[:, None], planes], axis=1).tobytes(), images, labels


def cifar_archive(path, extra_members=()):
    """A tiny cifar-10-binary.tar.gz at `path` with 2 records per training batch and 3 test records."""
    expected = {"train": [], "test": []}
    with tarfile.open(path, "w:gz") as tar:
        files = [(f"data_batch_{i}.bin", 2, "train") for i in range(1, 6)] + [("test_batch.bin", 3, "test")]
        for seed, (name, n, split) in enumerate(files):
            raw, images, labels = cifar_records(n, seed)
            expected[split].append((images, labels))
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
        for info, data in extra_members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return {split: (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
            for split, parts in expected.items()}


def test_cifar10_extracts_and_parses_the_binary_batches(tmp_path, monkeypatch):
    folder = tmp_path / "cifar-10"
    folder.mkdir()
    expected = cifar_archive(folder / "cifar-10-binary.tar.gz")
    monkeypatch.setattr(CIFAR10, "archive", resource_for(folder / "cifar-10-binary.tar.gz"))
    train = CIFAR10(root=tmp_path)
    assert len(train) == 10 and train.data.shape == (10, 32, 32, 3) and train.data.dtype == np.uint8
    assert np.array_equal(train.data, expected["train"][0]) and train.targets == expected["train"][1].tolist()
    image, label = train[7]
    assert image.shape == (32, 32, 3) and np.array_equal(image, expected["train"][0][7]) and isinstance(label, int)
    assert sorted(p.name for p in folder.iterdir()) == ["cifar-10-batches-bin", "cifar-10-binary.tar.gz"]
    (folder / "cifar-10-binary.tar.gz").unlink()  # once extracted, the batches are read directly
    test = CIFAR10(root=tmp_path, train=False, transform=transforms.ToTensor())
    x, y = test[2]
    assert x.shape == (3, 32, 32) and np.allclose(x.data * 255, expected["test"][0][2].transpose(2, 0, 1))
    xb, yb = next(iter(DataLoader(CIFAR10(root=tmp_path, train=False), batch_size=3)))
    assert xb.shape == (3, 32, 32, 3) and yb.tolist() == expected["test"][1].tolist()


def test_cifar10_bad_batch_file_is_named(tmp_path):
    batches = tmp_path / "cifar-10" / "cifar-10-batches-bin"
    batches.mkdir(parents=True)
    (batches / "test_batch.bin").write_bytes(cifar_records(2, 0)[0][:-1])
    with pytest.raises(ValueError, match=r"test_batch\.bin: 6145 bytes is not a whole number of 3073-byte"):
        CIFAR10(root=tmp_path, train=False)
    (batches / "test_batch.bin").write_bytes(b"\x0a" + bytes(3072))
    with pytest.raises(ValueError, match=r"test_batch\.bin: label 10 is outside"):
        CIFAR10(root=tmp_path, train=False)


def test_cifar10_refuses_an_archive_with_a_parent_directory_member(tmp_path, monkeypatch):
    folder = tmp_path / "data" / "cifar-10"
    folder.mkdir(parents=True)
    evil = tarfile.TarInfo("../evil")
    evil.size = 4
    cifar_archive(folder / "cifar-10-binary.tar.gz", extra_members=[(evil, b"evil")])
    monkeypatch.setattr(CIFAR10, "archive", resource_for(folder / "cifar-10-binary.tar.gz"))
    with pytest.raises(DownloadError, match=r"refusing to extract .*'\.\./evil'.*contains '\.\.'"):
        CIFAR10(root=tmp_path / "data")
    assert not (tmp_path / "data" / "evil").exists() and not (folder / "evil").exists()
    assert sorted(p.name for p in folder.iterdir()) == ["cifar-10-binary.tar.gz"]  # nothing extracted
