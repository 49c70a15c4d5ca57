"""RNN, LSTM and GRU layers and cells: PyTorch parity over a grid, float64 gradient checks of the fused kernels,
variable lengths against per-sequence runs, state_dict keys, errors, and a 1,000-step sequence that trains."""

import itertools
import zlib

import numpy as np
import pytest

import glassbox as gb
from glassbox import nn
from glassbox.autograd.gradient_check import gradcheck
from glassbox.errors import ShapeError
from glassbox.ops import rnn as recurrent

MODES = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}
CELLS = {"RNNCell": nn.RNNCell, "LSTMCell": nn.LSTMCell, "GRUCell": nn.GRUCell}
GATES = {recurrent.RNNSequence: 1, recurrent.LSTMSequence: 4, recurrent.GRUSequence: 3}


def _copy_weights(torch_module, glassbox_module):
    glassbox_module.load_state_dict({k: v.detach().numpy() for k, v in torch_module.state_dict().items()})


def _close(actual, expected, atol, rtol, what):
    np.testing.assert_allclose(actual, expected, atol=atol, rtol=rtol, err_msg=what)


# The grid: every mode x 1-3 layers x uni/bidirectional x batch_first x initial states, at odd sizes. Each case
# is seeded by its own parameters, so a failure names a reproducible configuration.
GRID = [(mode, layers, bidirectional, batch_first, with_state)
        for mode, layers, bidirectional, batch_first, with_state
        in itertools.product(("RNN", "LSTM", "GRU"), (1, 2, 3), (False, True), (False, True), (False, True))
        if layers != 3 or (batch_first and with_state)]  # 3 layers: one combination is enough


@pytest.mark.parametrize("mode,layers,bidirectional,batch_first,with_state", GRID)
def test_layer_matches_torch(torch, mode, layers, bidirectional, batch_first, with_state):
    seed = zlib.crc32(repr((mode, layers, bidirectional, batch_first, with_state)).encode())
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    steps, batch, inputs, hidden = 7, 3, 5, 6
    kwargs = dict(num_layers=layers, bidirectional=bidirectional, batch_first=batch_first)
    reference = getattr(torch.nn, mode)(inputs, hidden, **kwargs)
    ours = MODES[mode](inputs, hidden, **kwargs)
    _copy_weights(reference, ours)
    assert list(ours.state_dict()) == list(reference.state_dict())
    shape = (batch, steps, inputs) if batch_first else (steps, batch, inputs)
    x_np = rng.standard_normal(shape).astype(np.float32)
    x_t, x_g = torch.tensor(x_np, requires_grad=True), gb.tensor(x_np, requires_grad=True)
    args_t, args_g, states_t, states_g = [x_t], [x_g], [], []
    if with_state:
        directions = 2 if bidirectional else 1
        for _ in range(2 if mode == "LSTM" else 1):
            s = rng.standard_normal((layers * directions, batch, hidden)).astype(np.float32)
            states_t.append(torch.tensor(s, requires_grad=True))
            states_g.append(gb.tensor(s, requires_grad=True))
        args_t.append(tuple(states_t) if mode == "LSTM" else states_t[0])
        args_g.append(tuple(states_g) if mode == "LSTM" else states_g[0])
    out_t, final_t = reference(*args_t)
    out_g, final_g = ours(*args_g)
    finals_t = list(final_t) if mode == "LSTM" else [final_t]
    finals_g = list(final_g) if mode == "LSTM" else [final_g]
    _close(out_g.data, out_t.detach().numpy(), 1e-5, 1e-4, "output")
    for a, b in zip(finals_g, finals_t):
        _close(a.data, b.detach().numpy(), 1e-5, 1e-4, "final state")
    # a loss that reads the outputs and every final state
    weights = [rng.standard_normal(t.shape).astype(np.float32) for t in [out_t] + finals_t]
    loss_t = sum((t * torch.tensor(w)).sum() for t, w in zip([out_t] + finals_t, weights))
    loss_g = sum(((t * gb.tensor(w)).sum() for t, w in zip([out_g] + finals_g, weights)), gb.tensor(0.0))
    loss_t.backward()
    loss_g.backward()
    _close(x_g.grad.data, x_t.grad.numpy(), 1e-4, 1e-3, "input gradient")
    for a, b in zip(states_g, states_t):
        _close(a.grad.data, b.grad.numpy(), 1e-4, 1e-3, "initial state gradient")
    ours_parameters = dict(ours.named_parameters())
    for name, parameter in reference.named_parameters():
        _close(ours_parameters[name].grad.data, parameter.grad.numpy(), 1e-4, 1e-3, f"gradient of {name}")


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_no_bias_relu_and_unbatched_input_match_torch(torch, mode):
    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    extra = {"nonlinearity": "relu"} if mode == "RNN" else {}
    reference = getattr(torch.nn, mode)(4, 5, num_layers=2, bias=False, **extra)
    ours = MODES[mode](4, 5, num_layers=2, bias=False, **extra)
    _copy_weights(reference, ours)
    assert "bias_ih_l0" not in ours.state_dict()
    x = rng.standard_normal((6, 4)).astype(np.float32)  # unbatched (T, I)
    out_t, final_t = reference(torch.tensor(x))
    out_g, final_g = ours(gb.tensor(x))
    assert out_g.shape == tuple(out_t.shape)
    _close(out_g.data, out_t.detach().numpy(), 1e-5, 1e-4, "output")
    finals_t = final_t if mode == "LSTM" else (final_t,)
    finals_g = final_g if mode == "LSTM" else (final_g,)
    for a, b in zip(finals_g, finals_t):
        assert a.shape == tuple(b.shape)
        _close(a.data, b.detach().numpy(), 1e-5, 1e-4, "final state")


