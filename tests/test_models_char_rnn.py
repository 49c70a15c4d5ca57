"""CharRNN: shapes, parity with the same stack built from torch layers, state carrying, greedy and sampled
generation against decoding by hand, and its errors."""

import numpy as np
import pytest

import glassbox as gb
from glassbox.models.char_rnn import CharRNN, detach_state
from glassbox.text import sample_next

V = 11


def _model(cell="lstm", num_layers=1, seed=0):
    gb.manual_seed(seed)
    return CharRNN(V, embedding_dim=6, hidden_size=8, num_layers=num_layers, cell=cell)


def _tokens(shape, seed=0):
    return np.random.default_rng(seed).integers(0, V, size=shape).astype(np.int64)


@pytest.mark.parametrize("cell,num_layers", [("lstm", 1), ("lstm", 2), ("gru", 1), ("gru", 2)])
def test_shapes_and_state(cell, num_layers):
    model = _model(cell, num_layers)
    logits, state = model(_tokens((3, 5)))
    assert logits.shape == (3, 5, V)
    states = state if cell == "lstm" else (state,)
    assert len(states) == (2 if cell == "lstm" else 1)
    assert all(s.shape == (num_layers, 3, 8) for s in states)
    assert isinstance(state, tuple) == (cell == "lstm")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_forward_matches_torch_stack(torch, cell):
    model = _model(cell, num_layers=2)
    tokens = _tokens((4, 7), seed=1)
    logits, state = model(tokens)
    layer = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    reference = torch.nn.ModuleDict({"embedding": torch.nn.Embedding(V, 6),
                                     "rnn": layer(6, 8, num_layers=2, batch_first=True),
                                     "head": torch.nn.Linear(8, V)})
    reference.load_state_dict({k: torch.tensor(v.data) for k, v in model.state_dict().items()})
    with torch.no_grad():
        output, expected_state = reference["rnn"](reference["embedding"](torch.tensor(tokens)))
        expected = reference["head"](output)
    np.testing.assert_allclose(logits.data, expected.numpy(), atol=1e-5, rtol=1e-4)
    ours = state if cell == "lstm" else (state,)
    theirs = expected_state if cell == "lstm" else (expected_state,)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.data, b.numpy(), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_carrying_the_state_over_two_halves_equals_one_pass(cell):
    model = _model(cell, num_layers=2)
    tokens = _tokens((3, 12), seed=2)
    whole, whole_state = model(tokens)
    first, state = model(tokens[:, :5])
    second, final_state = model(tokens[:, 5:], state)
    np.testing.assert_allclose(np.concatenate([first.data, second.data], axis=1), whole.data, atol=1e-6)
    finals = final_state if cell == "lstm" else (final_state,)
    expected = whole_state if cell == "lstm" else (whole_state,)
    for a, b in zip(finals, expected):
        np.testing.assert_allclose(a.data, b.data, atol=1e-6)
    # and without the state the second half is a different computation
    fresh, _ = model(tokens[:, 5:])
    assert not np.allclose(fresh.data, second.data, atol=1e-4)


def test_detach_state_cuts_the_graph_and_keeps_values():
    model = _model("lstm")
    _, state = model(_tokens((2, 4)))
    assert all(s.requires_grad for s in state)
    cut = detach_state(state)
    assert isinstance(cut, tuple) and not any(s.requires_grad for s in cut)
    for a, b in zip(cut, state):
        np.testing.assert_array_equal(a.data, b.data)
    assert detach_state(None) is None
    h = _model("gru")(_tokens((2, 4)))[1]
    assert not detach_state(h).requires_grad


def test_gradients_reach_every_parameter():
    model = _model("lstm", num_layers=2)
    logits, _ = model(_tokens((2, 6)))
    gb.nn.functional.cross_entropy(logits.reshape(-1, V), gb.tensor(_tokens((12,), seed=3))).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and np.abs(parameter.grad.data).sum() > 0, name


def _greedy_by_hand(model, prompt, length):
    """Greedy decoding by rerunning forward on the whole sequence so far, from a zero state, at every step."""
    ids = list(prompt)
    model.eval()
    with gb.no_grad():
        for _ in range(length):
            logits, _ = model(np.array([ids], dtype=np.int64))
            ids.append(int(logits.data[0, -1].argmax()))
    model.train()
    return ids[len(prompt):]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_generate_at_temperature_zero_is_greedy_decoding(cell):
    model = _model(cell, num_layers=2, seed=4)
    # Larger weights than the init: a sharper model whose greedy path is not stuck on one token.
    for parameter in model.parameters():
        parameter.data *= 3
    prompt = np.array([1, 5, 2], dtype=np.int64)
    first = model.generate(prompt, 15, temperature=0)
    second = model.generate(prompt, 15, temperature=0, rng=np.random.default_rng(123))
    assert first.dtype == np.int64 and first.shape == (15,)
    np.testing.assert_array_equal(first, second)
    assert first.tolist() == _greedy_by_hand(model, prompt, 15)
    assert len(set(first.tolist())) > 1


def test_generate_samples_as_sample_next_does_step_by_step():
    model = _model("lstm", seed=5)
    model.train()
    prompt = [3, 4]
    got = model.generate(prompt, 12, temperature=0.8, top_k=5, rng=np.random.default_rng(7))
    assert model.training  # the mode is restored
    # By hand: the same generator consumed in the same order, each step from the full sequence so far.
    rng = np.random.default_rng(7)
    ids = list(prompt)
    model.eval()
    with gb.no_grad():
        for _ in range(12):
            logits, _ = model(np.array([ids], dtype=np.int64))
            ids.append(sample_next(logits.data[0, -1], temperature=0.8, top_k=5, rng=rng))
    assert got.tolist() == ids[2:]
    again = model.generate(prompt, 12, temperature=0.8, top_k=5, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(got, again)
    assert model.generate(prompt, 0).shape == (0,)


def test_errors():
    with pytest.raises(ValueError, match="cell"):
        CharRNN(V, cell="transformer")
    with pytest.raises(ValueError, match="vocab_size"):
        CharRNN(0)
    model = _model()
    with pytest.raises(ValueError, match=r"\(batch, time\)"):
        model(np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="non-empty"):
        model.generate([], 3)
    with pytest.raises(ValueError, match=r"\[0, 11\)"):
        model.generate([1, V], 3)
    with pytest.raises(ValueError, match="length"):
        model.generate([1], -1)
