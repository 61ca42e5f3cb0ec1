"""One dispatch point: the backend for the arrays an op receives.

`kernels(*arrays)` returns the CPU backend (fastdnn/backend/cpu.py: `fastdnn._C` and NumPy) for
NumPy arrays and the CUDA backend (fastdnn/backend/cuda.py, on `fastdnn._cuda`) for CUDA arrays
(`fastdnn.cuda.Array`). Both implement the one protocol of fastdnn/backend/base.py, so an op in
`fastdnn.ops` asks `kernels(...)` once and calls the result, and its backward is written once
over those calls. Outside the backends, code asks `on_device` to move or convert data (`like`,
`host`) and to refuse GPU arrays where no CUDA kernel exists (`host_only`); the one place it
still picks a formula by device is `fastdnn.losses.sparse_categorical_crossentropy` on
probabilities, whose CPU side is a chain of differentiable ops and whose GPU side is the one
kernel `ops.sparse_crossentropy_from_probabilities` (the chain's one-hot product needs a host
array).

    >>> import numpy as np
    >>> kernels(np.ones(3, np.float32)) is CPU
    True
"""

import numpy as np

from . import cuda
from .backend.base import on_device
from .backend.cpu import CPU

__all__ = ["CPU", "host", "host_only", "kernels", "like", "on_device"]


def kernels(*arrays):
    """The backend (CPU, or CUDA's) for an op's array arguments (None entries skipped).

    Raises:
        ValueError: if some arrays are on the GPU and others in host memory.
    """
    for a in arrays:  # the common case, all NumPy, without building anything
        if a is not None and type(a) is not np.ndarray:
            break
    else:
        return CPU
    devices = {on_device(a) for a in arrays if a is not None}
    if devices == {True}:
        return cuda.kernels()
    if devices == {False}:
        return CPU
    where = ", ".join("cuda" if on_device(a) else type(a).__name__ for a in arrays if a is not None)
    raise ValueError("An op received arrays on different devices (" + where + "). Put them on one "
                     "device first: fastdnn.device('cuda').put(x), or model.to('cuda') for a model.")


def like(reference, host_array):
    """`host_array` placed where `reference` lives (uploaded when `reference` is a CUDA array)."""
    return cuda.kernels().put(host_array) if on_device(reference) else host_array


def host(x):
    """A NumPy array of `x` (a copy from the GPU for a CUDA array, else `x` itself)."""
    return x.numpy() if on_device(x) else x


def host_only(op, *arrays):
    """Raises NotImplementedError when an op without a CUDA kernel receives a CUDA array."""
    for a in arrays:
        if on_device(a):
            raise NotImplementedError(
                f"fastdnn.ops.{op} has no CUDA kernel yet. Compute it on the CPU (x.numpy(), or a "
                "model left on the CPU), or build the model from the layers and losses the GPU "
                "runs: Dense, Activation, Flatten, BatchNormalization, the dropout family, and "
                "losses made of element-wise ops.")