@pytest.mark.parametrize("name", list(CELLS))
def test_cells_match_torch(torch, name):
    torch.manual_seed(2)
    rng = np.random.default_rng(2)
    reference = getattr(torch.nn, name)(4, 7)
    ours = CELLS[name](4, 7)
    _copy_weights(reference, ours)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    h = rng.standard_normal((3, 7)).astype(np.float32)
    c = rng.standard_normal((3, 7)).astype(np.float32)
    x_t, h_t, c_t = (torch.tensor(a, requires_grad=True) for a in (x, h, c))
    x_g, h_g, c_g = (gb.tensor(a, requires_grad=True) for a in (x, h, c))
    if name == "LSTMCell":
        outs_t, outs_g = reference(x_t, (h_t, c_t)), ours(x_g, (h_g, c_g))
    else:
        outs_t, outs_g = (reference(x_t, h_t),), (ours(x_g, h_g),)
    for a, b in zip(outs_g, outs_t):
        _close(a.data, b.detach().numpy(), 1e-5, 1e-4, "cell output")
    sum(o.sum() * (k + 1) for k, o in enumerate(outs_t)).backward()
    sum((o.sum() * (k + 1) for k, o in enumerate(outs_g)), gb.tensor(0.0)).backward()
    _close(x_g.grad.data, x_t.grad.numpy(), 1e-5, 1e-4, "input gradient")
    _close(h_g.grad.data, h_t.grad.numpy(), 1e-5, 1e-4, "state gradient")
    for (key, p_t), p_g in zip(reference.named_parameters(), ours.parameters()):
        _close(p_g.grad.data, p_t.grad.numpy(), 1e-5, 1e-4, f"gradient of {key}")
    # no state given: zeros, as in torch
    default_t = reference(x_t) if name != "LSTMCell" else reference(x_t)[0]
    default_g = ours(x_g) if name != "LSTMCell" else ours(x_g)[0]
    _close(default_g.data, default_t.detach().numpy(), 1e-5, 1e-4, "output from a zero state")


