"""Parameter: a Tensor that a Module registers as learnable (requires_grad=True by default)."""

import numpy as np

from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf Tensor that Modules collect in parameters() and state_dict(). Shares memory with `data`."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            array = np.empty((0,), dtype=np.float32)
        elif isinstance(data, Tensor):
            array = data.data
        else:
            array = np.asarray(data)
        self.data = array  # shared, not copied: Parameter(t) wraps t's memory, as in PyTorch
        self._grad = None
        self.requires_grad = False
        self._ctx = None
        self._version = data._version if isinstance(data, Tensor) else [0]
        self._is_view = False
        self._hooks = None
        self._post_hooks = None
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + Tensor.__repr__(self)
