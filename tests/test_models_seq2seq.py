"""Seq2Seq with attention: forward and gradients against PyTorch (a packed bidirectional GRU is the oracle of the
padding-free encoder), a float64 gradient check, attention that sums to 1 and ignores padding, and greedy decoding
that equals the argmax of forward on its own outputs."""

import numpy as np
import pytest

import glassbox as gb
from glassbox.autograd.gradient_check import gradcheck
from glassbox.models.seq2seq import Seq2Seq
from glassbox.nn import functional as F

PAD, START, END = 0, 1, 2
SRC_VOCAB, TGT_VOCAB = 11, 7


def _model(seed=0, **kwargs):
    gb.manual_seed(seed)
    settings = dict(embedding_dim=5, hidden_size=4, decoder_size=6, pad_index=PAD, start_index=START,
                    end_index=END)
    settings.update(kwargs)
    return Seq2Seq(SRC_VOCAB, TGT_VOCAB, **settings)


def _batch(rng, lengths=(5, 3, 1, 4), tgt_len=4):
    """Sources of the given lengths (tokens 3.., pads after), teacher-forcing inputs starting with START."""
    src = np.full((len(lengths), max(lengths)), PAD, dtype=np.int64)
    for row, n in enumerate(lengths):
        src[row, :n] = rng.integers(3, SRC_VOCAB, size=n)
    batch = len(lengths)
    tgt_in = np.concatenate([np.full((batch, 1), START), rng.integers(3, TGT_VOCAB, (batch, tgt_len - 1))], axis=1)
    tgt_out = rng.integers(2, TGT_VOCAB, (batch, tgt_len))
    return src, tgt_in.astype(np.int64), tgt_out.astype(np.int64)


def test_output_shapes_and_attention_is_a_distribution_over_real_tokens():
    model = _model()
    src, tgt_in, _ = _batch(np.random.default_rng(0))
    logits, attention = model(src, tgt_in, return_attention=True)
    assert logits.shape == (4, 4, TGT_VOCAB) and attention.shape == (4, 4, 5)
    weights = attention.data
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-5)
    padded = (src == PAD)[:, None, :].repeat(4, axis=1)
    assert np.all(weights[padded] == 0.0) and np.all(weights[~padded] > 0.0)


def test_encoder_ignores_padding_exactly():
    """A source's encoder outputs and translation do not depend on the padding its batch adds after it."""
    model = _model()
    rng = np.random.default_rng(1)
    src, tgt_in, _ = _batch(rng, lengths=(3, 6))
    alone = src[:1, :3]
    with gb.no_grad():
        memory_padded = model.encode(src)[0].data[0, :3]
        memory_alone = model.encode(alone)[0].data[0]
    np.testing.assert_allclose(memory_padded, memory_alone, rtol=1e-5, atol=1e-6)
    ids_batch, attention_batch = model.translate(src, 6)
    ids_alone, attention_alone = model.translate(alone, 6)
    steps = ids_alone.shape[1]
    np.testing.assert_array_equal(ids_batch.data[0, :steps], ids_alone.data[0])
    np.testing.assert_allclose(attention_batch.data[0, :steps, :3], attention_alone.data[0], rtol=1e-5, atol=1e-6)


def _torch_reference(torch, model, src, tgt_in):
    """The same network in PyTorch with copied weights: the encoder is nn.GRU(bidirectional=True) over a packed
    sequence; Luong general attention with -inf on pads; logits = W_o tanh(W_c [c; h] + b_c) + b_o."""
    state = {k: torch.tensor(v.data) for k, v in model.state_dict().items()}
    E, H = model.encoder.embedding.embedding_dim, model.encoder.hidden_size
    D = model.decoder.hidden_size
    params = {k: v.clone().requires_grad_(True) for k, v in state.items()}
    encoder = torch.nn.GRU(E, H, batch_first=True, bidirectional=True)
    decoder = torch.nn.GRU(E, D, batch_first=True)
    with torch.no_grad():
        for stem in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(encoder, stem).copy_(state[f"encoder.rnn.{stem}"])
            getattr(encoder, stem + "_reverse").copy_(state[f"encoder.rnn.{stem}_reverse"])
            getattr(decoder, stem).copy_(state[f"decoder.{stem}"])
    src_t, tgt_t = torch.tensor(src), torch.tensor(tgt_in)
    mask = src_t != PAD
    lengths = mask.sum(1)
    x = torch.nn.functional.embedding(src_t, params["encoder.embedding.weight"], padding_idx=PAD)
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    memory, _ = torch.nn.utils.rnn.pad_packed_sequence(encoder(packed)[0], batch_first=True,
                                                       total_length=src.shape[1])
    mean = (memory * mask[..., None]).sum(1) / lengths[:, None]
    h0 = torch.tanh(mean @ params["bridge.weight"].T + params["bridge.bias"])[None]
    y = torch.nn.functional.embedding(tgt_t, params["embedding.weight"], padding_idx=PAD)
    hidden, _ = decoder(y, h0)
    keys = memory @ params["attention_key.weight"].T
    scores = (hidden @ keys.transpose(1, 2)).masked_fill(~mask[:, None, :], float("-inf"))
    attention = scores.softmax(-1)
    combined = torch.tanh(torch.cat([attention @ memory, hidden], 2) @ params["combine.weight"].T
                          + params["combine.bias"])
    logits = combined @ params["out.weight"].T + params["out.bias"]
    grads = {f"encoder.rnn.{name}": parameter for name, parameter in encoder.named_parameters()}
    grads.update({f"decoder.{s}": getattr(decoder, s) for s in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0",
                                                                "bias_hh_l0")})
    grads.update({k: v for k, v in params.items() if not k.startswith(("encoder.rnn.", "decoder."))})
    return logits, attention, grads