def test_a_loop_of_cells_equals_the_layer():
    layer = nn.LSTM(3, 4)
    cell = nn.LSTMCell(3, 4)
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})  # weight_ih_l0 -> weight_ih
    x = gb.randn(5, 2, 3)
    output, (h_n, c_n) = layer(x)
    h, c = gb.zeros(2, 4), gb.zeros(2, 4)
    for t in range(5):
        h, c = cell(x[t], (h, c))
        np.testing.assert_allclose(h.data, output.data[t], atol=1e-6)
    np.testing.assert_allclose(h.data, h_n.data[0], atol=1e-6)
    np.testing.assert_allclose(c.data, c_n.data[0], atol=1e-6)


def _sequence_inputs(op, rng, steps, batch, inputs, hidden, bias):
    gates = GATES[op]
    arrays = [rng.standard_normal((steps, batch, inputs)), rng.standard_normal((batch, hidden))]
    if op is recurrent.LSTMSequence:
        arrays.append(rng.standard_normal((batch, hidden)))
    arrays += [rng.standard_normal((gates * hidden, inputs)) * 0.5, rng.standard_normal((gates * hidden, hidden)) * 0.5]
    if bias:
        arrays += [rng.standard_normal(gates * hidden) * 0.5, rng.standard_normal(gates * hidden) * 0.5]
    return [gb.tensor(a, requires_grad=True) for a in arrays]


@pytest.mark.parametrize("op,nonlinearity", [(recurrent.RNNSequence, "tanh"), (recurrent.RNNSequence, "relu"),
                                             (recurrent.LSTMSequence, "tanh"), (recurrent.GRUSequence, "tanh")])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("lengths", [None, (4, 2, 1)])
def test_fused_kernels_pass_float64_gradcheck(op, nonlinearity, reverse, lengths):
    rng = np.random.default_rng(3)
    inputs = _sequence_inputs(op, rng, steps=4, batch=3, inputs=2, hidden=3, bias=True)

    def run(*tensors):
        return op.apply(*tensors, reverse=reverse, lengths=lengths, nonlinearity=nonlinearity)

    assert gradcheck(run, inputs)


def test_fused_kernel_without_bias_passes_gradcheck():
    rng = np.random.default_rng(4)
    for op in (recurrent.RNNSequence, recurrent.LSTMSequence, recurrent.GRUSequence):
        inputs = _sequence_inputs(op, rng, steps=3, batch=2, inputs=2, hidden=2, bias=False)
        assert gradcheck(lambda *t, op=op: op.apply(*t, reverse=True), inputs)


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_variable_lengths_equal_running_each_sequence_alone(mode, bidirectional):
    """The lengths path (what packed sequences use): outputs, final states and every gradient equal those of running
    each sequence alone; outputs past a sequence's end are zero."""
    rng = np.random.default_rng(5)
    layer = MODES[mode](3, 4, num_layers=2, bidirectional=bidirectional, dtype=np.float64)
    steps, batch = 6, 4
    lengths = np.array([3, 6, 1, 4])
    directions = 2 if bidirectional else 1
    x = gb.tensor(rng.standard_normal((steps, batch, 3)), requires_grad=True)
    states = [gb.tensor(rng.standard_normal((2 * directions, batch, 4)), requires_grad=True)
              for _ in range(2 if mode == "LSTM" else 1)]
    output, finals = layer._run_layers(x, states, lengths)
    w_out = rng.standard_normal(output.shape)
    w_finals = [rng.standard_normal(f.shape) for f in finals]

    def loss(out, fins, rows=slice(None), length=None):
        total = (out * gb.tensor(w_out[:length, rows])).sum()
        return total + sum(((f * gb.tensor(w[:, rows])).sum() for f, w in zip(fins, w_finals)), gb.tensor(0.0))

    loss(output, finals).backward()
    batch_grads = {name: p.grad.data.copy() for name, p in layer.named_parameters()}
    layer.zero_grad()
    for b in range(batch):
        rows, length = slice(b, b + 1), lengths[b]
        x_b = gb.tensor(x.data[:length, rows], requires_grad=True)
        states_b = [gb.tensor(s.data[:, rows], requires_grad=True) for s in states]
        out_b, finals_b = layer._run_layers(x_b, states_b, None)
        loss(out_b, finals_b, rows, length).backward()
        np.testing.assert_allclose(output.data[:length, rows], out_b.data, atol=1e-12)
        assert not output.data[length:, b].any(), "outputs past the end of a sequence must be zero"
        for f, f_b in zip(finals, finals_b):
            np.testing.assert_allclose(f.data[:, rows], f_b.data, atol=1e-12)
        np.testing.assert_allclose(x.grad.data[:length, rows], x_b.grad.data, atol=1e-12)
        assert not x.grad.data[length:, b].any()
        for s, s_b in zip(states, states_b):
            np.testing.assert_allclose(s.grad.data[:, rows], s_b.grad.data, atol=1e-12)
    for name, p in layer.named_parameters():  # the sum over sequences run alone
        np.testing.assert_allclose(p.grad.data, batch_grads[name], atol=1e-10, err_msg=name)


