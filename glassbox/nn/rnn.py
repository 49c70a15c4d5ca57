"""Recurrent layers with PyTorch's interface: RNN, LSTM, GRU (stacked, bidirectional) and their single-step cells.

Each layer and direction runs as one fused op of ops/rnn.py over the whole sequence; this module only arranges the
layers: parameters with PyTorch's names, shapes, gate order and initialisation, batch_first, initial states,
dropout between layers, concatenating the two directions, and packed (variable-length) sequences.
"""

import math

import numpy as np

from .. import dtypes
from ..creation import empty, zeros
from ..errors import ShapeError
from ..functional import shape as shape_functions
from ..ops import rnn as recurrent
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

_OPS = {"RNN_TANH": recurrent.RNNSequence, "RNN_RELU": recurrent.RNNSequence, "LSTM": recurrent.LSTMSequence,
        "GRU": recurrent.GRUSequence}
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class RNNBase(Module):
    """The shared machinery of RNN, LSTM and GRU.

    Parameters per layer k and direction (suffix "_reverse" for the backward direction), as in PyTorch:
    weight_ih_l{k} (G*H, I_k), weight_hh_l{k} (G*H, H), bias_ih_l{k} (G*H,), bias_hh_l{k} (G*H,), with G the
    number of gates (1, 4 for the LSTM, 3 for the GRU), I_0 = input_size and I_k = D*H above (D = 2 when
    bidirectional). All are initialised from U(-1/sqrt(H), 1/sqrt(H)).
    """

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, dtype=None):
        super().__init__()
        name = type(self).__name__
        if proj_size:
            raise NotImplementedError(f"{name}: proj_size is not supported (got {proj_size}); use proj_size=0")
        for label, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name}: {label} must be a positive integer, got {value!r}")
        if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout must be a number in [0, 1] (the probability of zeroing an element "
                             f"between layers), got {dropout!r}")
        self.mode = mode
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bias, self.batch_first, self.dropout = bool(bias), bool(batch_first), float(dropout)
        self.bidirectional, self.proj_size = bool(bidirectional), 0
        self.num_directions = 2 if bidirectional else 1
        dtype = dtypes.as_dtype(dtype) or dtypes.get_default_dtype()
        gate_size = _GATES[mode] * self.hidden_size
        self._flat_weights_names = []
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else self.hidden_size * self.num_directions
            for direction in range(self.num_directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = [("weight_ih", (gate_size, layer_input)), ("weight_hh", (gate_size, self.hidden_size))]
                if self.bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                for stem, shape in shapes:
                    setattr(self, stem + suffix, Parameter(empty(*shape, dtype=dtype)))
                    self._flat_weights_names.append(stem + suffix)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.hidden_size)
        for name in self._flat_weights_names:
            init.uniform_(getattr(self, name), -bound, bound)

    def _layer_weights(self, layer, direction):
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        stems = ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if self.bias else ())
        return [getattr(self, stem + suffix) for stem in stems]

    @property
    def all_weights(self):
        """[[weight_ih, weight_hh, bias_ih, bias_hh] per layer and direction], as PyTorch's all_weights."""
        return [self._layer_weights(layer, direction) for layer in range(self.num_layers)
                for direction in range(self.num_directions)]

    def forward(self, input, hx=None):
        """input (T, B, I) -- (B, T, I) with batch_first -- or unbatched (T, I), or a PackedSequence.

        hx: the initial hidden state (num_layers * D, B, H), for the LSTM a pair (h_0, c_0); zeros when None.
        Returns (output, h_n) -- for the LSTM (output, (h_n, c_n)) -- with output (T, B, D*H) (batch_first:
        (B, T, D*H); packed in, packed out) and h_n, c_n (num_layers * D, B, H).
        """
        if not isinstance(input, Tensor) and isinstance(input, _packed_type()):
            return self._forward_packed(input, hx)
        x, batched = self._time_major(input)
        states = self._initial_states(hx, x.shape[1], batched, x.dtype)
        output, finals = self._run_layers(x, states, lengths=None)
        if self.batch_first:
            output = output.transpose(0, 1)
        if not batched:
            output = output.squeeze(1)
            finals = [state.squeeze(1) for state in finals]
        return output, self._pack_states(finals)

    def _time_major(self, input):
        """input as a (T, B, I) tensor, and whether it had a batch dim."""
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor or a PackedSequence, got {type(input).__name__}")
        if input.dim() not in (2, 3):
            raise ShapeError(f"{name}: expected input of 2 dims (T, input_size) or 3 dims "
                             f"({'B, T' if self.batch_first else 'T, B'}, input_size), got shape {tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise ShapeError(f"{name}: input.size(-1) must be equal to input_size. Expected {self.input_size}, got "
                             f"{input.shape[-1]} (input shape {tuple(input.shape)})")
        if input.dim() == 2:
            return input.unsqueeze(1), False
        return (input.transpose(0, 1) if self.batch_first else input), True

    def _initial_states(self, hx, batch, batched, dtype):
        """The initial states as a list of (num_layers * D, B, H) tensors: [h_0] or, for the LSTM, [h_0, c_0]."""
        name = type(self).__name__
        count = 2 if self.mode == "LSTM" else 1
        expected = (self.num_layers * self.num_directions, batch, self.hidden_size)
        if hx is None:
            return [zeros(*expected, dtype=dtype) for _ in range(count)]
        given = list(hx) if count == 2 else [hx]
        if count == 2 and (not isinstance(hx, (tuple, list)) or len(given) != 2):
            raise TypeError(f"{name}: hx must be a tuple (h_0, c_0) of tensors, got {type(hx).__name__}")
        states = []
        for label, state in zip(("h_0", "c_0"), given):
            if not isinstance(state, Tensor):
                raise TypeError(f"{name}: {label} must be a Tensor, got {type(state).__name__}")
            if not batched:
                if state.dim() != 2:
                    raise ShapeError(f"{name}: for unbatched input {label} must be 2-D "
                                     f"({expected[0]}, {expected[2]}), got shape {tuple(state.shape)}")
                state = state.unsqueeze(1)
            if tuple(state.shape) != expected:
                raise ShapeError(f"{name}: expected {label} of shape {expected} (num_layers * num_directions, batch, "
                                 f"hidden_size), got {tuple(state.shape)}")
            states.append(state)
        return states

    def _run_layers(self, x, states, lengths):
        """x (T, B, I) and initial states -> output (T, B, D*H) and the final states [(L*D, B, H), ...]."""
        steps = x.shape[0]
        op = _OPS[self.mode]
        finals = [[] for _ in states]
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                index = layer * self.num_directions + direction
                initial = [state[index] for state in states]
                y = op.apply(layer_input, *initial, *self._layer_weights(layer, direction), reverse=bool(direction),
                             lengths=lengths, nonlinearity="relu" if self.mode == "RNN_RELU" else "tanh")
                outputs.append(y[:steps])
                for k, final in enumerate(finals):
                    final.append(y[steps + k])
            layer_input = outputs[0] if len(outputs) == 1 else shape_functions.cat(outputs, dim=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
        return layer_input, [shape_functions.stack(final, dim=0) for final in finals]

    def _pack_states(self, finals):
        return (finals[0], finals[1]) if self.mode == "LSTM" else finals[0]

    def _forward_packed(self, packed, hx):
        from .utils.rnn import packed_to_padded_with_lengths, padded_to_packed

        padded, lengths = packed_to_padded_with_lengths(packed)  # (T, B, I) in the caller's batch order
        if padded.shape[-1] != self.input_size:
            raise ShapeError(f"{type(self).__name__}: input.size(-1) must be equal to input_size. Expected "
                             f"{self.input_size}, got {padded.shape[-1]}")
        states = self._initial_states(hx, padded.shape[1], True, padded.dtype)  # in the caller's batch order
        output, finals = self._run_layers(padded, states, lengths)
        packed_output = padded_to_packed(output, lengths, packed.sorted_indices, packed.unsorted_indices)
        return packed_output, self._pack_states(finals)

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"  # PyTorch's repr does not show the nonlinearity either
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text


def _packed_type():
    from .utils.rnn import PackedSequence

    return PackedSequence


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (nonlinearity='relu' for ReLU)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r}; choose 'tanh' or 'relu'")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, dtype=dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory: gates i, f, g, o (in PyTorch's order), c_t = f c_{t-1} + i g, h_t = o tanh(c_t)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, dtype=dtype)


class GRU(RNNBase):
    """Gated recurrent unit: gates r, z, n (PyTorch's order and formulation), h_t = (1 - z) n + z h_{t-1}."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype=dtype)
