"""EmbeddingBag and F.embedding_bag: outputs and gradients against torch and against a bag-by-bag NumPy reference
(for the cases where torch 2.13's CPU kernel is known to be wrong), float64 gradchecks, the module's state_dict,
init and from_pretrained, and the errors."""

import numpy as np
import pytest

import glassbox as gb
import glassbox.nn.functional as F
from glassbox.autograd import gradcheck
from glassbox.nn.sparse import EmbeddingBag

V, D = 12, 4
MODES = ["sum", "mean", "max"]


def _reference(weight, bags, mode, padding_idx=None, weights=None):
    """Bag by bag, by hand: each bag a list of entry positions into `indices` (the flat input)."""
    out = np.zeros((len(bags), weight.shape[1]))
    for b, (indices, scales) in enumerate(bags):
        keep = [i for i, k in enumerate(indices) if k != padding_idx]
        if not keep:
            continue
        rows = weight[[indices[i] for i in keep]].astype(np.float64)
        if scales is not None:
            rows = rows * np.array([scales[i] for i in keep])[:, None]
        out[b] = {"sum": rows.sum(0), "mean": rows.mean(0), "max": rows.max(0)}[mode]
    return out


def _bags_of(indices, offsets, include_last_offset, weights=None):
    """(indices, per-sample weights) of each bag, from the flat input and offsets."""
    end = offsets[-1] if include_last_offset else len(indices)
    bounds = list(offsets) if include_last_offset else list(offsets) + [end]
    return [(list(indices[a:b]), None if weights is None else list(weights[a:b])) for a, b in zip(bounds, bounds[1:])]


def _run_both(torch, weight, indices, offsets=None, upstream_seed=0, **kwargs):
    """Output and weight gradient from glassbox and torch for the same call, with a random upstream gradient."""
    psw = kwargs.pop("per_sample_weights", None)
    ours_w, theirs_w = gb.tensor(weight, requires_grad=True), torch.tensor(weight, requires_grad=True)
    ours_p = None if psw is None else gb.tensor(psw, requires_grad=True)
    theirs_p = None if psw is None else torch.tensor(psw, requires_grad=True)
    ours = F.embedding_bag(gb.tensor(indices), ours_w, None if offsets is None else gb.tensor(offsets),
                           per_sample_weights=ours_p, **kwargs)
    theirs = torch.nn.functional.embedding_bag(torch.tensor(indices), theirs_w,
                                               None if offsets is None else torch.tensor(offsets),
                                               per_sample_weights=theirs_p, **kwargs)
    upstream = np.random.default_rng(upstream_seed).standard_normal(theirs.shape).astype(np.float32)
    (ours * gb.tensor(upstream)).sum().backward()
    (theirs * torch.tensor(upstream)).sum().backward()
    result = [(ours.data, theirs.detach().numpy()), (ours_w.grad.data, theirs_w.grad.numpy())]
    if psw is not None:
        result.append((ours_p.grad.data, theirs_p.grad.numpy()))
    return result


def _assert_pairs_close(pairs):
    for mine, expected in pairs:
        np.testing.assert_allclose(mine, expected, rtol=1e-4, atol=1e-5)


def _data(seed, entries=11):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((V, D)).astype(np.float32), rng.integers(0, V, size=entries)


