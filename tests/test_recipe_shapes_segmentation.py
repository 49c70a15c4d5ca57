"""shapes-segmentation: the scene generator (seeded, masks that follow the drawn geometry), mean IoU against hand
computations, a smoke run with shrunken sizes that checks the run directory, and the real run (slow)."""

import json

import numpy as np
import pytest

import glassbox as gb
from glassbox.recipes import shapes_segmentation as recipe
from glassbox.recipes.common import RunConfig
from glassbox.recipes.shapes_data import (
    CIRCLE,
    CLASS_NAMES,
    SQUARE,
    TRIANGLE,
    draw_scene,
    make_background,
    make_scenes,
    shape_mask,
)
from glassbox.train import predict

PNG = b"\x89PNG\r\n\x1a\n"


# ----- the generator -------------------------------------------------------------------------------------------------

def test_scenes_are_reproducible_from_a_seed():
    images, masks = make_scenes(6, 24, 123)
    again_images, again_masks = make_scenes(6, 24, np.random.default_rng(123))
    np.testing.assert_array_equal(images, again_images)
    np.testing.assert_array_equal(masks, again_masks)
    other_images, _ = make_scenes(6, 24, 124)
    assert not np.array_equal(images, other_images)
    assert images.shape == (6, 3, 24, 24) and images.dtype == np.float32
    assert masks.shape == (6, 24, 24) and masks.dtype == np.int64
    assert images.min() >= 0.0 and images.max() <= 1.0


def test_every_class_and_background_kind_appears():
    _, masks = make_scenes(40, 32, 0)
    assert set(np.unique(masks)) == set(range(len(CLASS_NAMES)))
    assert all((masks == c).any(axis=(1, 2)).sum() >= 5 for c in (CIRCLE, SQUARE, TRIANGLE))  # not one lucky scene
    rng = np.random.default_rng(0)
    for kind in ("gradient", "stripes", "noise"):
        texture = make_background(rng, 16, 16, kind)
        assert texture.shape == (3, 16, 16) and texture.std() > 0.01  # textured, not flat
        assert texture.min() >= 0.0 and texture.max() <= 1.0


def test_masks_follow_the_drawn_shapes_by_hand():
    """An axis-aligned square of half-side 3 at (x=10, y=12): rows 9..15, columns 7..13. A circle of radius 2 at
    (x=4, y=4): the 13 pixels with dx^2 + dy^2 <= 4. An upright triangle of circumradius 4 at (x=20, y=19.5): apex
    at y = 15.5, base at y = 19.5 + 4/2 = 21.5, half-width (y - 15.5) / sqrt(3) at row y, i.e. 0.29, 0.87, 1.44, 2.02,
    2.60, 3.18 on rows 16..21."""
    square = np.zeros((24, 24), dtype=bool)
    square[9:16, 7:14] = True
    np.testing.assert_array_equal(shape_mask(SQUARE, 24, 24, 10, 12, 3), square)

    circle = np.zeros((24, 24), dtype=bool)
    for dy, dx in [(0, 0), (0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1), (0, 2), (0, -2),
                   (2, 0), (-2, 0)]:
        circle[4 + dy, 4 + dx] = True
    np.testing.assert_array_equal(shape_mask(CIRCLE, 24, 24, 4, 4, 2), circle)

    triangle = np.zeros((24, 24), dtype=bool)
    for row, (first, last) in {16: (20, 20), 17: (20, 20), 18: (19, 21), 19: (18, 22), 20: (18, 22),
                               21: (17, 23)}.items():
        triangle[row, first:last + 1] = True
    np.testing.assert_array_equal(shape_mask(TRIANGLE, 24, 24, 20, 19.5, 4), triangle)
    # rotated by 180 degrees about a centre in the middle of a 40x40 grid: the upright mask turned upside down
    upright = shape_mask(TRIANGLE, 40, 40, 19.5, 19.5, 4)
    assert upright.sum() > 10
    np.testing.assert_array_equal(shape_mask(TRIANGLE, 40, 40, 19.5, 19.5, 4, np.pi), upright[::-1, ::-1])
    # a quarter turn of a square centred on a pixel gives the same square (half-side 3.5: the same 7x7 pixels, and
    # no pixel centre on an edge where rounding in cos/sin could decide)
    np.testing.assert_array_equal(shape_mask(SQUARE, 24, 24, 10, 12, 3.5), square)
    np.testing.assert_array_equal(shape_mask(SQUARE, 24, 24, 10, 12, 3.5, np.pi / 2), square)

    background = np.full((3, 24, 24), 0.5)
    shapes = [(SQUARE, 10, 12, 3, 0.0, (1.0, 0.0, 0.0)), (CIRCLE, 4, 4, 2, 0.0, (0.0, 0.0, 1.0)),
              (CIRCLE, 13, 12, 2, 0.0, (0.0, 1.0, 0.0))]  # the second circle covers part of the square
    image, mask = draw_scene(background, shapes)
    expected = np.zeros((24, 24), dtype=np.int64)
    expected[square] = SQUARE
    expected[circle] = CIRCLE
    expected[np.roll(circle, (8, 9), axis=(0, 1))] = CIRCLE  # the hand-made circle moved from (4, 4) to (13, 12)
    np.testing.assert_array_equal(mask, expected)
    assert mask[12, 10] == SQUARE and mask[12, 13] == CIRCLE and mask[12, 15] == CIRCLE and mask[0, 0] == 0
    np.testing.assert_array_equal(image[:, 12, 10], [1, 0, 0])  # the square's colour where it is visible
    np.testing.assert_array_equal(image[:, 12, 13], [0, 1, 0])  # the covering circle's colour
    np.testing.assert_array_equal(image[:, 0, 0], [0.5, 0.5, 0.5])


