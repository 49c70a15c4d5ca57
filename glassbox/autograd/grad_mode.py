"""Grad mode: the switch that decides whether ops record the graph (no_grad, enable_grad, set_grad_enabled)."""

import functools

# One process-wide flag, read by Function.apply on every op. A plain module global is the cheapest thing to read;
# glassbox runs ops on one thread (data-loading workers never build graphs), so it need not be thread-local.
_enabled = True


def is_grad_enabled():
    """True when ops record the graph for backward."""
    return _enabled


class _GradMode:
    """Sets grad mode to `mode` inside a with-block, or around every call of a decorated function."""

    mode = True

    def __enter__(self):
        global _enabled
        self.previous = _enabled
        _enabled = self.mode
        return self

    def __exit__(self, *exc_info):
        global _enabled
        _enabled = self.previous
        return False

    def __call__(self, function):
        mode = self.mode

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with _Fixed(mode):
                return function(*args, **kwargs)

        return wrapper


class _Fixed(_GradMode):
    def __init__(self, mode):
        self.mode = mode


class _BareDecorator(_GradMode):
    """`@no_grad()` and `@no_grad` both work, as in PyTorch."""

    def __new__(cls, function=None):
        instance = super().__new__(cls)
        return instance if function is None else instance(function)


class no_grad(_BareDecorator):
    """Inside this context ops record no graph: the fast path for evaluation and inference."""

    mode = False


class enable_grad(_BareDecorator):
    """Turn graph recording back on inside a no_grad block."""

    mode = True


class set_grad_enabled(_GradMode):
    """Turn graph recording on or off: as a call, a context manager, or a decorator (like torch.set_grad_enabled)."""

    def __init__(self, mode):
        global _enabled
        self.previous = _enabled
        self.mode = bool(mode)
        _enabled = self.mode  # takes effect at once, so that set_grad_enabled(False) works as a plain call

    def __enter__(self):
        return self  # already switched in __init__; __exit__ restores what was there before

    def __call__(self, function):
        """As a decorator: undo the immediate switch, and switch only while the function runs."""
        global _enabled
        _enabled = self.previous
        return super().__call__(function)
