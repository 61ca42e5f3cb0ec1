"""The CUDA kernels' side of the code tables (csrc/core/codes.h): each element-wise code selects
the formula of its name, checked against float64 NumPy; skipped without a GPU (run on the CUDA
simulator by tools/cuda_sim.sh). Activation and optimizer codes on the GPU are checked against
the CPU kernels, op by op, in test_ops.py; the CPU side of every table: tests/test_codes.py.

Tolerance: one float32 operation against float64, then rounded: 2 ulp relative (exp/log/sqrt of
the device math library are within 2 ulp), and gelu, a few float32 operations deep: 1e-6."""

import math

import numpy as np
import pytest

import fastdnn
from fastdnn import _codes

pytestmark = pytest.mark.skipif(not fastdnn.cuda.is_available(),
                                reason=f"no usable GPU: {fastdnn.cuda.status()}")

RTOL = 2 * float(np.finfo(np.float32).eps)

BINARY = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide,
    "maximum": np.maximum, "minimum": np.minimum,
    "greater_equal": lambda a, b: (a >= b) * 1.0, "greater": lambda a, b: (a > b) * 1.0,
    "second": lambda a, b: b + 0 * a,
}


def _gelu(x, grad):
    c = math.sqrt(2 / math.pi)
    t = np.tanh(c * (x + 0.044715 * x ** 3))
    if grad:
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x ** 2)
    return 0.5 * x * (1 + t)


UNARY = {  # name -> (formula(x, p0, p1), p0, p1)
    "negative": (lambda x, p, q: -x, 0.0, 0.0), "square": (lambda x, p, q: x * x, 0.0, 0.0),
    "abs": (lambda x, p, q: np.abs(x), 0.0, 0.0), "exp": (lambda x, p, q: np.exp(x), 0.0, 0.0),
    "log": (lambda x, p, q: np.log(np.abs(x)), 0.0, 0.0), "sqrt": (lambda x, p, q: np.sqrt(np.abs(x)), 0.0, 0.0),
    "clip": (lambda x, p, q: np.clip(x, p, q), -0.5, 0.25), "scale": (lambda x, p, q: x * p, 3.0, 0.0),
    "sign": (lambda x, p, q: np.sign(x), 0.0, 0.0),
    "inside": (lambda x, p, q: ((x >= p) & (x <= q)) * 1.0, -0.5, 0.25),
    "gelu": (lambda x, p, q: _gelu(x, False), 1.0, 0.0), "gelu_grad": (lambda x, p, q: _gelu(x, True), 1.0, 0.0),
}


@pytest.fixture(scope="module")
def k():
    return fastdnn.device("cuda")._kernels


def test_tables_cover_every_code():
    assert sorted(BINARY) == sorted(_codes.BINARY) and sorted(UNARY) == sorted(_codes.UNARY)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_code_selects_its_formula(k, name):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 5)).astype(np.float32)
    b = rng.standard_normal((1, 5)).astype(np.float32)
    b[0, 0] = a[0, 0]  # a tie, for the comparisons
    got = k.native.binary(_codes.BINARY[name], k.put(a), k.put(b)).numpy()
    np.testing.assert_allclose(got, BINARY[name](a.astype(np.float64), b.astype(np.float64)), rtol=RTOL)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_code_selects_its_formula(k, name):
    x = np.linspace(-2, 2, 41).astype(np.float32)
    if name in ("log", "sqrt"):
        x = np.abs(x) + np.float32(0.125)
    formula, p0, p1 = UNARY[name]
    got = k.native.unary(_codes.UNARY[name], k.put(x), p0, p1).numpy()
    np.testing.assert_allclose(got, formula(x.astype(np.float64), p0, p1), rtol=RTOL,
                               atol=1e-6 if name.startswith("gelu") else 0)
