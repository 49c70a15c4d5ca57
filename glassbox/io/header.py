"""Read a safetensors header without trusting it: every length, dtype, shape and offset is checked against the file.

The format: 8 bytes little-endian header length N, N bytes of JSON (`{"name": {"dtype": "F32", "shape": [2, 3],
"data_offsets": [begin, end]}, ..., "__metadata__": {str: str}}`), then the data buffer, which the tensors must
tile exactly (offsets are relative to the buffer's start). These checks cost one small read and give a message a
person can act on; safetensors checks again when it reads the data.
"""

import json
import math
import os
from dataclasses import dataclass

from .errors import ModelFileError
from .sniff import describe_foreign_file

MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit: a longer header is a corrupt length field, not a model

# Bits per element of every dtype the safetensors format defines (the sub-byte float formats included).
DTYPE_BITS = {"BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "I16": 16, "U16": 16,
              "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "C64": 64, "F64": 64, "I64": 64, "U64": 64,
              "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6}

_SNIFF_BYTES = 64


@dataclass(frozen=True)
class TensorEntry:
    """One tensor as the header describes it: dtype name, shape, and its byte range in the data buffer."""

    dtype: str
    shape: tuple
    begin: int
    end: int


@dataclass(frozen=True)
class Header:
    """A checked header: the tensors in file order, the `__metadata__` strings, and where the data starts."""

    tensors: dict
    metadata: dict
    data_start: int


def read_header(path):
    """Read and check the header of the safetensors file at `path`; raise ModelFileError naming what is wrong."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(_SNIFF_BYTES)
            length = _header_length(path, head, size)
            f.seek(8)
            raw = f.read(length)
    except IsADirectoryError as e:
        raise ModelFileError(path, "is a directory, not a safetensors file") from e
    except FileNotFoundError as e:
        raise ModelFileError(path, "no such file") from e
    except OSError as e:
        raise ModelFileError(path, f"cannot be read ({e.strerror or e})") from e
    if len(raw) != length:  # the file shrank between fstat and read
        raise ModelFileError(path, "the file is truncated inside its header")
    document = _parse_json(path, raw)
    metadata = _check_metadata(path, document.pop("__metadata__", None))
    data_size = size - 8 - length
    tensors = {name: _check_entry(path, name, entry, data_size) for name, entry in document.items()}
    _check_tiling(path, tensors, data_size)
    return Header(tensors, metadata, 8 + length)


def _header_length(path, head, size):
    """The header length N from the first 8 bytes, after telling other formats and broken files apart."""
    if size == 0:
        raise ModelFileError(path, "the file is empty (0 bytes): an interrupted save or an incomplete download?")
    length = int.from_bytes(head[:8], "little") if size >= 8 else None
    # A real safetensors file is recognised first, because its length bytes may happen to look like a magic
    # number (a 640-byte header starts b"\x80\x02", like a pickle).
    if length is not None and length <= min(size - 8, MAX_HEADER_BYTES) and head[8:9] == b"{":
        return length
    foreign = describe_foreign_file(path, head)
    if foreign is not None:
        raise ModelFileError(path, foreign)
    if size < 8:
        raise ModelFileError(path, f"is only {size} bytes long: too short to be a safetensors file, which starts "
                                   f"with an 8-byte header length")
    if length > MAX_HEADER_BYTES:
        raise ModelFileError(path, f"not a safetensors file: its first 8 bytes give a header length of {length} "
                                   f"bytes, more than the {MAX_HEADER_BYTES} bytes safetensors allows")
    if length > size - 8:
        raise ModelFileError(path, f"not a safetensors file, or truncated: its first 8 bytes give a header length "
                                   f"of {length} bytes but the file holds only {size - 8} bytes after them")
    raise ModelFileError(path, "not a safetensors file: the JSON header after the 8-byte length does not start "
                               "with '{'")


def _parse_json(path, raw):
    """The header as a dict; duplicate names and non-standard NaN/Infinity literals are refused."""

    def unique_keys(pairs):
        result = {}
        for key, value in pairs:
            if key in result:
                raise ValueError(f"the name {key!r} appears twice")
            result[key] = value
        return result

    def refuse_constant(name):
        raise ValueError(f"{name} is not valid JSON")

    try:
        document = json.loads(raw.decode("utf-8"), object_pairs_hook=unique_keys, parse_constant=refuse_constant)
    except UnicodeDecodeError as e:
        raise ModelFileError(path, f"the header is not UTF-8 text ({e.reason} at byte {8 + e.start})") from None
    except RecursionError:
        raise ModelFileError(path, "the header JSON is nested too deeply to be a safetensors header") from None
    except ValueError as e:  # json.JSONDecodeError is a ValueError, and so are the hooks' complaints
        raise ModelFileError(path, f"the header is not valid safetensors JSON: {e}") from None
    if not isinstance(document, dict):
        raise ModelFileError(path, f"the header is JSON but a {type(document).__name__}, not an object")
    return document


def _check_metadata(path, metadata):
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ModelFileError(path, "the header's __metadata__ must map strings to strings")
    return metadata


def _check_entry(path, name, entry, data_size):
    """One tensor's description: known dtype, non-negative int shape, offsets inside the data, sizes that agree."""
    if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= entry.keys():
        raise ModelFileError(path, f"the header entry for tensor {name!r} must be an object with dtype, shape "
                                   f"and data_offsets")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in DTYPE_BITS:
        raise ModelFileError(path, f"tensor {name!r} has unknown dtype {dtype!r}; safetensors dtypes are "
                                   f"{sorted(DTYPE_BITS)}")
    if not isinstance(shape, list) or not all(_is_count(n) for n in shape):
        raise ModelFileError(path, f"tensor {name!r} has shape {shape!r}; a shape is a list of non-negative ints")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_count(n) for n in offsets)
            and offsets[0] <= offsets[1]):
        raise ModelFileError(path, f"tensor {name!r} has data_offsets {offsets!r}; expected [begin, end] with "
                                   f"0 <= begin <= end")
    begin, end = offsets
    if end > data_size:
        raise ModelFileError(path, f"the header says tensor {name!r} has {end - begin} bytes (bytes {begin} to "
                                   f"{end} of the data) but the file holds only {data_size} bytes of data: "
                                   f"truncated, or the header is wrong")
    bits = math.prod(shape) * DTYPE_BITS[dtype]
    if bits != 8 * (end - begin):
        raise ModelFileError(path, f"the header says tensor {name!r} is {dtype} of shape {tuple(shape)}, which "
                                   f"takes {bits / 8:g} bytes, but its data_offsets span {end - begin} bytes")
    return TensorEntry(dtype, tuple(shape), begin, end)


def _is_count(n):
    return isinstance(n, int) and not isinstance(n, bool) and n >= 0


def _check_tiling(path, tensors, data_size):
    """The tensors must cover the data buffer exactly: no overlaps (one write would corrupt two), no gaps."""
    position, previous = 0, None
    for name, entry in sorted(tensors.items(), key=lambda item: (item[1].begin, item[1].end)):
        if entry.begin < position:
            raise ModelFileError(path, f"the header's tensors {previous!r} and {name!r} overlap (bytes {entry.begin} "
                                       f"to {position} of the data)")
        if entry.begin > position:
            raise ModelFileError(path, f"the header leaves bytes {position} to {entry.begin} of the data unused "
                                       f"(before tensor {name!r}); safetensors files have no gaps")
        position, previous = entry.end, name
    if position != data_size:
        raise ModelFileError(path, f"the file has {data_size - position} bytes after the last tensor's data; "
                                   f"safetensors files end with their last tensor")
