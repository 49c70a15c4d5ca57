"""Small real data sets shipped inside the package (see glassbox/data/DATA_LICENSES.md), loaded as NumPy arrays."""

import gzip
import hashlib
import importlib.resources

import numpy as np

# Looked up through this name (not bound at import) so a test can point it at a folder holding a corrupted copy.
_DATA_DIR = importlib.resources.files(__name__)

_DIGITS_FILE = "digits.csv.gz"
_DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
_DIGITS_ROWS, _DIGITS_PIXELS = 1797, 64


def _read_verified(name, sha256):
    """The bytes of the package file `name`, after checking them against `sha256`."""
    resource = _DATA_DIR / name
    try:
        raw = resource.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"glassbox data file {name!r} is missing from {resource}; reinstall glassbox") from None
    actual = hashlib.sha256(raw).hexdigest()
    if actual != sha256:
        # A truncated download or an edited copy would otherwise train on wrong data without a word.
        raise ValueError(
            f"glassbox data file {name!r} ({resource}) is corrupted: sha256 {actual} != expected {sha256}; "
            "reinstall glassbox"
        )
    return raw


def load_digits():
    """The UCI handwritten digits (test part): images (1797, 64) float32 with raw pixel values 0..16, and
    labels (1797,) int64 in 0..9. Each row of `images` is an 8x8 image flattened row by row."""
    text = gzip.decompress(_read_verified(_DIGITS_FILE, _DIGITS_SHA256))
    table = np.loadtxt(text.decode("ascii").splitlines(), delimiter=",", dtype=np.int64, ndmin=2)
    if table.shape != (_DIGITS_ROWS, _DIGITS_PIXELS + 1):
        raise ValueError(f"glassbox data file {_DIGITS_FILE!r} has shape {table.shape}, expected (1797, 65)")
    return table[:, :_DIGITS_PIXELS].astype(np.float32), table[:, _DIGITS_PIXELS].copy()


def train_test_split(*arrays, test_fraction=0.2, seed=0):
    """Shuffle the rows of equally long arrays with a fixed seed and split each into (train, test);
    returns train_0, test_0, train_1, test_1, ... like scikit-learn's train_test_split."""
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(f"train_test_split: arrays have different lengths {[len(a) for a in arrays]}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"train_test_split: test_fraction must be in (0, 1), got {test_fraction}")
    order = np.random.default_rng(seed).permutation(n)
    n_test = max(1, round(n * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return [part for a in arrays for part in (a[train], a[test])]
