"""GELU and its derivative in float64 (rounded to float32 once), for the CPU backend."""

import math

import numpy as np

_C_TANH = math.sqrt(2 / math.pi)


def _tanh_part(x64):
    return np.tanh(_C_TANH * (x64 + 0.044715 * x64 ** 3))


def gelu(x, approximate):
    """x·Φ(x), or 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))) with `approximate`."""
    x64 = np.asarray(x).astype(np.float64)
    if approximate:
        y = 0.5 * x64 * (1 + _tanh_part(x64))
    else:
        y = x64 * (0.5 * (1 + erf(x64 / math.sqrt(2))))
    return y.astype(np.float32)


def gelu_grad(x, approximate):
    """d gelu(x) / dx."""
    x64 = np.asarray(x).astype(np.float64)
    if approximate:
        t = _tanh_part(x64)
        d = 0.5 * (1 + t) + 0.5 * x64 * (1 - t * t) * _C_TANH * (1 + 3 * 0.044715 * x64 ** 2)
    else:
        cdf = 0.5 * (1 + erf(x64 / math.sqrt(2)))
        d = cdf + x64 * np.exp(-0.5 * x64 * x64) / math.sqrt(2 * math.pi)
    return d.astype(np.float32)


def erf(z):
    """erf in float64 to ~1e-15 via the complementary error function's continued fraction-free
    Chebyshev fit of Numerical Recipes (erfc = t·exp(-z² + P(t)))."""
    a = np.abs(z)
    t = 2.0 / (2.0 + a)
    ty = 4.0 * t - 2.0
    coefs = [-1.3026537197817094, 6.4196979235649026e-1, 1.9476473204185836e-2, -9.561514786808631e-3,
             -9.46595344482036e-4, 3.66839497852761e-4, 4.2523324806907e-5, -2.0278578112534e-5,
             -1.624290004647e-6, 1.303655835580e-6, 1.5626441722e-8, -8.5238095915e-8,
             6.529054439e-9, 5.059343495e-9, -9.91364156e-10, -2.27365122e-10, 9.6467911e-11,
             2.394038e-12, -6.886027e-12, 8.94487e-13, 3.13092e-13, -1.12708e-13, 3.81e-16,
             7.106e-15, -1.523e-15, -9.4e-17, 1.21e-16, -2.8e-17]
    d = dd = 0.0
    for c in reversed(coefs[1:]):
        d, dd = ty * d - dd + c, d
    erfc = t * np.exp(-a * a + 0.5 * (coefs[0] + ty * d) - dd)
    return np.sign(z) * (1.0 - erfc)
