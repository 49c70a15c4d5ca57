"""Packed sequences: pack/pad/unpack functions against torch.nn.utils.rnn (data, batch_sizes, indices, padded output,
lengths, gradients), the recurrent-layer helpers against a hand-built padding, and the validation errors."""

import numpy as np
import pytest

import glassbox as gb
from glassbox.autograd import gradcheck
from glassbox.errors import ShapeError
from glassbox.nn.utils import rnn

# (lengths, feature shape): sorted and unsorted, ties, a batch of one, no feature dims, two feature dims
CASES = [([5, 3, 3, 1], (2,)), ([2, 5, 4], (3,)), ([4], (2,)), ([1, 3, 2, 3, 1], ()), ([3, 3, 6, 2], (2, 3)),
         ([1, 1, 1], (4,))]


def _lengths_sorted(lengths):
    return all(a >= b for a, b in zip(lengths, lengths[1:]))


def _padded(lengths, features, batch_first, seed, total=None):
    rng = np.random.default_rng(seed)
    steps = total or max(lengths)
    shape = (len(lengths), steps) if batch_first else (steps, len(lengths))
    return rng.standard_normal(shape + features).astype(np.float32)


def _assert_packed_equal(ours, theirs):
    assert isinstance(ours, rnn.PackedSequence)
    np.testing.assert_array_equal(ours.data.data, theirs.data.detach().numpy())
    assert ours.batch_sizes.dtype == np.int64
    np.testing.assert_array_equal(ours.batch_sizes.data, theirs.batch_sizes.numpy())
    for mine, reference in ((ours.sorted_indices, theirs.sorted_indices),
                            (ours.unsorted_indices, theirs.unsorted_indices)):
        if reference is None:
            assert mine is None
        else:
            assert mine.dtype == np.int64
            np.testing.assert_array_equal(mine.data, reference.numpy())


@pytest.mark.parametrize("lengths, features, enforce_sorted",
                         [(n, f, e) for n, f in CASES for e in (True, False) if _lengths_sorted(n) or not e])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths_as", ["list", "tensor"])
def test_pack_padded_and_pad_packed_match_torch(torch, lengths, features, batch_first, enforce_sorted, lengths_as):
    x = _padded(lengths, features, batch_first, seed=len(lengths) + len(features), total=max(lengths) + 1)
    our_lengths = gb.tensor(np.array(lengths)) if lengths_as == "tensor" else lengths
    ours = rnn.pack_padded_sequence(gb.tensor(x), our_lengths, batch_first=batch_first,
                                    enforce_sorted=enforce_sorted)
    theirs = torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x), torch.tensor(lengths),
                                                     batch_first=batch_first, enforce_sorted=enforce_sorted)
    _assert_packed_equal(ours, theirs)
    for total_length, padding_value in ((None, 0.0), (max(lengths) + 2, -1.5)):
        padded, out_lengths = rnn.pad_packed_sequence(ours, batch_first=batch_first, padding_value=padding_value,
                                                      total_length=total_length)
        expected, expected_lengths = torch.nn.utils.rnn.pad_packed_sequence(
            theirs, batch_first=batch_first, padding_value=padding_value, total_length=total_length)
        np.testing.assert_array_equal(padded.data, expected.numpy())
        assert out_lengths.dtype == np.int64
        np.testing.assert_array_equal(out_lengths.data, expected_lengths.numpy())


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_gradients_through_pack_then_pad_match_torch(torch, batch_first, enforce_sorted):
    lengths = [5, 4, 2, 2] if enforce_sorted else [2, 5, 2, 4]
    x = _padded(lengths, (3,), batch_first, seed=7, total=6)
    upstream = np.random.default_rng(8).standard_normal((4, 5, 3) if batch_first else (5, 4, 3)).astype(np.float32)
    ours, theirs = gb.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    padded, _ = rnn.pad_packed_sequence(rnn.pack_padded_sequence(ours, lengths, batch_first, enforce_sorted),
                                        batch_first)
    expected, _ = torch.nn.utils.rnn.pad_packed_sequence(
        torch.nn.utils.rnn.pack_padded_sequence(theirs, lengths, batch_first, enforce_sorted), batch_first)
    (padded * gb.tensor(upstream)).sum().backward()
    (expected * torch.tensor(upstream)).sum().backward()
    np.testing.assert_array_equal(ours.grad.data, theirs.grad.numpy())
    # the padding got no gradient, the real steps all of it
    mask = np.arange(6)[None, :] < np.array(lengths)[:, None]
    mask = mask if batch_first else mask.T
    assert not ours.grad.data[~mask].any()


