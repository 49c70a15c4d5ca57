"""Turn nested state (dicts, lists, tuples, arrays, numbers) into JSON plus named arrays, and back, exactly.

A checkpoint's arrays go into safetensors tensors; everything else becomes a JSON document in which each array
is replaced by a reference to its tensor name. JSON alone would lose types, so the encoding marks them:

    None, bool, int (any size), str, finite float   -> themselves (Python's json round-trips these exactly)
    list                                            -> a JSON array
    dict whose keys are all str (and not "$type")   -> a JSON object
    any other dict (int keys, as in optimizer state) -> {"$type": "dict", "items": [[key, value], ...]}
    tuple                                           -> {"$type": "tuple", "items": [...]}
    nan, inf, -inf                                  -> {"$type": "float", "value": "nan" | "inf" | "-inf"}
    NumPy scalar (np.float32(0.5), np.int64(3))     -> {"$type": "numpy", "dtype": "float32", "value": 0.5}
    glassbox Tensor / np.ndarray                    -> {"$type": "tensor" | "ndarray", "name": "<tensor name>"}

Decoding trusts nothing: every node is checked and the only types ever built are the ones listed above.
"""

import math
from collections.abc import Mapping

import numpy as np

from ..tensor import Tensor

TYPE = "$type"

# NumPy scalar types that survive a trip through a Python bool/int/float exactly; others are refused.
_NUMPY_SCALARS = {np.dtype(t).name: np.dtype(t).type for t in (
    np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
    np.float16, np.float32, np.float64)}
_SPECIAL_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}

ALLOWED = "dict, list, tuple, str, int, float, bool, None, NumPy scalars, np.ndarray and glassbox Tensor"


def flatten(value, prefix):
    """Encode `value` as (JSON-ready document, {tensor name: np.ndarray}); tensor names start with `prefix/`.

    Raises TypeError (naming where) for a value that cannot be stored, ValueError for a structure that contains
    itself.
    """
    encoder = _Encoder(prefix)
    return encoder.encode(value, (), prefix), encoder.arrays


def unflatten(document, arrays, to_tensor, where):
    """Rebuild the value that `flatten` encoded; `to_tensor(name, array)` makes each Tensor.

    Raises ValueError saying where (`where` names the whole value) the document is malformed or which tensor is
    missing.
    """
    return _decode(document, arrays, to_tensor, where)


class _Encoder:
    def __init__(self, prefix):
        self.prefix = prefix
        self.arrays = {}
        self.open_containers = set()  # ids of the containers being encoded, to refuse cycles

    def encode(self, value, path, where):
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, np.generic):  # before float: np.float64 is a float subclass, and must stay np.float64
            return self.encode_numpy_scalar(value, where)
        if isinstance(value, int):
            return int(value)  # an int subclass (IntEnum) would not survive JSON as itself
        if isinstance(value, float):
            return float(value) if math.isfinite(value) else {TYPE: "float", "value": _special_name(value)}
        if isinstance(value, (Tensor, np.ndarray)):
            return self.encode_array(value, path, where)
        if isinstance(value, (Mapping, list, tuple)):
            if id(value) in self.open_containers:
                raise ValueError(f"{where} contains itself; a checkpoint can only store trees")
            self.open_containers.add(id(value))
            try:
                return self.encode_container(value, path, where)
            finally:
                self.open_containers.discard(id(value))
        raise TypeError(f"{where} is a {type(value).__name__}, which a checkpoint cannot store (allowed: {ALLOWED})")

    def encode_container(self, value, path, where):
        if isinstance(value, list):
            return [self.encode(item, path + (i,), f"{where}[{i}]") for i, item in enumerate(value)]
        if isinstance(value, tuple):
            return {TYPE: "tuple",
                    "items": [self.encode(item, path + (i,), f"{where}[{i}]") for i, item in enumerate(value)]}
        if all(isinstance(key, str) for key in value) and TYPE not in value:
            return {key: self.encode(item, path + (key,), f"{where}[{key!r}]") for key, item in value.items()}
        return {TYPE: "dict", "items": [[self.encode_key(key, where), self.encode(item, path + (key,),
                                                                                 f"{where}[{key!r}]")]
                                        for key, item in value.items()]}

    def encode_key(self, key, where):
        """Dict keys: any hashable made of the scalar types (tuples of them too); never an array."""
        if isinstance(key, (Tensor, np.ndarray)):
            raise TypeError(f"{where} has a {type(key).__name__} as a key; a checkpoint cannot store that")
        return self.encode(key, (), f"a key of {where}")

    def encode_numpy_scalar(self, value, where):
        if value.dtype.name not in _NUMPY_SCALARS:
            raise TypeError(f"{where} is a NumPy {value.dtype} scalar, which a checkpoint cannot store exactly "
                            f"(storable: {sorted(_NUMPY_SCALARS)})")
        return {TYPE: "numpy", "dtype": value.dtype.name, "value": self.encode(value.item(), (), where)}

    def encode_array(self, value, path, where):
        array = value.data if isinstance(value, Tensor) else value
        if array.dtype.kind not in "biufc":
            raise TypeError(f"{where} is an array of dtype {array.dtype}, which a checkpoint cannot store")
        name = self.unique_name(path)
        self.arrays[name] = array
        return {TYPE: "tensor" if isinstance(value, Tensor) else "ndarray", "name": name}

    def unique_name(self, path):
        """A readable tensor name from the path ('optimizer/state/0/exp_avg'); the JSON reference is what counts,
        so a clash (keys 0 and '0', or a '/' inside a key) just takes a numbered suffix."""
        base = "/".join([self.prefix] + [str(part) for part in path])
        name, n = base, 1
        while name in self.arrays:
            n += 1
            name = f"{base}~{n}"
        return name


