"""Dropout2d: whole channels zeroed, the kept fraction about 1 - p, the 1/(1-p) scale, a gradient equal to the mask,
identity in eval mode, reproducibility from a Generator, and torch's repr and errors."""

import numpy as np
import pytest

import glassbox as gb
from glassbox.errors import ShapeError
from glassbox.nn.dropout import Dropout, Dropout2d, dropout2d


def _channel_mask(out, x):
    """Per (sample, channel): the scale the channel got (0 when dropped), checking that every value of a channel got
    that same scale (x has no zeros)."""
    ratio = out / x
    kept = ratio[..., 0, 0]
    np.testing.assert_allclose(ratio, np.broadcast_to(kept[..., None, None], ratio.shape), rtol=1e-6)
    np.testing.assert_array_equal(out == 0, np.broadcast_to((kept == 0)[..., None, None], out.shape))
    return kept


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_whole_channels_zeroed_with_scale_and_rate(p):
    x = np.random.default_rng(0).uniform(1, 2, (64, 32, 3, 4)).astype(np.float32)
    out = dropout2d(gb.from_numpy(x), p, generator=gb.Generator(1)).numpy()
    kept = _channel_mask(out, x)
    assert np.all((kept == 0) | np.isclose(kept, 1 / (1 - p), rtol=1e-6))
    assert abs((kept > 0).mean() - (1 - p)) < 0.03  # 2048 draws: the standard error is about 0.011
    np.testing.assert_allclose(out[kept > 0], (x / (1 - p))[kept > 0], rtol=1e-6)


def test_unbatched_image_drops_channels():
    x = np.ones((50, 3, 3), dtype=np.float32)
    out = dropout2d(gb.from_numpy(x), 0.5, generator=gb.Generator(3)).numpy()
    assert out.shape == (50, 3, 3)
    kept = _channel_mask(out[None], x[None])[0]
    assert 0 < (kept > 0).sum() < 50


def test_gradient_equals_mask():
    x = gb.from_numpy(np.random.default_rng(2).uniform(1, 2, (4, 6, 2, 3))).requires_grad_()
    out = dropout2d(x, 0.4, generator=gb.Generator(5))
    out.sum().backward()
    mask = out.detach().numpy() / x.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), mask, rtol=1e-12)
    assert x.grad.shape == x.shape


def test_module_eval_identity_and_train_mode():
    layer = Dropout2d(0.5)
    x = gb.randn(4, 8, 3, 3)
    layer.eval()
    assert layer(x) is x
    layer.train()
    gb.manual_seed(0)
    out = layer(x).numpy()
    assert ((out == 0).all(axis=(2, 3)) | np.isclose(out, 2 * x.numpy()).all(axis=(2, 3))).all()


def test_edges_and_reproducibility():
    x = gb.randn(3, 4, 2, 2)
    assert dropout2d(x, 0.0) is x
    assert dropout2d(x, 0.7, training=False) is x
    np.testing.assert_array_equal(dropout2d(x, 1.0).numpy(), 0)
    a = dropout2d(x, 0.5, generator=gb.Generator(9)).numpy()
    b = dropout2d(x, 0.5, generator=gb.Generator(9)).numpy()
    np.testing.assert_array_equal(a, b)


def test_repr_errors_and_torch():
    assert repr(Dropout2d(0.3)) == "Dropout2d(p=0.3, inplace=False)"
    assert repr(Dropout(0.3)) == "Dropout(p=0.3, inplace=False)"
    assert isinstance(Dropout2d(), Dropout) and Dropout2d().p == 0.5
    with pytest.raises(ValueError, match="between 0 and 1"):
        Dropout2d(1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        dropout2d(gb.randn(2, 3, 2, 2), -0.1)
    with pytest.raises(ShapeError, match=r"\(N, C, H, W\)"):
        dropout2d(gb.randn(2, 3), 0.5)
    torch = pytest.importorskip("torch")
    assert repr(Dropout2d(0.3, inplace=True)) == repr(torch.nn.Dropout2d(0.3, inplace=True))
