"""fastdnn: fast training of deep dense neural networks.

Native CPU (AVX-512, AVX2, portable C++) and CUDA kernels under a Keras-compatible API.

    >>> import numpy as np, fastdnn
    >>> fastdnn.ops.dense(np.ones((4, 3)), np.ones((3, 2)), activation="relu").shape
    (4, 2)
"""

from ._version import __version__
from . import _C  # noqa: F401  (the native core)
from . import cuda, ops
from ._runtime import (
    available_isas,
    build_info,
    get_isa,
    get_num_threads,
    set_isa,
    set_num_threads,
)

__all__ = [
    "__version__",
    "available_isas",
    "build_info",
    "cuda",
    "get_isa",
    "get_num_threads",
    "ops",
    "set_isa",
    "set_num_threads",
]
