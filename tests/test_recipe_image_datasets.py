"""mnist-cnn, fashion-cnn and cifar10-resnet on tiny data files written by the tests in the real formats (gzipped idx
files, CIFAR-10 binary batches): one epoch writes every file, the saved model reproduces the test numbers, and
missing data gives a one-line error that says what to do. No network."""

import gzip
import hashlib
import json
import struct

import numpy as np
import pytest

import glassbox as gb
import glassbox.nn as nn
from glassbox import cli
from glassbox.data.datasets import CIFAR10, MNIST, DownloadError, FashionMNIST
from glassbox.data.datasets.download import Resource
from glassbox.recipes import RECIPES, cifar10_resnet, fashion_cnn, image_classification, mnist_cnn
from glassbox.recipes.common import RunConfig

PNG = b"\x89PNG\r\n\x1a\n"
PICTURES = ("curves.png", "confusion_matrix.png", "examples.png", "filters.png", "feature_maps.png")
N_TRAIN, N_TEST = 150, 40


# ----- tiny data in the loaders' formats ---------------------------------------------------------------------------

def write_idx_gz(path, array):
    """`array` (uint8) as a gzipped idx file: magic 0x00 0x00 0x08 <ndim>, big-endian uint32 dims, the bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.tobytes()))
    raw = path.read_bytes()
    return Resource(path.name, len(raw), hashlib.sha256(raw).hexdigest())


def write_mnist_files(folder, seed=0):
    """MNIST-format train/test files in `folder`; returns (resources to patch in, {split: (images, labels)}). The
    images are noise plus a bright bar whose row is the label, so that one epoch can already learn something."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    resources, arrays = {}, {}
    for split, prefix, n in (("train", "train", N_TRAIN), ("test", "t10k", N_TEST)):
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        images = rng.integers(0, 60, size=(n, 28, 28)).astype(np.uint8)
        images[np.arange(n), 2 + 2 * labels.astype(np.int64)] = 255
        resources[split] = (write_idx_gz(folder / f"{prefix}-images-idx3-ubyte.gz", images),
                            write_idx_gz(folder / f"{prefix}-labels-idx1-ubyte.gz", labels))
        arrays[split] = images, labels
    return resources, arrays


