"""Creation functions: dtype inference, shapes, memory sharing, ranges, random sampling and reproducibility.

Oracles: PyTorch's documented dtype rules (checked against torch where it is installed), NumPy, and the
statistics of the distributions.
"""

import numpy as np
import pytest

import glassbox as gb


@pytest.fixture(autouse=True)
def _restore_default_generator():
    """Tests here reseed the default generator: put its state back so other test files are unaffected."""
    state = gb.default_generator.get_state()
    yield
    gb.default_generator.set_state(state)


# ----- tensor() -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("data, expected", [
    ([1.0, 2.0], gb.float32),
    (1.5, gb.float32),
    ([[1.0], [2.0]], gb.float32),
    ([1, 2.5], gb.float32),
    ([1, 2], gb.int64),
    (3, gb.int64),
    ([True, False], gb.bool_),
    (True, gb.bool_),
])
def test_tensor_dtype_inference(data, expected):
    t = gb.tensor(data)
    assert t.dtype == expected
    np.testing.assert_array_equal(t.numpy(), np.array(data))


@pytest.mark.parametrize("data", [[1.0, 2.0], 1.5, [1, 2], 3, [True, False], [1, 2.5], [[1, 2], [3, 4]]])
def test_tensor_dtype_inference_matches_torch(data):
    torch = pytest.importorskip("torch")
    assert str(gb.tensor(data).dtype) == str(torch.tensor(data).dtype).replace("torch.", "")


def test_tensor_from_numpy_float64_stays_float64():
    a = np.array([1.0, 2.0])
    t = gb.tensor(a)
    assert t.dtype == gb.float64
    np.testing.assert_array_equal(t.numpy(), a)


def test_tensor_from_numpy_keeps_integer_dtype():
    assert gb.tensor(np.array([1, 2], dtype=np.int32)).dtype == gb.int32
    assert gb.tensor(np.array([1, 2], dtype=np.int64)).dtype == gb.int64
    assert gb.tensor(np.array([1.0], dtype=np.float32)).dtype == gb.float32


def test_tensor_from_numpy_float64_scalar_stays_float64():
    # torch.tensor(np.float64(1.5)).dtype is torch.float64: a NumPy float64 is not a Python float
    assert gb.tensor(np.float64(1.5)).dtype == gb.float64
    assert gb.tensor(np.float32(1.5)).dtype == gb.float32


def test_tensor_copies_data():
    a = np.array([1.0, 2.0])
    t = gb.tensor(a)
    a[0] = 100.0
    assert t[0].item() == 1.0


def test_tensor_explicit_dtype_and_requires_grad():
    t = gb.tensor([1, 2], dtype=gb.float64, requires_grad=True)
    assert t.dtype == gb.float64
    assert t.requires_grad and t.is_leaf
    assert gb.tensor([1.7, 2.2], dtype=gb.int64).tolist() == [1, 2]


def test_tensor_rejects_non_numeric_data():
    with pytest.raises(TypeError):
        gb.tensor(["a", "b"])


# ----- from_numpy -----------------------------------------------------------------------------------------------


def test_from_numpy_shares_memory_both_ways():
    a = np.array([1.0, 2.0, 3.0])
    t = gb.from_numpy(a)
    assert t.dtype == gb.float64
    a[0] = 10.0
    assert t[0].item() == 10.0
    t.mul_(2)
    np.testing.assert_array_equal(a, [20.0, 4.0, 6.0])


def test_from_numpy_keeps_dtype_and_rejects_non_arrays():
    assert gb.from_numpy(np.zeros(2, dtype=np.int32)).dtype == gb.int32
    assert gb.from_numpy(np.zeros(2, dtype=np.float32)).dtype == gb.float32
    with pytest.raises(TypeError):
        gb.from_numpy([1.0, 2.0])


# ----- constant fills -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fn, value", [(gb.zeros, 0.0), (gb.ones, 1.0)])
def test_zeros_ones_shapes_and_values(fn, value):
    for t in (fn(2, 3), fn((2, 3)), fn([2, 3])):
        assert t.shape == (2, 3)
        assert t.dtype == gb.float32
        assert np.all(t.numpy() == value)
    assert fn(4).shape == (4,)
    assert fn(()).shape == ()
    assert fn(0, 3).shape == (0, 3)
    assert fn(2, dtype=gb.int64).dtype == gb.int64
    assert fn(2, dtype=gb.float64).dtype == gb.float64
    assert fn(2, requires_grad=True).requires_grad


def test_empty_shapes_and_dtype():
    assert gb.empty(2, 3).shape == (2, 3)
    assert gb.empty((4, 1)).shape == (4, 1)
    assert gb.empty(3).dtype == gb.float32
    assert gb.empty(3, dtype=gb.int64).dtype == gb.int64


def test_negative_size_raises():
    with pytest.raises((ValueError, RuntimeError)):
        gb.zeros(-1, 2)


