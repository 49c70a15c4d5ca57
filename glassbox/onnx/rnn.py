"""ONNX translations of the fused recurrences (ops/rnn.py): one layer and direction -> one ONNX RNN/LSTM/GRU node.

glassbox's op returns one array (T + 1, B, H) -- (T + 2, B, H) for the LSTM -- holding the outputs, the final h and
the final c; the translation rebuilds exactly that array with a Concat, so the layer's own slicing (GetItem ops)
and stacking of the final states translate as ordinary ops, whatever the number of layers and directions.

Gate orders differ: PyTorch/glassbox LSTM rows are i, f, g, o and ONNX's are i, o, f, c; GRU rows are r, z, n and
ONNX's are z, r, h (with linear_before_reset=1, which is PyTorch's GRU). A Gather on the weight rows reorders them,
so the initializers keep the parameters' state_dict values and names.
"""

import numpy as np

# for each ONNX gate block, the glassbox gate block it comes from
_GATE_ORDER = {"LSTM": (0, 3, 1, 2), "GRU": (1, 0, 2), "RNN": (0,)}
_ONNX_OP = {"LSTMSequence": "LSTM", "GRUSequence": "GRU", "RNNSequence": "RNN"}


def _reordered_rows(g, name, hidden, order):
    """weight or bias `name` with its gate blocks (of `hidden` rows each) put in ONNX's order."""
    if order == tuple(range(len(order))):
        return name
    rows = np.concatenate([np.arange(block * hidden, (block + 1) * hidden) for block in order]).astype(np.int64)
    return g.node("Gather", [name, g.const(rows, "gate_rows")], axis=0)


def _initial_state(g, op, k):
    """initial_h / initial_c (1, B, H), or '' (ONNX's zeros) when it is a constant of zeros: the layers pass zeros
    for hx=None, and leaving them out keeps the batch size out of the graph."""
    if op.is_constant(k) and not np.any(op.inputs[k].data):
        return ""
    return g.node("Unsqueeze", [op.x(k), g.ints([0])])


def translate_recurrence(g, op):
    kind = _ONNX_OP[op.name]
    if op.params.get("lengths") is not None:
        op.fail("packed (variable-length) sequences cannot be exported; pass padded (T, B, I) tensors")
    has_cell = kind == "LSTM"
    states = 2 if has_cell else 1
    w_ih, w_hh = 1 + states, 2 + states  # input positions: x, h0[, c0], w_ih, w_hh[, b_ih, b_hh]
    hidden = op.shape(w_hh)[1]
    order = _GATE_ORDER[kind]
    weight = _reordered_rows(g, op.x(w_ih), hidden, order)
    recurrence = _reordered_rows(g, op.x(w_hh), hidden, order)
    inputs = [op.x(0), g.node("Unsqueeze", [weight, g.ints([0])]), g.node("Unsqueeze", [recurrence, g.ints([0])])]
    if len(op.inputs) > w_hh + 1:  # biases: ONNX takes [Wb, Rb] concatenated, (1, 2 G H)
        b_ih = _reordered_rows(g, op.x(w_hh + 1), hidden, order)
        b_hh = _reordered_rows(g, op.x(w_hh + 2), hidden, order)
        inputs.append(g.node("Unsqueeze", [g.node("Concat", [b_ih, b_hh], axis=0), g.ints([0])]))
    else:
        inputs.append("")
    inputs.append("")  # sequence_lens: every sequence runs the full length
    inputs += [_initial_state(g, op, 1 + k) for k in range(states)]
    attributes = dict(hidden_size=int(hidden), direction="reverse" if op.params.get("reverse") else "forward")
    if kind == "GRU":
        attributes["linear_before_reset"] = 1
    if kind == "RNN":
        attributes["activations"] = ["Relu" if op.params.get("nonlinearity") == "relu" else "Tanh"]
    while inputs[-1] == "":  # trailing optional inputs are left out
        inputs.pop()
    outputs = g.node(kind, inputs, outputs=1 + states, **attributes)
    sequence = g.node("Squeeze", [outputs[0], g.ints([1])])  # Y (T, 1, B, H) -> (T, B, H)
    return g.node("Concat", [sequence, *outputs[1:]], axis=0)  # + Y_h (1, B, H) [+ Y_c (1, B, H)]


TRANSLATIONS = {"LSTMSequence": translate_recurrence, "GRUSequence": translate_recurrence,
                "RNNSequence": translate_recurrence}