def test_state_dict_keys_and_initialisation_follow_torch(torch):
    ours = nn.GRU(3, 8, num_layers=2, bidirectional=True)
    reference = torch.nn.GRU(3, 8, num_layers=2, bidirectional=True)
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    bound = 1 / np.sqrt(8)
    for value in ours.state_dict().values():
        assert np.abs(value).max() <= bound and np.abs(value).max() > 0.5 * bound  # U(-1/sqrt(H), 1/sqrt(H))


def test_dropout_between_layers_only_in_training():
    gb.manual_seed(0)
    layer = nn.LSTM(3, 5, num_layers=2, dropout=0.5)
    plain = nn.LSTM(3, 5, num_layers=2)
    plain.load_state_dict(layer.state_dict())
    x = gb.randn(4, 2, 3)
    layer.eval()
    np.testing.assert_allclose(layer(x)[0].data, plain(x)[0].data, atol=1e-7)
    layer.train()
    assert not np.allclose(layer(x)[0].data, plain(x)[0].data, atol=1e-4)
    one_layer = nn.LSTM(3, 5, dropout=0.5)  # no layer above the only layer: dropout never applies
    one_plain = nn.LSTM(3, 5)
    one_plain.load_state_dict(one_layer.state_dict())
    np.testing.assert_allclose(one_layer(x)[0].data, one_plain(x)[0].data, atol=1e-7)


def test_errors_name_the_layer_and_the_shapes():
    layer = nn.LSTM(4, 6, num_layers=2)
    with pytest.raises(ShapeError, match=r"LSTM: input.size\(-1\) must be equal to input_size. Expected 4, got 3"):
        layer(gb.randn(5, 2, 3))
    with pytest.raises(ShapeError, match=r"LSTM: expected h_0 of shape \(2, 2, 6\)"):
        layer(gb.randn(5, 2, 4), (gb.zeros(1, 2, 6), gb.zeros(2, 2, 6)))
    with pytest.raises(TypeError, match="LSTM: hx must be a tuple"):
        layer(gb.randn(5, 2, 4), gb.zeros(2, 2, 6))
    with pytest.raises(ShapeError, match="GRU: expected input of 2 dims"):
        nn.GRU(4, 6)(gb.randn(5, 2, 4, 1))
    with pytest.raises(ValueError, match="RNN: unknown nonlinearity 'sigmoid'"):
        nn.RNN(4, 6, nonlinearity="sigmoid")
    with pytest.raises(NotImplementedError, match="proj_size"):
        nn.LSTM(4, 6, proj_size=2)
    with pytest.raises(ValueError, match="dropout must be a number in"):
        nn.GRU(4, 6, dropout=1.5)
    with pytest.raises(ShapeError, match=r"GRUCell: expected input of shape \(batch, 4\)"):
        nn.GRUCell(4, 6)(gb.randn(2, 5))


