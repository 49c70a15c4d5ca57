"""glassbox: a deep learning framework from first principles on NumPy, with PyTorch's names.

    import glassbox as gb
    import glassbox.nn.functional as F
"""

from . import dtypes
from .autograd import detect_anomaly, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .creation import (
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from .dtypes import (
    bool_,
    double,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int8,
    int16,
    int32,
    int64,
    long,
    set_default_dtype,
    uint8,
)
from .errors import ShapeError
from .functional import *  # noqa: F403
from .functional import methods as _methods
from .random import Generator, default_generator, initial_seed, manual_seed
from .tensor import Tensor

_methods.bind()

from . import autograd, data, io, models, nn, optim, train  # noqa: E402  (these build on the bound Tensor)
from .io import ModelFileError, load, save  # noqa: E402

bool = bool_  # torch.bool
float = float32  # torch.float
int = int32  # torch.int

__version__ = "0.1.0"

__all__ = ["Tensor", "Generator", "ShapeError", "tensor", "as_tensor", "from_numpy", "zeros", "ones", "full",
           "empty", "zeros_like", "ones_like", "full_like", "empty_like", "rand", "randn", "randint", "randperm",
           "rand_like", "randn_like", "arange", "linspace", "eye", "manual_seed", "initial_seed",
           "default_generator", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "detect_anomaly",
           "get_default_dtype", "set_default_dtype", "dtypes", "autograd", "nn", "optim", "data", "io", "train",
           "models", "save", "load", "ModelFileError", "float16", "float32", "float64",
           "half", "double", "long", "uint8", "int8", "int16", "int32", "int64", "bool_"]
