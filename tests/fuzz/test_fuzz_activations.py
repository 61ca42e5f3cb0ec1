"""Fuzzing of the activations and softmax: ops.relu/leaky_relu/elu/selu/sigmoid/tanh/gelu,
ops.softmax, and the raw native entry points _C.act_forward, _C.act_backward, _C.softmax and
_C.softmax_backward, against float64 NumPy."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastdnn import _C, ops

from _tolerances import ACT_RTOL, EPS32
from fuzz_arrays import close as assert_close
from fuzz_arrays import drawn_kernel_path

# NaN, infinities and extreme values are fed on purpose: NumPy's RuntimeWarnings about them (in
# the references and in fastdnn's NumPy-backed ops) are expected.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
from fuzz_arrays import (BAD_DTYPES, OUT_KINDS, REAL_DTYPES, arrays, as_f32, contract, fuzz, make_out,
                         native_input_problems, python_input_problems, shapes)
from reference import SELU_ALPHA, SELU_SCALE, activation_ref

NAMES = ["linear", "relu", "leaky_relu", "elu", "selu", "sigmoid", "tanh"]
CODES = {name: code for code, name in enumerate(NAMES)}
F32 = ("float32",) * 10 + ("float64", "int32")


def _act_atol(y_ref):
    with np.errstate(invalid="ignore"):
        return ACT_RTOL * np.abs(np.nan_to_num(y_ref, posinf=0.0, neginf=0.0)) + 1e-30


def _gelu64(x, approximate):
    x = np.asarray(x, np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        if approximate:
            c = math.sqrt(2 / math.pi)
            return 0.5 * x * (1 + np.tanh(c * (x + 0.044715 * x ** 3)))
        erf = np.vectorize(math.erf, otypes=[np.float64])
        return x * 0.5 * (1 + erf(x / math.sqrt(2))) if x.size else x.copy()


@fuzz
@given(data=st.data(), shape=shapes(0, 3), name=st.sampled_from(NAMES[1:] + ["gelu", "gelu_exact"]),
       param=st.sampled_from([None, 0.0, 0.01, 0.3, 1.0, 2.0, -1.0, float("nan")]))
def test_activation_ops(data, shape, name, param):
    with drawn_kernel_path(data):
        _run_activation_ops(data, shape, name, param)


def _run_activation_ops(data, shape, name, param):
    dtypes = REAL_DTYPES + BAD_DTYPES if data.draw(st.integers(0, 9)) == 0 else REAL_DTYPES
    x, _, _ = data.draw(arrays(shape, dtypes=dtypes), "x")
    problems = python_input_problems(x, "x")
    if name == "leaky_relu":
        slope = 0.2 if param is None else param
        call = lambda: ops.leaky_relu(x, negative_slope=slope)  # noqa: E731
        ref = lambda v: activation_ref("leaky_relu", negative_slope=slope)(v)  # noqa: E731
        if not slope >= 0:
            problems.append((ValueError, "negative_slope"))
    elif name == "elu":
        alpha = 1.0 if param is None else param
        call = lambda: ops.elu(x, alpha=alpha)  # noqa: E731
        ref = lambda v: activation_ref("elu", alpha=alpha)(v)  # noqa: E731
        if not alpha > 0:
            problems.append((ValueError, "alpha"))
    elif name.startswith("gelu"):
        approximate = name == "gelu"
        call = lambda: ops.gelu(x, approximate=approximate)  # noqa: E731
        ref = lambda v: _gelu64(v, approximate)  # noqa: E731
    else:
        call = getattr(ops, name).__call__
        call = (lambda f: lambda: f(x))(getattr(ops, name))
        ref = activation_ref(name)

    def check(y):
        y_ref = ref(as_f32(x))
        assert y.dtype == np.float32 and y.shape == np.shape(x)
        assert_close(y, y_ref, _act_atol(y_ref), 0.0, name)

    contract(call, problems, check)


@fuzz
@given(data=st.data(), shape=shapes(0, 3), name=st.sampled_from(NAMES + ["bad"]),
       alpha=st.sampled_from([0.0, 0.2, 1.0, 1.7]), out_kind=st.sampled_from(OUT_KINDS))
def test_native_act_forward(data, shape, name, alpha, out_kind):
    with drawn_kernel_path(data):
        _run_native_act_forward(data, shape, name, alpha, out_kind)


def _run_native_act_forward(data, shape, name, alpha, out_kind):
    x, _, _ = data.draw(arrays(shape, dtypes=F32), "x")
    problems = native_input_problems(x, "x")
    code = data.draw(st.sampled_from([-3, 7])) if name == "bad" else CODES[name]
    if name == "bad":
        problems.append((ValueError, "activation"))
    if name == "elu" and alpha == 0:
        alpha = 1.0
    out, out_problems = make_out(out_kind, shape)
    problems += out_problems

    def check(y):
        kwargs = {"alpha": alpha} if name in ("leaky_relu", "elu") else {}
        y_ref = activation_ref(name, **kwargs)(as_f32(x))
        if out is not None:
            assert y is out
        assert_close(y, y_ref, _act_atol(y_ref), 0.0, f"act_forward {name}")

    contract(lambda: _C.act_forward(x, code, alpha, out), problems, check)


def _act_grad64(name, alpha, y):
    """dact/dz expressed through the output y (csrc/activations/act_rule.h), float64."""
    y = np.asarray(y, np.float64)
    pos = y > 0
    if name == "linear":
        return np.ones_like(y)
    if name == "relu":
        return pos.astype(np.float64)
    if name == "leaky_relu":
        return np.where(pos, 1.0, alpha)
    if name == "elu":
        return np.where(pos, 1.0, y + alpha)
    if name == "selu":
        return np.where(pos, SELU_SCALE, y + SELU_SCALE * SELU_ALPHA)
    if name == "sigmoid":
        return y * (1.0 - y)
    return 1.0 - y * y


@fuzz
@given(data=st.data(), shape=shapes(0, 3), name=st.sampled_from(NAMES + ["bad"]),
       alpha=st.sampled_from([0.0, 0.2, 1.0, 1.7]), want_db=st.booleans(),
       mismatch=st.sampled_from([False] * 9 + [True]))
def test_native_act_backward(data, shape, name, alpha, want_db, mismatch):
    with drawn_kernel_path(data):
        _run_native_act_backward(data, shape, name, alpha, want_db, mismatch)


def _run_native_act_backward(data, shape, name, alpha, want_db, mismatch):
    y, _, _ = data.draw(arrays(shape, dtypes=F32), "y")
    dy, _, _ = data.draw(arrays(shape + (1,) if mismatch else shape, dtypes=F32), "dy")
    problems = native_input_problems(y, "y", min_ndim=1 if want_db else 0) + native_input_problems(dy, "dy")
    if mismatch:
        problems.append((ValueError, "dy"))
    code = data.draw(st.sampled_from([-1, 7])) if name == "bad" else CODES[name]
    if name == "bad":
        problems.append((ValueError, "activation"))

    def check(result):
        dx, db = result
        y64, dy64 = as_f32(y).astype(np.float64), as_f32(dy).astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            dx_ref = dy64 * _act_grad64(name, alpha, y64)
            ay = np.nan_to_num(np.abs(y64), posinf=0.0)
            # the derivative is rounded from y in float32 (1 - y·y, y + alpha, y·(1 - y)):
            # a few ulp of (1 + |y| + y² + alpha) times |dy|, then the product's own rounding
            atol = 8 * EPS32 * np.nan_to_num(np.abs(dy64), posinf=0.0) * (1 + ay + ay * ay + alpha + 2) \
                + ACT_RTOL * np.abs(np.nan_to_num(dx_ref, posinf=0.0, neginf=0.0)) + 1e-30
        assert dx.shape == np.shape(y) and dx.dtype == np.float32
        assert_close(dx, dx_ref, atol, 0.0, f"act_backward {name}")
        if want_db:
            rows, cols = math.prod(y64.shape[:-1]), y64.shape[-1]
            with np.errstate(invalid="ignore"):
                db_ref = dx_ref.reshape(rows, cols).sum(axis=0)
                db_atol = atol.reshape(rows, cols).sum(axis=0) + 4 * EPS32 * math.sqrt(max(rows, 1)) * \
                    np.nan_to_num(np.abs(dx_ref), posinf=0.0).reshape(rows, cols).sum(axis=0)
            assert_close(db, db_ref, db_atol, 0.0, f"act_backward {name} bias gradient")
        else:
            assert db is None

    contract(lambda: _C.act_backward(y, dy, code, alpha, want_db), problems, check)


def softmax64(x):
    x = np.asarray(x, np.float64)
    if x.shape[-1] == 0:
        return x.copy()
    with np.errstate(invalid="ignore", over="ignore"):
        mx = np.max(np.where(np.isnan(x), -np.inf, x), axis=-1, keepdims=True)
        e = np.exp(x - mx)
        return e / e.sum(axis=-1, keepdims=True)


def _softmax_atol(y_ref):
    with np.errstate(invalid="ignore"):
        return 4 * ACT_RTOL * np.nan_to_num(np.abs(y_ref)) + 1e-30


@fuzz
@given(data=st.data(), shape=shapes(0, 3), axis=st.sampled_from([-1, -1, -1, 0, 1, 2, None]),
       out_kind=st.sampled_from(OUT_KINDS))
def test_softmax(data, shape, axis, out_kind):
    with drawn_kernel_path(data):
        _run_softmax(data, shape, axis, out_kind)


def _run_softmax(data, shape, axis, out_kind):
    dtypes = REAL_DTYPES + BAD_DTYPES if data.draw(st.integers(0, 9)) == 0 else REAL_DTYPES
    x, _, _ = data.draw(arrays(shape, dtypes=dtypes), "x")
    problems = python_input_problems(x, "x")
    if len(shape) == 0:
        problems.append((ValueError, "x"))
    elif axis not in (-1, len(shape) - 1):
        problems.append((ValueError, "axis"))
    out, out_problems = make_out(out_kind, shape)
    problems += out_problems

    def check(y):
        y_ref = softmax64(as_f32(x))
        if out is not None:
            assert y is out
        assert_close(y, y_ref, _softmax_atol(y_ref), 0.0, "softmax")

    contract(lambda: ops.softmax(x, axis=axis, out=out), problems, check)


@fuzz
@given(data=st.data(), shape=shapes(0, 3), out_kind=st.sampled_from(OUT_KINDS),
       mismatch=st.sampled_from([False] * 9 + [True]))
def test_native_softmax_and_backward(data, shape, out_kind, mismatch):
    with drawn_kernel_path(data):
        _run_native_softmax_and_backward(data, shape, out_kind, mismatch)


def _run_native_softmax_and_backward(data, shape, out_kind, mismatch):
    x, _, _ = data.draw(arrays(shape, dtypes=F32), "x")
    problems = native_input_problems(x, "x", min_ndim=1)
    out, out_problems = make_out(out_kind, shape)

    def check(y):
        y_ref = softmax64(as_f32(x))
        assert_close(y, y_ref, _softmax_atol(y_ref), 0.0, "_C.softmax")

    contract(lambda: _C.softmax(x, out), problems + out_problems, check)

    y, _, _ = data.draw(arrays(shape, dtypes=F32, low=0.0, high=1.0, scale=False), "y")
    dy, _, _ = data.draw(arrays(shape + (2,) if mismatch else shape, dtypes=F32), "dy")
    problems = native_input_problems(y, "y", min_ndim=1) + native_input_problems(dy, "dy", min_ndim=1)
    if mismatch:
        problems.append((ValueError, "dy"))

    def check_backward(dx):
        y64, dy64 = as_f32(y).astype(np.float64), as_f32(dy).astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            dot = (y64 * dy64).sum(axis=-1, keepdims=True)
            dx_ref = y64 * (dy64 - dot)
            cols = y64.shape[-1] if y64.ndim else 1
            mag = np.nan_to_num(np.abs(y64 * dy64), posinf=0.0).sum(axis=-1, keepdims=True)
            atol = 4 * EPS32 * np.nan_to_num(np.abs(y64)) * (
                np.nan_to_num(np.abs(dy64), posinf=0.0) + math.sqrt(max(cols, 1)) * mag) + 1e-30
        assert_close(dx, dx_ref, atol, 0.0, "_C.softmax_backward")

    contract(lambda: _C.softmax_backward(y, dy), problems, check_backward)
