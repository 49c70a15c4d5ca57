"""Read pretrained weights into a dict of name -> np.ndarray: safetensors natively, PyTorch .pt only through torch.

    weights = read_state_dict("resnet18.safetensors")      # no torch needed
    weights = read_state_dict("checkpoint.pt")             # needs torch: torch.load(..., weights_only=True)

glassbox never unpickles anything itself. A .pt/.pth/.bin file is a pickle, and the only reader used for it is
PyTorch's own `torch.load(path, map_location="cpu", weights_only=True)`, whose restricted unpickler builds tensors
and plain containers and refuses everything else (classes, functions, whole pickled models). torch is imported
here, lazily, and nowhere else at run time.
"""

import os
import warnings
from collections.abc import Mapping

import numpy as np
import safetensors

from .errors import ModelFileError
from .header import read_header
from .safetensors_io import read_arrays
from .sniff import _torch_conversion

SAFETENSORS_EXTENSIONS = (".safetensors",)
TORCH_EXTENSIONS = (".pt", ".pth", ".bin")

# Keys under which training scripts commonly nest the weights: {"state_dict": ...} (Lightning, many repos),
# {"model_state_dict": ...} (the PyTorch tutorial), {"model": ...} (torchvision's reference scripts, timm).
CONTAINER_KEYS = ("state_dict", "model_state_dict", "model")

# The prefix nn.DataParallel / DistributedDataParallel put in front of every key of the wrapped model.
DATA_PARALLEL_PREFIX = "module."


def read_state_dict(path, *, strip_prefix="auto", container_key=None):
    """The tensors of the weights file `path` as a dict of name -> np.ndarray, in the file's order.

    .safetensors is read by glassbox itself (bfloat16 included); .pt/.pth/.bin go through
    torch.load(weights_only=True) when torch is installed, and a clear ModelFileError otherwise.

    Half precision (float16, bfloat16) is widened to float32, which is exact, with a warning saying how many
    tensors were widened: glassbox models compute in float32.

    Containers (.pt only): if the loaded object is a dict whose values are not all tensors, the weights are looked
    for under `container_key` if given, else under the first of CONTAINER_KEYS present ('state_dict',
    'model_state_dict', 'model'), repeatedly (a {'model': {'state_dict': ...}} nests twice).

    strip_prefix: "auto" (the default) strips 'module.' (left by nn.DataParallel) only when *every* key starts with
    it, so a model that happens to have a child called `module` is never renamed; a string strips that prefix from
    every key that has it; None keeps the keys as stored.
    """
    path = os.fspath(path)
    extension = os.path.splitext(path)[1].lower()
    if extension in SAFETENSORS_EXTENSIONS:
        arrays, bfloat16 = _read_safetensors(path)
    elif extension in TORCH_EXTENSIONS:
        arrays, bfloat16 = _read_torch(path, container_key)
    else:
        raise ModelFileError(path, f"unknown weights file extension {extension or '(none)'!r}: glassbox reads "
                                   f".safetensors natively and {'/'.join(TORCH_EXTENSIONS)} through PyTorch's "
                                   f"torch.load(weights_only=True); rename the file if it is one of these")
    return strip_key_prefix(_widen_half(path, arrays, bfloat16), strip_prefix)


def strip_key_prefix(state, prefix="auto"):
    """`state` with `prefix` removed from the keys that start with it ("auto": 'module.' when every key has it;
    None: unchanged). Two keys that would become one raise ValueError rather than silently losing a tensor."""
    if prefix is None or not state:
        return dict(state)
    if prefix == "auto":
        if not all(key.startswith(DATA_PARALLEL_PREFIX) for key in state):
            return dict(state)
        prefix = DATA_PARALLEL_PREFIX
    stripped = {}
    for key, value in state.items():
        new = key[len(prefix):] if key.startswith(prefix) else key
        if new in stripped:
            raise ValueError(f"stripping the prefix {prefix!r} makes two keys {new!r}; pass strip_prefix=None and "
                             f"rename them with key_map instead")
        stripped[new] = value
    return stripped


def tensor_to_numpy(value, name="tensor"):
    """A glassbox Tensor, np.ndarray or torch.Tensor (recognised by its methods, without importing torch) as an
    np.ndarray; bfloat16 and other dtypes NumPy lacks are widened to float32 through torch itself."""
    if isinstance(value, np.ndarray):
        return value
    data = getattr(value, "data", None)
    if isinstance(data, np.ndarray):  # a glassbox Tensor or Parameter
        return data
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch.Tensor
        tensor = value.detach().cpu()
        if str(tensor.dtype) == "torch.bfloat16":  # NumPy has no bfloat16; every bfloat16 is a float32
            tensor = tensor.float()
        try:
            return tensor.numpy().copy()  # a copy: the array must not alias torch's storage
        except (TypeError, RuntimeError) as e:
            raise TypeError(f"{name!r}: a torch tensor of dtype {tensor.dtype} cannot become a NumPy array ({e}); "
                            f"convert it first, e.g. with .float()") from e
    if np.isscalar(value) or isinstance(value, (list, tuple)):
        return np.asarray(value)
    raise TypeError(f"{name!r} is a {type(value).__name__}; expected a Tensor, an np.ndarray or a torch.Tensor")


