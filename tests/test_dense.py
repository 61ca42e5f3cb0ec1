"""fastdnn.ops.dense = act(x · kernel + bias) against the float64 reference, for every activation,
kernel path and thread count; pre-activations from -30 to 30 and near 0."""

import numpy as np
import pytest

from fastdnn import ops

from _tolerances import ACT_ATOL, ACT_RTOL, gemm_atol
from activations import ACTIVATION_IDS, ACTIVATIONS
from conftest import assert_close
from reference import activation_lipschitz, activation_ref, dense_ref, gemm_scale

N_IDENT = 53  # K == N; not a multiple of 8 or 16, so the epilogue's masked tail runs too

parametrize_activation = pytest.mark.parametrize("activation,kwargs", ACTIVATIONS,
                                                 ids=ACTIVATION_IDS)


def through_identity(values, rng):
    """Lays `values` out as x of shape (M, N_IDENT) with kernel = I, so that z == x exactly: each
    z_ij is x_ij * 1 plus exact zeros. This isolates the activation from GEMM rounding."""
    values = np.asarray(values, np.float32)
    pad = (-values.size) % N_IDENT
    values = np.concatenate([values, np.zeros(pad, np.float32)])
    x = rng.permutation(values).reshape(-1, N_IDENT)
    return x, np.eye(N_IDENT, dtype=np.float32)


def check_activation_of(values, activation, kwargs, rng):
    x, kernel = through_identity(values, rng)
    y, z = ops.dense(x, kernel, activation=activation, return_preactivation=True, **kwargs)
    np.testing.assert_array_equal(z, x)  # the identity kernel really gives z == x
    assert_close(y, activation_ref(activation, **kwargs)(x), ACT_ATOL, ACT_RTOL,
                 what=f"{activation}{kwargs}(z)")


@parametrize_activation
def test_activation_over_wide_range(activation, kwargs, isa, threads, rng):
    values = np.concatenate([np.linspace(-30, 30, 1201), rng.uniform(-30, 30, 1000),
                             [0.0, -0.0, 1.0, -1.0]])
    check_activation_of(values, activation, kwargs, rng)


@parametrize_activation
def test_activation_near_zero_has_small_relative_error(activation, kwargs, isa, threads, rng):
    """Where exp(z) - 1 and 1 - exp(-2|z|) cancel; includes the fast kernels' switch points
    between series and exp (-0.25 for expm1, |z| = 0.2 for tanh)."""
    tiny = np.logspace(-7, -3, 200)
    small = np.logspace(-3, 0, 200)
    edges = np.array([0.2, 0.25, 0.19999, 0.20001, 0.24999, 0.25001])
    mags = np.concatenate([tiny, small, edges, rng.uniform(0, 1e-3, 200)])
    check_activation_of(np.concatenate([mags, -mags]), activation, kwargs, rng)


# (M, K, N): several register tiles each way and masked tail columns; then K over several of the
# kernels' K blocks (the epilogue must run once, after the last) and N over two N blocks.
DENSE_SHAPES = [(67, 40, 75), (21, 600, 1000)]


@pytest.mark.parametrize("shape", DENSE_SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "nobias"])
@parametrize_activation
def test_dense_matches_reference(activation, kwargs, with_bias, shape, isa, threads, rng):
    m, k, n = shape
    x = rng.uniform(-1, 1, (m, k)).astype(np.float32)
    # z spans about [-35, 35] whatever K
    kernel = (5 * np.sqrt(40 / k) * rng.uniform(-1, 1, (k, n))).astype(np.float32)
    bias = rng.uniform(-3, 3, n).astype(np.float32) if with_bias else None

    y, z = ops.dense(x, kernel, bias, activation, return_preactivation=True, **kwargs)
    assert y.shape == z.shape == (m, n) and y.dtype == z.dtype == np.float32

    y_ref, z_ref = dense_ref(x, kernel, bias, activation, **kwargs)
    assert np.abs(z_ref).max() > 25  # the range the test claims to cover
    z_atol = gemm_atol(k + 1, gemm_scale(x, kernel, c0=bias))
    assert_close(z, z_ref, z_atol, what="pre-activation z")
    # The activation applied to fastdnn's own z: activation accuracy alone.
    f = activation_ref(activation, **kwargs)
    assert_close(y, f(z), ACT_ATOL, ACT_RTOL, what="y vs act(z)")
    # End to end: z's rounding grows by at most the activation's slope.
    L = activation_lipschitz(activation, **kwargs)
    assert_close(y, y_ref, L * z_atol, ACT_RTOL, what="y vs act(x @ kernel + bias)")

    # Asking for z does not change y.
    y_only = ops.dense(x, kernel, bias, activation, **kwargs)
    np.testing.assert_array_equal(y_only, y)


