"""Packed variable-length sequences (torch.nn.utils.rnn's names): pack, pad, and the conversions recurrent layers use.

A batch of B sequences of lengths L_0 >= L_1 >= ... (after sorting) is packed time step by time step: `data` holds
step 0 of every sequence, then step 1 of every sequence still running, and so on, so `data` has sum(L) rows and
`batch_sizes[t]` says how many sequences are still running at step t. Every conversion here is one row gather or
one row scatter with a precomputed flat index, so it costs one copy and is differentiable.
"""

from collections import namedtuple

import numpy as np

from ...autograd.function import Function
from ...errors import ShapeError
from ...functional.indexing import getitem, index_put
from ...functional.shape import cat, reshape
from ...tensor import Tensor

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence", "pack_sequence",
           "unpad_sequence", "unpack_sequence", "packed_to_padded_with_lengths", "padded_to_packed",
           "invert_permutation"]


class _TakeRows(Function):
    """rows (M, *) and distinct row numbers index (N,) -> rows[index], shape (N, *).

    Fused because the general gathers (index_select, indexing) must allow repeated indices and so scatter their
    gradient with np.add.at, ~15x slower than a plain assignment; packing never repeats a row, so here the
    gradient is one assignment.
    """

    save_inputs = False

    def forward(self, rows, index):
        self.shape, self.index = rows.shape, index
        return np.take(rows, index, axis=0)

    def backward(self, grad):
        # d out[i] / d rows[index[i]] = 1, and each row is taken at most once: place the gradient rows back.
        full = np.zeros(self.shape, dtype=grad.dtype)
        full[self.index] = grad
        return (full,)


def _int64(values):
    return Tensor._make(np.ascontiguousarray(values, dtype=np.int64))


def _array(value):
    """A Tensor, list or array of integers as an np.ndarray (no copy for a Tensor)."""
    return value.data if isinstance(value, Tensor) else np.asarray(value)


def invert_permutation(permutation):
    """The inverse of a permutation of 0..n-1 (an int64 Tensor), or None for None."""
    if permutation is None:
        return None
    permutation = _array(permutation)
    inverse = np.empty_like(permutation, dtype=np.int64)
    inverse[permutation] = np.arange(permutation.size, dtype=np.int64)
    return _int64(inverse)


