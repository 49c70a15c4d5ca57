"""Tests of the transforms: ToTensor, Normalize (against torchvision's formula), Compose, Lambda."""

import numpy as np
import pytest

import glassbox as gb
from glassbox.data import transforms as T


def _image(h=4, w=5, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, c), dtype=np.uint8)


def test_to_tensor_makes_float_chw_in_unit_range():
    image = _image()
    out = T.ToTensor()(image)
    assert isinstance(out, gb.Tensor) and out.shape == (3, 4, 5) and out.dtype == np.float32
    assert np.allclose(out.data, image.transpose(2, 0, 1) / 255.0)
    assert out.data.min() >= 0 and out.data.max() <= 1


def test_to_tensor_grey_and_non_uint8():
    grey = _image(c=1)[:, :, 0]
    assert T.ToTensor()(grey).shape == (1, 4, 5)
    floats = np.full((2, 2, 1), 3.0)
    out = T.ToTensor()(floats)
    assert out.dtype == np.float64 and out.data.max() == 3.0  # no scaling for non-uint8, as in torchvision
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        T.ToTensor()(np.zeros((1, 2, 3, 4), dtype=np.uint8))


def test_normalize_per_channel_image_and_batch():
    x = np.random.default_rng(1).random((2, 3, 4, 4)).astype(np.float32)
    mean, std = [0.1, 0.2, 0.3], [0.5, 0.25, 2.0]
    expected = (x - np.array(mean, np.float32)[:, None, None]) / np.array(std, np.float32)[:, None, None]
    normalize = T.Normalize(mean, std)
    batch = normalize(gb.from_numpy(x))
    assert isinstance(batch, gb.Tensor) and batch.dtype == np.float32
    assert np.allclose(batch.data, expected, atol=1e-6)
    assert np.allclose(normalize(gb.from_numpy(x[0])).data, expected[0], atol=1e-6)
    assert np.allclose(normalize(x), expected, atol=1e-6)  # arrays in, arrays out
    assert np.allclose(T.Normalize(0.5, 0.5)(x), (x - 0.5) / 0.5)  # one value for every channel


def test_normalize_matches_torch(torch):
    x = np.random.default_rng(2).random((3, 5, 5)).astype(np.float32)
    mean, std = (0.4914, 0.4822, 0.4465), (0.247, 0.243, 0.261)
    theirs = (torch.from_numpy(x) - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    assert np.allclose(T.Normalize(mean, std)(gb.from_numpy(x)).data, theirs.numpy(), atol=1e-6)


def test_normalize_keeps_gradients_and_works_in_place():
    x = gb.rand(1, 2, 3, 3, requires_grad=True)
    T.Normalize([0.5, 0.5], [0.25, 0.5])(x).sum().backward()
    assert np.allclose(x.grad.data[0, 0], 4.0) and np.allclose(x.grad.data[0, 1], 2.0)
    y = gb.ones(2, 2, 2)
    assert T.Normalize([1, 0], [1, 2], inplace=True)(y) is y
    assert y.data[0].max() == 0 and y.data[1].min() == 0.5


def test_normalize_errors():
    with pytest.raises(ValueError, match="zero"):
        T.Normalize([0.5], [0.0])
    with pytest.raises(TypeError, match="float image"):
        T.Normalize([0.5], [0.5])(np.zeros((1, 2, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match="2 values but the image has 3 channels"):
        T.Normalize([0.5, 0.5], [0.5, 0.5])(np.zeros((3, 2, 2), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        T.Normalize([0.5], [0.5])(np.zeros((2, 2), dtype=np.float32))


def test_compose_and_lambda():
    pipeline = T.Compose([T.ToTensor(), T.Normalize([0.5] * 3, [0.5] * 3), T.Lambda(lambda t: t * 0)])
    out = pipeline(_image())
    assert out.shape == (3, 4, 5) and np.all(out.data == 0)
    assert "ToTensor()" in repr(pipeline) and "Normalize" in repr(pipeline)
    with pytest.raises(TypeError, match="callable"):
        T.Lambda(3)
