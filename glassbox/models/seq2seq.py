"""Seq2Seq: a bidirectional-GRU encoder and a GRU decoder with Luong "general" attention over the encoder outputs.

    model = Seq2Seq(src_vocab_size=71, tgt_vocab_size=15)
    logits = model(src_ids, tgt_in)                   # teacher forcing: (B, T_out, tgt_vocab_size)
    ids, attention = model.translate(src_ids, 12)     # greedy: (B, T_out) ids, (B, T_out, T_in) weights

Attention (Luong, Pham & Manning 2015, "general" score, without input feeding):
    score(h_t, m_s) = h_t . (W_a m_s)        h_t: decoder state at output step t, m_s: encoder output at source s
    a_t = softmax_s(score), with padded source positions set to -inf (weight exactly 0)
    c_t = sum_s a_ts m_s                     the context vector
    logits_t = W_o tanh(W_c [c_t; h_t] + b_c) + b_o
Without input feeding the decoder GRU sees only the previous output tokens, so under teacher forcing it runs over
all output steps as one fused op, and the attention of every step is one batched matmul: training has no Python
loop over time. Greedy decoding runs the same layers one step at a time, so it computes exactly what forward
computes on its own outputs.
"""

import numpy as np

from .. import nn
from ..autograd import no_grad
from ..creation import tensor
from ..errors import ShapeError
from ..functional import shape as shapes
from ..nn import functional as F
from ..nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from ..tensor import Tensor


def _ids(value, where):
    """An int64 (B, T) array from a (B, T) int array or Tensor."""
    ids = np.asarray(value.data if isinstance(value, Tensor) else value)
    if ids.ndim != 2:
        raise ShapeError(f"{where}: expected ids of shape (batch, time), got shape {ids.shape}")
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{where}: expected integer ids, got dtype {ids.dtype}")
    return ids.astype(np.int64, copy=False)


class Encoder(nn.Module):
    """Embedding -> bidirectional GRU over the packed sources, so that neither direction reads the padding: the
    backward direction starts at each source's own last token, and a source's encoding does not depend on how
    much padding its batch adds.
    forward(src_ids (B, T_in), mask (B, T_in) bool) -> outputs (B, T_in, 2 * hidden_size), [forward; backward],
    zero at padded positions.
    """

    def __init__(self, vocab_size, embedding_dim, hidden_size, pad_index=0):
        super().__init__()
        self.hidden_size = hidden_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_index)
        self.rnn = nn.GRU(embedding_dim, hidden_size, batch_first=True, bidirectional=True)

    def forward(self, src_ids, mask):
        lengths = mask.sum(axis=1)
        packed = pack_padded_sequence(self.embedding(src_ids), lengths, batch_first=True, enforce_sorted=False)
        outputs, _ = self.rnn(packed)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=src_ids.shape[1])
        return outputs


