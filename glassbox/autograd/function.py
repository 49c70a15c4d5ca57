"""Function: the base class of every primitive op, and `apply`, which runs an op and records its graph node."""

import weakref

import numpy as np

from ..errors import ShapeError
from ..tensor import Tensor  # tensor.py imports autograd's package, never this module, so there is no cycle
from . import anomaly, grad_mode
from .engine import HookHandle

# The op tracer (see trace.py): None unless a trace() block is running. Read once per op, so tracing costs nothing
# when off; when set, it is called as _tracer(op_class, inputs, params, output) after each forward.
_tracer = None


class Function:
    """A primitive op: `forward(*arrays, **params) -> array` and `backward(grad_out) -> one gradient per input`.

    Subclasses work on raw np.ndarrays and keep what backward needs as attributes of `self`. An instance is also
    the graph node: `parents` holds, per input, the node that made it, the leaf tensor itself, or None when that
    input needs no gradient. Class attributes tell apply() how to guard the op:
      save_inputs  backward reads the input arrays, so an in-place change to an input must be caught
      save_output  backward reads the output array (exp, sigmoid, tanh, relu ...)
      is_view      the output may share memory with input 0 (reshape, permute, basic indexing ...)
    """

    save_inputs = True
    save_output = False
    is_view = False

    def forward(self, *arrays, **params):
        raise NotImplementedError

    def backward(self, grad):
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the op on tensors; record a graph node when grad mode is on and some input requires grad."""
        ctx = cls.__new__(cls)
        record = grad_mode._enabled and any(t.requires_grad for t in inputs)
        ctx.needs_input_grad = tuple(t.requires_grad for t in inputs) if record else (False,) * len(inputs)
        try:
            out = ctx.forward(*[t.data for t in inputs], **params)
        except ValueError as error:  # NumPy's shape complaints, re-raised with the op's name and the shapes
            shapes = ", ".join(str(t.data.shape) for t in inputs)
            raise ShapeError(f"{cls.__name__}: {error} (input shapes: {shapes})") from None
        if type(out) is not np.ndarray:  # NumPy reductions return scalars; a tensor always holds an array
            out = np.asarray(out)
        if record and out.dtype.kind != "f":  # integer and bool results (casts, argmax-like ops) have no gradient
            record = False
        result = Tensor._make(out, record, ctx if record else None)
        if cls.is_view and np.may_share_memory(out, inputs[0].data):
            # A view shares its base's version counter, so in-place writes through either are seen by both.
            result._version = inputs[0]._version
            result._is_view = True
        if anomaly._enabled:
            anomaly.check_forward(ctx, out)
        if _tracer is not None:
            _tracer(cls, inputs, params, result)
        if record:
            ctx.parents = tuple((t._ctx or t) if t.requires_grad else None for t in inputs)
            ctx.input_shapes = tuple(t.data.shape for t in inputs)
            saved = [(t._version, t._version[0], "input", i) for i, t in enumerate(inputs)] if cls.save_inputs else []
            if cls.save_output or result._is_view:
                # A view whose base is later changed in place would replay a stale graph: catch that too.
                saved.append((result._version, result._version[0], "output", 0))
            ctx.saved_versions = saved
            ctx.released = False
            ctx._output_hooks = None
            ctx._retained = None
        return result

    # ----- graph-node bookkeeping, used by the engine --------------------------------------------------------------
    @classmethod
    def name(cls):
        """The node's name as shown in reprs and errors, e.g. 'MulBackward'."""
        return cls.__name__ + "Backward"

    def check_versions(self):
        """Raise if a tensor this node's backward reads was changed in place after the forward pass."""
        for counter, version, role, index in self.saved_versions:
            if counter[0] != version:
                where = "its output" if role == "output" else f"its input {index}"
                raise RuntimeError(
                    f"one of the tensors needed for gradient computation has been modified by an in-place "
                    f"operation: {self.name()} needs {where}, which is now at version {counter[0]} but was at "
                    f"version {version} when the op ran. Use the out-of-place op (x = x + 1, not x += 1) or "
                    f"clone() the tensor before changing it.")

    def release(self):
        """Free what forward saved (the default after backward, unless retain_graph=True)."""
        retained, hooks = self._retained, self._output_hooks
        self.__dict__.clear()
        self.parents = ()
        self.released = True
        self._retained, self._output_hooks = retained, hooks

    def retain_output(self, tensor):
        self._retained = weakref.ref(tensor)

    def retained_output(self):
        return self._retained() if self._retained is not None else None

    def add_output_hook(self, hook):
        if self._output_hooks is None:
            self._output_hooks = []
        return HookHandle(self._output_hooks, hook)

    def __repr__(self):
        return f"<{self.name()}>"