def test_pack_and_pad_gradcheck_float64():
    lengths = [3, 4, 1]
    x = gb.tensor(_padded(lengths, (2,), False, seed=3, total=5).astype(np.float64), requires_grad=True)

    def roundtrip(x):
        packed = rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
        padded, _ = rnn.pad_packed_sequence(packed, batch_first=True, padding_value=2.0, total_length=6)
        return padded * padded  # non-linear, so a wrongly routed gradient shows up

    assert gradcheck(roundtrip, (x,))
    sequences = [gb.tensor(np.random.default_rng(i).standard_normal((n, 2)), requires_grad=True)
                 for i, n in enumerate([2, 4, 3])]
    assert gradcheck(lambda *s: rnn.pack_sequence(list(s), enforce_sorted=False).data ** 3, sequences)
    assert gradcheck(lambda *s: rnn.pad_sequence(list(s), padding_side="left") ** 3, sequences)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_matches_torch_with_gradients(torch, batch_first, padding_side):
    rng = np.random.default_rng(11)
    arrays = [rng.standard_normal((n, 2, 3)).astype(np.float32) for n in (3, 5, 1, 5)]
    ours = [gb.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    padded = rnn.pad_sequence(ours, batch_first=batch_first, padding_value=7.0, padding_side=padding_side)
    expected = torch.nn.utils.rnn.pad_sequence(theirs, batch_first=batch_first, padding_value=7.0,
                                               padding_side=padding_side)
    np.testing.assert_array_equal(padded.data, expected.detach().numpy())
    upstream = rng.standard_normal(expected.shape).astype(np.float32)
    (padded * gb.tensor(upstream)).sum().backward()
    (expected * torch.tensor(upstream)).sum().backward()
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.data, q.grad.numpy())


def test_pad_sequence_of_one_sequence_and_of_integers(torch):
    one = np.arange(4, dtype=np.float32)
    np.testing.assert_array_equal(rnn.pad_sequence([gb.tensor(one)]).data,
                                  torch.nn.utils.rnn.pad_sequence([torch.tensor(one)]).numpy())
    tokens = [np.array([3, 1, 4]), np.array([1, 5])]
    padded = rnn.pad_sequence([gb.tensor(t) for t in tokens], batch_first=True, padding_value=-1)
    expected = torch.nn.utils.rnn.pad_sequence([torch.tensor(t) for t in tokens], batch_first=True,
                                               padding_value=-1)
    assert padded.dtype == np.int64
    np.testing.assert_array_equal(padded.data, expected.numpy())


@pytest.mark.parametrize("lengths, enforce_sorted", [([4, 4, 2, 1], True), ([4, 4, 2, 1], False),
                                                     ([1, 3, 2, 3], False), ([2], True)])
def test_pack_sequence_and_unpack_sequence_match_torch(torch, lengths, enforce_sorted):
    rng = np.random.default_rng(sum(lengths))
    arrays = [rng.standard_normal((n, 3)).astype(np.float32) for n in lengths]
    ours = [gb.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    packed = rnn.pack_sequence(ours, enforce_sorted=enforce_sorted)
    expected = torch.nn.utils.rnn.pack_sequence(theirs, enforce_sorted=enforce_sorted)
    _assert_packed_equal(packed, expected)
    upstream = rng.standard_normal(expected.data.shape).astype(np.float32)
    (packed.data * gb.tensor(upstream)).sum().backward()
    (expected.data * torch.tensor(upstream)).sum().backward()
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.data, q.grad.numpy())
    unpacked = rnn.unpack_sequence(packed)
    reference = torch.nn.utils.rnn.unpack_sequence(expected)
    assert len(unpacked) == len(reference)
    for u, r in zip(unpacked, reference):
        np.testing.assert_array_equal(u.data, r.detach().numpy())


