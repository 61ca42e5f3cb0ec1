"""Fuzzing of the layers: Dense (every built-in activation, with and without bias), the
activation layers, BatchNormalization (training and inference, moving statistics), Flatten and
Dropout in inference mode, called on inputs of random shapes, dtypes, layouts and values, and
called again with a mismatched feature count; against float64 NumPy."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastdnn import layers

from _tolerances import ACT_RTOL, EPS32, gemm_atol
from fuzz_arrays import BAD_DTYPES, REAL_DTYPES, arrays, as_f32, contract, dims, fuzz, python_input_problems, shapes
from fuzz_arrays import close as assert_close
from fuzz_arrays import drawn_kernel_path

# NaN, infinities and extreme values are fed on purpose: NumPy's RuntimeWarnings about them (in
# the references and in fastdnn's NumPy-backed ops) are expected.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
from reference import activation_lipschitz, activation_ref, gemm_ref, gemm_scale


def _dtypes(data):
    return REAL_DTYPES + BAD_DTYPES if data.draw(st.integers(0, 9)) == 0 else REAL_DTYPES


@fuzz
@given(data=st.data(), lead=shapes(1, 2, 7), k=dims(), units=st.integers(1, 40),
       act=st.sampled_from([None, "relu", "leaky_relu", "elu", "selu", "sigmoid", "tanh"]),
       use_bias=st.booleans(), k_again=st.sampled_from([0] * 4 + [1]))
def test_dense_layer(data, lead, k, units, act, use_bias, k_again):
    with drawn_kernel_path(data):
        _run_dense_layer(data, lead, k, units, act, use_bias, k_again)


def _run_dense_layer(data, lead, k, units, act, use_bias, k_again):
    x, _, _ = data.draw(arrays(lead + (k,), dtypes=_dtypes(data)), "x")
    layer = layers.Dense(units, activation=act, use_bias=use_bias,
                         bias_initializer="random_normal" if use_bias else "zeros")
    problems = python_input_problems(x, "inputs")

    def check(y):
        kernel = layer.kernel.numpy().astype(np.float64)
        bias = layer.bias.numpy().astype(np.float64) if use_bias else None
        rows = math.prod(lead)
        x2 = as_f32(x).astype(np.float64).reshape(rows, k)
        c0 = None if bias is None else np.broadcast_to(bias, (rows, units))
        z = gemm_ref(x2, kernel, c0=c0)
        with np.errstate(all="ignore"):
            z_atol = gemm_atol(k, np.nan_to_num(gemm_scale(x2, kernel, c0=c0), nan=0.0, posinf=0.0))
            y_ref = activation_ref(act)(z)
            atol = activation_lipschitz(act) * z_atol + ACT_RTOL * np.abs(np.nan_to_num(y_ref, posinf=0, neginf=0))
        assert y.shape == lead + (units,) and y.dtype == np.float32
        assert_close(y.reshape(rows, units), y_ref, atol, 0.0, f"Dense {act}")

    contract(lambda: layer(x), problems, check)
    if not problems and k_again:  # a built layer called with another feature count
        contract(lambda: layer(np.zeros(lead + (k + 1,), np.float32)), [(ValueError, "kernel")], None)


ACT_LAYERS = {
    "ReLU": (lambda: layers.ReLU(), activation_ref("relu")),
    "ReLU(max_value, slope, threshold)": (
        lambda: layers.ReLU(max_value=2.5, negative_slope=0.1, threshold=0.5),
        lambda x: np.minimum(np.where(x >= 0.5, x, 0.1 * (x - 0.5)), 2.5)),
    "LeakyReLU": (lambda: layers.LeakyReLU(negative_slope=0.3), activation_ref("leaky_relu", negative_slope=0.3)),
    "ELU": (lambda: layers.ELU(alpha=0.7), activation_ref("elu", alpha=0.7)),
    "RReLU": (lambda: layers.RReLU(), activation_ref("leaky_relu", negative_slope=(1 / 8 + 1 / 3) / 2)),
    "Softmax": (lambda: layers.Softmax(), None),
    "Activation(tanh)": (lambda: layers.Activation("tanh"), activation_ref("tanh")),
    "Activation(sigmoid)": (lambda: layers.Activation("sigmoid"), activation_ref("sigmoid")),
    "Activation(selu)": (lambda: layers.Activation("selu"), activation_ref("selu")),
    "Flatten": (lambda: layers.Flatten(), None),
    "Dropout(inference)": (lambda: layers.Dropout(0.4), lambda x: x),
}


def _softmax64(x):
    if x.shape[-1] == 0:
        return x.copy()
    with np.errstate(all="ignore"):
        mx = np.max(np.where(np.isnan(x), -np.inf, x), axis=-1, keepdims=True)
        e = np.exp(x - mx)
        return e / e.sum(axis=-1, keepdims=True)


@fuzz
@given(data=st.data(), shape=shapes(1, 4), name=st.sampled_from(sorted(ACT_LAYERS)))
def test_elementwise_layers(data, shape, name):
    x, _, _ = data.draw(arrays(shape, dtypes=_dtypes(data)), "x")
    make, ref = ACT_LAYERS[name]
    layer = make()
    problems = python_input_problems(x, "inputs")

    def check(y):
        x64 = as_f32(x).astype(np.float64)
        if name == "Flatten":
            y_ref = x64.reshape(shape[0], math.prod(shape[1:]))
        elif name == "Softmax":
            y_ref = _softmax64(x64)
        else:
            y_ref = ref(x64)
        assert y.dtype == np.float32
        rtol = 4 * ACT_RTOL if name == "Softmax" else ACT_RTOL
        with np.errstate(invalid="ignore"):
            atol = rtol * np.abs(np.nan_to_num(y_ref, posinf=0, neginf=0)) + 1e-30
        assert_close(y, y_ref, atol, 0.0, name)

    kwargs = {"training": False} if name in ("Dropout(inference)", "RReLU") else {}
    contract(lambda: layer(x, **kwargs), problems, check)


@fuzz
@given(data=st.data(), shape=shapes(1, 3, 40), training=st.booleans(), center=st.booleans(), scale=st.booleans(),
       momentum=st.sampled_from([0.99, 0.5, 0.0]), epsilon=st.sampled_from([1e-3, 1e-5]),
       features_again=st.sampled_from([0] * 4 + [1]))
def test_batch_normalization(data, shape, training, center, scale, momentum, epsilon, features_again):
    with drawn_kernel_path(data):
        _run_batch_normalization(data, shape, training, center, scale, momentum, epsilon, features_again)


def _run_batch_normalization(data, shape, training, center, scale, momentum, epsilon, features_again):
    x, _, _ = data.draw(arrays(shape, dtypes=_dtypes(data)), "x")
    bn = layers.BatchNormalization(momentum=momentum, epsilon=epsilon, center=center, scale=scale,
                                   gamma_initializer="random_uniform", beta_initializer="random_normal",
                                   moving_mean_initializer="random_normal", moving_variance_initializer="ones")
    problems = python_input_problems(x, "inputs")
    cols = shape[-1]
    state = {}

    def call():
        bn.build(shape)
        state["mm"] = bn.moving_mean.numpy().astype(np.float64)
        state["mv"] = bn.moving_variance.numpy().astype(np.float64)
        return bn(x, training=training)

    def check(y):
        x64 = as_f32(x).astype(np.float64).reshape(math.prod(shape[:-1]), cols)
        rows = x64.shape[0]
        g = bn.gamma.numpy().astype(np.float64) if scale else np.ones(cols)
        b = bn.beta.numpy().astype(np.float64) if center else np.zeros(cols)
        with np.errstate(all="ignore"):
            amax = np.nan_to_num(np.abs(x64), posinf=0.0).max(axis=0) if rows else np.zeros(cols)
            if training:
                m = x64.mean(axis=0) if rows else np.zeros(cols)
                v = ((x64 - m) ** 2).mean(axis=0) if rows else np.zeros(cols)
            else:
                m, v = state["mm"], state["mv"]
            inv = 1.0 / np.sqrt(v + epsilon)
            y_ref = (x64 - m) * inv * g + b
            atol = 16 * EPS32 * math.sqrt(rows + 1) * np.nan_to_num(
                np.abs(g) * inv * (np.abs(x64 - m) + amax + np.abs(m)) + np.abs(b), posinf=0.0) + 1e-30
        assert y.shape == shape and y.dtype == np.float32
        assert_close(y.reshape(rows, cols), y_ref, atol, 0.0, "BatchNormalization")
        if training and rows:
            stat_atol = 8 * EPS32 * math.sqrt(rows + 1) * (amax + amax * amax + np.abs(state["mm"]) + 1) + 1e-30
            assert_close(bn.moving_mean.numpy(), state["mm"] * momentum + m * (1 - momentum), stat_atol, 0.0,
                         "moving mean")
            assert_close(bn.moving_variance.numpy(), state["mv"] * momentum + v * (1 - momentum), stat_atol,
                         0.0, "moving variance")
        else:  # inference, or an empty batch: the moving statistics stay as they were
            np.testing.assert_array_equal(bn.moving_mean.numpy(), state["mm"].astype(np.float32))

    contract(call, problems, check)
    if not problems and features_again:
        contract(lambda: bn(np.zeros(shape[:-1] + (cols + 1,), np.float32), training=training),
                 [(ValueError, "inputs")], None)