class PackedSequence(namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """A packed batch of variable-length sequences, as made by pack_padded_sequence / pack_sequence.

    data: (sum(lengths), *) the time steps, step-major; batch_sizes: int64 (max_length,) sequences running at each
    step; sorted_indices: int64 (B,) with sorted_indices[j] = the original batch position of the j-th longest
    sequence, or None when the batch was packed already sorted; unsorted_indices: its inverse permutation.
    Construct it yourself only from the output of another PackedSequence (as in torch).
    """

    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if batch_sizes is None:  # PackedSequence((data, batch_sizes)), the old torch form
            data, batch_sizes = data
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """The same packing with `data` converted (only data's dtype can change; indices stay int64)."""
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else self._replace(data=data)

    def cpu(self):
        return self

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    def long(self):
        return self.to(np.int64)

    def int(self):
        return self.to(np.int32)

    @property
    def is_cuda(self):
        return False

    def is_pinned(self):
        return False


# ----- the flat positions every conversion uses -----------------------------------------------------------------
def _packed_positions(sorted_lengths, sorted_indices, total_length, batch_first):
    """Row numbers, in the (T * B, *) flattened padded tensor, of every packed step, in packed order.

    sorted_lengths: (B,) non-increasing; sorted_indices: (B,) original batch position of each sorted sequence, or
    None for "already sorted"; total_length: T. Returns (positions (sum(lengths),), batch_sizes (max_length,)).
    """
    batch = sorted_lengths.size
    steps = int(sorted_lengths[0]) if batch else 0
    # running[t, j]: sorted sequence j still has a step t; nonzero() walks it step-major, which is packed order
    running = sorted_lengths[None, :] > np.arange(steps)[:, None]
    t, j = np.nonzero(running)
    b = j if sorted_indices is None else sorted_indices[j]
    positions = b * total_length + t if batch_first else t * batch + b
    return positions, running.sum(axis=1, dtype=np.int64)


def _pack(rows, positions, batch_sizes, sorted_indices):
    """rows (M, *) -> PackedSequence of rows[positions]; sorted_indices an np.ndarray or None."""
    data = _TakeRows.apply(rows, index=positions)
    sorted_indices = None if sorted_indices is None else _int64(sorted_indices)
    return PackedSequence(data, _int64(batch_sizes), sorted_indices)


def _check_lengths(lengths, batch, steps, op_name):
    """lengths as an int64 (B,) array, checked against the padded input's batch size and time steps."""
    array = _array(lengths)
    if array.ndim != 1:
        raise ShapeError(f"{op_name}: 'lengths' must be 1-D (one length per sequence), got shape {array.shape}")
    if array.size and array.dtype.kind not in "iuf":
        raise TypeError(f"{op_name}: 'lengths' must hold integers, got dtype {array.dtype}")
    array = array.astype(np.int64)  # as torch.as_tensor(lengths, dtype=torch.int64): floats are truncated
    if array.size != batch:
        raise ShapeError(f"{op_name}: expected len(lengths) to be equal to batch_size, but got {array.size} "
                         f"(batch_size={batch})")
    if batch == 0:
        raise RuntimeError(f"{op_name}: cannot pack an empty batch (batch_size=0)")
    if array.min() <= 0:
        raise RuntimeError(f"{op_name}: length of all samples has to be greater than 0, but found an element in "
                           f"'lengths' that is <= 0: lengths={array.tolist()}")
    if steps is not None and array.max() > steps:
        raise ShapeError(f"{op_name}: lengths={array.tolist()} has a sequence of length {int(array.max())}, longer "
                         f"than the input's {steps} time steps")
    return array


def _sort(lengths, enforce_sorted, op_name):
    """(sorted lengths, sorted_indices or None): longest first; torch's tie order (the earlier sequence first)."""
    if enforce_sorted:
        if np.any(lengths[1:] > lengths[:-1]):
            raise RuntimeError(f"{op_name}: `lengths` array must be sorted in decreasing order when `enforce_sorted` "
                               f"is True, got lengths={lengths.tolist()}. You can pass `enforce_sorted=False` to "
                               "pack_padded_sequence and/or pack_sequence to sidestep this requirement if you do not "
                               "need ONNX exportability.")
        return lengths, None
    order = np.argsort(-lengths, kind="stable")
    return lengths[order], order


# ----- public functions -----------------------------------------------------------------------------------------
def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch `input` (T, B, *) (or (B, T, *) with batch_first) whose sequence b has lengths[b] real
    steps. lengths: list or 1-D tensor of B positive ints, non-increasing unless enforce_sorted=False (then the
    batch is sorted here and sorted_indices records the order). Returns a PackedSequence."""
    op_name = "pack_padded_sequence"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op_name}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim < 2:
        raise ShapeError(f"{op_name}: input must be at least 2-D, (T, B, *) or (B, T, *) with batch_first, got "
                         f"shape {input.shape}")
    steps, batch = (input.shape[1], input.shape[0]) if batch_first else input.shape[:2]
    lengths = _check_lengths(lengths, batch, steps, op_name)
    sorted_lengths, sorted_indices = _sort(lengths, enforce_sorted, op_name)
    positions, batch_sizes = _packed_positions(sorted_lengths, sorted_indices, steps, batch_first)
    rows = reshape(input, (steps * batch,) + input.shape[2:])
    return _pack(rows, positions, batch_sizes, sorted_indices)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Undo pack_padded_sequence: (padded (T, B, *) or (B, T, *) with batch_first, lengths int64 (B,)), both in the
    original batch order. T is the longest length, or total_length when given (it must not be shorter)."""
    padded, lengths = _unpack(sequence, batch_first, padding_value, total_length, "pad_packed_sequence")
    return padded, _int64(lengths)


def _unpack(sequence, batch_first, padding_value, total_length, op_name):
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"{op_name}: expected a PackedSequence, got {type(sequence).__name__}")
    data, batch_sizes = sequence.data, _array(sequence.batch_sizes).astype(np.int64, copy=False)
    steps = batch_sizes.size
    batch = int(batch_sizes[0]) if steps else 0
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"{op_name}: expected total_length to be at least the length of the longest sequence "
                             f"in input, but got total_length={total_length} and max sequence length being {steps}")
        steps = int(total_length)
    sorted_lengths = (batch_sizes[None, :] > np.arange(batch)[:, None]).sum(axis=1, dtype=np.int64)
    sorted_indices = None if sequence.sorted_indices is None else _array(sequence.sorted_indices)
    positions, _ = _packed_positions(sorted_lengths, sorted_indices, steps, batch_first)
    if positions.size != data.shape[0]:
        raise ShapeError(f"{op_name}: data has {data.shape[0]} rows but batch_sizes={batch_sizes.tolist()} sum to "
                         f"{positions.size}")
    blank = Tensor._make(np.full((steps * batch,) + data.shape[1:], padding_value, dtype=data.dtype))
    padded = index_put(blank, positions, data)
    padded = reshape(padded, ((batch, steps) if batch_first else (steps, batch)) + data.shape[1:])
    lengths = sorted_lengths if sorted_indices is None else sorted_lengths[_array(sequence.unsorted_indices)]
    return padded, lengths


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack a list of B tensors (L_i, *) into one (T, B, *) tensor (or (B, T, *) with batch_first), T = max L_i,
    filling the missing steps with padding_value after each sequence (padding_side="right") or before it ("left")."""
    op_name = "pad_sequence"
    if padding_side not in ("left", "right"):
        raise ValueError(f"{op_name}: expected padding_side to be one of left or right, but got {padding_side!r}")
    if isinstance(sequences, Tensor):
        sequences = [sequences[i] for i in range(sequences.shape[0])]
    sequences = list(sequences)
    if not sequences:
        raise ValueError(f"{op_name}: received an empty list of sequences")
    for i, s in enumerate(sequences):
        if not isinstance(s, Tensor):
            raise TypeError(f"{op_name}: sequence {i} is a {type(s).__name__}, expected a Tensor")
        if s.ndim == 0 or s.shape[1:] != sequences[0].shape[1:]:
            raise ShapeError(f"{op_name}: every sequence must be (L, *) with the same trailing dims: sequence 0 "
                             f"has shape {sequences[0].shape}, sequence {i} has shape {s.shape}")
    lengths = np.array([s.shape[0] for s in sequences], dtype=np.int64)
    batch, steps = lengths.size, int(lengths.max())
    # row r of the concatenation is step t of sequence b; its row in the flattened padded tensor:
    b = np.repeat(np.arange(batch), lengths)
    t = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    if padding_side == "left":
        t = t + (steps - lengths)[b]
    positions = b * steps + t if batch_first else t * batch + b
    data = cat(sequences, 0) if batch > 1 else sequences[0]
    blank = Tensor._make(np.full((steps * batch,) + data.shape[1:], padding_value, dtype=data.dtype))
    padded = index_put(blank, positions, data)
    return reshape(padded, ((batch, steps) if batch_first else (steps, batch)) + data.shape[1:])


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of B tensors (L_i, *) (longest first unless enforce_sorted=False) into a PackedSequence; the same
    as pack_padded_sequence(pad_sequence(sequences), lengths) without building the padded tensor."""
    op_name = "pack_sequence"
    sequences = list(sequences)
    if not sequences:
        raise ValueError(f"{op_name}: received an empty list of sequences")
    for i, s in enumerate(sequences):
        if not isinstance(s, Tensor) or s.ndim == 0 or s.shape[1:] != sequences[0].shape[1:]:
            raise ShapeError(f"{op_name}: every sequence must be a Tensor (L, *) with the same trailing dims: "
                             f"sequence 0 has shape {sequences[0].shape}, sequence {i} has shape "
                             f"{getattr(s, 'shape', type(s).__name__)}")
    lengths = _check_lengths([s.shape[0] for s in sequences], len(sequences), None, op_name)
    sorted_lengths, sorted_indices = _sort(lengths, enforce_sorted, op_name)
    # positions in the concatenation: step t of sequence b is row start[b] + t
    t, j = np.nonzero(sorted_lengths[None, :] > np.arange(sorted_lengths[0])[:, None])
    b = j if sorted_indices is None else sorted_indices[j]
    positions = (np.cumsum(lengths) - lengths)[b] + t
    batch_sizes = np.bincount(t, minlength=int(sorted_lengths[0]))
    rows = cat(sequences, 0) if len(sequences) > 1 else sequences[0]
    return _pack(rows, positions, batch_sizes, sorted_indices)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """Split a padded batch (T, B, *) (or (B, T, *)) back into a list of B tensors (lengths[b], *) (views)."""
    lengths = _array(lengths)
    if lengths.ndim != 1:
        raise ShapeError(f"unpad_sequence: 'lengths' must be 1-D, got shape {lengths.shape}")
    batch_dim = 0 if batch_first else 1
    if padded_sequences.ndim < 2 or padded_sequences.shape[batch_dim] != lengths.size:
        raise ShapeError(f"unpad_sequence: {lengths.size} lengths for a padded batch of shape "
                         f"{padded_sequences.shape} (batch_first={batch_first})")
    if batch_first:
        return [getitem(padded_sequences, (b, slice(0, int(n)))) for b, n in enumerate(lengths)]
    return [getitem(padded_sequences, (slice(0, int(n)), b)) for b, n in enumerate(lengths)]