# ----- safetensors -------------------------------------------------------------------------------------------------
def _read_safetensors(path):
    """Every tensor of a safetensors file; bfloat16 ones (which NumPy cannot hold, so safetensors.numpy refuses
    them) are decoded here from their raw bytes into float32."""
    header = read_header(path)
    bf16 = [name for name, entry in header.tensors.items() if entry.dtype == "BF16"]
    if not bf16:
        return read_arrays(path)[0], []
    others = [name for name in header.tensors if name not in bf16]
    unknown = [name for name in others if header.tensors[name].dtype not in _NUMPY_READABLE]
    if unknown:
        name = unknown[0]
        raise ModelFileError(path, f"tensor {name!r} has dtype {header.tensors[name].dtype}, which NumPy (and so "
                                   f"glassbox) cannot hold; convert the file with torch first")
    arrays = {}
    try:
        with safetensors.safe_open(path, framework="np") as f:
            for name in others:
                arrays[name] = f.get_tensor(name)
        with open(path, "rb") as f:
            for name in bf16:
                entry = header.tensors[name]
                f.seek(header.data_start + entry.begin)
                raw = f.read(entry.end - entry.begin)
                if len(raw) != entry.end - entry.begin:
                    raise OSError("the file is truncated inside the data of " + repr(name))
                arrays[name] = _bfloat16_to_float32(raw, entry.shape)
    except Exception as e:  # SafetensorError, OSError: the file changed or is broken
        raise ModelFileError(path, f"could not be read: {e}") from e
    return {name: arrays[name] for name in header.tensors}, bf16


_NUMPY_READABLE = {"BOOL", "U8", "I8", "U16", "I16", "F16", "U32", "I32", "F32", "U64", "I64", "F64", "C64"}


def _bfloat16_to_float32(raw, shape):
    """bfloat16 is the top half of a float32: shift each little-endian 16-bit pattern up by 16 bits (exact)."""
    bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
    return bits.view(np.float32).reshape(shape)


# ----- PyTorch -----------------------------------------------------------------------------------------------------
def _read_torch(path, container_key):
    try:
        import torch  # the one run-time torch import in glassbox: only here, only for .pt files
    except ImportError:
        raise ModelFileError(path, ".pt files are pickles; glassbox reads them only through PyTorch's "
                                   "torch.load(weights_only=True) — install torch (pip install torch), or convert "
                                   f"the file to .safetensors on a machine that has torch: {_torch_conversion(path)}"
                             ) from None
    if not os.path.isfile(path):
        raise ModelFileError(path, "no such file" if not os.path.exists(path) else "is not a regular file")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # UnpicklingError for refused objects, RuntimeError for a broken archive, ...
        raise ModelFileError(path, "torch.load(weights_only=True) refused or could not read it; files holding "
                                   "pickled classes or whole models (torch.save(model)) are not loaded — save "
                                   f"model.state_dict() instead. torch said: {_first_line(e)}") from e
    return _unwrap(path, loaded, container_key, torch)


def _unwrap(path, loaded, container_key, torch):
    """The flat dict of name -> np.ndarray inside what torch.load returned."""
    if container_key is not None:
        if not isinstance(loaded, Mapping) or container_key not in loaded:
            keys = list(loaded)[:10] if isinstance(loaded, Mapping) else type(loaded).__name__
            raise ModelFileError(path, f"has no entry {container_key!r} (container_key); top level: {keys}")
        loaded = loaded[container_key]
    while isinstance(loaded, Mapping) and not _all_tensors(loaded, torch):
        inner = next((k for k in CONTAINER_KEYS if isinstance(loaded.get(k), Mapping)), None)
        if inner is None:
            break
        loaded = loaded[inner]
    if not isinstance(loaded, Mapping):
        raise ModelFileError(path, f"holds a {type(loaded).__name__}, not a dict of name -> tensor (a state_dict)")
    others = [f"{k!r} ({type(v).__name__})" for k, v in loaded.items() if not isinstance(v, torch.Tensor)]
    if others:
        raise ModelFileError(path, f"is not a plain state_dict: entries that are not tensors: {', '.join(others[:8])}"
                                   f"{' ...' if len(others) > 8 else ''}; pass container_key= to pick the entry "
                                   f"that holds the weights")
    arrays = {}
    for name, tensor in loaded.items():
        try:
            arrays[str(name)] = tensor_to_numpy(tensor, name)
        except TypeError as e:
            raise ModelFileError(path, str(e)) from e
    bfloat16 = [str(name) for name, tensor in loaded.items() if tensor.dtype == torch.bfloat16]
    return arrays, bfloat16


def _all_tensors(mapping, torch):
    return all(isinstance(v, torch.Tensor) for v in mapping.values())


def _first_line(error):
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


# ----- shared ------------------------------------------------------------------------------------------------------
def _widen_half(path, arrays, bfloat16):
    """float16 -> float32 (the `bfloat16` names arrive as float32 already); one warning saying what changed."""
    float16 = [name for name, array in arrays.items() if array.dtype == np.float16]
    for name in float16:
        arrays[name] = arrays[name].astype(np.float32)
    if float16 or bfloat16:
        counts = [f"{len(names)} {kind}" for kind, names in (("float16", float16), ("bfloat16", bfloat16)) if names]
        warnings.warn(f"{path}: widened {' and '.join(counts)} tensor(s) to float32 (exact; glassbox models "
                      f"compute in float32)", stacklevel=3)
    return arrays