@pytest.mark.parametrize("value, expected", [(7, gb.int64), (1.5, gb.float32), (True, gb.bool_), (0, gb.int64)])
def test_full_infers_dtype_from_fill_value(value, expected):
    t = gb.full((2, 3), value)
    assert t.shape == (2, 3)
    assert t.dtype == expected
    assert np.all(t.numpy() == value)


def test_full_matches_torch_dtypes():
    torch = pytest.importorskip("torch")
    for value in (7, 1.5, True):
        assert str(gb.full((2,), value).dtype) == str(torch.full((2,), value).dtype).replace("torch.", "")


def test_full_explicit_dtype():
    t = gb.full((3,), 2, dtype=gb.float64)
    assert t.dtype == gb.float64
    assert t.tolist() == [2.0, 2.0, 2.0]


def test_zeros_like_ones_like():
    i = gb.tensor([[1, 2, 3]])
    z = gb.zeros_like(i)
    assert z.shape == (1, 3) and z.dtype == gb.int64 and z.tolist() == [[0, 0, 0]]
    f = gb.tensor([1.0, 2.0], dtype=gb.float64, requires_grad=True)
    o = gb.ones_like(f)
    assert o.dtype == gb.float64 and o.tolist() == [1.0, 1.0]
    assert o.requires_grad is False  # torch: *_like does not copy requires_grad
    assert gb.zeros_like(i, dtype=gb.float32).dtype == gb.float32
    # a new tensor, not a view
    o.add_(1)
    assert f.tolist() == [1.0, 2.0]


# ----- ranges ---------------------------------------------------------------------------------------------------


def test_arange_dtypes():
    assert gb.arange(5).dtype == gb.int64
    assert gb.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert gb.arange(1, 10, 3).tolist() == [1, 4, 7]
    assert gb.arange(10, 0, -3).tolist() == [10, 7, 4, 1]
    assert gb.arange(5.0).dtype == gb.float32
    assert gb.arange(0, 1, 0.25).dtype == gb.float32
    np.testing.assert_allclose(gb.arange(0, 1, 0.25).numpy(), [0.0, 0.25, 0.5, 0.75])
    assert gb.arange(3, dtype=gb.float64).dtype == gb.float64


@pytest.mark.parametrize("args", [(5,), (2, 9), (1, 10, 3), (10, 0, -3), (0, 1, 0.1), (1, 2.5, 0.5), (-1, 1, 0.3),
                                  (0.5, 3), (5.0,), (0, -2, -0.5)])