def test_forward_and_gradients_match_torch(torch):
    model = _model(seed=3)
    src, tgt_in, tgt_out = _batch(np.random.default_rng(3))
    logits, attention = model(src, tgt_in, return_attention=True)
    loss = F.cross_entropy(logits.reshape(-1, TGT_VOCAB), tgt_out.reshape(-1))
    loss.backward()
    ref_logits, ref_attention, ref_params = _torch_reference(torch, model, src, tgt_in)
    torch.nn.functional.cross_entropy(ref_logits.reshape(-1, TGT_VOCAB), torch.tensor(tgt_out).reshape(-1)).backward()
    np.testing.assert_allclose(logits.data, ref_logits.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(attention.data, ref_attention.detach().numpy(), rtol=1e-4, atol=1e-5)
    named = dict(model.named_parameters())
    assert set(named) == set(ref_params)
    for name, parameter in named.items():
        np.testing.assert_allclose(parameter.grad.data, ref_params[name].grad.numpy(), rtol=1e-3, atol=1e-4,
                                   err_msg=name)


def test_gradients_pass_float64_gradcheck():
    model = _model(seed=4).double()
    src, tgt_in, tgt_out = _batch(np.random.default_rng(4), lengths=(4, 2, 3), tgt_len=3)
    parameters = list(model.parameters())

    def loss(*_):  # gradcheck perturbs the parameter tensors in place; the model reads them
        logits = model(src, tgt_in)
        return F.cross_entropy(logits.reshape(-1, TGT_VOCAB), tgt_out.reshape(-1))

    assert gradcheck(loss, parameters, random_directions=3)


def test_greedy_decoding_equals_argmax_of_forward_on_its_own_outputs():
    model = _model(seed=5)
    src, _, _ = _batch(np.random.default_rng(5), lengths=(5, 2, 4, 3, 1, 5))
    ids, attention = model.translate(src, 7)
    ids = ids.data
    steps = ids.shape[1]
    assert ids.dtype == np.int64 and attention.shape == (6, steps, 5) and 1 <= steps <= 7
    tgt_in = np.concatenate([np.full((6, 1), START), ids[:, :-1]], axis=1)
    tgt_in[tgt_in == PAD] = END  # after a row's end the tokens are pad; forward's choice there is not compared
    with gb.no_grad():
        logits, forward_attention = model(src, tgt_in, return_attention=True)
    predicted = logits.data.argmax(axis=-1)
    for row in range(6):
        ended = np.nonzero(ids[row] == END)[0]
        stop = ended[0] + 1 if len(ended) else steps
        np.testing.assert_array_equal(ids[row, :stop], predicted[row, :stop])
        assert np.all(ids[row, stop:] == PAD) and np.all(attention.data[row, stop:] == 0)
        np.testing.assert_allclose(attention.data[row, :stop], forward_attention.data[row, :stop], rtol=1e-5,
                                   atol=1e-6)
        np.testing.assert_allclose(attention.data[row, :stop].sum(-1), 1.0, rtol=1e-5)
    if steps < 7:  # it stopped early: only because every row had ended
        assert all((ids[row] == END).any() for row in range(6))


def test_greedy_decoding_stops_when_every_row_has_ended():
    model = _model(seed=6)
    model.out.bias.data[:] = -100.0
    model.out.bias.data[END] = 100.0  # the end token always wins
    ids, attention = model.translate(np.array([[3, 4, 5], [6, PAD, PAD]]), 9)
    np.testing.assert_array_equal(ids.data, [[END], [END]])
    assert attention.shape == (2, 1, 3) and attention.data[1, 0, 1:].sum() == 0


def test_translate_restores_training_mode_and_builds_no_graph():
    model = _model()
    model.train()
    ids, attention = model.translate(np.array([[3, 4]]), 3)
    assert model.training and not attention.requires_grad


@pytest.mark.parametrize("src, message", [
    (np.array([[PAD, 3, 4]]), "padding"),
    (np.array([[3, PAD, 4]]), "padding"),
    (np.array([[3, 4], [PAD, PAD]]), "all padding"),
])
def test_bad_sources_raise_clear_errors(src, message):
    with pytest.raises(ValueError, match=message):
        _model()(src, np.array([[START]] * len(src)))


def test_bad_arguments_raise_clear_errors():
    model = _model()
    with pytest.raises(ValueError, match="max_len"):
        model.translate(np.array([[3]]), 0)
    with pytest.raises(gb.ShapeError, match="batch"):
        model(np.array([[3], [4]]), np.array([[START]]))
    with pytest.raises(gb.ShapeError, match=r"\(batch, time\)"):
        model(np.array([3, 4]), np.array([[START]]))
    with pytest.raises(ValueError, match="end_index"):
        Seq2Seq(5, 4, end_index=4)
