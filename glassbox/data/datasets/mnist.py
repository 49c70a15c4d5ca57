"""MNIST and Fashion-MNIST, read from their idx files (gzip-compressed), downloaded on request."""

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from ...creation import from_numpy
from .download import Resource, data_root, ensure_files
from .vision import ImageDataset, check_labels

# The idx format (http://yann.lecun.com/exdb/mnist/): a 4-byte magic number 0x00 0x00 <type> <ndim>, then ndim
# big-endian uint32 dimensions, then the values in C order, big-endian.
_IDX_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_UBYTE = 0x08


def read_idx(path, shape, type_code=_UBYTE):
    """The array in the idx file `path` (gzip-compressed if it ends in .gz), in native byte order.

    `shape` is the expected shape, None for a free dimension (e.g. (None, 28, 28)); the magic number (type code
    and number of dimensions), each dimension and the file size must all match, else a ValueError names the file.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise ValueError(f"{path}: not a valid gzip file ({error}); delete it and download it again") from None
    expected_magic = (type_code << 8) | len(shape)
    magic = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if magic != expected_magic:
        found = "a file shorter than 4 bytes" if magic is None else f"0x{magic:08X}"
        raise ValueError(f"{path}: not the expected idx file: magic number {found}, expected 0x{expected_magic:08X} "
                         f"({_IDX_TYPES[type_code]} values, {len(shape)} dimensions)")
    header = 4 + 4 * len(shape)
    if len(raw) < header:
        raise ValueError(f"{path}: idx header is truncated ({len(raw)} bytes, the header needs {header})")
    dims = struct.unpack(f">{len(shape)}I", raw[4:header])
    if any(want is not None and got != want for got, want in zip(dims, shape)):
        expected = ", ".join("N" if want is None else str(want) for want in shape)
        raise ValueError(f"{path}: idx dimensions are {dims}, expected ({expected})")
    dtype = _IDX_TYPES[type_code]
    expected_bytes = header + int(np.prod(dims)) * dtype.itemsize
    if len(raw) != expected_bytes:
        raise ValueError(f"{path}: {len(raw)} bytes (uncompressed) but the header's dimensions {dims} need "
                         f"{expected_bytes}; the file is truncated or corrupted")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


class MNIST(ImageDataset):
    """The MNIST handwritten digits: 60000 training and 10000 test images, 28x28 grey, labels 0..9.

    Files live in `<root>/mnist/` (root: the `root` argument, else $GLASSBOX_DATA, else
    ~/.cache/glassbox/datasets); download=True fetches the missing ones, trying each mirror in turn and checking
    each file's sha256. `dataset[i]` is (image uint8 ndarray (28, 28), label int) before transforms; `.data` is a
    uint8 Tensor (N, 28, 28) and `.targets` an int64 Tensor (N,), as in torchvision.
    """

    folder = "mnist"
    # The original host (yann.lecun.com) is often down or refuses downloads, so it is the last resort.
    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
               "https://storage.googleapis.com/cvdf-datasets/mnist/",
               "http://yann.lecun.com/exdb/mnist/"]
    # Sizes and sha256 as listed by tensorflow/datasets (tensorflow_datasets/url_checksums/mnist.txt); sha256 is the
    # digest checked. (torchvision lists md5 f68b3c2d..., d53e105e..., 9fb629c4..., ec29112d... for the same files.)
    resources = {
        "train": (Resource("train-images-idx3-ubyte.gz", 9912422,
                           "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
                  Resource("train-labels-idx1-ubyte.gz", 28881,
                           "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c")),
        "test": (Resource("t10k-images-idx3-ubyte.gz", 1648877,
                          "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
                 Resource("t10k-labels-idx1-ubyte.gz", 4542,
                          "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6")),
    }
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
               "8 - eight", "9 - nine"]

    def __init__(self, root=None, train=True, download=False, transform=None, target_transform=None):
        folder = data_root(root) / self.folder
        image_file, label_file = ensure_files(type(self).__name__, folder, self.resources["train" if train else "test"],
                                              self.mirrors, download)
        images = read_idx(image_file, (None, 28, 28))
        labels = check_labels(read_idx(label_file, (None,)), len(self.classes), label_file)
        if len(images) != len(labels):
            raise ValueError(f"{type(self).__name__}: {image_file} holds {len(images)} images but {label_file} "
                             f"holds {len(labels)} labels")
        super().__init__(images, labels, folder, train, transform, target_transform)

    @property
    def data(self):
        return from_numpy(self._images)

    @property
    def targets(self):
        return from_numpy(self._labels)


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 28x28 grey images of 10 kinds of clothing, in MNIST's format and sizes (60000
    training, 10000 test). Files live in `<root>/fashion-mnist/`; otherwise as MNIST."""

    folder = "fashion-mnist"
    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    # Sizes and sha256 as listed by tensorflow/datasets (tensorflow_datasets/url_checksums/fashion_mnist.txt);
    # sha256 is the digest checked. (torchvision lists md5 8d4fb7e6..., 25c81989..., bef4ecab..., bb300cfd....)
    resources = {
        "train": (Resource("train-images-idx3-ubyte.gz", 26421880,
                           "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
                  Resource("train-labels-idx1-ubyte.gz", 29515,
                           "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845")),
        "test": (Resource("t10k-images-idx3-ubyte.gz", 4422102,
                          "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
                 Resource("t10k-labels-idx1-ubyte.gz", 5148,
                          "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5")),
    }
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]
