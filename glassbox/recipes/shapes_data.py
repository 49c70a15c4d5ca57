"""Procedural segmentation scenes: coloured circles, squares and triangles on textured backgrounds, with masks.

Coordinates: pixel (row i, column j) is the point (x=j, y=i); a shape covers the pixels whose point lies inside it
(hard edges, no anti-aliasing), so every mask label is decided by the geometry alone. Shapes are painted in order
and later ones cover earlier ones, in the image and in the mask alike: the mask is what is visible.
"""

import numpy as np

CLASS_NAMES = ("background", "circle", "square", "triangle")
BACKGROUND, CIRCLE, SQUARE, TRIANGLE = range(4)
NUM_CLASSES = len(CLASS_NAMES)
BACKGROUND_KINDS = ("gradient", "stripes", "noise")
# shape_mask's size for each class per unit of "equal-area radius": a circle of radius r, a square of half-side
# r*sqrt(pi)/2 and an equilateral triangle of circumradius r*sqrt(4*pi/(3*sqrt(3))) all cover pi*r^2, so that no
# class is systematically the small one.
AREA_SCALE = {CIRCLE: 1.0, SQUARE: np.sqrt(np.pi) / 2, TRIANGLE: np.sqrt(4 * np.pi / (3 * np.sqrt(3)))}