def test_a_thousand_step_sequence_trains_without_nan():
    """Backpropagation through 1,000 steps with gradient clipping: finite loss and gradients, and the loss falls."""
    gb.manual_seed(0)
    rng = np.random.default_rng(0)
    steps = 1000
    tokens = rng.integers(0, 4, size=(steps + 1, 2))
    embed, lstm, head = nn.Embedding(4, 8), nn.LSTM(8, 16), nn.Linear(16, 4)
    parameters = list(embed.parameters()) + list(lstm.parameters()) + list(head.parameters())
    optimizer = gb.optim.Adam(parameters, lr=1e-2)
    inputs, targets = gb.tensor(tokens[:-1]), gb.tensor(tokens[1:].reshape(-1))
    losses = []
    for _ in range(8):
        output, _ = lstm(embed(inputs))
        loss = nn.functional.cross_entropy(head(output).reshape(-1, 4), targets)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(parameters, 1.0)
        assert all(np.isfinite(p.grad.data).all() for p in parameters)
        optimizer.step()
        losses.append(loss.item())
    assert np.isfinite(losses).all()
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_packed_input_matches_torch(torch, mode, enforce_sorted):
    """A PackedSequence in, a PackedSequence out with the same batch_sizes and indices; final states in the caller's
    batch order; every gradient as torch's."""
    from glassbox.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    torch.manual_seed(7)
    rng = np.random.default_rng(7)
    lengths = [7, 5, 5, 2] if enforce_sorted else [3, 7, 1, 5]
    reference = getattr(torch.nn, mode)(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    ours = MODES[mode](3, 4, num_layers=2, bidirectional=True, batch_first=True)
    _copy_weights(reference, ours)
    x = rng.standard_normal((4, 7, 3)).astype(np.float32)
    x_t, x_g = torch.tensor(x, requires_grad=True), gb.tensor(x, requires_grad=True)
    packed_t = torch.nn.utils.rnn.pack_padded_sequence(x_t, lengths, batch_first=True, enforce_sorted=enforce_sorted)
    packed_g = pack_padded_sequence(x_g, lengths, batch_first=True, enforce_sorted=enforce_sorted)
    out_t, final_t = reference(packed_t)
    out_g, final_g = ours(packed_g)
    np.testing.assert_array_equal(np.asarray(out_g.batch_sizes.data), out_t.batch_sizes.numpy())
    _close(out_g.data.data, out_t.data.detach().numpy(), 1e-5, 1e-4, "packed output")
    padded_t, lengths_t = torch.nn.utils.rnn.pad_packed_sequence(out_t, batch_first=True)
    padded_g, lengths_g = pad_packed_sequence(out_g, batch_first=True)
    np.testing.assert_array_equal(np.asarray(getattr(lengths_g, "data", lengths_g)), lengths_t.numpy())
    _close(padded_g.data, padded_t.detach().numpy(), 1e-5, 1e-4, "padded output")
    finals_t = list(final_t) if mode == "LSTM" else [final_t]
    finals_g = list(final_g) if mode == "LSTM" else [final_g]
    for a, b in zip(finals_g, finals_t):
        _close(a.data, b.detach().numpy(), 1e-5, 1e-4, "final state")
    weights = [rng.standard_normal(t.shape).astype(np.float32) for t in [padded_t] + finals_t]
    sum((t * torch.tensor(w)).sum() for t, w in zip([padded_t] + finals_t, weights)).backward()
    sum(((t * gb.tensor(w)).sum() for t, w in zip([padded_g] + finals_g, weights)), gb.tensor(0.0)).backward()
    _close(x_g.grad.data, x_t.grad.numpy(), 1e-4, 1e-3, "input gradient")
    for (name, p_t), p_g in zip(reference.named_parameters(), ours.parameters()):
        _close(p_g.grad.data, p_t.grad.numpy(), 1e-4, 1e-3, f"gradient of {name}")
