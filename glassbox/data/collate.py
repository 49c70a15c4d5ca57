"""Turning a list of samples into one batch (default_collate) and single samples into tensors (default_convert)."""

import collections.abc
import numbers

import numpy as np

from ..creation import as_tensor
from ..tensor import Tensor


def _stack(arrays):
    """np.stack along a new first axis, with an error that shows the shapes that differ."""
    shape = arrays[0].shape
    if any(a.shape != shape for a in arrays):
        shapes = sorted({a.shape for a in arrays}, key=str)
        raise ValueError(f"default_collate: cannot stack samples of different shapes {shapes}; make them one shape "
                         "in a transform (crop, pad, resize) or pass a collate_fn that pads")
    return np.stack(arrays)


def _check_array(array):
    if array.dtype.kind in "OUSV":
        raise TypeError(f"default_collate: cannot make a tensor from NumPy arrays of dtype {array.dtype}")


def default_collate(batch):
    """Stack a list of B samples into one batch, following the structure of the first sample:

    - Tensors and NumPy arrays of shape S -> one Tensor of shape (B, *S), same dtype;
    - NumPy scalars -> Tensor (B,) of their dtype; Python ints -> int64, bools -> bool, floats -> the default
      float dtype (float32; PyTorch gives float64 here, which would promote float32 losses);
    - dicts -> dict of collated values; tuples -> tuple (PyTorch returns a list), lists -> list, namedtuples ->
      namedtuple, collated field by field; strings and bytes -> the list unchanged.
    """
    if not isinstance(batch, collections.abc.Sequence) or isinstance(batch, (str, bytes)) or not batch:
        raise TypeError(f"default_collate: expected a non-empty list of samples, got {type(batch).__name__}")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return Tensor._make(_stack([t.data for t in batch]))
    if isinstance(elem, np.ndarray):
        _check_array(elem)
        return as_tensor(_stack([np.asarray(a) for a in batch]))
    if isinstance(elem, np.generic):  # before the Python number checks: np.float64 is a float subclass
        array = np.array(batch)
        _check_array(array)
        return as_tensor(array)
    if isinstance(elem, numbers.Number):
        return Tensor(list(batch))  # Tensor() picks int64 / bool / default float, like gb.tensor
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        return {key: default_collate([sample[key] for sample in batch]) for key in elem}
    if isinstance(elem, collections.abc.Sequence):
        if any(len(sample) != len(elem) for sample in batch):
            raise ValueError(f"default_collate: each sample in the batch should have the same number of fields, "
                             f"got {sorted({len(sample) for sample in batch})}")
        fields = [default_collate(list(samples)) for samples in zip(*batch)]
        if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
            return type(elem)(*fields)
        return tuple(fields) if isinstance(elem, tuple) else fields
    raise TypeError(f"default_collate: samples must be tensors, NumPy arrays, numbers, strings, dicts, tuples or "
                    f"lists; got {type(elem).__name__}; pass a collate_fn for other types")


def default_convert(data):
    """One sample as tensors, without batching (for batch_size=None): NumPy arrays and scalars -> Tensors (arrays
    share memory), containers converted element by element, anything else unchanged."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, (np.ndarray, np.generic)) and data.dtype.kind not in "OUSV":
        return as_tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return {key: default_convert(value) for key, value in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return tuple(default_convert(d) for d in data)
    if isinstance(data, list):
        return [default_convert(d) for d in data]
    return data
