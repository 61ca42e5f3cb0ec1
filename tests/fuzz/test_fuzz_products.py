"""Fuzzing of the products: ops.matmul, ops.dense (every activation, bias, out=,
return_preactivation) and the raw native entry point _C.gemm (out=, accumulate, bias,
activation codes, keep_preactivation), against float64 NumPy."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastdnn import _C, ops

from _tolerances import ACT_RTOL, gemm_atol
from fuzz_arrays import close as assert_close
from fuzz_arrays import drawn_kernel_path

# NaN, infinities and extreme values are fed on purpose: NumPy's RuntimeWarnings about them (in
# the references and in fastdnn's NumPy-backed ops) are expected.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
from fuzz_arrays import (BAD_DTYPES, OUT_KINDS, REAL_DTYPES, arrays, as_f32, contract, dims, fuzz,
                         make_out, native_input_problems, python_input_problems, shapes)
from reference import activation_lipschitz, activation_ref, gemm_ref, gemm_scale

ACTIVATIONS = [None, "linear", "relu", "leaky_relu", "elu", "selu", "sigmoid", "tanh"]
CODES = {None: 0, "linear": 0, "relu": 1, "leaky_relu": 2, "elu": 3, "selu": 4, "sigmoid": 5, "tanh": 6}


def _product_atol(a, b, ta, tb, c0):
    k = (a.shape[0] if ta else a.shape[1]) if a.ndim == 2 else 1
    scale = np.nan_to_num(gemm_scale(a, b, ta, tb, c0), nan=0.0, posinf=0.0)
    return gemm_atol(k, scale)


def _check_activation(y, z_ref, z_atol, act, kwargs, what):
    """y = act(z) where z is within z_atol of z_ref: allow the activation's slope times z's
    error plus its own float32 rounding."""
    y_ref = activation_ref(act, **kwargs)(z_ref)
    lip = activation_lipschitz(act, **kwargs)
    with np.errstate(invalid="ignore", over="ignore"):
        atol = lip * z_atol + ACT_RTOL * np.abs(np.nan_to_num(y_ref, posinf=0.0, neginf=0.0))
    assert_close(y, y_ref, atol, 0.0, what)


# ---- ops.matmul --------------------------------------------------------------------------------

@fuzz
@given(data=st.data(), m=dims(), k=dims(), n=dims(), ta=st.booleans(), tb=st.booleans(),
       k_off=st.sampled_from([0] * 8 + [1, -1]), accumulate=st.booleans(),
       out_kind=st.sampled_from(OUT_KINDS))
def test_matmul(data, m, k, n, ta, tb, k_off, accumulate, out_kind):
    with drawn_kernel_path(data):
        _run_matmul(data, m, k, n, ta, tb, k_off, accumulate, out_kind)


def _run_matmul(data, m, k, n, ta, tb, k_off, accumulate, out_kind):
    kb = max(k + k_off, 0)
    dtypes = REAL_DTYPES + BAD_DTYPES[:2] if data.draw(st.integers(0, 9)) == 0 else REAL_DTYPES
    a, _, _ = data.draw(arrays((k, m) if ta else (m, k), dtypes=dtypes), "a")
    b, _, _ = data.draw(arrays((n, kb) if tb else (kb, n), dtypes=dtypes), "b")
    out, problems = make_out(out_kind, (m, n), m * n)
    out0 = None if out is None else np.array(out, dtype=np.float64)
    problems = problems + python_input_problems(a, "a") + python_input_problems(b, "b")
    if kb != k:
        problems.append((ValueError, "b"))
    if accumulate and out is None:
        problems.append((ValueError, "out"))

    def check(c):
        a32, b32 = as_f32(a), as_f32(b)
        c0 = out0 if accumulate else None
        assert c.dtype == np.float32 and c.shape == (m, n)
        if out is not None:
            assert c is out
        assert_close(c, gemm_ref(a32, b32, ta, tb, c0), _product_atol(a32, b32, ta, tb, c0), 0.0, "matmul")

    contract(lambda: ops.matmul(a, b, transpose_a=ta, transpose_b=tb, out=out, accumulate=accumulate),
             problems, check)


# ---- _C.gemm, the raw entry point --------------------------------------------------------------

@fuzz
@given(data=st.data(), m=dims(), k=dims(), n=dims(), ta=st.booleans(), tb=st.booleans(),
       act=st.sampled_from(ACTIVATIONS[1:] + ["bad"]), accumulate=st.booleans(),
       use_bias=st.booleans(), keep_z=st.booleans(), out_kind=st.sampled_from(OUT_KINDS),
       alpha=st.sampled_from([0.0, 0.2, 1.0, 3.5]))
def test_native_gemm(data, m, k, n, ta, tb, act, accumulate, use_bias, keep_z, out_kind, alpha):
    with drawn_kernel_path(data):
        _run_native_gemm(data, m, k, n, ta, tb, act, accumulate, use_bias, keep_z, out_kind, alpha)


def _run_native_gemm(data, m, k, n, ta, tb, act, accumulate, use_bias, keep_z, out_kind, alpha):
    few = ("float32",) * 12 + ("float64", "float16", "int32")
    a, _, _ = data.draw(arrays((k, m) if ta else (m, k), dtypes=few), "a")
    b, _, _ = data.draw(arrays((n, k) if tb else (k, n), dtypes=few), "b")
    problems = native_input_problems(a, "a", 2) + native_input_problems(b, "b", 2)
    bias = None
    if use_bias:
        nb = data.draw(st.sampled_from([n] * 6 + [n + 1]), "bias size")
        bias, _, _ = data.draw(arrays((nb,), dtypes=few), "bias")
        problems += native_input_problems(bias, "bias", 1)
        if nb != n:
            problems.append((ValueError, "bias"))
    code = data.draw(st.sampled_from([-1, 7, 100])) if act == "bad" else CODES[act]
    if act == "bad":
        problems.append((ValueError, "activation"))
    if act in ("leaky_relu",) and alpha < 0:
        alpha = 0.2
    if act == "elu" and alpha <= 0:
        alpha = 1.0
    out, out_problems = make_out(out_kind, (m, n), m + n)
    problems += out_problems
    if accumulate and out is None:
        problems.append((ValueError, "out"))
    out0 = None if out is None else np.array(out, dtype=np.float64)

    def check(result):
        c, z = result
        assert isinstance(c, np.ndarray) and c.dtype == np.float32 and c.shape == (m, n)
        if out is not None:
            assert c is out
        a32, b32 = as_f32(a), as_f32(b)
        c0 = out0 if accumulate else None
        if bias is not None:
            c0 = (0 if c0 is None else c0) + as_f32(bias).astype(np.float64)
        c0 = None if c0 is None else np.broadcast_to(c0, (m, n))
        z_ref = gemm_ref(a32, b32, ta, tb, c0)
        z_atol = _product_atol(a32, b32, ta, tb, c0)
        if keep_z:
            assert_close(z, z_ref, z_atol, 0.0, "preactivation")
        else:
            assert z is None
        kwargs = {"alpha": alpha} if act in ("leaky_relu", "elu") else {}
        _check_activation(c, z_ref, z_atol, act, kwargs, f"gemm + {act}")

    contract(lambda: _C.gemm(a, b, ta, tb, out, accumulate, bias, code, alpha, keep_z), problems, check)


# ---- ops.dense ---------------------------------------------------------------------------------

def _softmax64(z):
    z = np.asarray(z, np.float64)
    if z.shape[-1] == 0:
        return z.copy()
    with np.errstate(invalid="ignore", over="ignore"):
        mx = np.max(np.where(np.isnan(z), -np.inf, z), axis=-1, keepdims=True)
        e = np.exp(z - mx)
        return e / e.sum(axis=-1, keepdims=True)


ACT_ARGS = st.one_of(
    st.just({}),
    st.fixed_dictionaries({"negative_slope": st.sampled_from([0.0, 0.01, 0.3, 2.0])}),
    st.fixed_dictionaries({"alpha": st.sampled_from([0.1, 1.0, 2.5])}),
    st.sampled_from([{"alpha": -1.0}, {"negative_slope": -0.5}, {"alpha": float("nan")},
                     {"alpha": "x"}, {"alpha": float("inf")}, {"alpha": np.ones(2)}, {"beta": 1.0}]),
)


def _activation_problems(act, kwargs):
    """What ops.dense must say about `activation` and its keyword arguments."""
    if act in (None, "linear", "relu", "selu", "sigmoid", "tanh", "softmax"):
        return [(TypeError, "activation")] if kwargs else []
    allowed = {"leaky_relu": {"negative_slope", "alpha"}, "elu": {"alpha"}}[act]
    if set(kwargs) - allowed:
        return [(TypeError, "activation")]
    problems = []
    for v in kwargs.values():
        if isinstance(v, str) or np.ndim(v) != 0:
            problems.append((TypeError, "alpha"))
        elif not np.isfinite(v) or v < 0 or (act == "elu" and v == 0):
            problems.append((ValueError, "alpha"))
    return problems


@fuzz
@given(data=st.data(), lead=shapes(1, 3, 7), k=dims(), n=dims(),
       act=st.sampled_from(ACTIVATIONS + ["softmax", "swish"]), act_args=ACT_ARGS,
       use_bias=st.booleans(), want_z=st.booleans(), out_kind=st.sampled_from(OUT_KINDS),
       k_off=st.sampled_from([0] * 8 + [1]))
def test_dense(data, lead, k, n, act, act_args, use_bias, want_z, out_kind, k_off):
    with drawn_kernel_path(data):
        _run_dense(data, lead, k, n, act, act_args, use_bias, want_z, out_kind, k_off)


def _run_dense(data, lead, k, n, act, act_args, use_bias, want_z, out_kind, k_off):
    dtypes = REAL_DTYPES + BAD_DTYPES if data.draw(st.integers(0, 9)) == 0 else REAL_DTYPES
    x, _, _ = data.draw(arrays(lead + (k,), dtypes=dtypes), "x")
    kernel, _, _ = data.draw(arrays((k + k_off, n), dtypes=dtypes), "kernel")
    bias = data.draw(arrays((n,), dtypes=dtypes), "bias")[0] if use_bias else None
    problems = python_input_problems(x, "x") + python_input_problems(kernel, "kernel")
    if bias is not None:
        problems += python_input_problems(bias, "bias")
    if act == "swish":
        problems.append((ValueError, "activation"))
    else:
        problems += _activation_problems(act, act_args)
    if k_off:
        problems.append((ValueError, "kernel"))
    shape = lead + (n,)
    out, out_problems = make_out(out_kind, shape, n)
    problems += out_problems

    def check(result):
        y, z = result if want_z else (result, None)
        x32, k32 = as_f32(x), as_f32(kernel)
        rows = int(np.prod(lead))
        x2 = x32.reshape(rows, k)
        c0 = None if bias is None else np.broadcast_to(as_f32(bias).astype(np.float64), (rows, n))
        z_ref = gemm_ref(x2, k32, c0=c0)
        z_atol = _product_atol(x2, k32, False, False, c0)
        assert y.dtype == np.float32 and y.shape == shape
        if out is not None:
            assert y is out
        if want_z:
            assert_close(z.reshape(rows, n), z_ref, z_atol, 0.0, "preactivation")
        y2 = y.reshape(rows, n)
        if act == "softmax":
            y_ref = _softmax64(z_ref)
            row_err = np.max(z_atol, axis=-1, keepdims=True) if n else 0.0
            with np.errstate(invalid="ignore"):
                atol = np.nan_to_num(y_ref) * (2 * row_err + ACT_RTOL) + 1e-30
            assert_close(y2, y_ref, atol, 0.0, "dense softmax")
        else:
            _check_activation(y2, z_ref, z_atol, act, act_args, f"dense {act}")

    contract(lambda: ops.dense(x, kernel, bias, act, out=out, return_preactivation=want_z, **act_args),
             problems, check)
