"""In-place ops (add_, mul_, x[i] = v, ...): run the out-of-place op, then write the result into the tensor.

Under autograd the written tensor takes over the new graph node, and a private copy of its old value feeds that
node, so ops recorded before the write still see the values they saved (the version counter catches the rest).
"""

import numpy as np

from ..autograd import grad_mode
from ..tensor import Tensor


def apply_inplace(target, op_name, out_of_place, *args, **kwargs):
    """target <- out_of_place(target, *args, **kwargs), in place; returns target."""
    target._check_inplace(op_name)
    records = grad_mode._enabled and (
        target.requires_grad or any(isinstance(a, Tensor) and a.requires_grad for a in args))
    if records:
        if target._is_view:
            raise RuntimeError(f"{op_name}: in-place operation on a view (shape {target.shape}) with inputs that "
                               "require grad is not supported: the base tensor would not record it; use the "
                               "out-of-place op")
        source = Tensor._make(target.data.copy(), target.requires_grad, target._ctx)
        result = out_of_place(source, *args, **kwargs)
    else:
        with grad_mode.no_grad():
            result = out_of_place(target, *args, **kwargs)
    if result.shape != target.shape:
        raise RuntimeError(f"{op_name}: output with shape {target.shape} doesn't match the broadcast shape "
                           f"{result.shape}")
    if not np.can_cast(result.dtype, target.dtype, casting="same_kind"):
        raise RuntimeError(f"{op_name}: result type {result.dtype} can't be cast to the desired output type "
                           f"{target.dtype}")
    np.copyto(target.data, result.data, casting="same_kind")
    target._version[0] += 1
    if records:
        old_node = target._ctx
        target._ctx = result._ctx
        target.requires_grad = result.requires_grad
        if old_node is not None and old_node.retained_output() is target and target._ctx is not None:
            old_node._retained = None  # .grad is taken with respect to the new value, as in PyTorch
            target._ctx.retain_output(target)
    return target
