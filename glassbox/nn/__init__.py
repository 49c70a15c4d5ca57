"""Neural-network building blocks; for now the functional interface (glassbox.nn.functional). Modules come next."""

from . import functional  # noqa: F401