def unpack_sequence(packed_sequences):
    """A PackedSequence back to the list of B tensors (L_i, *) it was packed from, in the original order."""
    padded, lengths = _unpack(packed_sequences, True, 0.0, None, "unpack_sequence")
    return unpad_sequence(padded, lengths, batch_first=True)


# ----- for the recurrent layers ---------------------------------------------------------------------------------
def packed_to_padded_with_lengths(packed):
    """A PackedSequence -> (padded (T, B, *) time-major, zeros past each end, in the ORIGINAL batch order;
    lengths as an int64 np.ndarray (B,) in the same order). Differentiable in packed.data. T = max length."""
    return _unpack(packed, False, 0.0, None, "packed_to_padded_with_lengths")


def padded_to_packed(padded, lengths, sorted_indices=None, unsorted_indices=None):
    """A time-major padded output (T, B, *) in the original batch order -> a PackedSequence with the same packing
    (sorted_indices / unsorted_indices) as the input it came from; the steps past lengths[b] (np.ndarray or Tensor
    (B,), original order) are dropped. No validation: the lengths come from packed_to_padded_with_lengths."""
    lengths = _array(lengths).astype(np.int64, copy=False)
    steps, batch = padded.shape[:2]
    order = None if sorted_indices is None else _array(sorted_indices)
    sorted_lengths = lengths if order is None else lengths[order]
    positions, batch_sizes = _packed_positions(sorted_lengths, order, steps, False)
    data = _TakeRows.apply(reshape(padded, (steps * batch,) + padded.shape[2:]), index=positions)
    if sorted_indices is not None and not isinstance(sorted_indices, Tensor):
        sorted_indices = _int64(sorted_indices)
    return PackedSequence(data, _int64(batch_sizes), sorted_indices, unsorted_indices)
