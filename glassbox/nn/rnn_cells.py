"""Single-step recurrent cells with PyTorch's interface: RNNCell, LSTMCell, GRUCell.

A cell is one time step of the fused sequence ops in ops/rnn.py (a sequence of length 1), so a loop of cells and
the corresponding RNN/LSTM/GRU layer compute the same numbers.
"""

import math

import numpy as np

from .. import dtypes
from ..creation import empty, zeros
from ..errors import ShapeError
from ..ops import rnn as recurrent
from ..tensor import Tensor
from . import init
from .module import Module
from .parameter import Parameter


class RNNCellBase(Module):
    """weight_ih (G*H, input_size), weight_hh (G*H, H), bias_ih and bias_hh (G*H,), all drawn from
    U(-1/sqrt(H), 1/sqrt(H)); G = num_chunks, the number of gates (1, 4 for the LSTM cell, 3 for the GRU cell)."""

    def __init__(self, input_size, hidden_size, bias=True, num_chunks=1, dtype=None):
        super().__init__()
        name = type(self).__name__
        for label, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name}: {label} must be a positive integer, got {value!r}")
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bool(bias)
        dtype = dtypes.as_dtype(dtype) or dtypes.get_default_dtype()
        gate_size = int(num_chunks) * self.hidden_size
        self.weight_ih = Parameter(empty(gate_size, self.input_size, dtype=dtype))
        self.weight_hh = Parameter(empty(gate_size, self.hidden_size, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(gate_size, dtype=dtype))
            self.bias_hh = Parameter(empty(gate_size, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.hidden_size)
        for parameter in self.parameters():
            init.uniform_(parameter, -bound, bound)

    def _weights(self):
        return [self.weight_ih, self.weight_hh] + ([self.bias_ih, self.bias_hh] if self.bias else [])

    def _input(self, input):
        """input (B, I) or (I,) -> (1, B, I), and whether it had a batch dim."""
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        if input.dim() not in (1, 2) or input.shape[-1] != self.input_size:
            raise ShapeError(f"{name}: expected input of shape (batch, {self.input_size}) or ({self.input_size},), "
                             f"got {tuple(input.shape)}")
        batched = input.dim() == 2
        return (input if batched else input.unsqueeze(0)).unsqueeze(0), batched

    def _state(self, state, label, batch, batched, dtype):
        """A (B, H) state: zeros when None, checked otherwise."""
        if state is None:
            return zeros(batch, self.hidden_size, dtype=dtype)
        expected = (batch, self.hidden_size) if batched else (self.hidden_size,)
        if not isinstance(state, Tensor) or tuple(state.shape) != expected:
            shape = tuple(state.shape) if isinstance(state, Tensor) else type(state).__name__
            raise ShapeError(f"{type(self).__name__}: expected {label} of shape {expected}, got {shape}")
        return state if batched else state.unsqueeze(0)

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            text += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            text += f", nonlinearity={self.nonlinearity}"  # unquoted, as PyTorch prints it
        return text


class RNNCell(RNNCellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (nonlinearity='relu' for ReLU).
    input (B, I), hx (B, H) -> (B, H)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r}; choose 'tanh' or 'relu'")
        super().__init__(input_size, hidden_size, bias, num_chunks=1, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, batched = self._input(input)
        h = self._state(hx, "hx", x.shape[1], batched, x.dtype)
        y = recurrent.RNNSequence.apply(x, h, *self._weights(), nonlinearity=self.nonlinearity)
        return y[1] if batched else y[1, 0]


class LSTMCell(RNNCellBase):
    """One LSTM step: input (B, I), hx = (h, c) each (B, H) -> (h', c')."""

    def __init__(self, input_size, hidden_size, bias=True, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=4, dtype=dtype)

    def forward(self, input, hx=None):
        x, batched = self._input(input)
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"LSTMCell: hx must be a tuple (h, c), got {type(hx).__name__}")
        h, c = (None, None) if hx is None else hx
        h = self._state(h, "h", x.shape[1], batched, x.dtype)
        c = self._state(c, "c", x.shape[1], batched, x.dtype)
        y = recurrent.LSTMSequence.apply(x, h, c, *self._weights())
        return (y[1], y[2]) if batched else (y[1, 0], y[2, 0])


class GRUCell(RNNCellBase):
    """One GRU step: input (B, I), hx (B, H) -> h' (B, H)."""

    def __init__(self, input_size, hidden_size, bias=True, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=3, dtype=dtype)

    def forward(self, input, hx=None):
        x, batched = self._input(input)
        h = self._state(hx, "hx", x.shape[1], batched, x.dtype)
        y = recurrent.GRUSequence.apply(x, h, *self._weights())
        return y[1] if batched else y[1, 0]