def test_arange_matches_torch(args):
    torch = pytest.importorskip("torch")
    g = gb.arange(*args)
    t = torch.arange(*args)
    assert g.shape == tuple(t.shape)
    assert str(g.dtype) == str(t.dtype).replace("torch.", "")
    np.testing.assert_allclose(g.numpy(), t.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("args", [(0, 1, 5), (-1, 1, 7), (2, 3, 1), (3, -3, 4), (0, 10, 11)])
def test_linspace_matches_torch(args):
    torch = pytest.importorskip("torch")
    g = gb.linspace(*args)
    t = torch.linspace(*args)
    assert g.dtype == gb.float32
    assert g.shape == tuple(t.shape)
    np.testing.assert_allclose(g.numpy(), t.numpy(), rtol=1e-6, atol=1e-6)


def test_linspace_endpoints_and_spacing():
    t = gb.linspace(-2, 2, 9)
    assert t.shape == (9,)
    assert t[0].item() == -2.0 and t[-1].item() == 2.0
    np.testing.assert_allclose(np.diff(t.numpy()), 0.5, rtol=1e-6)


def test_eye():
    e = gb.eye(3)
    assert e.dtype == gb.float32
    np.testing.assert_array_equal(e.numpy(), np.identity(3))
    r = gb.eye(2, 4)
    assert r.shape == (2, 4)
    np.testing.assert_array_equal(r.numpy(), [[1, 0, 0, 0], [0, 1, 0, 0]])
    assert gb.eye(2, dtype=gb.int64).dtype == gb.int64


# ----- random ---------------------------------------------------------------------------------------------------


def test_rand_shape_dtype_range_and_moments():
    gb.manual_seed(0)
    t = gb.rand(200, 500)
    assert t.shape == (200, 500)
    assert t.dtype == gb.float32
    a = t.numpy()
    assert a.min() >= 0.0 and a.max() < 1.0
    assert abs(a.mean() - 0.5) < 0.01
    assert abs(a.std() - (1 / 12) ** 0.5) < 0.01
    assert gb.rand((3, 4)).shape == (3, 4)
    assert gb.rand(3, dtype=gb.float64).dtype == gb.float64


def test_randn_shape_dtype_and_moments():
    gb.manual_seed(1)
    t = gb.randn(100000)
    assert t.shape == (100000,)
    assert t.dtype == gb.float32
    a = t.numpy()
    assert abs(a.mean()) < 0.02
    assert abs(a.std() - 1.0) < 0.02
    # about 68% within one standard deviation
    assert abs(np.mean(np.abs(a) < 1) - 0.6827) < 0.01
    assert gb.randn((2, 5)).shape == (2, 5)
    assert gb.randn(2, dtype=gb.float64).dtype == gb.float64


def test_rand_requires_grad():
    t = gb.randn(3, requires_grad=True)
    assert t.requires_grad and t.is_leaf


def test_randint_signatures():
    gb.manual_seed(2)
    t = gb.randint(3, 10, (4000,))
    assert t.dtype == gb.int64
    assert t.shape == (4000,)
    a = t.numpy()
    assert a.min() == 3 and a.max() == 9  # low inclusive, high exclusive
    assert set(np.unique(a).tolist()) == set(range(3, 10))
    u = gb.randint(5, (2, 3))  # randint(high, size)
    assert u.shape == (2, 3) and u.dtype == gb.int64
    b = gb.randint(5, (3000,)).numpy()
    assert b.min() == 0 and b.max() == 4
    k = gb.randint(low=2, high=4, size=(1000,)).numpy()
    assert set(np.unique(k).tolist()) == {2, 3}
    assert gb.randint(0, 2, (3,), dtype=gb.int32).dtype == gb.int32


def test_randint_high_with_size_keyword():
    # torch.randint(10, size=(3,)) and torch.randint(high=10, size=(3,)) both mean low=0
    a = gb.randint(10, size=(3000,))
    assert a.shape == (3000,) and a.dtype == gb.int64
    assert a.numpy().min() == 0 and a.numpy().max() == 9
    b = gb.randint(high=4, size=(2, 500))
    assert b.shape == (2, 500)
    assert set(np.unique(b.numpy()).tolist()) == {0, 1, 2, 3}


def test_randint_bad_range_raises():
    with pytest.raises((ValueError, RuntimeError)):
        gb.randint(5, 5, (3,))


def test_randint_matches_torch_dtype_and_shape():
    torch = pytest.importorskip("torch")
    for args in ((3, 10, (2, 5)), (5, (4,))):
        g, t = gb.randint(*args), torch.randint(*args)
        assert g.shape == tuple(t.shape)
        assert str(g.dtype) == str(t.dtype).replace("torch.", "")


def test_manual_seed_reproducible():
    gb.manual_seed(123)
    a, b = gb.rand(5), gb.randn(3, 2)
    c = gb.randint(0, 1000, (10,))
    gb.manual_seed(123)
    np.testing.assert_array_equal(gb.rand(5).numpy(), a.numpy())
    np.testing.assert_array_equal(gb.randn(3, 2).numpy(), b.numpy())
    np.testing.assert_array_equal(gb.randint(0, 1000, (10,)).numpy(), c.numpy())
    gb.manual_seed(124)
    assert not np.array_equal(gb.rand(5).numpy(), a.numpy())


def test_consecutive_draws_differ():
    gb.manual_seed(5)
    assert not np.array_equal(gb.rand(10).numpy(), gb.rand(10).numpy())


def test_explicit_generator_same_stream_and_independent_of_default():
    g1, g2 = gb.Generator(7), gb.Generator(7)
    a1, a2 = gb.randn(6, generator=g1), gb.randn(6, generator=g2)
    np.testing.assert_array_equal(a1.numpy(), a2.numpy())
    np.testing.assert_array_equal(gb.rand(4, generator=g1).numpy(), gb.rand(4, generator=g2).numpy())
    assert not np.array_equal(gb.randn(6, generator=gb.Generator(8)).numpy(), a1.numpy())  # another seed differs

    # drawing from an explicit generator does not advance the default one
    gb.manual_seed(99)
    expected = gb.rand(5).numpy().copy()
    gb.manual_seed(99)
    gb.randn(100, generator=gb.Generator(3))
    gb.randint(0, 10, (50,), generator=gb.Generator(4))
    np.testing.assert_array_equal(gb.rand(5).numpy(), expected)


def test_generator_manual_seed_restarts_stream():
    g = gb.Generator(11)
    first = gb.rand(4, generator=g).numpy().copy()
    g.manual_seed(11)
    np.testing.assert_array_equal(gb.rand(4, generator=g).numpy(), first)


def test_get_state_set_state_round_trip():
    g = gb.Generator(21)
    gb.rand(3, generator=g)
    state = g.get_state()
    first = gb.randn(8, generator=g).numpy().copy()
    gb.randn(50, generator=g)  # move on
    g.set_state(state)
    np.testing.assert_array_equal(gb.randn(8, generator=g).numpy(), first)
    # the state is a snapshot: drawing after get_state doesn't change it
    g.set_state(state)
    np.testing.assert_array_equal(gb.randn(8, generator=g).numpy(), first)


def test_default_generator_state_round_trip():
    gb.manual_seed(3)
    state = gb.default_generator.get_state()
    first = gb.rand(6).numpy().copy()
    gb.rand(6)
    gb.default_generator.set_state(state)
    np.testing.assert_array_equal(gb.rand(6).numpy(), first)


def test_state_transfers_between_generators():
    g = gb.Generator(31)
    gb.rand(2, generator=g)
    h = gb.Generator(0)
    h.set_state(g.get_state())
    np.testing.assert_array_equal(gb.rand(5, generator=g).numpy(), gb.rand(5, generator=h).numpy())
