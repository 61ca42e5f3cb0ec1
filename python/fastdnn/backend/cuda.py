"""The CUDA backend: the functions of the native module `fastdnn._cuda` under the protocol's names.

`fastdnn.cuda` loads the native module and builds one `CUDABackend` on it; the ops reach it
through `fastdnn._dispatch.kernels`. `native` is the module itself, for the backend's own
housekeeping (fastdnn/cuda.py) and tests.
"""

import numpy as np

from .._codes import UNARY
from .base import Backend, on_device
from .cpu import CPU

_SCALE = UNARY["scale"]

# Kernels taken from the native module unchanged: the same arguments as the CPU backend's.
_NATIVE = ("gemm", "act_forward", "act_backward", "softmax", "softmax_backward", "softmax_xent",
           "sparse_xent_probs", "batchnorm_forward_train", "batchnorm_forward_infer", "batchnorm_backward",
           "noise_bernoulli", "noise_normal", "optimizer_update", "weight_penalty", "apply_constraints",
           "binary", "unary", "reduce_to", "broadcast_to", "sum_all", "moving_average")


class CUDABackend(Backend):
    """The kernels of GPU `device_index`, run by `native` (fastdnn._cuda or a stand-in)."""

    name = "cuda"

    def __init__(self, native, device_index):
        self.native = native
        self.device_index = device_index
        for n in _NATIVE:
            setattr(self, n, getattr(native, n))

    def put(self, x):
        if on_device(x):
            return x
        keep = isinstance(x, np.ndarray) and x.dtype == np.int64  # class labels stay int64
        # np.asarray, not np.ascontiguousarray, which turns a 0-d array into shape (1,)
        return self.native.from_numpy(np.asarray(x, dtype=np.int64 if keep else np.float32, order="C"))

    contiguous = put

    def _scalar(self, g):
        return g if on_device(g) else self.native.full((), float(g))

    def unbroadcast(self, g, shape):
        if tuple(g.shape) == tuple(shape):
            return g
        kept = (1,) * (g.ndim - len(shape)) + tuple(shape)
        return self.native.reduce_to(g, kept).reshape(tuple(shape))

    def sum_axes(self, x, axes, keepdims, scale):
        n = self.native
        if axes is None and not keepdims:
            return n.sum_all(x, scale)
        axes = tuple(range(x.ndim)) if axes is None else axes
        kept = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
        y = n.reduce_to(x, kept)
        if scale != 1.0:
            y = n.unary(_SCALE, y, scale)
        return y.reshape(kept if keepdims else tuple(d for i, d in enumerate(x.shape) if i not in axes))

    def spread(self, g, shape, axes, keepdims, scale):
        n = self.native
        if axes is None and not keepdims:
            d = self.scale_by(self.ones(shape), g)
            return d if scale == 1.0 else self.scale_by(d, scale)
        axes = tuple(range(len(shape))) if axes is None else axes
        kept = tuple(1 if i in axes else d for i, d in enumerate(shape))
        d = n.broadcast_to(g.reshape(kept), tuple(shape))
        return d if scale == 1.0 else n.unary(_SCALE, d, scale)

    def ones(self, shape):
        return self.native.full(tuple(shape), 1.0)

    def dense_backward(self, g2, x2, kernel, y2, code, alpha, needs):
        n = self.native
        need_b = len(needs) > 2 and needs[2]
        dz, db = n.act_backward(y2, g2, code, alpha, need_b and not needs[1])
        dx = dk = None
        if needs[0]:
            dx = n.gemm(dz, kernel, False, True, None, False, None, 0, 0.0, False)[0]
        if needs[1] and need_b:
            dk, db = n.weight_bias_grad(x2, dz)  # cuBLASLt's BGRAD epilogue where it applies
        elif needs[1]:
            dk = n.gemm(x2, dz, True, False, None, False, None, 0, 0.0, False)[0]
        return dx, dk, db

    def mean_all(self, values, n):
        return self.native.sum_all(values, 1.0 / n if n else 0.0)

    def scale_by(self, x, g):
        return self.native.scale_by_scalar(x, self._scalar(g))

    def scale_rows(self, x, g):
        g = g.reshape(-1) if on_device(g) else self.put(np.asarray(g, np.float32).reshape(-1))
        return self.native.scale_rows(x, g)

    def inv_std(self, variance, epsilon):
        return self.put(CPU.inv_std(variance.numpy(), epsilon))

