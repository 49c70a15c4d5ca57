"""The exception types glassbox raises for bad shapes (RuntimeError subclasses, as PyTorch users expect)."""


class ShapeError(RuntimeError):
    """Shapes that an op cannot combine; the message names the op, the shapes, and a likely fix."""