# offsets of 11 entries: plain, with empty bags (repeated offsets, one at the end), a single bag
OFFSETS = [[0, 3, 7], [0, 0, 4, 4, 9, 11], [0]]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("offsets", OFFSETS, ids=["plain", "empty_bags", "one_bag"])
@pytest.mark.parametrize("padding_idx", [None, 5])
def test_offsets_input_matches_torch_and_reference(torch, mode, offsets, padding_idx):
    weight, indices = _data(len(offsets))
    indices[[1, 4, 5]] = 5  # padding_idx occurs, and bag [4, 9) of "empty_bags" keeps only some entries
    pairs = _run_both(torch, weight, indices, np.array(offsets), mode=mode, padding_idx=padding_idx)
    _assert_pairs_close(pairs)
    expected = _reference(weight, _bags_of(indices, offsets, False), mode, padding_idx)
    np.testing.assert_allclose(pairs[0][0], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding_idx", [None, 2])
def test_2d_input_is_fixed_size_bags(torch, mode, padding_idx):
    weight, indices = _data(3, entries=15)
    indices = indices.reshape(5, 3)
    indices[1] = 2  # one bag of nothing but padding: zeros
    indices[3, 0] = 2
    pairs = _run_both(torch, weight, indices, mode=mode, padding_idx=padding_idx)
    _assert_pairs_close(pairs)
    # the same as the embedding of each row reduced over the bag, when nothing is padding
    if padding_idx is None:
        reduce = getattr(weight[indices], mode)  # ndarray.sum / .mean / .max
        np.testing.assert_allclose(pairs[0][0], reduce(axis=1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_include_last_offset(torch, mode):
    weight, indices = _data(4)
    # the last offset is the input's length: the same bags as torch
    _assert_pairs_close(_run_both(torch, weight, indices, np.array([0, 2, 2, 6, 11]), mode=mode,
                                  include_last_offset=True))
    # a last offset short of the end leaves the trailing entries out of every bag. torch 2.13's CPU kernel does
    # that for sum only (mean still counts them, max still takes them: pytorch issue #191965), so mean and max
    # are checked against the bag-by-bag reference.
    offsets = [0, 2, 2, 6, 9]
    weight_t = gb.tensor(weight, requires_grad=True)
    out = F.embedding_bag(gb.tensor(indices), weight_t, gb.tensor(np.array(offsets)), mode=mode,
                          include_last_offset=True)
    assert out.shape == (4, D)
    np.testing.assert_allclose(out.data, _reference(weight, _bags_of(indices, offsets, True), mode),
                               rtol=1e-5, atol=1e-6)
    out.sum().backward()
    trailing_only = set(indices[9:]) - set(indices[:9])
    assert not weight_t.grad.data[sorted(trailing_only)].any()
    if mode == "sum":
        # each row's gradient: how often it occurs in a bag. (torch's forward agrees; its backward reads
        # uninitialised memory for the trailing entries here, so its gradient is not an oracle.)
        expected = torch.nn.functional.embedding_bag(torch.tensor(indices), torch.tensor(weight),
                                                     torch.tensor(offsets), mode="sum", include_last_offset=True)
        np.testing.assert_allclose(out.data, expected.numpy(), rtol=1e-5, atol=1e-6)
        occurrences = np.bincount(indices[:9], minlength=V).astype(np.float32)
        np.testing.assert_array_equal(weight_t.grad.data, np.repeat(occurrences[:, None], D, axis=1))


@pytest.mark.parametrize("padding_idx", [None, 3])
@pytest.mark.parametrize("two_d", [False, True])
def test_per_sample_weights_match_torch_with_their_gradient(torch, padding_idx, two_d):
    weight, indices = _data(5, entries=12)
    indices[[0, 7]] = 3
    psw = np.random.default_rng(6).standard_normal(12).astype(np.float32)
    if two_d:
        pairs = _run_both(torch, weight, indices.reshape(4, 3), mode="sum", padding_idx=padding_idx,
                          per_sample_weights=psw.reshape(4, 3))
    else:
        pairs = _run_both(torch, weight, indices, np.array([0, 5, 5, 9]), mode="sum", padding_idx=padding_idx,
                          per_sample_weights=psw)
    _assert_pairs_close(pairs)
    assert pairs[2][0].shape == ((4, 3) if two_d else (12,))
    if padding_idx is not None:  # a padding entry's weight has no effect, so no gradient
        assert pairs[2][0].reshape(-1)[0] == 0 and pairs[2][0].reshape(-1)[7] == 0


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_scale_grad_by_freq_divides_by_how_often_each_index_occurs(torch, mode):
    """torch 2.13's embedding_bag CPU backward divides by the wrong count when counts differ (pytorch issue
    #190063), so the oracle is torch's embedding (whose scaling is right) reduced over fixed-size bags."""
    weight, _ = _data(7)
    indices = np.array([[1, 1, 4], [4, 4, 7], [1, 9, 9], [2, 0, 1]])  # 1 four times, 4 three, 9 twice, others once
    ours_w, theirs_w = gb.tensor(weight, requires_grad=True), torch.tensor(weight, requires_grad=True)
    ours = F.embedding_bag(gb.tensor(indices), ours_w, mode=mode, scale_grad_by_freq=True)
    looked_up = torch.nn.functional.embedding(torch.tensor(indices), theirs_w, scale_grad_by_freq=True)
    theirs = looked_up.sum(1) if mode == "sum" else looked_up.mean(1)
    upstream = np.random.default_rng(1).standard_normal((4, D)).astype(np.float32)
    (ours * gb.tensor(upstream)).sum().backward()
    (theirs * torch.tensor(upstream)).sum().backward()
    _assert_pairs_close([(ours.data, theirs.detach().numpy()), (ours_w.grad.data, theirs_w.grad.numpy())])
    # where every index occurs equally often torch's embedding_bag is right too, and agrees
    _assert_pairs_close(_run_both(torch, weight, np.array([3, 5, 3, 5, 6, 6]), np.array([0, 2]), mode=mode,
                                  scale_grad_by_freq=True))


@pytest.mark.parametrize("norm_type", [2.0, 1.0])
def test_max_norm_renormalises_looked_up_rows_like_torch(torch, norm_type):
    weight, indices = _data(8)
    weight *= 3
    ours_w, theirs_w = gb.tensor(weight.copy()), torch.tensor(weight.copy())
    ours = F.embedding_bag(gb.tensor(indices), ours_w, gb.tensor(np.array([0, 4])), max_norm=1.5,
                           norm_type=norm_type, mode="sum")
    theirs = torch.nn.functional.embedding_bag(torch.tensor(indices), theirs_w, torch.tensor([0, 4]),
                                               max_norm=1.5, norm_type=norm_type, mode="sum")
    np.testing.assert_allclose(ours_w.data, theirs_w.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-5, atol=1e-5)


def test_an_input_with_no_entries_gives_zero_bags(torch):
    weight, _ = _data(9)
    empty = np.zeros(0, dtype=np.int64)
    for mode in MODES:
        _assert_pairs_close(_run_both(torch, weight, empty, np.array([0, 0, 0]), mode=mode))


@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_float64(mode):
    rng = np.random.default_rng(10)
    weight = gb.tensor(rng.standard_normal((6, 3)), requires_grad=True)
    indices = gb.tensor(np.array([0, 2, 2, 5, 1, 4, 4, 3, 0]))
    offsets = gb.tensor(np.array([0, 3, 3, 7]))
    assert gradcheck(lambda w: F.embedding_bag(indices, w, offsets, mode=mode, padding_idx=4), (weight,))
    fixed = gb.tensor(np.array([[0, 2, 4], [4, 4, 4], [5, 1, 5]]))  # equal-size bags take the reshape path
    assert gradcheck(lambda w: F.embedding_bag(fixed, w, mode=mode, padding_idx=4), (weight,))
    if mode == "sum":
        psw = gb.tensor(rng.standard_normal(9), requires_grad=True)
        assert gradcheck(lambda w, p: F.embedding_bag(fixed, w, mode="sum", per_sample_weights=p.reshape(3, 3),
                                                      padding_idx=4), (weight, psw))
        assert gradcheck(lambda w, p: F.embedding_bag(indices, w, offsets, mode="sum", per_sample_weights=p,
                                                      padding_idx=4), (weight, psw))
    else:
        # scale_grad_by_freq is left out: it deliberately is not the true gradient
        assert gradcheck(lambda w: F.embedding_bag(indices, w, offsets, mode=mode, include_last_offset=True),
                         (weight,))


# ----- the module ------------------------------------------------------------------------------------------------
def test_module_matches_torch_through_its_state_dict(torch):
    ours, theirs = EmbeddingBag(V, D, mode="max", padding_idx=1), torch.nn.EmbeddingBag(V, D, mode="max",
                                                                                       padding_idx=1)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    ours.load_state_dict({"weight": theirs.weight.detach().numpy().copy()})
    indices = np.random.default_rng(0).integers(0, V, size=10)
    out = ours(gb.tensor(indices), gb.tensor(np.array([0, 4, 4, 6])))
    expected = theirs(torch.tensor(indices), torch.tensor([0, 4, 4, 6]))
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-6)
    assert repr(ours) == repr(theirs)
    options = dict(max_norm=1.0, norm_type=1.0, scale_grad_by_freq=True, mode="sum", padding_idx=-2)
    assert repr(EmbeddingBag(V, D, **options)) == repr(torch.nn.EmbeddingBag(V, D, **options))


def test_module_per_sample_weights_and_include_last_offset(torch):
    layer = EmbeddingBag(V, D, mode="sum", include_last_offset=True)
    reference = torch.nn.EmbeddingBag(V, D, mode="sum", include_last_offset=True)
    reference.load_state_dict({"weight": torch.tensor(layer.weight.data)})
    indices, psw = np.array([1, 2, 3, 4, 5]), np.linspace(0.5, 1.5, 5, dtype=np.float32)
    out = layer(gb.tensor(indices), gb.tensor(np.array([0, 2, 5])), per_sample_weights=gb.tensor(psw))
    expected = reference(torch.tensor(indices), torch.tensor([0, 2, 5]), per_sample_weights=torch.tensor(psw))
    assert out.shape == (2, D)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_default_init_is_standard_normal_with_a_zero_padding_row():
    layer = EmbeddingBag(2000, 32, padding_idx=7)
    weight = layer.weight.data
    assert weight.dtype == np.float32 and not weight[7].any()
    rest = np.delete(weight, 7, axis=0)  # 63,968 draws: the mean's standard error is 0.004, the std's 0.003
    assert abs(rest.mean()) < 0.02 and abs(rest.std() - 1.0) < 0.02
    assert EmbeddingBag(3, 2, dtype=gb.float64).weight.dtype == np.float64


def test_from_pretrained_shares_the_table_and_freezes_it():
    table = gb.tensor(np.arange(12, dtype=np.float32).reshape(4, 3))
    layer = EmbeddingBag.from_pretrained(table, mode="sum")
    assert layer.weight.data is table.data and not layer.weight.requires_grad
    np.testing.assert_array_equal(layer(gb.tensor(np.array([[0, 3]]))).data, [[9.0, 11.0, 13.0]])
    assert EmbeddingBag.from_pretrained(table, freeze=False).weight.requires_grad
    with pytest.raises(ValueError, match=r"EmbeddingBag.from_pretrained: embeddings must be 2-D"):
        EmbeddingBag.from_pretrained(gb.zeros(4))


def test_training_step_moves_only_the_bags_rows():
    layer = EmbeddingBag(10, 3, mode="mean")
    before = layer.weight.data.copy()
    layer(gb.tensor(np.array([[1, 2], [2, 8]]))).sum().backward()
    moved = np.flatnonzero(np.abs(layer.weight.grad.data).sum(1))
    np.testing.assert_array_equal(moved, [1, 2, 8])
    np.testing.assert_allclose(layer.weight.grad.data[2], 1.0)  # half of each of two bags
    np.testing.assert_array_equal(layer.weight.data, before)


# ----- errors ----------------------------------------------------------------------------------------------------
def test_errors_name_the_op_and_the_values():
    weight, x = gb.zeros(V, D), gb.tensor(np.array([1, 2, 3, 4]))
    with pytest.raises(ValueError, match=r"embedding_bag: offsets\[0\] has to be 0.*got 1"):
        F.embedding_bag(x, weight, gb.tensor(np.array([1, 3])))
    with pytest.raises(NotImplementedError, match=r"per_sample_weights is only supported for mode='sum' \(got "
                                                  r"mode='mean'\)"):
        F.embedding_bag(x, weight, gb.tensor(np.array([0])), per_sample_weights=gb.ones(4))
    with pytest.raises(IndexError, match=r"embedding_bag: index 12 is out of range: valid indices are 0\.\.11"):
        F.embedding_bag(gb.tensor(np.array([1, 12])), weight, gb.tensor(np.array([0])))
    with pytest.raises(IndexError, match=r"EmbeddingBag\(num_embeddings=12, embedding_dim=4\): index -1"):
        EmbeddingBag(V, D)(gb.tensor(np.array([1, -1])), gb.tensor(np.array([0])))
    with pytest.raises(ValueError, match=r"if input is 2D, then offsets has to be None"):
        F.embedding_bag(x.reshape(2, 2), weight, gb.tensor(np.array([0, 2])))
    with pytest.raises(ValueError, match=r"offsets has to be a 1D Tensor but got None"):
        F.embedding_bag(x, weight)
    with pytest.raises(ValueError, match=r"input has to be 1D or 2D Tensor, but got Tensor of dimension 3"):
        F.embedding_bag(x.reshape(2, 1, 2), weight)
    with pytest.raises(ValueError, match=r"mode has to be one of sum, mean or max, got 'prod'"):
        F.embedding_bag(x, weight, gb.tensor(np.array([0])), mode="prod")
    with pytest.raises(ValueError, match=r"EmbeddingBag: mode has to be one of sum, mean or max, got 'min'"):
        EmbeddingBag(V, D, mode="min")
    with pytest.raises(ValueError, match=r"per_sample_weights \(\(3,\)\) is not None, then it must have the same "
                                         r"shape as the input \(\(4,\)\)"):
        F.embedding_bag(x, weight, gb.tensor(np.array([0])), mode="sum", per_sample_weights=gb.ones(3))
    with pytest.raises(ValueError, match=r"max mode does not support scaling the gradient by the frequency"):
        F.embedding_bag(x, weight, gb.tensor(np.array([0])), mode="max", scale_grad_by_freq=True)
    with pytest.raises(ValueError, match=r"offsets must be non-decreasing.*\[0, 3, 2\]"):
        F.embedding_bag(x, weight, gb.tensor(np.array([0, 3, 2])))
    with pytest.raises(ValueError, match=r"offsets\[-1\] can not be greater than input's length 4 but got "
                                         r"offsets\[-1\] of 5"):
        F.embedding_bag(x, weight, gb.tensor(np.array([0, 5])))
    with pytest.raises(TypeError, match=r"embedding_bag: indices must be an integer tensor.*float32"):
        F.embedding_bag(gb.tensor([1.0, 2.0]), weight, gb.tensor(np.array([0])))
    with pytest.raises(TypeError, match=r"embedding_bag: offsets must be an integer tensor.*float32"):
        F.embedding_bag(x, weight, gb.tensor([0.0, 2.0]))
    with pytest.raises(ValueError, match=r"EmbeddingBag: padding_idx=12 must be within num_embeddings=12"):
        EmbeddingBag(V, D, padding_idx=12)
