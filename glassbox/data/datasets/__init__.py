"""Data sets: small real ones shipped in the package (load_digits, load_iris, load_diabetes, as NumPy arrays) and
downloadable ones as torchvision-style Datasets (MNIST, FashionMNIST, CIFAR10), plus a seeded train/test split."""

from .cifar import CIFAR10
from .download import DownloadError, data_root
from .embedded import DIABETES_FEATURES, IRIS_CLASSES, IRIS_FEATURES, load_diabetes, load_digits, load_iris
from .mnist import MNIST, FashionMNIST
from .split import train_test_split

__all__ = ["load_digits", "load_iris", "load_diabetes", "IRIS_CLASSES", "IRIS_FEATURES", "DIABETES_FEATURES",
           "train_test_split", "MNIST", "FashionMNIST", "CIFAR10", "DownloadError", "data_root"]
