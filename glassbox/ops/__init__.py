"""Primitive ops: each a Function with forward and backward side by side, working on raw np.ndarrays.

Rules every op follows: backward never writes into `grad` (it may be shared); it returns one gradient per input
(None where `needs_input_grad` is False), in the op's output broadcast shape (the engine undoes broadcasting).
"""
