"""Small real data sets shipped inside the package (see glassbox/data/DATA_LICENSES.md), loaded as NumPy arrays."""

import gzip
import hashlib
import importlib.resources

import numpy as np

# Looked up through this name (not bound at import) so a test can point it at a folder holding a corrupted copy.
_DATA_DIR = importlib.resources.files(__package__)

_DIGITS_FILE = "digits.csv.gz"
_DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
_DIGITS_ROWS, _DIGITS_PIXELS = 1797, 64

_IRIS_FILE = "iris.csv"
_IRIS_SHA256 = "f13ffa8fdd56fd8e6c8d16d4081a3fbd3114bcd0aae4256c43205169cd9d1449"
IRIS_CLASSES = ("setosa", "versicolor", "virginica")
IRIS_FEATURES = ("sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)")

_DIABETES_DATA_FILE = "diabetes_data_raw.csv.gz"
_DIABETES_DATA_SHA256 = "7fc0ded571454b1982210d3bb43f0aca44eae01a0b8654a3b24022bdb6b38009"
_DIABETES_TARGET_FILE = "diabetes_target.csv.gz"
_DIABETES_TARGET_SHA256 = "8e53f65eb811df43c206f3534bb3af0e5fed213bc37ed6ba36310157d6023803"
DIABETES_FEATURES = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")
_DIABETES_ROWS = 442


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


def _lines(name, sha256):
    """The lines of the package text file `name` (gzip-compressed when it ends in .gz), after the checksum."""
    raw = _read_verified(name, sha256)
    return (gzip.decompress(raw) if name.endswith(".gz") else raw).decode("ascii").splitlines()


def _table(name, lines, delimiter, shape):
    """The numbers in `lines` of file `name` as a float64 array, checked to have `shape`."""
    table = np.loadtxt(lines, delimiter=delimiter, dtype=np.float64, ndmin=len(shape))
    if table.shape != shape:
        raise ValueError(f"glassbox data file {name!r} has shape {table.shape}, expected {shape}")
    return table


def load_digits():
    """The UCI handwritten digits (test part): images (1797, 64) float32 with raw pixel values 0..16, and
    labels (1797,) int64 in 0..9. Each row of `images` is an 8x8 image flattened row by row."""
    table = np.loadtxt(_lines(_DIGITS_FILE, _DIGITS_SHA256), delimiter=",", dtype=np.int64, ndmin=2)
    if table.shape != (_DIGITS_ROWS, _DIGITS_PIXELS + 1):
        raise ValueError(f"glassbox data file {_DIGITS_FILE!r} has shape {table.shape}, expected (1797, 65)")
    return table[:, :_DIGITS_PIXELS].astype(np.float32), table[:, _DIGITS_PIXELS].copy()


def load_iris():
    """Fisher's iris flowers: features (150, 4) float32 in centimetres (IRIS_FEATURES: sepal length, sepal width,
    petal length, petal width) and labels (150,) int64 in 0..2 (IRIS_CLASSES), 50 of each, sorted by class."""
    lines = _lines(_IRIS_FILE, _IRIS_SHA256)
    # The header says what the file holds: "150,4,setosa,versicolor,virginica".
    header = lines[0].strip().split(",") if lines else []
    if header != ["150", "4", *IRIS_CLASSES]:
        raise ValueError(f"glassbox data file {_IRIS_FILE!r} has header {header}, expected 150,4,"
                         f"{','.join(IRIS_CLASSES)}")
    table = _table(_IRIS_FILE, lines[1:], ",", (150, 5))
    return table[:, :4].astype(np.float32), table[:, 4].astype(np.int64)


def load_diabetes():
    """The diabetes regression data of Efron et al. (2004), unscaled: features (442, 10) float32 (DIABETES_FEATURES:
    age in years, sex coded 1/2, body mass index, mean blood pressure, six blood serum measurements s1..s6) and the
    target (442,) float32, a measure of disease progression one year after baseline (25..346).

    Unlike scikit-learn's default copy, the columns are not standardised: scale them before training."""
    data = _table(_DIABETES_DATA_FILE, _lines(_DIABETES_DATA_FILE, _DIABETES_DATA_SHA256), None,
                  (_DIABETES_ROWS, len(DIABETES_FEATURES)))
    target = _table(_DIABETES_TARGET_FILE, _lines(_DIABETES_TARGET_FILE, _DIABETES_TARGET_SHA256), None,
                    (_DIABETES_ROWS,))
    return data.astype(np.float32), target.astype(np.float32)
