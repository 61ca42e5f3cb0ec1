"""The CPU backend's NumPy versions of the names that only CUDA has natively (fastdnn/backend/cpu.py),
against float64 NumPy references. The CUDA side of each name: tests/cuda/test_backend_protocol.py.

Tolerances: +, −, ×, ÷, comparisons, clip, sign and a power-of-two or exact scale of float32
inputs are exact (float32 IEEE arithmetic is the float64 result rounded once: 53 >= 2·24 + 2 bits,
so no double rounding); exp and log are NumPy's float32 math, within 2 ulp; results computed in
float64 and rounded once (gelu, sums) within 1 ulp of the rounded reference.
"""

import math

import numpy as np
import pytest
from fastdnn._codes import BINARY, UNARY
from fastdnn.backend.cpu import CPU

EPS = float(np.finfo(np.float32).eps)
rng = np.random.default_rng(0)


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def exact(got, want):
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.asarray(want).astype(np.float32))


BINARY_REF = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide,
    "maximum": np.maximum, "minimum": np.minimum,
    "greater_equal": lambda a, b: (a >= b) * 1.0, "greater": lambda a, b: (a > b) * 1.0,
    "second": lambda a, b: np.broadcast_to(b, np.broadcast_shapes(a.shape, b.shape)),  # b, even where a is NaN
}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_matches_float64_with_broadcasting(name):
    a, b = f32(3, 1, 4), f32(5, 1)
    a[0, 0, :2] = [np.nan, 0.0]
    b[1, 0] = np.nan
    got = CPU.binary(BINARY[name], a, b)
    assert got.shape == (3, 5, 4)
    with np.errstate(invalid="ignore"):
        exact(got, BINARY_REF[name](a.astype(np.float64), b.astype(np.float64)))


def test_maximum_and_minimum_propagate_nan():
    a, b = np.float32([np.nan, 1.0]), np.float32([1.0, np.nan])
    for op in ("maximum", "minimum"):
        assert np.isnan(CPU.binary(BINARY[op], a, b)).all()


def _erf(x):
    return np.vectorize(math.erf)(x)


UNARY_REF = {  # name -> (formula, p0, p1, rtol)
    "negative": (lambda x, p, q: -x, 0.0, 0.0, 0), "square": (lambda x, p, q: x * x, 0.0, 0.0, 0),
    "abs": (lambda x, p, q: np.abs(x), 0.0, 0.0, 0), "exp": (lambda x, p, q: np.exp(x), 0.0, 0.0, 2 * EPS),
    "log": (lambda x, p, q: np.log(x), 0.0, 0.0, 2 * EPS), "sqrt": (lambda x, p, q: np.sqrt(x), 0.0, 0.0, 0),
    "clip": (lambda x, p, q: np.clip(x, p, q), -0.5, 0.25, 0), "scale": (lambda x, p, q: x * p, 0.5, 0.0, 0),
    "sign": (lambda x, p, q: np.sign(x), 0.0, 0.0, 0),
    "inside": (lambda x, p, q: ((x >= p) & (x <= q)) * 1.0, -0.5, 0.25, 0),
    "gelu": (lambda x, p, q: x * 0.5 * (1 + _erf(x / math.sqrt(2))), 0.0, 0.0, EPS),
    "gelu_grad": (lambda x, p, q: 0.5 * (1 + _erf(x / math.sqrt(2))) + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi),
                  0.0, 0.0, EPS),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_matches_float64(name):
    formula, p0, p1, rtol = UNARY_REF[name]
    x = f32(4, 7)
    x[0, :3] = [0.0, -0.5, 0.25]  # sign(0) = 0; the clip bounds are inside
    if name in ("log", "sqrt"):
        x = np.abs(x) + np.float32(0.01)
    got = CPU.unary(UNARY[name], x, p0, p1)
    want = formula(x.astype(np.float64), p0, p1)
    if rtol:
        np.testing.assert_allclose(got, want, rtol=rtol, atol=0)
    else:
        exact(got, want)


def test_gelu_tanh_approximation():
    x = f32(50)
    c = math.sqrt(2 / math.pi)
    x64 = x.astype(np.float64)
    # 1 ulp: computed in float64, rounded once
    np.testing.assert_allclose(CPU.unary(UNARY["gelu"], x, 1.0), 0.5 * x64 * (1 + np.tanh(c * (x64 + 0.044715 * x64 ** 3))),
                               rtol=EPS, atol=1e-30)


def test_reduce_to_sums_in_float64_and_gives_zero_over_an_empty_axis():
    x = f32(6, 3, 5) * np.float32(1e4)
    x[0, 0, 0] = np.float32(1e8)  # float32 accumulation would lose the small terms
    got = CPU.reduce_to(x, (1, 3, 1))
    want = x.astype(np.float64).sum(axis=(0, 2), keepdims=True)
    np.testing.assert_allclose(got, want, rtol=EPS / 2)  # one rounding of the float64 sum
    exact(CPU.reduce_to(np.zeros((0, 3), np.float32), (1, 3)), np.zeros((1, 3)))
    with pytest.raises(ValueError):
        CPU.reduce_to(x, (2, 3, 1))