def write_cifar_batches(root, seed=0):
    """CIFAR-10 binary batches (extracted, as the loader reads them) under root/cifar-10/cifar-10-batches-bin;
    returns {split: (images (N, 32, 32, 3), labels)}."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10" / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    arrays = {"train": [], "test": []}
    for name, n, split in [(f"data_batch_{i}.bin", N_TRAIN // 5, "train") for i in range(1, 6)] + [
            ("test_batch.bin", N_TEST, "test")]:
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        images = rng.integers(0, 256, size=(n, 32, 32, 3)).astype(np.uint8)
        planes = images.transpose(0, 3, 1, 2).reshape(n, 3072)  # one record: label, red plane, green, blue
        (folder / name).write_bytes(np.concatenate([labels[:, None], planes], axis=1).tobytes())
        arrays[split].append((images, labels))
    return {split: (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
            for split, parts in arrays.items()}


@pytest.fixture
def mnist_root(tmp_path, monkeypatch):
    resources, arrays = write_mnist_files(tmp_path / "data" / "mnist")
    monkeypatch.setattr(MNIST, "resources", resources)  # the real files' checksums would reject the tiny ones
    return tmp_path / "data", arrays


@pytest.fixture
def fashion_root(tmp_path, monkeypatch):
    resources, arrays = write_mnist_files(tmp_path / "data" / "fashion-mnist", seed=1)
    monkeypatch.setattr(FashionMNIST, "resources", resources)
    return tmp_path / "data", arrays


class TinyResNetStem(nn.Module):
    """ResNet's stem names (conv1, bn1, relu) and head (fc) around almost nothing: the real ResNet-18 takes minutes
    per epoch on a CPU even on tiny data, and the recipe only relies on these names."""

    def __init__(self, num_classes=10, small_input=True):
        super().__init__()
        assert small_input
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d((2, 2))
        self.fc = nn.Linear(8 * 2 * 2, num_classes)

    def forward(self, x):
        return self.fc(self.pool(self.relu(self.bn1(self.conv1(x)))).flatten(1))


# ----- checks -----------------------------------------------------------------------------------------------------

def check_run(out, metrics, recipe, arrays, build_model):
    """Every file is there and the saved model, fed the test images normalised by hand, reproduces the numbers."""
    for key in ("test_accuracy", "test_loss", "epochs", "seconds", "parameters", "train_examples", "val_examples",
                "test_examples", "best_val_loss"):
        assert key in metrics, key
    assert json.loads((out / "metrics.json").read_text()) == pytest.approx(metrics)
    assert metrics["epochs"] == 1
    assert metrics["test_examples"] == N_TEST
    assert metrics["val_examples"] == N_TRAIN // 5 and metrics["train_examples"] == N_TRAIN - N_TRAIN // 5
    for name in PICTURES + ("model.safetensors", "history.csv"):
        assert (out / name).exists(), name
    for name in PICTURES:
        assert (out / name).read_bytes()[:8] == PNG, name

    images, labels = arrays["test"]
    images = images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)  # (N, C, H, W)
    mean = np.array(recipe.TASK.mean).reshape(1, -1, 1, 1)
    std = np.array(recipe.TASK.std).reshape(1, -1, 1, 1)
    x = ((images / 255.0 - mean) / std).astype(np.float32)
    model = build_model()
    model.load_state_dict(gb.load(out / "model.safetensors"))
    assert metrics["parameters"] == model.num_parameters()
    model.eval()
    with gb.no_grad():
        logits = model(gb.tensor(x)).numpy().astype(np.float64)
    shifted = logits - logits.max(1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    assert metrics["test_accuracy"] == pytest.approx(np.mean(logits.argmax(1) == labels), abs=1e-12)
    assert metrics["test_loss"] == pytest.approx(-log_probs[np.arange(len(labels)), labels].mean(), rel=1e-4)


def test_mnist_cnn_one_epoch(mnist_root, tmp_path):
    root, arrays = mnist_root
    out = tmp_path / "out"
    metrics = mnist_cnn.run(RunConfig(epochs=1, out=str(out), data=str(root), verbose=0))
    check_run(out, metrics, mnist_cnn, arrays, mnist_cnn.build_model)


def test_fashion_cnn_one_epoch_with_the_data_set_folder_itself(fashion_root, tmp_path):
    root, arrays = fashion_root
    out = tmp_path / "out"
    # --data may name the root (holding fashion-mnist/) or the data set's folder itself
    metrics = fashion_cnn.run(RunConfig(epochs=1, out=str(out), data=str(root / "fashion-mnist"), verbose=0))
    check_run(out, metrics, fashion_cnn, arrays, fashion_cnn.build_model)


def test_cifar10_resnet_one_epoch_with_a_small_stand_in(tmp_path, monkeypatch):
    arrays = write_cifar_batches(tmp_path / "data")
    monkeypatch.setattr(cifar10_resnet, "resnet18", TinyResNetStem)
    out = tmp_path / "out"
    metrics = cifar10_resnet.run(RunConfig(epochs=1, out=str(out), data=str(tmp_path / "data"), verbose=0))
    check_run(out, metrics, cifar10_resnet, arrays, TinyResNetStem)


def test_cifar10_resnet_builds_resnet18_with_the_small_stem():
    model = cifar10_resnet.build_model()
    assert model.conv1.weight.shape == (64, 3, 3, 3) and model.fc.weight.shape == (10, 512)
    assert model.num_parameters() == 11_173_962  # torchvision's resnet18(num_classes=10) with a 3x3 stem


def test_the_training_subset_size_comes_from_the_config(mnist_root, tmp_path, monkeypatch):
    root, _ = mnist_root
    monkeypatch.setattr(image_classification, "write_pictures", lambda *args: None)  # slow, and checked above
    config = RunConfig(epochs=1, out=str(tmp_path / "out"), data=str(root), verbose=0)
    config.train_examples = 50
    assert mnist_cnn.run(config)["train_examples"] == 50


def test_missing_data_under_data_says_what_to_do(tmp_path):
    empty = tmp_path / "nothing"
    empty.mkdir()
    with pytest.raises(DownloadError) as caught:
        mnist_cnn.run(RunConfig(epochs=1, out=str(tmp_path / "out"), data=str(empty), verbose=0))
    message = str(caught.value)
    assert "\n" not in message
    assert str(empty / "mnist") in message and "train-images-idx3-ubyte.gz" in message and "GLASSBOX_DATA" in message


@pytest.mark.parametrize("recipe, dataset", [(mnist_cnn, MNIST), (fashion_cnn, FashionMNIST),
                                             (cifar10_resnet, CIFAR10)])
def test_missing_data_without_a_network_is_one_line_from_the_cli(tmp_path, monkeypatch, capsys, recipe, dataset):
    monkeypatch.setenv("GLASSBOX_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(dataset, "mirrors", ["http://127.0.0.1:9/"])  # the discard port: refused at once
    monkeypatch.setitem(RECIPES, recipe.NAME, recipe)  # registered or not, the CLI can run it
    code = cli.main(["run", recipe.NAME, "--epochs", "1", "--out", str(tmp_path / "out"), "--quiet"])
    assert code == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]  # the download itself logs what it tries first
    assert error.startswith("glassbox: error: DownloadError: ")
    assert str(tmp_path / "cache" / dataset.folder) in error and "download" in error
    needed = "cifar-10-binary.tar.gz" if dataset is CIFAR10 else "t10k-labels-idx1-ubyte.gz"
    assert needed in error and "127.0.0.1" in error


@pytest.mark.slow
def test_cifar10_resnet_one_epoch_with_the_real_resnet18(tmp_path):
    arrays = write_cifar_batches(tmp_path / "data")
    out = tmp_path / "out"
    metrics = cifar10_resnet.run(RunConfig(epochs=1, out=str(out), data=str(tmp_path / "data"), verbose=0))
    check_run(out, metrics, cifar10_resnet, arrays, cifar10_resnet.build_model)
