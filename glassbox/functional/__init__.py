"""The functional layer: user-facing functions with PyTorch names, built on the primitive ops.

Each function checks its arguments (shapes, dims, dtypes) and converts them, then calls one primitive's apply()
or composes several; none has backward code of its own.
"""

from .arithmetic import *  # noqa: F401,F403
from .indexing import gather, getitem, index_put, index_select, masked_fill, one_hot, scatter_add  # noqa: F401
from .reduction import *  # noqa: F401,F403
from .shape import *  # noqa: F401,F403
