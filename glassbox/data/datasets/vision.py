"""ImageDataset: what MNIST, FashionMNIST and CIFAR10 share once their files are parsed (indexing, transforms, the
DataLoader fast path)."""

import numpy as np

from ...tensor import Tensor
from ..dataset import Dataset


class ImageDataset(Dataset):
    """Labelled uint8 images held in memory, indexed like torchvision's data sets.

    `dataset[i]` is `(image, label)`: the image a uint8 NumPy array, (H, W) for grey and (H, W, C) for colour (the
    layout of the PIL image torchvision returns; `transforms.ToTensor()` turns it into float (C, H, W) in [0, 1]),
    the label an int, each passed through `transform` / `target_transform` when set.
    """

    def __init__(self, images, labels, root, train, transform=None, target_transform=None):
        self._images = images  # (N, H, W) or (N, H, W, C) uint8
        self._labels = labels  # (N,) int64
        self.root = str(root)
        self.train = train
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self):
        return len(self._labels)

    def __getitem__(self, index):
        image, label = self._images[index].copy(), int(self._labels[index])  # a copy, like PIL's: edits stay local
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def get_batch(self, indices):
        """Without transforms: (images uint8 Tensor (B, H, W[, C]), labels int64 Tensor (B,)), exactly what
        default_collate makes of the samples, in one indexing call; None when a transform is set."""
        if self.transform is not None or self.target_transform is not None:
            return None
        return Tensor._make(self._images[indices]), Tensor._make(self._labels[indices])

    def __repr__(self):
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}",
                 f"    Root location: {self.root}", f"    Split: {'Train' if self.train else 'Test'}"]
        lines += [f"    {name}: {t!r}" for name, t in (("Transform", self.transform),
                                                        ("Target transform", self.target_transform)) if t is not None]
        return "\n".join(lines)


def check_labels(labels, num_classes, path):
    """Raise a ValueError naming `path` when a label is outside 0 .. num_classes - 1."""
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)][0]
        raise ValueError(f"{path}: label {int(bad)} is outside 0..{num_classes - 1}; the file is corrupted")
    return np.asarray(labels, dtype=np.int64)