class Seq2Seq(nn.Module):
    """Encoder-decoder with attention for sequences of token ids (see the module docstring for the equations).

    src_vocab_size, tgt_vocab_size: vocabulary sizes. embedding_dim: both embeddings. hidden_size: each encoder
    direction (encoder outputs are 2 * hidden_size). decoder_size: the decoder GRU state (default 2 * hidden_size).
    pad_index: the pad id of the source (and of the target for the loss); start_index / end_index: the target ids
    that start and end an output. The decoder starts from tanh(W_b mean(encoder outputs over real tokens)).
    """

    def __init__(self, src_vocab_size, tgt_vocab_size, embedding_dim=32, hidden_size=64, decoder_size=None,
                 pad_index=0, start_index=2, end_index=3):
        super().__init__()
        decoder_size = decoder_size or 2 * hidden_size
        memory_size = 2 * hidden_size
        self.pad_index, self.start_index, self.end_index = int(pad_index), int(start_index), int(end_index)
        for label, index in (("pad_index", pad_index), ("start_index", start_index), ("end_index", end_index)):
            if not 0 <= index < tgt_vocab_size:
                raise ValueError(f"Seq2Seq: {label} must be a target id in [0, {tgt_vocab_size}), got {index}")
        self.encoder = Encoder(src_vocab_size, embedding_dim, hidden_size, pad_index)
        self.bridge = nn.Linear(memory_size, decoder_size)  # mean encoder output -> initial decoder state
        self.embedding = nn.Embedding(tgt_vocab_size, embedding_dim, padding_idx=pad_index)
        self.decoder = nn.GRU(embedding_dim, decoder_size, batch_first=True)
        self.attention_key = nn.Linear(memory_size, decoder_size, bias=False)  # W_a of the "general" score
        self.combine = nn.Linear(memory_size + decoder_size, decoder_size)  # W_c, b_c
        self.out = nn.Linear(decoder_size, tgt_vocab_size)  # W_o, b_o

    # ----- pieces -----------------------------------------------------------------------------------------------
    def source_mask(self, src_ids):
        """bool (B, T_in), True at real tokens; pads must come only after a source's tokens."""
        mask = src_ids != self.pad_index
        lengths = mask.sum(axis=1)
        if (lengths == 0).any():
            raise ValueError(f"Seq2Seq: every source needs at least one token; row(s) "
                             f"{np.nonzero(lengths == 0)[0].tolist()} are all padding (pad id {self.pad_index})")
        if not np.array_equal(mask, np.arange(src_ids.shape[1])[None, :] < lengths[:, None]):
            raise ValueError(f"Seq2Seq: padding (id {self.pad_index}) must come after each source's tokens, "
                             "not between or before them")
        return mask

    def encode(self, src_ids):
        """src_ids (B, T_in) -> (memory (B, T_in, 2H), keys (B, T_in, D) = W_a memory, mask (B, T_in) bool,
        initial decoder state (1, B, D))."""
        src_ids = _ids(src_ids, "Seq2Seq.encode")
        mask = self.source_mask(src_ids)
        memory = self.encoder(src_ids, mask)
        weights = tensor((mask / mask.sum(axis=1, keepdims=True))[:, :, None], dtype=memory.dtype)
        mean = (memory * weights).sum(dim=1)  # (B, 2H): the mean over real tokens only
        state = F.tanh(self.bridge(mean)).unsqueeze(0)
        return memory, self.attention_key(memory), mask, state

    def attend(self, hidden, memory, keys, mask):
        """hidden (B, T_out, D) decoder states -> (logits (B, T_out, V), attention (B, T_out, T_in))."""
        scores = shapes.bmm(hidden, keys.transpose(1, 2))  # (B, T_out, T_in)
        scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
        attention = F.softmax(scores, dim=-1)
        context = shapes.bmm(attention, memory)  # (B, T_out, 2H)
        combined = F.tanh(self.combine(shapes.cat([context, hidden], dim=2)))
        return self.out(combined), attention

    # ----- training: teacher forcing ----------------------------------------------------------------------------
    def forward(self, src_ids, tgt_in, return_attention=False):
        """src_ids (B, T_in), tgt_in (B, T_out) ("<s>" then the target shifted right) -> logits
        (B, T_out, tgt_vocab_size), and the attention (B, T_out, T_in) when return_attention."""
        tgt_in = _ids(tgt_in, "Seq2Seq.forward")
        memory, keys, mask, state = self.encode(src_ids)
        if tgt_in.shape[0] != memory.shape[0]:
            raise ShapeError(f"Seq2Seq.forward: src_ids has batch {memory.shape[0]} but tgt_in has batch "
                             f"{tgt_in.shape[0]} (shape {tgt_in.shape})")
        hidden, _ = self.decoder(self.embedding(tgt_in), state)
        logits, attention = self.attend(hidden, memory, keys, mask)
        return (logits, attention) if return_attention else logits

    # ----- inference: greedy decoding ---------------------------------------------------------------------------
    def translate(self, src_ids, max_len):
        """Greedy decoding: from "<s>", feed back the most likely token each step, for at most max_len steps (fewer
        when every row has produced end_index).

        src_ids (B, T_in) -> (ids int64 Tensor (B, T_out), attention Tensor (B, T_out, T_in)), T_out <= max_len.
        Each row holds its tokens up to and including end_index, then pad_index; its attention rows after the end
        are zero. Runs in eval mode without building a graph (the training mode is restored afterwards).
        """
        if isinstance(max_len, bool) or not isinstance(max_len, (int, np.integer)) or max_len < 1:
            raise ValueError(f"Seq2Seq.translate: max_len must be a positive int, got {max_len!r}")
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                memory, keys, mask, state = self.encode(src_ids)
                batch = memory.shape[0]
                token = np.full((batch, 1), self.start_index, dtype=np.int64)
                finished = np.zeros(batch, dtype=bool)
                ids, weights = [], []
                for _ in range(int(max_len)):
                    hidden, state = self.decoder(self.embedding(token), state)
                    logits, attention = self.attend(hidden, memory, keys, mask)
                    step = logits.data[:, 0].argmax(axis=1)
                    ids.append(np.where(finished, self.pad_index, step))
                    weights.append(np.where(finished[:, None], 0.0, attention.data[:, 0]))
                    finished |= step == self.end_index
                    if finished.all():
                        break
                    token = step[:, None]
        finally:
            self.train(was_training)
        return (tensor(np.stack(ids, axis=1)),
                tensor(np.stack(weights, axis=1).astype(memory.dtype)))
