"""One dispatch point per op: the kernels for the arrays an op receives.

NumPy arrays run on `fastdnn._C` (the CPU kernels); CUDA arrays (`fastdnn.cuda.Array`) run on
`fastdnn._cuda`, whose functions take the same arguments. An op in `fastdnn.ops` asks
`kernels(*its arrays)` once and calls the result; nothing else in the library branches on the
device. `CPU` and the CUDA namespace (fastdnn/cuda.py) also carry the few helpers an op needs
beyond the native functions (a moving average, a scalar-scaled gradient, ...), each written once
per device.

    >>> import numpy as np
    >>> kernels(np.ones(3, np.float32)) is CPU
    True
"""

import types

import numpy as np

from . import _C


def on_device(x):
    """True for a CUDA array."""
    return getattr(type(x), "_fastdnn_device", None) == "cuda"


def _dense_backward(g2, x2, kernel, y2, code, alpha, needs):
    dz, db = _C.act_backward(y2, g2, code, alpha, len(needs) > 2 and needs[2])
    dx = dk = None
    if needs[0]:
        dx = _C.gemm(dz, kernel, False, True, None, False, None, 0, 0.0, False)[0]
    if needs[1]:
        dk = _C.gemm(x2, dz, True, False, None, False, None, 0, 0.0, False)[0]
    return dx, dk, db


def _moving_average(moving, batch, momentum):
    m = np.float32(momentum)
    moving *= m
    moving += batch * (np.float32(1.0) - m)


def _mean_all(values, n):
    return np.asarray(np.add.reduce(values, dtype=np.float64) / n if n else 0.0, dtype=np.float32)


def _contiguous(g):
    if type(g) is np.ndarray and g.dtype == np.float32 and g.flags.c_contiguous:
        return g
    return np.ascontiguousarray(g, dtype=np.float32)


CPU = types.SimpleNamespace(
    name="cpu",
    gemm=_C.gemm, act_forward=_C.act_forward, act_backward=_C.act_backward, softmax=_C.softmax,
    softmax_backward=_C.softmax_backward, softmax_xent=_C.softmax_xent,
    batchnorm_forward_train=_C.batchnorm_forward_train,
    batchnorm_forward_infer=_C.batchnorm_forward_infer, batchnorm_backward=_C.batchnorm_backward,
    noise_bernoulli=_C.noise_bernoulli, noise_normal=_C.noise_normal,
    optimizer_update=_C.optimizer_update,
    weight_penalty=_C.weight_penalty, apply_constraints=_C.apply_constraints,
    dense_backward=_dense_backward,
    moving_average=_moving_average,
    mean_all=_mean_all,
    # g·x for a 0-d gradient g; g (rows,) · each row of x
    scale_by=lambda x, g: x * np.float32(g),
    scale_rows=lambda x, g: x * np.asarray(g, np.float32).reshape(-1, 1),
    inv_std=lambda variance, eps: (1.0 / np.sqrt(variance.astype(np.float64) + float(eps))).astype(np.float32),
    ones=lambda shape: np.ones(shape, np.float32),
    contiguous=_contiguous,
)


def kernels(*arrays):
    """The kernel namespace (CPU, or CUDA's) for an op's array arguments (None entries skipped).

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
        from . import cuda
        return cuda.kernels()
    if devices == {False}:
        return CPU
    where = ", ".join("cuda" if on_device(a) else type(a).__name__ for a in arrays if a is not None)
    raise ValueError("An op received arrays on different devices (" + where + "). Put them on one "
                     "device first: fastdnn.device('cuda').put(x), or model.to('cuda') for a model.")


def like(reference, host_array):
    """`host_array` placed where `reference` lives (uploaded when `reference` is a CUDA array)."""
    if on_device(reference):
        from . import cuda
        return cuda.kernels().put(host_array)
    return host_array


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
