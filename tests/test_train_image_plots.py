"""Image plotting helpers: image grid, conv filters, feature maps write real PNGs and reject wrong shapes."""

import numpy as np
import pytest

import glassbox as gb
from glassbox.train import plots

pytest.importorskip("matplotlib")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _is_png(path):
    with open(path, "rb") as handle:
        return handle.read(8) == PNG_SIGNATURE


@pytest.mark.parametrize("shape", [(5, 8, 8), (5, 1, 8, 8), (4, 3, 6, 6)])
def test_image_grid_writes_a_png(tmp_path, shape):
    path = tmp_path / "grid.png"
    plots.plot_image_grid(np.random.default_rng(0).random(shape), path, titles=list(range(shape[0])))
    assert _is_png(path)


def test_filters_and_feature_maps_from_a_conv_layer(tmp_path):
    conv = gb.nn.Conv2d(1, 6, 3)
    plots.plot_filters(conv.weight, tmp_path / "filters.png")
    plots.plot_feature_maps(conv(gb.randn(2, 1, 8, 8)).detach(), tmp_path / "maps.png")
    assert _is_png(tmp_path / "filters.png") and _is_png(tmp_path / "maps.png")
    plots.plot_filters(gb.nn.Conv2d(3, 4, 3).weight, tmp_path / "rgb.png")
    assert _is_png(tmp_path / "rgb.png")


@pytest.mark.parametrize("call, bad", [(plots.plot_image_grid, np.zeros((2, 2, 3, 4, 4))),
                                       (plots.plot_filters, np.zeros((3, 3))),
                                       (plots.plot_feature_maps, np.zeros((3, 3)))])
def test_wrong_shapes_are_refused_with_the_expected_shape(tmp_path, call, bad):
    with pytest.raises(ValueError, match="expected"):
        call(bad, tmp_path / "x.png")
