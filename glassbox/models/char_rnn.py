"""CharRNN: a character-level (or any token-level) recurrent language model, Embedding -> LSTM/GRU -> Linear."""

import numpy as np

from .. import nn
from ..autograd import no_grad
from ..tensor import Tensor
from ..text import sample_next

_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}


def detach_state(state):
    """The recurrent state cut from its graph (truncated BPTT): h, or for the LSTM the pair (h, c); None stays None."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


class CharRNN(nn.Module):
    """Next-token model over a vocabulary of `vocab_size` ids.

    tokens (B, T) int -> Embedding (B, T, E) -> LSTM or GRU (batch_first, num_layers, hidden_size H) -> Dropout ->
    Linear -> logits (B, T, vocab_size). `dropout` applies between stacked recurrent layers and before the output
    layer. The recurrent state is returned so that a caller can carry it across windows of one long text.
    """

    def __init__(self, vocab_size, embedding_dim=64, hidden_size=256, num_layers=1, cell="lstm", dropout=0.0):
        super().__init__()
        if cell not in _CELLS:
            raise ValueError(f"CharRNN: cell must be one of {sorted(_CELLS)}, got {cell!r}")
        for label, value in (("vocab_size", vocab_size), ("embedding_dim", embedding_dim),
                             ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"CharRNN: {label} must be a positive int, got {value!r}")
        self.vocab_size, self.cell = int(vocab_size), cell
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        # torch's LSTM/GRU warn about (and ignore) dropout with one layer; only pass it where it acts.
        self.rnn = _CELLS[cell](embedding_dim, hidden_size, num_layers=num_layers, batch_first=True,
                                dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens, state=None):
        """tokens (B, T) int64 (array or Tensor); state: None (zeros) or the state returned by a previous call,
        (h, c) for the LSTM, h for the GRU, each (num_layers, B, H). Returns (logits (B, T, vocab_size), state)."""
        array = tokens.data if isinstance(tokens, Tensor) else np.asarray(tokens)
        if array.ndim != 2:
            raise ValueError(f"CharRNN: expected tokens of shape (batch, time), got shape {array.shape}")
        output, state = self.rnn(self.embedding(array), state)
        batch, steps, hidden = output.shape
        # The head runs on (B*T, H) rows: one plain 2-D GEMM. A 3-D input to Linear reaches np.matmul's stacked
        # path, which (numpy 2.4, transposed weight) skips BLAS and was measured ~50x slower here.
        logits = self.head(self.dropout(output.reshape(batch * steps, hidden)))
        return logits.reshape(batch, steps, self.vocab_size), state

    def generate(self, prompt_ids, length, temperature=1.0, top_k=None, rng=None):
        """Continue prompt_ids (1-D, at least one id) by `length` ids sampled one at a time with
        glassbox.text.sample_next (temperature 0 = greedy argmax), carrying the recurrent state so that each step
        costs one time step. Runs in eval mode under no_grad (the previous mode is restored).
        Returns the `length` new ids as an int64 array (length,), without the prompt."""
        prompt = np.asarray(getattr(prompt_ids, "data", prompt_ids))
        if prompt.ndim != 1 or prompt.size == 0 or not np.issubdtype(prompt.dtype, np.integer):
            raise ValueError(f"CharRNN.generate: prompt_ids must be a non-empty 1-D sequence of int ids, got "
                             f"shape {prompt.shape} dtype {prompt.dtype}")
        if prompt.min() < 0 or prompt.max() >= self.vocab_size:
            raise ValueError(f"CharRNN.generate: prompt ids must lie in [0, {self.vocab_size}), got min "
                             f"{prompt.min()} max {prompt.max()}")
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
            raise ValueError(f"CharRNN.generate: length must be a non-negative int, got {length!r}")
        was_training = self.training
        self.eval()
        generated = np.empty(int(length), dtype=np.int64)
        try:
            with no_grad():
                # The whole prompt in one pass; then one step per new id, fed back in with the carried state.
                logits, state = self(prompt.astype(np.int64)[None, :])
                for k in range(int(length)):
                    token = sample_next(logits.data[0, -1], temperature=temperature, top_k=top_k, rng=rng)
                    generated[k] = token
                    if k + 1 < length:
                        logits, state = self(np.array([[token]], dtype=np.int64), state)
        finally:
            self.train(was_training)
        return generated
