"""Training checkpoints: model, optimizer, scheduler and free-form state in ONE safetensors file, written atomically.

Every array becomes a tensor ('model/fc.weight', 'optimizer/state/0/exp_avg', ...); the rest of the structure
(step counts, hyper-parameters, RNG states, history) is a JSON document in the header metadata, with each array
replaced by a reference to its tensor name (see tree.py). The file is still a plain safetensors file: any
safetensors reader lists its tensors, and glassbox.load reads them all by name.
"""

import json
from collections.abc import Mapping

from .. import dtypes
from ..tensor import Tensor
from .errors import ModelFileError
from .safetensors_io import read_arrays, save
from .tree import flatten, unflatten

FORMAT_KEY = "glassbox.format"
FORMAT_NAME = "checkpoint"
VERSION_KEY = "glassbox.format_version"
FORMAT_VERSION = 1  # raise when the layout changes; load_checkpoint refuses versions it does not know
DOCUMENT_KEY = "glassbox.checkpoint"

# Each part of a checkpoint and the prefix of its tensor names.
PARTS = {"model_state": "model", "optimizer_state": "optimizer", "scheduler_state": "scheduler", "extra": "extra"}


def save_checkpoint(path, *, model_state, optimizer_state=None, scheduler_state=None, extra=None):
    """Write a training checkpoint to `path` (one safetensors file), replacing any previous one atomically.

    `model_state` is a state dict (name -> Tensor); `optimizer_state` and `scheduler_state` are their
    state_dict()s; `extra` is anything else to resume with (epoch, step, RNG states, data-loader state, history).
    All may nest dicts (any hashable scalar keys, e.g. the int keys of optimizer state), lists, tuples, Tensors,
    np.ndarrays, NumPy scalars, and Python numbers, bools, None and strings; load_checkpoint returns them with
    the same types and values. Raises TypeError naming the first value that cannot be stored.
    """
    if not isinstance(model_state, Mapping):
        raise TypeError(f"save_checkpoint: model_state must be a state dict (a dict of name -> Tensor), "
                        f"got {type(model_state).__name__}")
    values = {"model_state": model_state, "optimizer_state": optimizer_state,
              "scheduler_state": scheduler_state, "extra": extra}
    document, arrays = {}, {}
    for part, prefix in PARTS.items():
        document[part], part_arrays = flatten(values[part], prefix)
        arrays.update(part_arrays)  # the prefixes keep the parts' names apart
    # allow_nan=False: non-finite floats were already encoded by flatten; a bare NaN here would be a bug.
    metadata = {FORMAT_KEY: FORMAT_NAME, VERSION_KEY: str(FORMAT_VERSION),
                DOCUMENT_KEY: json.dumps(document, allow_nan=False, separators=(",", ":"))}
    save(arrays, path, metadata=metadata)


def load_checkpoint(path):
    """Read a checkpoint written by save_checkpoint.

    Returns a dict with keys 'model_state', 'optimizer_state', 'scheduler_state' and 'extra', each as it was
    saved (None where nothing was saved). Raises ModelFileError naming the file if it is not a glassbox
    checkpoint, was written by a newer format version, or is damaged in any way.
    """
    arrays, metadata = read_arrays(path)
    document = _read_document(path, metadata)

    def to_tensor(name, array):
        if array.dtype not in dtypes.SUPPORTED:
            raise ValueError(f"tensor {name!r} has dtype {array.dtype}, which glassbox tensors do not support")
        return Tensor._make(array)

    try:
        return {part: unflatten(document[part], arrays, to_tensor, part) for part in PARTS}
    except RecursionError:
        raise ModelFileError(path, "the checkpoint's metadata is nested too deeply") from None
    except ValueError as e:
        raise ModelFileError(path, f"the checkpoint's metadata is damaged {e}") from None


def _read_document(path, metadata):
    """The JSON document, after checking that this is a glassbox checkpoint of a version this code reads."""
    if metadata.get(FORMAT_KEY) != FORMAT_NAME or DOCUMENT_KEY not in metadata:
        raise ModelFileError(path, "is a safetensors file but not a glassbox checkpoint (its metadata has no "
                                   f"{FORMAT_KEY!r}: {FORMAT_NAME!r}); read its tensors with glassbox.load")
    version = metadata.get(VERSION_KEY, "")
    if not version.isdigit():
        raise ModelFileError(path, f"the checkpoint's format version {version!r} is not a number")
    if not 1 <= int(version) <= FORMAT_VERSION:
        raise ModelFileError(path, f"was written in checkpoint format version {version}, but this glassbox reads "
                                   f"only versions up to {FORMAT_VERSION}: upgrade glassbox")
    try:
        document = json.loads(metadata[DOCUMENT_KEY], parse_constant=_refuse_constant)
    except RecursionError:
        raise ModelFileError(path, "the checkpoint's metadata is nested too deeply") from None
    except ValueError as e:
        raise ModelFileError(path, f"the checkpoint's metadata is not valid JSON: {e}") from None
    if not isinstance(document, dict) or set(document) != set(PARTS):
        raise ModelFileError(path, f"the checkpoint's metadata must be an object with keys {sorted(PARTS)}")
    return document


def _refuse_constant(name):
    raise ValueError(f"{name} is not valid JSON")
