"""One backend protocol (fastdnn/backend/base.py): the CPU and CUDA backends carry the same names,
each overriding every stub of the protocol; on a GPU (the CUDA simulator here, tools/cuda_sim.sh)
each cheap name gives the CPU backend's results for the same inputs.

Tolerances: element-wise float32 arithmetic is exact on both; exp/log/sqrt/gelu of the device
math library are within 2 ulp of NumPy's and gelu, a few float32 operations deep on the device,
1e-6 (as tests/cuda/test_codes_cuda.py); sums accumulate in float64 on both and are rounded once,
so they agree to 1 ulp; sparse_xent_probs sums each row in float32 in another order: 4 ulp.
"""

import fake_backend
import fastdnn
import numpy as np
import pytest
from fastdnn._codes import BINARY, UNARY
from fastdnn.backend.base import Backend, protocol_names
from fastdnn.backend.cpu import CPU
from fastdnn.backend.cuda import CUDABackend

EPS = float(np.finfo(np.float32).eps)
OWN = {"native", "device_index"}  # the CUDA backend's handle on its native module and GPU


def _names(backend):
    return {n for n in dir(backend) if not n.startswith("_")}


def test_cpu_and_cuda_backends_carry_the_same_names():
    cuda = CUDABackend(fake_backend.FakeNative(), 0)
    assert _names(CPU) == _names(cuda) - OWN == protocol_names()
    for backend in (CPU, cuda):
        for name in protocol_names() - {"name"}:
            assert getattr(type(backend), name, None) is not getattr(Backend, name) or name in vars(backend), \
                f"{backend.name} leaves {name} to the protocol's stub"


on_gpu = pytest.mark.skipif(not fastdnn.cuda.is_available(), reason=f"no usable GPU: {fastdnn.cuda.status()}")
rng = np.random.default_rng(1)


@pytest.fixture(scope="module")
def k():
    return fastdnn.device("cuda")._kernels


def _same(got, want, rtol=0.0, atol=0.0):
    got = got.numpy() if fastdnn._dispatch.on_device(got) else np.asarray(got)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    assert got.shape == np.shape(want)


@on_gpu
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_behaves_alike(k, name):
    a, b = rng.standard_normal((3, 1, 4)).astype(np.float32), rng.standard_normal((5, 1)).astype(np.float32)
    a[0, 0, 0], b[1, 0] = np.nan, np.nan
    _same(k.binary(BINARY[name], k.put(a), k.put(b)), CPU.binary(BINARY[name], a, b))


@on_gpu
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_behaves_alike(k, name):
    x = rng.standard_normal((4, 7)).astype(np.float32)
    x[0, :3] = [0.0, -0.5, 0.25]
    if name in ("log", "sqrt"):
        x = np.abs(x) + np.float32(0.01)
    p0, p1 = {"clip": (-0.5, 0.25), "inside": (-0.5, 0.25), "scale": (0.5, 0.0)}.get(name, (1.0, 0.0))
    tol = {"exp": 2 * EPS, "log": 2 * EPS, "sqrt": 2 * EPS, "gelu": 1e-6, "gelu_grad": 1e-6}.get(name, 0.0)
    _same(k.unary(UNARY[name], k.put(x), p0, p1), CPU.unary(UNARY[name], x, p0, p1), rtol=tol, atol=tol)


@on_gpu
def test_sums_and_broadcasts_behave_alike(k):
    x = rng.standard_normal((6, 3, 5)).astype(np.float32)
    _same(k.reduce_to(k.put(x), (1, 3, 1)), CPU.reduce_to(x, (1, 3, 1)), rtol=EPS)
    _same(k.reduce_to(k.put(x[:0]), (1, 3, 5)), CPU.reduce_to(x[:0], (1, 3, 5)))
    _same(k.broadcast_to(k.put(x[:1]), (4, 3, 5)), CPU.broadcast_to(x[:1], (4, 3, 5)))
    _same(k.sum_all(k.put(x), 0.5), CPU.sum_all(x, 0.5), rtol=EPS)
    _same(k.sum_axes(k.put(x), (0, 2), False, 0.5), CPU.sum_axes(x, (0, 2), False, 0.5), rtol=EPS)
    _same(k.sum_axes(k.put(x), (1,), True, 1.0), CPU.sum_axes(x, (1,), True, 1.0), rtol=EPS)
    _same(k.sum_axes(k.put(x), None, False, 1.0), CPU.sum_axes(x, None, False, 1.0), rtol=EPS)
    g = rng.standard_normal((6, 5)).astype(np.float32)
    _same(k.spread(k.put(g), x.shape, (1,), False, 0.25), CPU.spread(g, x.shape, (1,), False, 0.25))
    _same(k.spread(k.put(np.float32(3.0)), x.shape, None, False, 0.5), CPU.spread(np.float32(3.0), x.shape, None,
                                                                                    False, 0.5))
    # the CUDA side sums in float64, the CPU's in float32 (bit for bit as before): 30 terms of
    # size ~1, |error| <= 30·eps·Σ|x| ~ 1e-4 at worst
    _same(k.unbroadcast(k.put(x), (3, 1)), CPU.unbroadcast(x, (3, 1)), atol=1e-4)


@on_gpu
def test_losses_noise_and_helpers_behave_alike(k):
    p = np.abs(rng.standard_normal((8, 5))).astype(np.float32)
    labels = np.arange(8) % 5
    _same(k.sparse_xent_probs(k.put(p), k.put(labels), 1e-7), CPU.sparse_xent_probs(p, labels, 1e-7),
          rtol=4 * EPS, atol=4 * EPS)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    for mask_shape in (None, (6, 1), (1, 5)):
        _same(k.noise_bernoulli(k.put(x), 0.5, 9, 1, 0, 2.0, 0.0, -1.0, mask_shape=mask_shape),
              CPU.noise_bernoulli(x, 0.5, 9, 1, 0, 2.0, 0.0, -1.0, mask_shape=mask_shape))
    _same(k.scale_by(k.put(x), np.float32(0.5)), CPU.scale_by(x, np.float32(0.5)))
    _same(k.scale_rows(k.put(x), np.arange(6, dtype=np.float32)), CPU.scale_rows(x, np.arange(6, dtype=np.float32)))
    _same(k.mean_all(k.put(x[:, 0]), 6), CPU.mean_all(x[:, 0], 6), rtol=EPS)
    v = np.abs(x[0])
    _same(k.inv_std(k.put(v), 1e-3), CPU.inv_std(v, 1e-3))
    _same(k.ones((2, 3)), CPU.ones((2, 3)))
    _same(k.contiguous(x), CPU.contiguous(x))
    m_gpu, m_cpu = k.put(x[0]), x[0].copy()
    k.moving_average(m_gpu, k.put(v), 0.9)
    CPU.moving_average(m_cpu, v, 0.9)
    _same(m_gpu, m_cpu, rtol=EPS)  # one fused multiply-add may round once less on the device