# ----- mean IoU ------------------------------------------------------------------------------------------------------

def test_iou_against_hand_computation():
    target = np.array([[0, 0, 1, 1],
                       [0, 2, 2, 1]])
    predicted = np.array([[0, 1, 1, 1],
                          [0, 2, 0, 3]])
    # class 0: predicted {00, 10, 12}, true {00, 01, 10}: intersection 2, union 4 -> 0.5
    # class 1: predicted {01, 02, 03}, true {02, 03, 13}: intersection 2, union 4 -> 0.5
    # class 2: predicted {11}, true {11, 12}: 1 / 2; class 3: predicted {13}, never true: 0 / 1 -> 0
    np.testing.assert_allclose(recipe.iou_per_class(predicted, target, 4), [0.5, 0.5, 0.5, 0.0])
    assert recipe.mean_iou(predicted, target, 4) == pytest.approx(1.5 / 4)
    # a class absent from both prediction and truth is NaN and left out of the mean
    ious = recipe.iou_per_class(predicted, target, 5)
    assert np.isnan(ious[4]) and recipe.mean_iou(predicted, target, 5) == pytest.approx(1.5 / 4)
    assert recipe.mean_iou(target, target, 3) == 1.0


def test_mean_iou_metric_accumulates_over_batches():
    rng = np.random.default_rng(0)
    target = rng.integers(0, 3, (6, 5, 4))
    logits = rng.standard_normal((6, 3, 5, 4)).astype(np.float32)
    metric = recipe.MeanIoU(3)
    metric.update(gb.from_numpy(logits[:4]), gb.from_numpy(target[:4]))
    metric.update(logits[4:], target[4:])
    assert metric.compute() == pytest.approx(recipe.mean_iou(logits.argmax(1), target, 3))
    metric.reset()
    assert np.isnan(metric.compute())


# ----- the recipe ----------------------------------------------------------------------------------------------------

def test_smoke_run_writes_the_run_directory(tmp_path, monkeypatch):
    for name, value in dict(TRAIN_SCENES=24, VAL_SCENES=8, TEST_SCENES=10, IMAGE_SIZE=16, BASE_CHANNELS=4,
                            BATCH_SIZE=8).items():
        monkeypatch.setattr(recipe, name, value)
    out = tmp_path / "run"
    metrics = recipe.run(RunConfig(epochs=2, seed=3, out=str(out), verbose=0))
    with open(out / "metrics.json") as handle:
        assert json.load(handle) == pytest.approx(metrics, nan_ok=True)
    assert metrics["epochs"] == 2 and metrics["test_examples"] == 10 and metrics["train_examples"] == 24
    assert 0.0 <= metrics["test_miou"] <= 1.0 and 0.0 <= metrics["test_pixel_accuracy"] <= 1.0
    for name in ("background", "circle", "square", "triangle"):
        assert f"test_iou_{name}" in metrics
    for name in ("segmentation.png", "curves.png"):
        assert (out / name).read_bytes()[:8] == PNG
    assert (out / "history.csv").read_text().splitlines()[0].split(",")[:1] == ["epoch"]

    # the saved model reproduces the reported numbers on the same generated test scenes
    model = recipe.build_model()
    model.load_state_dict(gb.load(out / "model.safetensors"))
    assert model.num_parameters() == metrics["parameters"]
    rng = np.random.default_rng(3)
    for count in (24, 8):  # the train and validation scenes come first from the same stream
        make_scenes(count, 16, rng, rotate=recipe.ROTATE)
    x_test, y_test = make_scenes(10, 16, rng, rotate=recipe.ROTATE)
    predicted = predict(model, x_test).data.argmax(axis=1)
    assert metrics["test_miou"] == pytest.approx(recipe.mean_iou(predicted, y_test, 4), abs=1e-12)
    assert metrics["test_pixel_accuracy"] == pytest.approx(np.mean(predicted == y_test), abs=1e-6)


def test_run_refuses_a_data_file(tmp_path):
    with pytest.raises(ValueError, match="shapes-segmentation: generates its own scenes"):
        recipe.run(RunConfig(out=str(tmp_path), data="scenes.csv"))


@pytest.mark.slow
@pytest.mark.timeout(1800)  # ~4-5 min with single-threaded BLAS on 2 cores; much longer when BLAS threads contend
def test_real_run_reaches_the_reported_miou(tmp_path):
    metrics = recipe.run(RunConfig(out=str(tmp_path / "real"), verbose=0))
    assert metrics["test_miou"] >= 0.85, metrics
    assert (tmp_path / "real" / "segmentation.png").read_bytes()[:8] == PNG
