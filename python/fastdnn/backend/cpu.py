"""The CPU backend: fastdnn._C's kernels, and NumPy for the names only CUDA has natively.

The NumPy versions compute what the CUDA kernels compute (csrc/cuda/elementwise.cu, reduce.cu,
xent.cu): float32 element-wise results, float64 sums.

    >>> import numpy as np
    >>> CPU.binary(BINARY["maximum"], np.float32([1, np.nan]), np.float32([2, 0])).tolist()
    [2.0, nan]
"""

import numpy as np

from .. import _C
from .._codes import BINARY, UNARY
from . import _gelu
from .base import Backend


def _second(a, b):
    return np.broadcast_to(b, np.broadcast_shapes(np.shape(a), np.shape(b)))


_BINARY = {BINARY["add"]: np.add, BINARY["subtract"]: np.subtract, BINARY["multiply"]: np.multiply,
           BINARY["divide"]: np.divide, BINARY["maximum"]: np.maximum, BINARY["minimum"]: np.minimum,
           BINARY["greater_equal"]: np.greater_equal, BINARY["greater"]: np.greater,
           BINARY["second"]: _second}

_UNARY = {
    UNARY["negative"]: lambda x, p0, p1: np.negative(x),
    UNARY["square"]: lambda x, p0, p1: np.square(x),
    UNARY["abs"]: lambda x, p0, p1: np.abs(x),
    UNARY["exp"]: lambda x, p0, p1: np.exp(x),
    UNARY["log"]: lambda x, p0, p1: np.log(x),
    UNARY["sqrt"]: lambda x, p0, p1: np.sqrt(x),
    UNARY["clip"]: lambda x, p0, p1: np.clip(x, p0, p1),
    UNARY["scale"]: lambda x, p0, p1: x * np.float32(p0),
    UNARY["sign"]: lambda x, p0, p1: np.sign(x),
    UNARY["inside"]: lambda x, p0, p1: (x >= np.float32(p0)) & (x <= np.float32(p1)),
    UNARY["gelu"]: lambda x, p0, p1: _gelu.gelu(x, bool(p0)),
    UNARY["gelu_grad"]: lambda x, p0, p1: _gelu.gelu_grad(x, bool(p0)),
}


def _unbroadcast(g, shape):
    if g.shape == shape:
        return g
    g = g.sum(axis=tuple(range(g.ndim - len(shape)))) if g.ndim > len(shape) else g
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return (g.sum(axis=axes, keepdims=True) if axes else g).reshape(shape)


def _keep(g, ndim, axes, keepdims):
    g = np.asarray(g, np.float32)
    if keepdims:
        return g
    if axes is None:
        return g.reshape((1,) * ndim)
    return np.expand_dims(g, axes)


class CPUBackend(Backend):
    """fastdnn._C's functions as attributes (no wrapper on the hot paths), NumPy for the rest."""

    name = "cpu"

    def __init__(self):
        for n in ("gemm", "act_forward", "act_backward", "softmax", "softmax_backward", "softmax_xent",
                  "batchnorm_forward_train", "batchnorm_forward_infer", "batchnorm_backward",
                  "noise_normal", "optimizer_update", "weight_penalty", "apply_constraints"):
            setattr(self, n, getattr(_C, n))

    def noise_bernoulli(self, x, rate, seed, stream, step, scale, c_keep=0.0, c_drop=0.0, mask_shape=None):
        if mask_shape is None or tuple(mask_shape) == x.shape:
            return _C.noise_bernoulli(x, rate, seed, stream, step, scale, c_keep, c_drop)
        keep = _C.noise_bernoulli(np.ones(mask_shape, np.float32), rate, seed, stream, step, 1.0)
        return np.asarray(np.where(keep != 0, x * np.float32(scale) + np.float32(c_keep), np.float32(c_drop)),
                          np.float32)

    def sparse_xent_probs(self, probabilities, labels, epsilon):
        p = np.asarray(probabilities, np.float32)
        labels = np.asarray(labels, np.int64)
        if p.ndim != 2 or labels.shape != (p.shape[0],):
            raise ValueError(f"sparse_xent_probs needs (rows, classes) probabilities and (rows,) labels. "
                             f"Received shapes {p.shape} and {labels.shape}.")
        if labels.size and (labels.min() < 0 or labels.max() >= p.shape[1]):
            raise ValueError(f"Class labels must lie in [0, {p.shape[1]}).")
        eps = np.float32(epsilon)
        q = p[np.arange(p.shape[0]), labels] / p.sum(axis=1, dtype=np.float32)
        return -np.log(np.minimum(np.maximum(q, eps), np.float32(1) - eps))

    def binary(self, op, a, b):
        return np.asarray(_BINARY[op](a, b), np.float32)

    def unary(self, op, x, p0=0.0, p1=0.0):
        return np.asarray(_UNARY[op](x, p0, p1), np.float32)

    def reduce_to(self, x, shape):
        shape = tuple(shape)
        if len(shape) != x.ndim or any(s not in (1, d) for s, d in zip(shape, x.shape)):
            raise ValueError(f"reduce_to: cannot sum shape {x.shape} down to {shape}.")
        axes = tuple(i for i, (d, s) in enumerate(zip(x.shape, shape)) if s == 1 and d != 1)
        return np.add.reduce(x, axis=axes, keepdims=True, dtype=np.float64).astype(np.float32).reshape(shape)

    def broadcast_to(self, x, shape):
        return np.array(np.broadcast_to(x, tuple(shape)), np.float32, order="C")

    def sum_all(self, x, scale):
        return np.asarray(np.add.reduce(x, axis=None, dtype=np.float64) * scale, np.float32)

    def unbroadcast(self, g, shape):
        return _unbroadcast(g, shape)

    def sum_axes(self, x, axes, keepdims, scale):
        return np.asarray(np.add.reduce(x, axis=axes, keepdims=keepdims, dtype=np.float64) * scale, np.float32)

    def spread(self, g, shape, axes, keepdims, scale):
        if axes is None and not keepdims:
            return np.full(shape, float(g) * scale, np.float32)
        return np.broadcast_to(_keep(g, len(shape), axes, keepdims) * np.float32(scale), shape).astype(np.float32)

    def put(self, x):
        return x

    def contiguous(self, g):
        if type(g) is np.ndarray and g.dtype == np.float32 and g.flags.c_contiguous:
            return g
        return np.ascontiguousarray(g, dtype=np.float32)

    def ones(self, shape):
        return np.ones(shape, np.float32)

    def dense_backward(self, g2, x2, kernel, y2, code, alpha, needs):
        dz, db = _C.act_backward(y2, g2, code, alpha, len(needs) > 2 and needs[2])
        dx = dk = None
        if needs[0]:
            dx = _C.gemm(dz, kernel, False, True, None, False, None, 0, 0.0, False)[0]
        if needs[1]:
            dk = _C.gemm(x2, dz, True, False, None, False, None, 0, 0.0, False)[0]
        return dx, dk, db

    def moving_average(self, moving, batch, momentum):
        m = np.float32(momentum)
        moving *= m
        moving += batch * (np.float32(1.0) - m)

    def mean_all(self, values, n):
        return np.asarray(np.add.reduce(values, axis=None, dtype=np.float64) / n if n else 0.0, dtype=np.float32)

    def scale_by(self, x, g):
        return x * np.float32(g)

    def scale_rows(self, x, g):
        return x * np.asarray(g, np.float32).reshape(-1, 1)

    def inv_std(self, variance, epsilon):
        return (1.0 / np.sqrt(np.asarray(variance).astype(np.float64) + float(epsilon))).astype(np.float32)


CPU = CPUBackend()
