"""fastdnn: fast training of deep dense neural networks.

Native CPU (AVX-512, AVX2, portable C++) and CUDA kernels under a Keras-compatible API; the
CUDA backend (fastdnn._cuda) loads only when a GPU is asked for.

    >>> import numpy as np, fastdnn
    >>> fastdnn.ops.dense(np.ones((4, 3)), np.ones((3, 2)), activation="relu").shape
    (4, 2)
"""

from ._version import __version__
from . import _C  # noqa: F401  (the native core)
from . import autodiff, backend, cuda, noise, ops, random, utils
from . import activations, callbacks, datasets, initializers, layers, losses, metrics, optimizers
from . import distribution, models, trainers
from . import constraints, presets, regularizers, saving
from . import monitoring, plotting
from .autodiff import GradientTape
from .devices import device, from_dlpack
from .folding import fold_batchnorm
from .mc_dropout import mc_dropout_predict
from .layers import Input
from .models import Model, Sequential
from .variables import Variable
from ._runtime import (
    available_isas,
    build_info,
    get_isa,
    get_num_threads,
    set_isa,
    set_num_threads,
)

__all__ = [
    "GradientTape",
    "Input",
    "Model",
    "Sequential",
    "Variable",
    "__version__",
    "activations",
    "autodiff",
    "backend",
    "fold_batchnorm",
    "callbacks",
    "constraints",
    "datasets",
    "device",
    "from_dlpack",
    "initializers",
    "layers",
    "losses",
    "mc_dropout_predict",
    "metrics",
    "models",
    "noise",
    "monitoring",
    "plotting",
    "optimizers",
    "presets",
    "random",
    "regularizers",
    "saving",
    "utils",
    "available_isas",
    "build_info",
    "cuda",
    "get_isa",
    "get_num_threads",
    "ops",
    "set_isa",
    "set_num_threads",
    "trainers",
]
