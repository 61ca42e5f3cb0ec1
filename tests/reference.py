"""float64 NumPy references of the formulas fastdnn implements (csrc/gemm/gemm.h,
csrc/activations/act_rule.h). Inputs are taken as given (float32 in the tests) and promoted to float64,
so the reference holds the exact result of the same float32 inputs to ~1e-16."""

import numpy as np

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805


def f64(x):
    return np.asarray(x, dtype=np.float64)


def gemm_ref(a, b, transpose_a=False, transpose_b=False, c0=None):
    """op(a) · op(b) (+ c0) in float64."""
    a = f64(a)
    b = f64(b)
    a = a.T if transpose_a else a
    b = b.T if transpose_b else b
    c = a @ b
    if c0 is not None:
        c = c + f64(c0)
    return c


def gemm_scale(a, b, transpose_a=False, transpose_b=False, c0=None):
    """Elementwise size of the partial sums a float32 product rounds (see _tolerances.py):
    ||(a_ik b_kj)_k||_2 + |(op(a)·op(b))_ij| (+ |c0_ij|, c0 broadcast: an accumulated `out` or
    a bias)."""
    a, b = f64(a), f64(b)
    s = np.sqrt(gemm_ref(a * a, b * b, transpose_a, transpose_b))
    s += np.abs(gemm_ref(a, b, transpose_a, transpose_b))
    if c0 is not None:
        s = s + np.abs(f64(c0))
    return s


# ---- activations, float64, NaN in -> NaN out ---------------------------------------------------

def identity(z):
    return f64(z)


def relu(z):
    return np.maximum(f64(z), 0.0)  # np.maximum propagates NaN


def leaky_relu(z, negative_slope=0.2):
    z = f64(z)
    return np.where(z > 0, z, negative_slope * z)


def elu(z, alpha=1.0):
    z = f64(z)
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0)))


def selu(z):
    return SELU_SCALE * elu(z, SELU_ALPHA)


def sigmoid(z):
    z = f64(z)
    e = np.exp(-np.abs(z))  # in (0, 1]: no overflow on either side
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def tanh(z):
    return np.tanh(f64(z))


def activation_ref(name, **kwargs):
    """The float64 function for fastdnn's activation `name` with its keyword arguments."""
    if name in (None, "linear", "identity"):
        return identity
    if name == "relu":
        return relu
    if name == "leaky_relu":
        slope = kwargs.get("alpha")
        if slope is None:
            slope = kwargs.get("negative_slope", 0.2)
        return lambda z: leaky_relu(z, slope)
    if name == "elu":
        alpha = kwargs.get("alpha", 1.0)
        return lambda z: elu(z, alpha)
    if name == "selu":
        return selu
    if name == "sigmoid":
        return sigmoid
    if name == "tanh":
        return tanh
    raise KeyError(name)


def activation_lipschitz(name, **kwargs):
    """Largest |f'(z)|: how much an error in z can grow through the activation."""
    if name == "leaky_relu":
        slope = kwargs.get("alpha")
        if slope is None:
            slope = kwargs.get("negative_slope", 0.2)
        return max(1.0, abs(slope))
    if name == "elu":
        return max(1.0, abs(kwargs.get("alpha", 1.0)))
    if name == "selu":
        return SELU_SCALE * SELU_ALPHA
    if name == "sigmoid":
        return 0.25
    return 1.0


def dense_ref(x, kernel, bias=None, activation=None, **kwargs):
    """(act(z), z) with z = x · kernel + bias, all in float64; x may have leading dimensions."""
    x = f64(x)
    z = x @ f64(kernel)
    if bias is not None:
        z = z + f64(bias)
    return activation_ref(activation, **kwargs)(z), z
