"""Anomaly detection: name the first op whose forward or backward produced NaN or Inf, and where it was called."""

import os
import traceback

import numpy as np

_enabled = False
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class detect_anomaly:
    """Context manager: while active, every op checks its output and its gradients for NaN/Inf and raises a
    RuntimeError naming the op and the line of user code that created it. Slow; use it to debug, not to train."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        global _enabled
        self.previous = _enabled
        _enabled = self.check_nan
        return self

    def __exit__(self, *exc_info):
        global _enabled
        _enabled = self.previous
        return False


def is_anomaly_enabled():
    return _enabled


def _user_frame():
    """The innermost stack frame outside the glassbox package: the line the user wrote."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR):
            return f'File "{frame.filename}", line {frame.lineno}, in {frame.name}\n    {frame.line}'
    return "(location unknown)"


def _bad_values(array):
    if not isinstance(array, np.ndarray) or array.dtype.kind != "f":
        return None
    if np.isnan(array).any():
        return "NaN"
    if np.isinf(array).any():
        return "Inf"
    return None


def check_forward(ctx, out):
    """Called by Function.apply in anomaly mode: remember where the op was created; raise on a bad output."""
    ctx.created_at = _user_frame()
    bad = _bad_values(out)
    if bad is not None:
        raise RuntimeError(f"detect_anomaly: the forward pass of {type(ctx).__name__} produced {bad} values "
                           f"(output shape {out.shape}).\nThe op was called at:\n  {ctx.created_at}")


def check_backward(node, input_grads):
    """Called by the engine in anomaly mode after each node's backward."""
    for index, grad in enumerate(input_grads):
        bad = _bad_values(grad)
        if bad is not None:
            created = getattr(node, "created_at", "(created before detect_anomaly was entered)")
            raise RuntimeError(f"detect_anomaly: {node.name()} returned {bad} values in its gradient for input "
                               f"{index} (shape {grad.shape}).\nThe forward op was called at:\n  {created}")
