"""Batched augmentation (glassbox.data.augment): determinism from a seed or Generator, RandomCrop windows checked
against direct per-image slices of the padded batch, flips of exactly the chosen images, Normalize against a hand
computation, RandomAffine's identity and a known rotation, RandomShift, Compose, Tensor and unbatched input."""

import numpy as np
import pytest

import glassbox as gb
from glassbox.data.augment import Compose, Normalize, RandomAffine, RandomCrop, RandomHorizontalFlip, RandomShift


def _batch(n=16, c=3, h=8, w=10, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal((n, c, h, w)).astype(dtype)


def _pipeline(generator):
    return Compose([RandomCrop(8, padding=2, generator=generator), RandomHorizontalFlip(generator=generator),
                    RandomAffine(15, (0.1, 0.1), generator=generator)])


def test_deterministic_from_seed_and_generator():
    x = _batch()
    a = _pipeline(gb.Generator(7))(x)
    b = _pipeline(gb.Generator(7))(x)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, _pipeline(gb.Generator(8))(x))
    np.testing.assert_array_equal(RandomCrop(6, 1, generator=3)(x), RandomCrop(6, 1, generator=gb.Generator(3))(x))
    gb.manual_seed(11)
    c = RandomShift(2)(x)
    gb.manual_seed(11)
    np.testing.assert_array_equal(c, RandomShift(2)(x))


@pytest.mark.parametrize("size,padding,mode", [(8, 2, "constant"), ((6, 7), 0, "constant"), (9, (1, 3), "reflect"),
                                               (5, (0, 1, 2, 3), "edge"), (8, 4, "symmetric")])
def test_random_crop_is_a_window_of_the_padded_image(size, padding, mode):
    x = _batch(n=32)
    crop = RandomCrop(size, padding, mode, generator=gb.Generator(0))
    out = crop(x)
    h, w = (size, size) if isinstance(size, int) else size
    assert out.shape == (32, 3, h, w) and out.dtype == x.dtype
    padded = crop.pad(x)
    offsets = set()
    for k in range(len(x)):  # the direct per-image search the vectorised crop must agree with
        matches = [(i, j) for i in range(padded.shape[2] - h + 1) for j in range(padded.shape[3] - w + 1)
                   if np.array_equal(padded[k, :, i:i + h, j:j + w], out[k])]
        assert matches, f"image {k} is no window of its padded image"
        offsets.add(matches[0])
    if padded.shape[2] - h + padded.shape[3] - w > 2:
        assert len(offsets) > 1  # each image draws its own offset


def test_random_crop_padding_values_and_errors():
    x = np.ones((4, 1, 3, 3), dtype=np.uint8)
    crop = RandomCrop(5, padding=1, fill=7, generator=0)
    out = crop(x)
    assert out.dtype == np.uint8 and out.shape == (4, 1, 5, 5)
    assert (out[:, :, 0] == 7).all() and (out[:, :, 1:4, 1:4] == 1).all()
    with pytest.raises(ValueError, match="larger than the padded image"):
        RandomCrop(6)(x)
    with pytest.raises(ValueError, match="padding_mode"):
        RandomCrop(2, padding_mode="wrap")
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        RandomCrop(2)(np.ones((3, 3)))


def test_flip_flips_exactly_the_chosen_images():
    x = _batch(n=400, h=4, w=5)
    flip = RandomHorizontalFlip(p=0.3, generator=gb.Generator(4))
    out = flip(x)
    chosen = flip.last_flipped
    np.testing.assert_array_equal(out[chosen], x[chosen][..., ::-1])
    np.testing.assert_array_equal(out[~chosen], x[~chosen])
    assert abs(chosen.mean() - 0.3) < 0.07
    assert np.array_equal(RandomHorizontalFlip(1.0)(x), x[..., ::-1])
    assert np.array_equal(RandomHorizontalFlip(0.0)(x), x)


def test_normalize_matches_hand_computation():
    x = _batch(n=4, c=3)
    mean, std = (0.5, -1.0, 2.0), (0.25, 2.0, 4.0)
    out = Normalize(mean, std)(x)
    assert out.dtype == np.float32
    for c in range(3):
        np.testing.assert_allclose(out[:, c], (x[:, c] - mean[c]) / std[c], rtol=1e-6)
    u8 = np.full((2, 1, 2, 2), 51, dtype=np.uint8)
    np.testing.assert_allclose(Normalize(1, 10)(u8), 5.0)
    assert Normalize(1, 10)(u8).dtype == np.float32
    with pytest.raises(ValueError, match="2 values"):
        Normalize((0, 0), (1, 1))(x)
    with pytest.raises(ValueError, match="zero"):
        Normalize(0, 0)


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_affine_zero_is_identity(interpolation):
    x = _batch()
    out = RandomAffine(0, translate=(0, 0), interpolation=interpolation, generator=1)(x)
    np.testing.assert_allclose(out, x, rtol=0, atol=1e-6)
    assert out.dtype == x.dtype
    np.testing.assert_array_equal(RandomAffine(0, generator=1)(x.astype(np.uint8)), x.astype(np.uint8))


def test_affine_quarter_turn_and_translation():
    x = _batch(n=2, c=2, h=5, w=5)
    out = RandomAffine((90, 90), interpolation="nearest", generator=0)(x)
    np.testing.assert_array_equal(out, np.rot90(x, 1, axes=(2, 3)))  # counter-clockwise as displayed
    out = RandomAffine((90, 90), interpolation="bilinear", generator=0)(x)
    np.testing.assert_allclose(out, np.rot90(x, 1, axes=(2, 3)), atol=1e-5)
    # translation only: each image is a whole-pixel shift of the input, zeros where it moved in
    ones = np.ones((64, 1, 10, 10), dtype=np.float32)
    shifted = RandomAffine(0, translate=(0.2, 0.2), generator=5)(ones)
    sums = shifted.sum(axis=(1, 2, 3))
    assert sums.min() >= 64 and len(np.unique(sums)) > 1


def test_random_shift_keeps_shape_and_moves_content():
    x = _batch(n=64, c=1, h=6, w=6) + 10  # no zeros in the content
    out = RandomShift(2, generator=gb.Generator(2))(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    zero_rows = (out == 0).all(axis=(1, 3)).sum(axis=1)
    zero_cols = (out == 0).all(axis=(1, 2)).sum(axis=1)
    assert zero_rows.max() <= 2 and zero_cols.max() <= 2 and (zero_rows + zero_cols).max() > 0


def test_tensor_and_unbatched_input():
    x = _batch(n=1)[0]
    out = RandomCrop(4, generator=0)(x)
    assert out.shape == (3, 4, 4)
    t = gb.from_numpy(_batch())
    res = Compose([RandomHorizontalFlip(generator=0), Normalize(0, 2)])(t)
    assert isinstance(res, gb.Tensor) and res.shape == t.shape
    assert "RandomCrop" in repr(Compose([RandomCrop(4)]))
