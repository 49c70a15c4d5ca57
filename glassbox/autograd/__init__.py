"""Reverse-mode automatic differentiation: graph nodes (Function), the backward engine, grad mode, and the
checking tools users can call (gradcheck, detect_anomaly)."""

from .anomaly import detect_anomaly, is_anomaly_enabled  # noqa: F401
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401


def __getattr__(name):
    # Function and gradcheck need the Tensor class, and tensor.py imports this package: load them on first use.
    if name == "Function":
        from .function import Function

        return Function
    if name in ("gradcheck", "GradcheckError"):
        from . import gradient_check as module

        return getattr(module, name)
    raise AttributeError(f"module 'glassbox.autograd' has no attribute {name!r}")
