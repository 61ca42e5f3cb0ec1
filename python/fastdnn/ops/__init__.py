"""fastdnn's ops: native array functions, each differentiable on a GradientTape (keras.ops-like).

Each op converts its inputs once (see `fastdnn._arrays`), asks `kernels(...)`
(fastdnn/_dispatch.py) once for the backend of its arrays (CPU or CUDA, fastdnn/backend/) and
runs its forward on it; when a tape is recording it records its backward, written once below its
forward over the same backend's calls, so one formula serves both devices. Layers and user code
built from these functions train without writing a backward. The few ops without a CUDA kernel
(`where`, `concatenate`) raise NotImplementedError for GPU arrays.

The ops live in one module per kind: `nn` (products, dense, activations, softmax,
cross-entropies), `math` (element-wise, reductions, shapes), `normalization` (batch
normalization) and `noise` (the dropout family, also `fastdnn.noise`).

    >>> import numpy as np, fastdnn
    >>> fastdnn.ops.add(np.ones(2), 1.0).tolist()
    [2.0, 2.0]
"""

from ._inputs import _x
from .math import (
    abs,
    add,
    clip,
    concatenate,
    divide,
    exp,
    flatten,
    l2_normalize,
    log,
    maximum,
    mean,
    minimum,
    multiply,
    negative,
    reshape,
    sqrt,
    square,
    subtract,
    sum,
    where,
)
from .nn import (
    dense,
    elu,
    gelu,
    leaky_relu,
    matmul,
    relu,
    selu,
    sigmoid,
    softmax,
    softmax_cross_entropy,
    softmax_logits,
    sparse_crossentropy_from_probabilities,
    sparse_softmax_cross_entropy,
    sparse_softmax_cross_entropy_mean,
    tanh,
)

__all__ = [
    "abs", "add", "clip", "concatenate", "dense", "divide", "elu", "exp", "flatten", "gelu", "l2_normalize",
    "leaky_relu", "log", "matmul", "maximum", "mean", "minimum", "multiply", "negative", "relu", "reshape", "selu",
    "sigmoid", "softmax", "softmax_cross_entropy", "softmax_logits", "sparse_crossentropy_from_probabilities",
    "sparse_softmax_cross_entropy", "sparse_softmax_cross_entropy_mean", "sqrt", "square", "subtract", "sum",
    "tanh", "where",
]
__all__ += ["_x"]  # the input conversion, for fastdnn's own modules (activations.py)
