"""Model files: safetensors save/load of state dicts, atomic writes, and one-file training checkpoints.

    import glassbox.io as gio
    gio.save(model.state_dict(), "model.safetensors")
    model.load_state_dict(gio.load("model.safetensors"))
    gio.save_checkpoint("ckpt.safetensors", model_state=..., optimizer_state=..., extra={"epoch": 3})

Nothing in a file is ever executed: no pickle, no eval, no imports named by a file. Every problem reading a file
raises ModelFileError, which names the file and what is wrong with it.
"""

from .atomic import atomic_write, write_atomically
from .checkpoint import FORMAT_VERSION, load_checkpoint, save_checkpoint
from .errors import ModelFileError
from .pretrained import read_state_dict as read_state_dict  # explicit re-export (not yet in __all__)
from .safetensors_io import load, load_metadata, save

__all__ = ["save", "load", "load_metadata", "save_checkpoint", "load_checkpoint", "atomic_write",
           "write_atomically", "ModelFileError", "FORMAT_VERSION"]