@parametrize_activation
def test_nonfinite_preactivation(activation, kwargs, isa, threads, rng):
    """NaN in z gives NaN out; +-inf give the activation's IEEE limit (relu(-inf) = 0,
    sigmoid(-inf) = 0, tanh(+-inf) = +-1, elu(-inf) = -alpha, ...)."""
    x = rng.uniform(-1, 1, (30, 20)).astype(np.float32)
    kernel = rng.uniform(-1, 1, (20, 40)).astype(np.float32)
    bias = rng.uniform(-1, 1, 40).astype(np.float32)
    bias[[3, 17, 39]] = np.nan  # 39: the masked tail
    bias[[5, 33]] = np.inf
    bias[[8, 34]] = -np.inf
    x[7, 2] = np.nan  # the whole of row 7 of z is NaN

    y, z = ops.dense(x, kernel, bias, activation, return_preactivation=True, **kwargs)
    assert np.isnan(z[:, [3, 17, 39]]).all() and np.isnan(z[7]).all()
    assert (z[:, [5, 33]][np.arange(30) != 7] == np.inf).all()
    assert np.isnan(y[:, [3, 17, 39]]).all(), "NaN pre-activation must give NaN"
    assert np.isnan(y[7]).all(), "NaN pre-activation must give NaN"
    f = activation_ref(activation, **kwargs)
    assert_close(y, f(z), ACT_ATOL, ACT_RTOL, what="act(z) with NaN/inf in z")


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@parametrize_activation
def test_single_nonfinite_value_through_identity(value, activation, kwargs, isa):
    x = np.zeros((1, 1), np.float32) + np.float32(value)
    y = ops.dense(x, np.ones((1, 1), np.float32), activation=activation, **kwargs)
    assert_close(y, activation_ref(activation, **kwargs)(x), ACT_ATOL, ACT_RTOL)


@parametrize_activation
def test_zero_depth_gives_activation_of_bias(activation, kwargs, isa, threads, rng):
    """K = 0: z is the bias broadcast over the rows."""
    bias = rng.uniform(-3, 3, 37).astype(np.float32)
    y, z = ops.dense(np.zeros((19, 0), np.float32), np.zeros((0, 37), np.float32), bias,
                     activation, return_preactivation=True, **kwargs)
    np.testing.assert_array_equal(z, np.broadcast_to(bias, (19, 37)))
    assert_close(y, activation_ref(activation, **kwargs)(z), ACT_ATOL, ACT_RTOL)


def test_zero_depth_with_leading_dimensions():
    y = ops.dense(np.zeros((2, 3, 0), np.float32), np.zeros((0, 4), np.float32),
                  np.ones(4, np.float32), "relu")
    np.testing.assert_array_equal(y, np.ones((2, 3, 4), np.float32))


def test_no_rows(isa):
    y, z = ops.dense(np.zeros((0, 5)), np.ones((5, 3)), np.ones(3), "elu",
                     return_preactivation=True)
    assert y.shape == z.shape == (0, 3)


@pytest.mark.parametrize("lead", [(2, 3), (2, 1, 4), (1,)], ids=["3d", "4d", "2d"])
def test_leading_dimensions_are_kept(lead, isa, threads, rng):
    k, n = 11, 9
    x = rng.uniform(-2, 2, lead + (k,)).astype(np.float32)
    kernel = rng.uniform(-1, 1, (k, n)).astype(np.float32)
    bias = rng.uniform(-1, 1, n).astype(np.float32)
    y, z = ops.dense(x, kernel, bias, "tanh", return_preactivation=True)
    assert y.shape == z.shape == lead + (n,)
    flat_y, flat_z = ops.dense(x.reshape(-1, k), kernel, bias, "tanh", return_preactivation=True)
    np.testing.assert_array_equal(y.reshape(-1, n), flat_y)
    np.testing.assert_array_equal(z.reshape(-1, n), flat_z)
    y_ref, _ = dense_ref(x, kernel, bias, "tanh")
    assert_close(y, y_ref, gemm_atol(k + 1, gemm_scale(x, kernel, c0=bias)), ACT_RTOL)

    out = np.full(lead + (n,), np.nan, np.float32)
    assert ops.dense(x, kernel, bias, "tanh", out=out) is out
    np.testing.assert_array_equal(out, y)
    y2, z2 = ops.dense(x, kernel, bias, "tanh", out=out, return_preactivation=True)
    assert y2 is out and z2.shape == lead + (n,)


def test_out_is_returned_and_overwritten(isa, threads, rng):
    x = rng.uniform(-1, 1, (20, 30)).astype(np.float32)
    kernel = rng.uniform(-1, 1, (30, 40)).astype(np.float32)
    out = np.full((20, 40), np.nan, np.float32)
    assert ops.dense(x, kernel, np.zeros(40), "relu", out=out) is out
    np.testing.assert_array_equal(out, ops.dense(x, kernel, np.zeros(40), "relu"))


@pytest.mark.parametrize("activation", [None, "linear", "identity"])
def test_linear_dense_without_bias_is_matmul(activation, isa, threads, rng):
    x = rng.uniform(-1, 1, (45, 33)).astype(np.float32)
    kernel = rng.uniform(-1, 1, (33, 50)).astype(np.float32)
    np.testing.assert_array_equal(ops.dense(x, kernel, activation=activation),
                                  ops.matmul(x, kernel))


def test_inputs_of_other_dtypes_are_converted(rng):
    x = rng.uniform(-1, 1, (6, 5))
    kernel = rng.uniform(-1, 1, (5, 4))
    bias = [0.5, -0.5, 1.0, 0.0]
    y = ops.dense(x.tolist(), kernel, bias, "sigmoid")
    expected = ops.dense(x.astype(np.float32), kernel.astype(np.float32),
                         np.asarray(bias, np.float32), "sigmoid")
    np.testing.assert_array_equal(y, expected)
