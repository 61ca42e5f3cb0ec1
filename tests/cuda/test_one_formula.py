"""Each op's backward is written once, over backend calls (fastdnn/ops/):
run on the host stand-in of the CUDA module (fake_backend.py), whose element-wise codes are the
CPU backend's, every gradient equals the CPU's. The stand-in sums broadcast gradients in
float64 (as the GPU's reduce_to) where the CPU sums in float32: those agree to float32
rounding of a few terms, 4 ulp; everything else is the same float32 arithmetic, bit for bit."""

import fake_backend
import fastdnn
import numpy as np
import pytest
from fastdnn import ops

EPS = float(np.finfo(np.float32).eps)
rng = np.random.default_rng(3)


@pytest.fixture
def native(monkeypatch):
    return fake_backend.install(monkeypatch)


def _grads(fn, *arrays, device=False):
    k = fastdnn.device("cuda")._kernels if device else None
    xs = [_variable(a, k) for a in arrays]
    with fastdnn.GradientTape() as tape:
        y = fn(*[x.value for x in xs])
        loss = ops.sum(ops.multiply(y, _weights(y, k)))
    return [np.asarray(g) for g in tape.gradient(loss, xs)], np.asarray(y)


def _variable(a, k):
    v = fastdnn.Variable(a)
    if k is not None:
        v._value = k.put(v._value)
    return v


def _weights(y, k):
    w = np.linspace(-2, 3, int(np.prod(y.shape)), dtype=np.float32).reshape(y.shape)
    return k.put(w) if k is not None else w


BINARY = ["add", "subtract", "multiply", "divide", "maximum", "minimum"]
UNARY = [("negative", ()), ("square", ()), ("abs", ()), ("exp", ()), ("log", ()), ("sqrt", ()),
         ("clip", (-0.3, 0.4)), ("gelu", ()), ("gelu", (False,))]


@pytest.mark.parametrize("name", BINARY)
def test_binary_gradients_are_the_cpus(native, name):
    a, b = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((1, 3)).astype(np.float32)
    b[0, 1] = a[2, 1]  # a tie, for maximum and minimum
    fn = getattr(ops, name)
    (ga, gb), y = _grads(fn, a, b)
    (da, db), yd = _grads(fn, a, b, device=True)
    np.testing.assert_array_equal(yd, y)
    np.testing.assert_array_equal(da, ga)
    np.testing.assert_allclose(db, gb, rtol=4 * EPS, atol=4 * EPS * np.abs(gb).max())


@pytest.mark.parametrize("name,args", UNARY)
def test_unary_gradients_are_the_cpus(native, name, args):
    x = rng.standard_normal((5, 4)).astype(np.float32)
    x[0, 0] = 0.0  # abs: gradient 0 at 0
    if name in ("log", "sqrt"):
        x = np.abs(x) + np.float32(0.1)
    fn = lambda v: getattr(ops, name)(v, *args)
    (g,), y = _grads(fn, x)
    (d,), yd = _grads(fn, x, device=True)
    np.testing.assert_array_equal(yd, y)
    np.testing.assert_array_equal(d, g)


@pytest.mark.parametrize("axis,keepdims", [(None, False), (None, True), (0, False), ((0, 2), True), (-1, False)])
@pytest.mark.parametrize("op", ["sum", "mean"])
def test_reduction_gradients_are_the_cpus(native, op, axis, keepdims):
    x = rng.standard_normal((3, 4, 2)).astype(np.float32)
    fn = lambda v: getattr(ops, op)(v, axis=axis, keepdims=keepdims)
    (g,), y = _grads(fn, x)
    (d,), yd = _grads(fn, x, device=True)
    np.testing.assert_allclose(yd, y, rtol=EPS)  # both sum in float64, rounded once
    np.testing.assert_array_equal(d, g)


@pytest.mark.parametrize("kind", ["dropout", "alpha_dropout"])
def test_broadcast_mask_gradients_are_the_cpus_even_for_infinite_gradients(native, kind):
    x = rng.standard_normal((6, 5)).astype(np.float32)
    g = rng.standard_normal((6, 5)).astype(np.float32)
    g[:, 0] = np.inf  # a dropped unit's gradient is inf·0 = NaN on both devices
    out = []
    for device in (False, True):
        k = fastdnn.device("cuda")._kernels if device else None
        v = _variable(x, k)
        k = k or fastdnn._dispatch.CPU
        with fastdnn.GradientTape() as tape:
            y = getattr(fastdnn.noise, kind)(v.value, 0.5, (11, 2, 0), (6, 1))
            loss = ops.sum(ops.multiply(y, k.put(g)))  # its gradient wrt y is g, bit for bit
        out.append((np.asarray(y), np.asarray(tape.gradient(loss, v))))
    (y_cpu, g_cpu), (y_dev, g_dev) = out
    np.testing.assert_array_equal(y_dev, y_cpu)
    np.testing.assert_array_equal(g_dev, g_cpu)
    assert np.isnan(g_cpu[:, 0]).any() and np.isfinite(g_cpu[:, 1:]).all()