@pytest.mark.parametrize("batch_first", [False, True])
def test_unpad_sequence_matches_torch(torch, batch_first):
    lengths = [3, 1, 4]
    x = _padded(lengths, (2,), batch_first, seed=5)
    ours = rnn.unpad_sequence(gb.tensor(x), gb.tensor(np.array(lengths)), batch_first=batch_first)
    theirs = torch.nn.utils.rnn.unpad_sequence(torch.tensor(x), torch.tensor(lengths), batch_first=batch_first)
    for u, r in zip(ours, theirs):
        np.testing.assert_array_equal(u.data, r.numpy())


def test_sorting_ties_in_a_large_batch(torch):
    """Equal lengths: glassbox keeps tied sequences in their original order (a stable sort). torch's descending
    sort is not stable past 16 elements, so its sorted_indices may order ties differently; both are valid packings,
    so compare what does not depend on the tie order: sorted lengths, batch_sizes, and the unpacked batch."""
    lengths = np.random.default_rng(2).integers(1, 4, size=40).tolist()
    x = _padded(lengths, (1,), False, seed=2)
    ours = rnn.pack_padded_sequence(gb.tensor(x), lengths, enforce_sorted=False)
    theirs = torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x), lengths, enforce_sorted=False)
    stable = torch.sort(torch.tensor(lengths), descending=True, stable=True).indices.numpy()
    np.testing.assert_array_equal(ours.sorted_indices.data, stable)
    np.testing.assert_array_equal(np.array(lengths)[ours.sorted_indices.data],
                                  np.array(lengths)[theirs.sorted_indices.numpy()])
    np.testing.assert_array_equal(ours.batch_sizes.data, theirs.batch_sizes.numpy())
    padded, out_lengths = rnn.pad_packed_sequence(ours)
    expected, expected_lengths = torch.nn.utils.rnn.pad_packed_sequence(theirs)
    np.testing.assert_array_equal(padded.data, expected.numpy())
    np.testing.assert_array_equal(out_lengths.data, expected_lengths.numpy())


def test_packed_sequence_is_a_namedtuple_like_torchs():
    packed = rnn.pack_sequence([gb.tensor([1.0, 2.0]), gb.tensor([3.0])])
    data, batch_sizes, sorted_indices, unsorted_indices = packed
    assert packed._fields == ("data", "batch_sizes", "sorted_indices", "unsorted_indices")
    assert sorted_indices is None and unsorted_indices is None
    np.testing.assert_array_equal(data.data, [1.0, 3.0, 2.0])
    np.testing.assert_array_equal(batch_sizes.data, [2, 1])
    rebuilt = rnn.PackedSequence(data, batch_sizes, gb.tensor(np.array([2, 0, 1])))
    np.testing.assert_array_equal(rebuilt.unsorted_indices.data, [1, 2, 0])  # computed, as torch does
    assert packed.double().data.dtype == np.float64 and packed.to(gb.float64).batch_sizes is batch_sizes
    assert packed.float() is packed and not packed.is_cuda


@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_recurrent_layer_helpers_roundtrip(enforce_sorted):
    lengths = [4, 3, 3, 1] if enforce_sorted else [3, 1, 4, 3]
    x = _padded(lengths, (2,), False, seed=9)
    packed = rnn.pack_padded_sequence(gb.tensor(x), lengths, enforce_sorted=enforce_sorted)
    padded, out_lengths = rnn.packed_to_padded_with_lengths(packed)
    # time-major, original batch order, zeros past each end: the input with its padding zeroed
    expected = np.where((np.arange(4)[:, None] < np.array(lengths)[None, :])[..., None], x, 0)
    np.testing.assert_array_equal(padded.data, expected)
    assert isinstance(out_lengths, np.ndarray) and out_lengths.dtype == np.int64
    np.testing.assert_array_equal(out_lengths, lengths)
    # an "output" over more steps than needed: the extra steps are dropped, the packing is the input's
    longer = np.concatenate([padded.data * 2, np.full((2, 4, 2), 99.0, np.float32)])
    repacked = rnn.padded_to_packed(gb.tensor(longer), out_lengths, packed.sorted_indices, packed.unsorted_indices)
    np.testing.assert_array_equal(repacked.data.data, packed.data.data * 2)
    np.testing.assert_array_equal(repacked.batch_sizes.data, packed.batch_sizes.data)
    assert repacked.sorted_indices is packed.sorted_indices
    assert repacked.unsorted_indices is packed.unsorted_indices