def shape_mask(kind, height, width, cx, cy, size, angle=0.0):
    """Boolean (height, width) mask of one shape centred at (cx, cy) (x = column, y = row).

    circle: radius `size`; square: half-side `size` (2*size + 1 pixels across for a whole-number size, axis-aligned
    at a whole-pixel centre), rotated by `angle` radians; triangle: equilateral with circumradius `size`, one vertex
    pointing up (towards row 0) when angle = 0, rotated by `angle`."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    dx, dy = x - cx, y - cy
    if kind == CIRCLE:
        return dx * dx + dy * dy <= size * size
    # the point in the shape's own frame (rotate back by -angle)
    cos, sin = np.cos(angle), np.sin(angle)
    u, v = cos * dx + sin * dy, -sin * dx + cos * dy
    if kind == SQUARE:
        return (np.abs(u) <= size) & (np.abs(v) <= size)
    if kind == TRIANGLE:
        # Inside = on the inner side of all three edges; edge k's outward normal points at angle 90 + 120k degrees
        # from the apex direction, at distance size/2 (the inradius) from the centre.
        inside = np.ones((height, width), dtype=bool)
        for k in range(3):
            theta = np.pi / 2 + 2 * np.pi * k / 3  # 90, 210, 330 degrees: normals opposite the three vertices
            nx, ny = np.cos(theta), np.sin(theta)  # +y points down the image, so theta = 90 deg is the bottom edge
            inside &= u * nx + v * ny <= size / 2
        return inside
    raise ValueError(f"shape_mask: kind must be {CIRCLE} (circle), {SQUARE} (square) or {TRIANGLE} (triangle), "
                     f"got {kind!r}")


def _smooth_noise(rng, height, width, cells):
    """(3, height, width) colour field: a random (3, cells, cells) grid bilinearly resized, so blotches not pixels."""
    grid = rng.random((3, cells, cells))
    rows = _linear_resize_matrix(cells, height)  # (height, cells)
    cols = _linear_resize_matrix(cells, width)  # (width, cells)
    return np.einsum("hc,kcd,wd->khw", rows, grid, cols)


def _linear_resize_matrix(size_in, size_out):
    """(size_out, size_in) matrix of linear-interpolation weights mapping the corner samples onto each other."""
    position = np.linspace(0, size_in - 1, size_out)
    low = np.minimum(np.floor(position).astype(int), size_in - 2)
    frac = position - low
    matrix = np.zeros((size_out, size_in))
    matrix[np.arange(size_out), low] = 1 - frac
    matrix[np.arange(size_out), low + 1] = frac
    return matrix


def make_background(rng, height, width, kind=None):
    """(3, height, width) float64 texture in [0, 1]: a two-colour linear gradient at a random angle, sinusoidal
    stripes between two colours, or smooth colour noise (`kind` from BACKGROUND_KINDS, random when None)."""
    kind = BACKGROUND_KINDS[rng.integers(len(BACKGROUND_KINDS))] if kind is None else kind
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    theta = rng.uniform(0, 2 * np.pi)
    along = np.cos(theta) * x + np.sin(theta) * y  # coordinate along a random direction
    first, second = rng.random((3, 1, 1)), rng.random((3, 1, 1))
    if kind == "gradient":
        t = (along - along.min()) / max(along.max() - along.min(), 1e-12)
        return first + (second - first) * t
    if kind == "stripes":
        period = rng.uniform(0.15, 0.4)  # in image widths: 5 to 13 pixels at 32x32
        t = 0.5 + 0.5 * np.sin(2 * np.pi * along / period + rng.uniform(0, 2 * np.pi))
        return first + (second - first) * t
    if kind == "noise":
        return _smooth_noise(rng, height, width, cells=int(rng.integers(3, 7)))
    raise ValueError(f"make_background: kind must be one of {BACKGROUND_KINDS}, got {kind!r}")


def draw_scene(background, shapes, noise=0.0, rng=None):
    """Paint shapes onto a copy of `background` (3, H, W) in order; returns (image float32 (3, H, W) clipped to
    [0, 1], mask int64 (H, W)). shapes: (kind, cx, cy, size, angle, colour (3,)) tuples; noise: std of Gaussian
    pixel noise added to the whole image afterwards (needs rng)."""
    image = np.array(background, dtype=np.float64)
    _, height, width = image.shape
    mask = np.zeros((height, width), dtype=np.int64)
    for kind, cx, cy, size, angle, colour in shapes:
        inside = shape_mask(kind, height, width, cx, cy, size, angle)
        image[:, inside] = np.asarray(colour, dtype=np.float64).reshape(3, 1)
        mask[inside] = kind
    if noise:
        image = image + rng.normal(0.0, noise, image.shape)
    return np.clip(image, 0.0, 1.0).astype(np.float32), mask


def random_shapes(rng, background, count, min_size, max_size, rotate=True, min_contrast=0.35):
    """`count` random shape tuples for draw_scene: random class, centre inside the image, equal-area radius in
    [min_size, max_size] (see AREA_SCALE), a random rotation (0 unless `rotate`), and a colour at least
    `min_contrast` (Euclidean RGB) away from the background under the centre, so that no shape is invisible."""
    _, height, width = background.shape
    shapes = []
    for _ in range(count):
        kind = int(rng.integers(1, NUM_CLASSES))
        size = rng.uniform(min_size, max_size) * AREA_SCALE[kind]
        cx, cy = rng.uniform(0, width - 1), rng.uniform(0, height - 1)
        angle = rng.uniform(0, 2 * np.pi) if rotate else 0.0
        under = background[:, int(round(cy)), int(round(cx))]
        colour = rng.random(3)
        for _ in range(20):  # rejection sampling; the 20th try is kept even if it is close
            if np.linalg.norm(colour - under) >= min_contrast:
                break
            colour = rng.random(3)
        shapes.append((kind, cx, cy, size, angle, colour))
    return shapes


def make_scenes(n, size=32, rng=None, min_shapes=1, max_shapes=3, min_size=4.0, max_size=8.0, rotate=True,
                noise=0.04):
    """n random scenes: images (n, 3, size, size) float32 in [0, 1] and masks (n, size, size) int64 with classes
    0 background, 1 circle, 2 square, 3 triangle. rng: a np.random.Generator or a seed (the same seed gives the same
    scenes). Each scene has min_shapes..max_shapes shapes (they may overlap and leave the image partly), of
    equal-area radius min_size..max_size, rotated at random when `rotate`."""
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    images = np.empty((n, 3, size, size), dtype=np.float32)
    masks = np.empty((n, size, size), dtype=np.int64)
    for k in range(n):
        background = make_background(rng, size, size)
        shapes = random_shapes(rng, background, int(rng.integers(min_shapes, max_shapes + 1)), min_size, max_size,
                               rotate)
        images[k], masks[k] = draw_scene(background, shapes, noise, rng)
    return images, masks
