"""Recognise the files people mistake for safetensors (PyTorch .pt, pickles, .npy, HDF5 ...) by their first bytes."""

import os
import zipfile

# What the unsafe formats have in common, said once: why glassbox refuses them rather than reading them.
_NO_PICKLE = "glassbox never unpickles files, because unpickling runs whatever code the file names"


def _torch_conversion(path):
    """The one-line command that turns a trusted PyTorch file into safetensors (weights_only refuses code)."""
    stem = os.path.splitext(os.path.basename(os.fspath(path)))[0] or "model"
    return (f"if you trust the file, convert it once with torch and safetensors: python -c \"import torch; "
            f"from safetensors.torch import save_file; "
            f"sd = torch.load('{os.fspath(path)}', map_location='cpu', weights_only=True); "
            f"save_file({{k: v.contiguous() for k, v in sd.items()}}, '{stem}.safetensors')\" "
            f"and load '{stem}.safetensors' instead")


def describe_foreign_file(path, head):
    """Say what kind of file `head` (its first bytes) starts, if it is a known non-safetensors format, else None.

    Only magic numbers and, for zip archives, the list of member names are read: nothing is decoded further.
    """
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return (f"is a Python pickle (protocol {head[1]}), e.g. a PyTorch .pt/.pth/.bin saved in the legacy "
                f"format, not a safetensors file; {_NO_PICKLE}; {_torch_conversion(path)}")
    if head[:4] == b"PK\x03\x04" or head[:4] == b"PK\x05\x06":
        return _describe_zip(path)
    if head[:6] == b"\x93NUMPY":
        return ("is a NumPy .npy array file, not a safetensors file (and .npy files can hold pickled objects, "
                "which glassbox never reads); if you trust it, read it with np.load(path) (allow_pickle=False) "
                "and write the arrays as a state dict with glassbox.save")
    if head[:8] == b"\x89HDF\r\n\x1a\n":
        return "is an HDF5 file (Keras .h5 weights?), not a safetensors file; glassbox reads only safetensors"
    if head[:4] == b"GGUF":
        return "is a GGUF file (llama.cpp), not a safetensors file; glassbox reads only safetensors"
    if head.startswith(b"version https://git-lfs"):
        return ("is a Git LFS pointer (a small text file standing in for the real one), not the model itself: "
                "run `git lfs pull` in the repository, or download the file directly")
    lowered = head.lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html")):
        return ("is an HTML page, not a model file: the download probably returned an error or login page "
                "instead of the file")
    if head[:1] in (b"{", b"["):
        return "is a JSON text file (a config?), not a safetensors file; safetensors starts with an 8-byte length"
    return None


def _describe_zip(path):
    """A zip archive: PyTorch's torch.save format, a NumPy .npz, a Keras .keras, or something else."""
    try:
        with zipfile.ZipFile(path) as archive:  # reads the central directory only; no member is decompressed
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        names = []
    if not names:
        return (f"is a zip archive (the format torch.save writes?) whose member list cannot be read, not a "
                f"safetensors file; {_NO_PICKLE}")
    if any(name == "data.pkl" or name.endswith("/data.pkl") for name in names):
        return (f"is a PyTorch checkpoint written by torch.save (a zip archive holding a Python pickle), not a "
                f"safetensors file; {_NO_PICKLE}; {_torch_conversion(path)}")
    if any(name.endswith(".npy") for name in names):
        return ("is a NumPy .npz archive, not a safetensors file; if you trust it, read it with np.load(path) "
                "(allow_pickle=False) and write the arrays as a state dict with glassbox.save")
    if "config.json" in names and any(name.endswith(".h5") for name in names):
        return "is a Keras .keras archive, not a safetensors file; glassbox reads only safetensors"
    return "is a zip archive, not a safetensors file; glassbox reads only safetensors"
