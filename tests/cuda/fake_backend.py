"""A host-memory stand-in for the native CUDA module `fastdnn._cuda`, for machines without a GPU.

It has the module's functions and array type (`_fastdnn_device = "cuda"`), runs every op on the
CPU kernels of `fastdnn._C`, and, like the real module, refuses host arrays where it expects
device arrays. Installed with `install(monkeypatch)`, it lets the Python side of the CUDA backend
(dispatch, the tape, optimizers, model.to, fit/evaluate/predict) run and be checked here; the
kernels themselves are checked on a GPU by test_ops.py and test_training.py.
"""

import numpy as np
from fastdnn import _C
from fastdnn import cuda as cuda_module
from fastdnn.backend.cpu import CPU
from fastdnn.backend.cuda import CUDABackend


class FakeArray:
    """A NumPy array posing as GPU memory."""

    _fastdnn_device = "cuda"
    device_index = 0

    def __init__(self, a):
        assert isinstance(a, np.ndarray) and a.dtype in (np.float32, np.int64) and a.flags.c_contiguous
        self._a = a

    shape = property(lambda self: self._a.shape)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    dtype = property(lambda self: self._a.dtype)

    def reshape(self, *shape):
        return FakeArray(self._a.reshape(*shape))

    def numpy(self):
        return self._a.copy()

    def __array__(self, dtype=None, copy=None):
        return self._a.copy() if dtype is None else self._a.astype(dtype)

    def __float__(self):
        return float(self._a.reshape(-1)[0]) if self._a.size == 1 else float(self._a)

    def __len__(self):
        return len(self._a)

    def __add__(self, other):
        return FakeArray(self._a + dev(other, "other"))

    def upload(self, a):
        assert a.shape == self._a.shape and a.dtype == self._a.dtype
        self._a[...] = a

    def copy(self):
        return FakeArray(self._a.copy())


def dev(x, name):
    """The array behind a device argument; TypeError for anything else, as the native module."""
    if x is None:
        return None
    if not isinstance(x, FakeArray):
        raise TypeError(f"`{name}` must be a fastdnn CUDA array. Received an object of type {type(x).__name__}.")
    return x._a


def wrap(*results):
    out = tuple(None if r is None else FakeArray(np.ascontiguousarray(r)) for r in results)
    return out if len(out) > 1 else out[0]


def host_labels(labels):
    return labels._a if isinstance(labels, FakeArray) else labels


