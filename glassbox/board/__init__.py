"""`glassbox board`: a local, read-only web dashboard of training runs (live curves, images, diagnostics, graph,
backprop step-through, LR finder), served with the standard library."""

from .server import BoardServer, RunsDirectory, make_server

__all__ = ["BoardServer", "RunsDirectory", "make_server"]
