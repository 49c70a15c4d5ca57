"""CIFAR-10 from its binary version (fixed-size records, no pickle), downloaded and extracted on request."""

from pathlib import Path

import numpy as np

from .download import DownloadError, Resource, data_root, ensure_files, extract_tar
from .vision import ImageDataset, check_labels

# One record of the binary version: 1 label byte, then 3072 pixel bytes: the 1024 red values of the 32x32 image
# row by row, then the 1024 green, then the 1024 blue.
_SIDE = 32
_RECORD = 1 + 3 * _SIDE * _SIDE


def read_cifar_bin(path, num_classes=10):
    """Images (N, 32, 32, 3) uint8 (HWC, like torchvision's .data) and labels (N,) int64 from one CIFAR-10 binary
    batch file; a ValueError names the file when its size is not a whole number of records or a label is bad."""
    path = Path(path)
    raw = path.read_bytes()
    if len(raw) == 0 or len(raw) % _RECORD:
        raise ValueError(f"{path}: {len(raw)} bytes is not a whole number of {_RECORD}-byte CIFAR-10 records; the "
                         "file is truncated or not a CIFAR-10 binary batch")
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _RECORD)
    labels = check_labels(records[:, 0], num_classes, path)
    images = records[:, 1:].reshape(-1, 3, _SIDE, _SIDE).transpose(0, 2, 3, 1).copy()
    return images, labels


class CIFAR10(ImageDataset):
    """CIFAR-10: 50000 training and 10000 test colour images, 32x32, in 10 classes.

    Files live in `<root>/cifar-10/` (root: the `root` argument, else $GLASSBOX_DATA, else
    ~/.cache/glassbox/datasets): download=True fetches cifar-10-binary.tar.gz (checking its sha256) and extracts it
    safely into `cifar-10-batches-bin/`. `dataset[i]` is (image uint8 ndarray (32, 32, 3), label int) before
    transforms; `.data` is the (N, 32, 32, 3) uint8 array and `.targets` a list of ints, as in torchvision.
    """

    folder = "cifar-10"
    mirrors = ["https://www.cs.toronto.edu/~kriz/"]
    # Size and sha256 as listed by tensorflow/datasets (tensorflow_datasets/url_checksums/cifar10.txt); sha256 is the
    # digest checked. (The CIFAR page lists md5 c32a1d4ab5d03f1284b67883e8d87530 for this file.)
    archive = Resource("cifar-10-binary.tar.gz", 170052171,
                       "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd")
    base_folder = "cifar-10-batches-bin"
    train_list = [f"data_batch_{i}.bin" for i in range(1, 6)]
    test_list = ["test_batch.bin"]
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    def __init__(self, root=None, train=True, download=False, transform=None, target_transform=None):
        folder = data_root(root) / self.folder
        batch_dir = folder / self.base_folder
        files = [batch_dir / name for name in (self.train_list if train else self.test_list)]
        if not all(f.exists() for f in files):
            # The extracted batches are what we read; the archive is only needed (and verified) to make them.
            (archive,) = ensure_files(type(self).__name__, folder, [self.archive], self.mirrors, download)
            extract_tar(archive, folder)
            absent = [str(f) for f in files if not f.exists()]
            if absent:
                raise DownloadError(f"{type(self).__name__}: {archive} did not contain {absent}; delete it and "
                                    "download it again")
        parts = [read_cifar_bin(f, len(self.classes)) for f in files]
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        super().__init__(images, labels, folder, train, transform, target_transform)

    @property
    def data(self):
        return self._images

    @property
    def targets(self):
        return self._labels.tolist()
