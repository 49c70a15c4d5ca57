"""Tensor: one NumPy array plus what autograd needs to know about it (requires_grad, grad, the op that made it).

Arithmetic, shape and reduction methods (`+`, `@`, `.sum()`, `.reshape()` ...) are attached by
`glassbox/functional/methods.py`, one layer up, so that this file depends on nothing but NumPy and the autograd
engine. Read this file for what a tensor *is*; read `ops/` for what each op does forward and backward.
"""

import numpy as np

from . import dtypes
from .autograd import engine, grad_mode


class Tensor:
    """An n-dimensional array that can record the ops applied to it and backpropagate through them.

    Attributes: `data` (the np.ndarray), `requires_grad`, `grad` (a Tensor of the same shape, filled by
    backward()), `grad_fn` (the graph node that produced it, None for leaves).
    """

    # Slots keep a tensor small and attribute access fast: per-op overhead decides small-model speed.
    __slots__ = ("data", "_grad", "requires_grad", "_ctx", "_version", "_is_view", "_hooks", "_post_hooks",
                 "__weakref__")

    def __init__(self, data, dtype=None, requires_grad=False):
        array = _to_array(data, dtypes.as_dtype(dtype))
        self.data = array
        self._grad = None
        self.requires_grad = False
        self._ctx = None
        self._version = [0]
        self._is_view = False
        self._hooks = None
        self._post_hooks = None
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, array, requires_grad=False, ctx=None):
        """Wrap an ndarray without copying or checking: the fast constructor every op uses."""
        t = object.__new__(cls)
        t.data = array
        t._grad = None
        t.requires_grad = requires_grad
        t._ctx = ctx
        t._version = [0]
        t._is_view = False
        t._hooks = None
        t._post_hooks = None
        return t

    # ----- what a tensor is ---------------------------------------------------------------------------------------
    @property
    def shape(self):
        """The shape, a tuple of ints (PyTorch returns torch.Size, a tuple subclass)."""
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    def dim(self):
        return self.data.ndim

    def numel(self):
        """Number of elements."""
        return self.data.size

    def size(self, dim=None):
        """The shape, or the length of one dimension when `dim` is given."""
        if dim is None:
            return self.data.shape
        return self.data.shape[normalize_dim(dim, self.data.ndim, "size")]

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    @property
    def grad(self):
        """The gradient backward() accumulated here (a Tensor of this tensor's shape and dtype), or None."""
        return self._grad

    @grad.setter
    def grad(self, value):
        # Checked like PyTorch: a wrong-shaped gradient would otherwise broadcast silently into an update.
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad must be a Tensor or None, got {type(value).__name__}")
            if value.shape != self.data.shape:
                raise RuntimeError(f"assigned grad has shape {value.shape}, but the tensor has shape "
                                   f"{self.data.shape}")
            if value.dtype != self.data.dtype:
                raise RuntimeError(f"assigned grad has dtype {value.dtype}, but the tensor has dtype "
                                   f"{self.data.dtype}")
        self._grad = value

    @property
    def is_leaf(self):
        """True for tensors made by the user rather than by an op that recorded a graph node."""
        return self._ctx is None

    @property
    def grad_fn(self):
        """The graph node (a Function) that produced this tensor, or None for a leaf."""
        return self._ctx

    @property
    def device(self):
        return "cpu"

    def is_floating_point(self):
        return self.data.dtype.kind == "f"

    def item(self):
        """The single value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted to a Python scalar, "
                             f"got shape {self.data.shape}")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def numpy(self):
        """The underlying array, shared, not copied (like torch, refuses while the tensor records gradients)."""
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on a tensor that requires grad; "
                               "use tensor.detach().numpy() instead.")
        return self.data

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def data_ptr(self):
        return self.data.__array_interface__["data"][0]

    def __hash__(self):
        # Tensors are hashed by identity (== is elementwise), so they can be dict keys and set members.
        return id(self)

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(f"Boolean value of a tensor with {self.data.size} elements is ambiguous; "
                               "use .any() or .all()")
        return bool(self.data)

    def __int__(self):
        return int(self.item())

    def __float__(self):
        return float(self.item())

    def __index__(self):
        if self.data.dtype.kind not in "iub" or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.data.item())

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def __repr__(self):
        prefix = "tensor("
        body = np.array2string(self.data, separator=", ", prefix=prefix, threshold=1000, edgeitems=3,
                               precision=4, floatmode="maxprec_equal")
        extras = []
        default_float = dtypes.get_default_dtype()
        if self.data.dtype not in (default_float, dtypes.int64, dtypes.bool_) or self.data.size == 0:
            extras.append(f"dtype={self.data.dtype}")
        if self._ctx is not None:
            extras.append(f"grad_fn=<{self._ctx.name()}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return prefix + body + "".join(", " + e for e in extras) + ")"

    # ----- autograd ------------------------------------------------------------------------------------------------
    def requires_grad_(self, requires_grad=True):
        """Make this leaf record ops for backward (in place); returns self."""
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor: use detach() to cut it from the graph")
        if requires_grad and self.data.dtype.kind != "f":
            raise RuntimeError(f"only floating-point tensors can require gradients, got dtype {self.data.dtype}")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self):
        """A new leaf sharing this tensor's data, cut from the graph."""
        t = Tensor._make(self.data)
        t._version = self._version
        t._is_view = self._is_view
        return t

    def detach_(self):
        """Cut this tensor from the graph in place."""
        self._ctx = None
        self.requires_grad = False
        return self

    def retain_grad(self):
        """Keep .grad on this non-leaf tensor after backward (leaves always keep it)."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on a tensor that has requires_grad=False")
        if self._ctx is not None:
            self._ctx.retain_output(self)

    @property
    def retains_grad(self):
        return self._ctx is not None and self._ctx.retained_output() is self

    def register_hook(self, hook):
        """Call `hook(grad)` with this tensor's gradient during backward; a non-None return replaces the gradient.
        Returns a handle whose remove() unregisters the hook."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._ctx is not None:
            return self._ctx.add_output_hook(hook)
        if self._hooks is None:
            self._hooks = []
        return engine.HookHandle(self._hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call `hook(tensor)` on this leaf right after backward has added its last gradient contribution to
        `.grad`, while the rest of the backward pass is still to run (data-parallel training starts reducing
        gradients there). Returns a handle whose remove() unregisters the hook."""
        if not self.requires_grad or self._ctx is not None:
            raise RuntimeError("register_post_accumulate_grad_hook: only a leaf tensor that requires grad has an "
                               "accumulated gradient; this one is " +
                               ("not a leaf" if self._ctx is not None else "a tensor that does not require grad"))
        return engine.register_post_accumulate_hook(self, hook)

    def backward(self, gradient=None, retain_graph=None):
        """Backpropagate from this tensor: fills `.grad` of every leaf that requires grad (accumulating).

        `gradient` (same shape as self) is required unless self holds one element. The graph is freed
        afterwards unless `retain_graph=True`.
        """
        if not self.requires_grad:
            raise RuntimeError("backward(): this tensor does not require grad and has no grad_fn; "
                               "did you forget requires_grad=True on an input, or call it under no_grad()?")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward(): grad can be implicitly created only for scalar outputs, "
                                   f"got a tensor of shape {self.data.shape}; pass gradient= of that shape")
            grad_array = np.ones(self.data.shape, dtype=self.data.dtype)
        else:
            grad_array = gradient.data if isinstance(gradient, Tensor) else np.asarray(gradient)
            if grad_array.shape != self.data.shape:
                raise RuntimeError(f"backward(): gradient has shape {grad_array.shape} but the tensor has shape "
                                   f"{self.data.shape}; they must match")
            grad_array = grad_array.astype(self.data.dtype, copy=True)
        engine.backward(self, grad_array, bool(retain_graph))

    # ----- in place ----------------------------------------------------------------------------------------------
    # The in-place ops themselves (add_, zero_, x[i] = v ...) live in functional/methods.py; this is their guard.
    def _check_inplace(self, op_name):
        """Refuse in-place writes that would make recorded gradients wrong."""
        if not grad_mode._enabled:
            return
        if self._ctx is None and self.requires_grad:
            raise RuntimeError(f"{op_name}: a leaf tensor that requires grad (shape {self.data.shape}) is being used "
                               "in an in-place operation; wrap it in `with glassbox.no_grad():` if this is a "
                               "parameter update, or use the out-of-place op")
        if self._is_view and self.requires_grad:
            raise RuntimeError(f"{op_name}: in-place operation on a view (shape {self.data.shape}) of a tensor that "
                               "is part of the graph is not supported: glassbox would not see the change in the "
                               "base tensor's gradient; use the out-of-place op or call .clone() first")


def _to_array(data, dtype):
    """Turn user data (nested lists, scalars, arrays, tensors) into a new ndarray with PyTorch's dtype choices."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, (np.ndarray, np.generic)):  # NumPy arrays and scalars keep their dtype, as in torch
        array = np.array(data, dtype=dtype, copy=True)
    else:
        if isinstance(data, (list, tuple)) and _contains_tensor(data):
            data = _tensors_to_arrays(data)
        array = np.array(data, dtype=dtype)
        if dtype is None and array.dtype.kind == "f":
            # Python floats become the default float dtype (float32), not NumPy's float64.
            array = array.astype(dtypes.get_default_dtype())
    if array.dtype.kind in "OUSV":
        raise TypeError(f"tensor(): cannot make a tensor from data of type {type(data).__name__} "
                        f"(NumPy dtype {array.dtype}); expected numbers or nested lists of numbers")
    if array.dtype not in dtypes.SUPPORTED:
        array = array.astype(dtypes.as_dtype(_closest_supported(array.dtype)))
    return array


def _closest_supported(dtype):
    if dtype.kind == "f":
        return dtypes.float64
    if dtype.kind == "c":
        raise TypeError("complex tensors are not supported")
    return dtypes.int64


def _contains_tensor(seq):
    return any(isinstance(x, Tensor) or (isinstance(x, (list, tuple)) and _contains_tensor(x)) for x in seq)


def _tensors_to_arrays(seq):
    return [x.data if isinstance(x, Tensor) else _tensors_to_arrays(x) if isinstance(x, (list, tuple)) else x
            for x in seq]


def normalize_dim(dim, ndim, op_name):
    """Turn a possibly negative `dim` into an index in [0, ndim), or raise an IndexError naming the op."""
    ndim_for_range = max(ndim, 1)  # PyTorch lets dim 0 / -1 address a 0-d tensor
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op_name}: dim must be an int, got {type(dim).__name__}")
    if not -ndim_for_range <= dim < ndim_for_range:
        raise IndexError(f"{op_name}: dimension out of range (expected to be in range of "
                         f"[{-ndim_for_range}, {ndim_for_range - 1}], but got {dim}) for a tensor with {ndim} dims")
    return int(dim) % ndim_for_range