def test_padded_to_packed_is_differentiable():
    lengths = np.array([2, 3, 1])
    order = np.argsort(-lengths, kind="stable")
    y = gb.tensor(np.random.default_rng(4).standard_normal((3, 3, 2)), requires_grad=True)
    assert gradcheck(lambda y: rnn.padded_to_packed(y, lengths, order).data ** 2, (y,))


# ----- errors --------------------------------------------------------------------------------------------------
def test_errors_name_the_function_and_the_values(torch):
    x = gb.tensor(np.zeros((5, 3, 2), np.float32))
    with pytest.raises(RuntimeError, match=r"pack_padded_sequence: `lengths` array must be sorted in decreasing "
                                           r"order.*lengths=\[3, 4, 2\].*enforce_sorted=False"):
        rnn.pack_padded_sequence(x, [3, 4, 2])
    with pytest.raises(RuntimeError, match=r"greater than 0.*lengths=\[3, 0, 2\]"):
        rnn.pack_padded_sequence(x, [3, 0, 2], enforce_sorted=False)
    with pytest.raises(ShapeError, match=r"pack_padded_sequence: lengths=\[6, 4, 2\].*length 6.*5 time steps"):
        rnn.pack_padded_sequence(x, [6, 4, 2])
    with pytest.raises(ShapeError, match=r"len\(lengths\) to be equal to batch_size, but got 2 \(batch_size=3\)"):
        rnn.pack_padded_sequence(x, [4, 2])
    with pytest.raises(ShapeError, match=r"'lengths' must be 1-D.*\(1, 3\)"):
        rnn.pack_padded_sequence(x, [[3, 2, 1]])
    with pytest.raises(ShapeError, match=r"at least 2-D.*\(5,\)"):
        rnn.pack_padded_sequence(gb.zeros(5), [5])
    packed = rnn.pack_padded_sequence(x, [5, 4, 2])
    with pytest.raises(ValueError, match=r"pad_packed_sequence: .*total_length=3 and max sequence length being 5"):
        rnn.pad_packed_sequence(packed, total_length=3)
    with pytest.raises(TypeError, match=r"pad_packed_sequence: expected a PackedSequence, got Tensor"):
        rnn.pad_packed_sequence(x)
    with pytest.raises(ValueError, match=r"pad_sequence: expected padding_side to be one of left or right, but got "
                                         r"'up'"):
        rnn.pad_sequence([x], padding_side="up")
    with pytest.raises(ValueError, match=r"pad_sequence: received an empty list"):
        rnn.pad_sequence([])
    with pytest.raises(ShapeError, match=r"pad_sequence: .*sequence 0 has shape \(3, 2\), sequence 1 has shape "
                                         r"\(2, 3\)"):
        rnn.pad_sequence([gb.zeros(3, 2), gb.zeros(2, 3)])
    with pytest.raises(RuntimeError, match=r"pack_sequence: .*greater than 0.*lengths=\[2, 0\]"):
        rnn.pack_sequence([gb.zeros(2, 1), gb.zeros(0, 1)])
    # torch rejects the same inputs (the types match, so `except RuntimeError` ports unchanged)
    t = torch.zeros(5, 3, 2)
    for call in (lambda: torch.nn.utils.rnn.pack_padded_sequence(t, [3, 4, 2]),
                 lambda: torch.nn.utils.rnn.pack_padded_sequence(t, [3, 0, 2], enforce_sorted=False),
                 lambda: torch.nn.utils.rnn.pack_padded_sequence(t, [4, 2])):
        with pytest.raises(RuntimeError):
            call()