class FakeNative:
    """The functions of fastdnn._cuda, on the CPU kernels."""

    Array = FakeArray

    def __init__(self):
        self.calls = []  # op names, in order

    def _log(self, name):
        self.calls.append(name)

    def init(self, device):
        pass

    def synchronize(self):
        pass

    def stream_handle(self):
        return 0

    def cublaslt_load(self, path):
        return "no cuBLASLt in the host stand-in"

    def cublaslt_loaded(self):
        return False

    def cublaslt_version(self):
        return ""

    def from_numpy(self, a):
        self._log("from_numpy")
        return FakeArray(np.array(a, copy=True))

    def full(self, shape, value):
        return FakeArray(np.full(shape, value, np.float32))

    def gemm(self, a, b, ta, tb, out, accumulate, bias, act, alpha, keep_z):
        self._log("gemm")
        o = dev(out, "out")
        y, z = _C.gemm(dev(a, "a"), dev(b, "b"), ta, tb, o, accumulate, dev(bias, "bias"), act, alpha, keep_z)
        return (out if out is not None else FakeArray(y)), (None if z is None else FakeArray(z))

    def weight_bias_grad(self, x, dz):
        self._log("weight_bias_grad")
        dk = _C.gemm(dev(x, "x"), dev(dz, "dz"), True, False, None, False, None, 0, 0.0, False)[0]
        return wrap(dk, np.add.reduce(dev(dz, "dz"), axis=0, dtype=np.float64).astype(np.float32))

    def act_forward(self, x, act, alpha, out=None):
        self._log("act_forward")
        return wrap(_C.act_forward(dev(x, "x"), act, alpha))

    def act_backward(self, y, dy, act, alpha, want_db):
        self._log("act_backward")
        return wrap(*_C.act_backward(dev(y, "y"), dev(dy, "dy"), act, alpha, want_db))

    def softmax(self, x, out=None):
        self._log("softmax")
        return wrap(_C.softmax(dev(x, "x")))

    def softmax_backward(self, y, dy):
        return wrap(_C.softmax_backward(dev(y, "y"), dev(dy, "dy")))

    def softmax_xent(self, logits, labels, targets, scale, want):
        self._log("softmax_xent")
        t = None if targets is None else (targets._a if isinstance(targets, FakeArray)
                                          else np.ascontiguousarray(targets, np.float32))
        return wrap(*_C.softmax_xent(dev(logits, "logits"), host_labels(labels), t, scale, want))

    def sparse_xent_probs(self, p, labels, eps):
        self._log("sparse_xent_probs")
        p = dev(p, "probabilities")
        q = p[np.arange(len(p)), host_labels(labels)] / p.sum(axis=-1)
        return wrap(-np.log(np.clip(q, eps, 1 - eps)).astype(np.float32))

    def batchnorm_forward_train(self, x, g, b, eps):
        self._log("batchnorm_forward_train")
        return wrap(*_C.batchnorm_forward_train(dev(x, "x"), dev(g, "gamma"), dev(b, "beta"), eps))

    def batchnorm_forward_infer(self, x, m, v, g, b, eps):
        return wrap(_C.batchnorm_forward_infer(dev(x, "x"), dev(m, "mean"), dev(v, "var"), dev(g, "gamma"),
                                               dev(b, "beta"), eps))

    def batchnorm_backward(self, dy, x, m, s, g, training):
        self._log("batchnorm_backward")
        return wrap(*_C.batchnorm_backward(dev(dy, "dy"), dev(x, "x"), dev(m, "mean"), dev(s, "inv_std"),
                                           dev(g, "gamma"), training))

    def noise_bernoulli(self, x, rate, seed, stream, step, scale, c_keep=0.0, c_drop=0.0, out=None,
                        mask_shape=None):
        self._log("noise_bernoulli")
        a = dev(x, "x")
        if mask_shape is not None and tuple(mask_shape) != a.shape:
            keep = _C.noise_bernoulli(np.ones(mask_shape, np.float32), rate, seed, stream, step, 1.0)
            return wrap(np.where(keep != 0, a * np.float32(scale) + np.float32(c_keep), np.float32(c_drop)))
        return wrap(_C.noise_bernoulli(a, rate, seed, stream, step, scale, c_keep, c_drop))

    def noise_normal(self, x, seed, stream, step, m0, m1, c0, c1, out=None):
        return wrap(_C.noise_normal(dev(x, "x"), seed, stream, step, m0, m1, c0, c1))

    # The element-wise codes run on the CPU backend's NumPy versions (held to the real
    # kernels by tests/cuda/test_backend_protocol.py on the simulator).
    def binary(self, op, a, b):
        self._log("binary")
        return wrap(CPU.binary(op, dev(a, "a"), dev(b, "b")))

    def unary(self, op, x, p0=0.0, p1=0.0):
        self._log("unary")
        return wrap(CPU.unary(op, dev(x, "x"), p0, p1))

    def reduce_to(self, x, shape):
        a = dev(x, "x")
        axes = tuple(i for i, (d, s) in enumerate(zip(a.shape, shape)) if s == 1 and d != 1)
        return wrap(np.add.reduce(a, axis=axes, keepdims=True, dtype=np.float64).astype(np.float32))

    def broadcast_to(self, x, shape):
        return wrap(np.broadcast_to(dev(x, "x"), tuple(shape)))

    def weight_penalty(self, params, grads, l1, l2):
        self._log("weight_penalty")
        return _C.weight_penalty([dev(p, "params") for p in params],
                                 None if grads is None else [dev(g, "grads") for g in grads], l1, l2)

    def apply_constraints(self, params, specs):
        self._log("apply_constraints")
        _C.apply_constraints([dev(p, "params") for p in params], specs)

    def optimizer_update(self, kind, params, grads, slots, hyper):
        self._log("optimizer_update")
        _C.optimizer_update(kind, [dev(p, "params") for p in params], [dev(g, "grads") for g in grads],
                            [[dev(s, "slots") for s in sl] for sl in slots], hyper)

    def sum_all(self, x, scale):
        self._log("sum_all")
        return wrap(np.asarray(np.add.reduce(dev(x, "x"), axis=None, dtype=np.float64) * scale, np.float32))

    def scale_by_scalar(self, x, s, factor=1.0):
        return wrap(dev(x, "x") * (dev(s, "scale").reshape(-1)[0] * np.float32(factor)))

    def scale_rows(self, x, s):
        return wrap(dev(x, "x") * dev(s, "scale").reshape(-1, 1))

    def moving_average(self, m, b, momentum):
        _C_m = dev(m, "moving")
        mom = np.float32(momentum)
        _C_m *= mom
        _C_m += dev(b, "batch") * (np.float32(1.0) - mom)


def install(monkeypatch):
    """Makes fastdnn's CUDA backend the host stand-in for the rest of a test; returns its native
    module (whose `calls` lists the ops run)."""
    native = FakeNative()
    monkeypatch.setattr(cuda_module, "_backend", CUDABackend(native, 0))
    return native
