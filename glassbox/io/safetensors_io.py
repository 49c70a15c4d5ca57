"""Save and load state dicts as safetensors files: named tensors plus string metadata; no pickle, no code."""

from collections.abc import Mapping

import numpy as np
import safetensors
import safetensors.numpy

from .. import dtypes
from ..tensor import Tensor
from .atomic import atomic_write
from .errors import ModelFileError
from .header import read_header

# The safetensors dtypes that NumPy can hold, which are the ones safetensors.numpy writes and reads.
NUMPY_DTYPES = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "U16": np.uint16, "I16": np.int16,
                "F16": np.float16, "U32": np.uint32, "I32": np.int32, "F32": np.float32, "U64": np.uint64,
                "I64": np.int64, "F64": np.float64, "C64": np.complex64}
_SAVABLE = {np.dtype(t).name for t in NUMPY_DTYPES.values()}


def save(state_dict, path, metadata=None):
    """Write `state_dict` (a dict of name -> Tensor or np.ndarray) to the safetensors file `path`, atomically.

    `metadata` is an optional dict of str -> str stored in the header. The file at `path` is replaced only once
    the new one is completely on disk, so an interrupted save leaves the previous file intact.
    """
    arrays = _arrays_for_saving(state_dict)
    metadata = _check_metadata(metadata)
    with atomic_write(path) as tmp:
        safetensors.numpy.save_file(arrays, tmp, metadata=metadata)


def load(path, *, return_metadata=False):
    """Read the safetensors file `path` into a dict of name -> Tensor (dtypes as stored: float32 stays float32;
    uint16/32/64, which glassbox tensors lack, become int64 when that changes no value).

    With `return_metadata=True`, returns `(tensors, metadata)` where metadata is the header's dict of str -> str
    ({} when there is none). Any problem with the file raises ModelFileError naming the file and the problem.
    """
    arrays, metadata = read_arrays(path)
    tensors = {name: _as_tensor(path, name, array) for name, array in arrays.items()}
    return (tensors, metadata) if return_metadata else tensors


def load_metadata(path):
    """The header metadata (a dict of str -> str, {} if none) of the safetensors file `path`; no tensor is read."""
    return dict(read_header(path).metadata)


def read_arrays(path):
    """The file's tensors as np.ndarrays (sorted by name) and its metadata, after checking the whole header."""
    header = read_header(path)
    for name, entry in header.tensors.items():
        if entry.dtype not in NUMPY_DTYPES:
            raise ModelFileError(path, f"tensor {name!r} has dtype {entry.dtype}, which NumPy (and so glassbox) "
                                       f"cannot hold; convert the file with torch first (e.g. safetensors.torch "
                                       f"load_file, then .float() each tensor, then save_file)")
    try:
        # safetensors copies each tensor out of the file, so no memory map outlives this block.
        with safetensors.safe_open(path, framework="np") as f:
            arrays = {name: f.get_tensor(name) for name in sorted(header.tensors)}
    except Exception as e:  # SafetensorError, OSError if the file changed since the header was read, ...
        raise ModelFileError(path, f"safetensors could not read it: {e}") from e
    return arrays, dict(header.metadata)


def _as_tensor(path, name, array):
    """Wrap an array as a Tensor; unsigned dtypes glassbox lacks widen to int64 when no value changes (as in
    gb.tensor), anything else that glassbox cannot hold is refused rather than silently altered."""
    if array.dtype in dtypes.SUPPORTED:
        return Tensor._make(array)
    if array.dtype.kind == "u" and (array.dtype.itemsize < 8 or array.size == 0 or array.max() < 2**63):
        return Tensor._make(array.astype(np.int64))
    raise ModelFileError(path, f"tensor {name!r} has dtype {array.dtype}, which glassbox tensors do not support "
                               f"(supported: {', '.join(str(d) for d in dtypes.SUPPORTED)})")


def _arrays_for_saving(state_dict):
    """Check the names and values and turn each value into the C-contiguous array safetensors needs."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"save: expected a dict of name -> Tensor, got {type(state_dict).__name__}")
    arrays = {}
    for name, value in state_dict.items():
        if not isinstance(name, str):
            raise TypeError(f"save: tensor names must be str, got {name!r} ({type(name).__name__})")
        if name == "__metadata__":
            raise ValueError("save: the name '__metadata__' is reserved by safetensors for the metadata")
        array = value.data if isinstance(value, Tensor) else value
        if not isinstance(array, np.ndarray):
            raise TypeError(f"save: {name!r} is a {type(value).__name__}; expected a Tensor or an np.ndarray")
        if array.dtype.name not in _SAVABLE:
            raise TypeError(f"save: {name!r} has dtype {array.dtype}, which safetensors cannot store; "
                            f"storable: {sorted(_SAVABLE)}")
        # safetensors writes nbytes from the data pointer, so a strided view would be saved as garbage.
        # (np.ascontiguousarray is avoided for contiguous arrays: it would also turn a 0-d array into 1-d.)
        arrays[name] = array if array.flags.c_contiguous else np.ascontiguousarray(array)
    return arrays


def _check_metadata(metadata):
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in metadata.items()):
        raise TypeError("save: metadata must be a dict of str -> str (encode other values, e.g. with json.dumps)")
    return dict(metadata)