def test_broadcast_to_and_sum_all():
    x = f32(1, 3)
    y = CPU.broadcast_to(x, (4, 3))
    exact(y, np.repeat(x, 4, axis=0))
    assert y.flags.writeable and y.flags.c_contiguous
    v = f32(1000)
    np.testing.assert_allclose(CPU.sum_all(v, 0.25), v.astype(np.float64).sum() * 0.25, rtol=EPS / 2)
    assert CPU.sum_all(v, 1.0).shape == ()


def test_sparse_xent_probs_is_kerass_formula():
    p = np.abs(f32(8, 5))
    p[0] = [1e-12, 1, 1, 1, 1]  # clipped to eps
    labels = np.array([0, 1, 2, 3, 4, 0, 1, 2])
    q = p.astype(np.float64)[np.arange(8), labels] / p.astype(np.float64).sum(axis=1)
    want = -np.log(np.clip(q, 1e-7, 1 - 1e-7))
    # float32 arithmetic: the row sum and the quotient each within a few ulp of q, so the loss
    # is within ~4 ulp of q in absolute terms (d(−log q) = dq/q)
    np.testing.assert_allclose(CPU.sparse_xent_probs(p, labels, 1e-7), want, rtol=4 * EPS, atol=4 * EPS)
    with pytest.raises(ValueError):
        CPU.sparse_xent_probs(p, labels + 1, 1e-7)


def test_unbroadcast_sum_axes_and_spread():
    g = f32(4, 3, 2)
    np.testing.assert_allclose(CPU.unbroadcast(g, (3, 1)), g.astype(np.float64).sum(axis=(0, 2)).reshape(3, 1),
                               rtol=4 * EPS, atol=4 * EPS)  # float32 sums of 4 and 2 terms
    assert CPU.unbroadcast(g, g.shape) is g
    x = f32(4, 3, 2)
    np.testing.assert_allclose(CPU.sum_axes(x, (0, 2), False, 0.5), x.astype(np.float64).sum(axis=(0, 2)) * 0.5,
                               rtol=EPS / 2)
    assert CPU.sum_axes(x, (1,), True, 1.0).shape == (4, 1, 2)
    assert CPU.sum_axes(x, None, False, 1.0).shape == ()
    exact(CPU.spread(np.float32(2.0), (2, 3), None, False, 0.5), np.ones((2, 3)))
    exact(CPU.spread(np.float32([1, 2]), (2, 3), (1,), False, 1.0), [[1, 1, 1], [2, 2, 2]])
    exact(CPU.spread(np.float32([[1], [2]]), (2, 3), (1,), True, 2.0), [[2, 2, 2], [4, 4, 4]])


def test_noise_bernoulli_with_a_mask_shape_broadcasts_one_draw():
    x = f32(6, 5)
    y = CPU.noise_bernoulli(x, 0.5, 9, 1, 0, 2.0, 0.0, -1.0, mask_shape=(6, 1))
    keep = CPU.noise_bernoulli(np.ones((6, 1), np.float32), 0.5, 9, 1, 0, 1.0)
    exact(y, np.where(keep != 0, x.astype(np.float64) * 2.0, -1.0))
    assert 0 < keep.sum() < 6  # seed 9 keeps some rows and drops others
    exact(CPU.noise_bernoulli(x, 0.5, 9, 1, 0, 2.0, mask_shape=x.shape), CPU.noise_bernoulli(x, 0.5, 9, 1, 0, 2.0))


def test_helpers():
    x = f32(3, 4)
    exact(CPU.scale_by(x, np.float32(0.5)), x * 0.5)
    exact(CPU.scale_rows(x, np.float32([1, 2, 4])), x * np.array([[1], [2], [4]]))
    np.testing.assert_allclose(CPU.mean_all(x, 12), x.astype(np.float64).mean(), rtol=EPS / 2)
    assert CPU.mean_all(x[:0], 0) == 0
    v = np.abs(f32(5))
    np.testing.assert_allclose(CPU.inv_std(v, 1e-3), 1 / np.sqrt(v.astype(np.float64) + 1e-3), rtol=EPS / 2)
    m = f32(5)
    want = m.astype(np.float64) * np.float32(0.9) + v.astype(np.float64) * np.float32(0.1)
    CPU.moving_average(m, v, 0.9)
    np.testing.assert_allclose(m, want, rtol=2 * EPS)  # two float32 roundings
    exact(CPU.ones((2, 2)), np.ones((2, 2)))
    assert CPU.put(x) is x and CPU.contiguous(x) is x
    exact(CPU.contiguous(x.T), x.T)
