"""Data sets and data pipeline: Dataset, DataLoader, samplers, transforms and the data sets themselves.

    from glassbox.data import DataLoader, TensorDataset, random_split
    from glassbox.data import transforms
    from glassbox.data.datasets import load_digits, MNIST
"""

from . import datasets, transforms
from .collate import default_collate, default_convert
from .dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from .loader import DataLoader
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler
from .worker import WorkerInfo, get_worker_info

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split", "DataLoader", "Sampler",
           "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "BatchSampler", "default_collate",
           "default_convert", "datasets", "transforms", "WorkerInfo", "get_worker_info"]
