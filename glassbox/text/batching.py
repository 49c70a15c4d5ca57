"""Batching token ids: language-model windows over one long stream (truncated BPTT) and padding of ragged
sequences."""

import numpy as np


def _ids_array(ids, where):
    array = np.asarray(getattr(ids, "data", ids))
    if array.ndim != 1:
        raise ValueError(f"{where}: expected a 1-D stream of token ids, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{where}: token ids must be integers, got dtype {array.dtype}")
    return array.astype(np.int64, copy=False)


def _positive(value, name, where):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{where}: {name} must be a positive int, got {value!r}")
    return int(value)


class LMBatches:
    """(inputs, targets) windows for next-token prediction over one id stream.

    The stream ids (N,) is cut into `batch_size` contiguous streams of length L = N // batch_size (the tail that
    does not fit is dropped), laid out as rows of a (batch_size, L) array. Window j holds columns
    [j*seq_len, j*seq_len + T) as inputs and the same columns + 1 as targets, T = min(seq_len, L - 1 - j*seq_len);
    so row b of window j+1 continues row b of window j, and a recurrent model can carry its hidden state across
    windows (truncated backpropagation through time). Both arrays are int64 of shape (batch_size, T).
    """

    def __init__(self, ids, batch_size, seq_len):
        where = "lm_batches"
        ids = _ids_array(ids, where)
        self.batch_size = _positive(batch_size, "batch_size", where)
        self.seq_len = _positive(seq_len, "seq_len", where)
        length = len(ids) // self.batch_size
        if length < 2:
            raise ValueError(f"{where}: a stream of {len(ids)} ids cut into batch_size={self.batch_size} streams "
                             f"leaves {length} id(s) per stream; need at least 2 (one input and its target)")
        self.streams = ids[:length * self.batch_size].reshape(self.batch_size, length)

    def __len__(self):
        """The number of windows: ceil((L - 1) / seq_len)."""
        return -(-(self.streams.shape[1] - 1) // self.seq_len)

    def __iter__(self):
        last = self.streams.shape[1] - 1  # the final column is only ever a target
        for start in range(0, last, self.seq_len):
            stop = min(start + self.seq_len, last)
            yield self.streams[:, start:stop], self.streams[:, start + 1:stop + 1]


def lm_batches(ids, batch_size, seq_len):
    """Windows over ids (N,) for language modelling: an iterable (with len) of (inputs, targets), each int64
    (batch_size, <= seq_len), targets = inputs shifted by one; see LMBatches for the layout."""
    return LMBatches(ids, batch_size, seq_len)


def pad_batch(sequences, pad_index=0, batch_first=True, max_len=None):
    """Pad ragged id sequences into one array.

    sequences: B 1-D sequences of ids (lists, arrays or Tensors). max_len: the padded length T (sequences longer
    than it are cut to it); default the longest length.
    Returns (padded, lengths, mask): padded int64 (B, T) (or (T, B) when batch_first=False) filled with pad_index
    after each sequence; lengths int64 (B,); mask bool with padded's shape, True at real tokens.
    """
    where = "pad_batch"
    if isinstance(sequences, np.ndarray) and sequences.ndim == 2:
        sequences = list(sequences)
    sequences = [_ids_array(s, where) for s in sequences]
    if not sequences:
        raise ValueError(f"{where}: expected at least one sequence, got none")
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    if max_len is not None:
        if isinstance(max_len, bool) or not isinstance(max_len, (int, np.integer)) or max_len < 0:
            raise ValueError(f"{where}: max_len must be None or a non-negative int, got {max_len!r}")
        lengths = np.minimum(lengths, int(max_len))
        width = int(max_len)
    else:
        width = int(lengths.max())
    padded = np.full((len(sequences), width), int(pad_index), dtype=np.int64)
    mask = np.arange(width)[None, :] < lengths[:, None]
    # One scatter for the whole batch instead of a slice assignment per sequence.
    padded[mask] = np.concatenate([s[:n] for s, n in zip(sequences, lengths)]) if lengths.sum() else []
    if not batch_first:
        padded, mask = np.ascontiguousarray(padded.T), np.ascontiguousarray(mask.T)
    return padded, lengths, mask