def _special_name(value):
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _decode(node, arrays, to_tensor, where):
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [_decode(item, arrays, to_tensor, f"{where}[{i}]") for i, item in enumerate(node)]
    if not isinstance(node, dict):
        raise ValueError(f"at {where}: unexpected JSON value of type {type(node).__name__}")
    if TYPE not in node:
        return {key: _decode(item, arrays, to_tensor, f"{where}[{key!r}]") for key, item in node.items()}
    kind = node[TYPE]
    if kind == "tuple":
        return tuple(_decode(item, arrays, to_tensor, f"{where}[{i}]")
                     for i, item in enumerate(_field(node, "items", list, where)))
    if kind == "dict":
        return _decode_dict(node, arrays, to_tensor, where)
    if kind == "float":
        value = _field(node, "value", str, where)
        if value not in _SPECIAL_FLOATS:
            raise ValueError(f"at {where}: unknown special float {value!r}")
        return _SPECIAL_FLOATS[value]
    if kind == "numpy":
        return _decode_numpy_scalar(node, where)
    if kind in ("tensor", "ndarray"):
        name = _field(node, "name", str, where)
        if name not in arrays:
            raise ValueError(f"at {where}: refers to tensor {name!r}, which the file does not hold")
        return to_tensor(name, arrays[name]) if kind == "tensor" else arrays[name]
    raise ValueError(f"at {where}: unknown entry type {kind!r}")


def _decode_dict(node, arrays, to_tensor, where):
    result = {}
    for pair in _field(node, "items", list, where):
        if not (isinstance(pair, list) and len(pair) == 2):
            raise ValueError(f"at {where}: dict items must be [key, value] pairs")
        key = _decode(pair[0], arrays, to_tensor, f"a key of {where}")
        try:
            hash(key)
        except TypeError:
            raise ValueError(f"at {where}: a dict key is a {type(key).__name__}, "
                             f"which cannot be a key") from None
        result[key] = _decode(pair[1], arrays, to_tensor, f"{where}[{key!r}]")
    return result


def _decode_numpy_scalar(node, where):
    dtype = _field(node, "dtype", str, where)
    if dtype not in _NUMPY_SCALARS:
        raise ValueError(f"at {where}: unknown NumPy scalar dtype {dtype!r}")
    value = node.get("value")
    if isinstance(value, dict):  # a NaN or an infinity; any other entry fails the type test below
        value = _decode(value, {}, None, where)
    kind = np.dtype(dtype).kind
    expected = bool if kind == "b" else int if kind in "iu" else (int, float)
    if not isinstance(value, expected) or (kind != "b" and isinstance(value, bool)):
        raise ValueError(f"at {where}: a NumPy {dtype} scalar cannot hold {value!r}")
    try:
        return _NUMPY_SCALARS[dtype](value)
    except (OverflowError, ValueError) as e:
        raise ValueError(f"at {where}: {value!r} is not a valid NumPy {dtype}: {e}") from None


def _field(node, key, kind, where):
    value = node.get(key)
    if not isinstance(value, kind):
        raise ValueError(f"at {where}: a {node.get(TYPE)!r} entry needs a {kind.__name__} {key!r}")
    return value
