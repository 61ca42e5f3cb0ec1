"""Fuzzing of the element-wise ops, reductions and shape ops of fastdnn.ops (add, subtract,
multiply, divide, maximum, minimum, negative, square, abs, exp, log, sqrt, clip, where, sum, mean,
reshape, flatten) against the same formulas in float64 NumPy."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastdnn import ops

from _tolerances import ELEMENTWISE_RTOL, EPS32
from fuzz_arrays import BAD_DTYPES, REAL_DTYPES, arrays, as_f32, contract, fuzz, python_input_problems, shapes
from fuzz_arrays import close as assert_close

# NaN, infinities and extreme values are fed on purpose: NumPy's RuntimeWarnings about them (in
# the references and in fastdnn's NumPy-backed ops) are expected.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

TINY = float(np.finfo(np.float32).tiny)  # results below this are float32 subnormals or zero


def _broadcast_partner(data, shape):
    """A shape that broadcasts with `shape` (dims dropped or set to 1), or now and then not."""
    if data.draw(st.integers(0, 9)) == 0 and shape and shape[-1] != 1:
        return shape[:-1] + (shape[-1] + 2,), False
    keep = data.draw(st.integers(0, len(shape)))
    tail = list(shape[len(shape) - keep:])
    for i in range(len(tail)):
        if data.draw(st.booleans()):
            tail[i] = 1
    return tuple(tail), True


BINARY = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide,
          "maximum": np.maximum, "minimum": np.minimum}
UNARY = {"negative": np.negative, "square": np.square, "abs": np.abs, "exp": np.exp, "log": np.log,
         "sqrt": np.sqrt}


def _dtypes(data):
    return REAL_DTYPES + BAD_DTYPES if data.draw(st.integers(0, 9)) == 0 else REAL_DTYPES


@fuzz
@given(data=st.data(), shape=shapes(0, 3), name=st.sampled_from(sorted(BINARY)), swap=st.booleans())
def test_binary(data, shape, name, swap):
    other, ok = _broadcast_partner(data, shape)
    a, _, _ = data.draw(arrays(shape, dtypes=_dtypes(data)), "a")
    b, _, _ = data.draw(arrays(other, dtypes=_dtypes(data)), "b")
    if swap:
        a, b = b, a
    problems = python_input_problems(a, "a") + python_input_problems(b, "b")
    if not ok:
        problems.append((ValueError, "b"))

    def check(y):
        with np.errstate(all="ignore"):
            ref = BINARY[name](as_f32(a).astype(np.float64), as_f32(b).astype(np.float64))
        assert y.dtype == np.float32
        assert_close(y, ref, TINY, ELEMENTWISE_RTOL, name)

    contract(lambda: getattr(ops, name)(a, b), problems, check)


@fuzz
@given(data=st.data(), shape=shapes(0, 3), name=st.sampled_from(sorted(UNARY)))
def test_unary(data, shape, name):
    x, _, _ = data.draw(arrays(shape, dtypes=_dtypes(data)), "x")
    problems = python_input_problems(x, "x")

    def check(y):
        with np.errstate(all="ignore"):
            ref = UNARY[name](as_f32(x).astype(np.float64))
        assert y.dtype == np.float32 and y.shape == np.shape(x)
        assert_close(y, ref, TINY, ELEMENTWISE_RTOL, name)

    contract(lambda: getattr(ops, name)(x), problems, check)


@fuzz
@given(data=st.data(), shape=shapes(0, 3),
       lo=st.sampled_from([-1.0, 0.0, 0.5, -np.inf, np.nan, 2.0]), hi=st.sampled_from([1.0, 0.25, np.inf, 3.0]))
def test_clip(data, shape, lo, hi):
    x, _, _ = data.draw(arrays(shape, dtypes=_dtypes(data)), "x")

    def check(y):
        with np.errstate(all="ignore"):
            ref = np.clip(as_f32(x).astype(np.float64), lo, hi)
        assert_close(y, ref, TINY, ELEMENTWISE_RTOL, "clip")

    contract(lambda: ops.clip(x, lo, hi), python_input_problems(x, "x"), check)


@fuzz
@given(data=st.data(), shape=shapes(0, 3))
def test_where(data, shape):
    other, ok = _broadcast_partner(data, shape)
    cond, _, _ = data.draw(arrays(shape, dtypes=REAL_DTYPES), "condition")
    a, _, _ = data.draw(arrays(other, dtypes=_dtypes(data)), "a")
    b, _, _ = data.draw(arrays(shape, dtypes=_dtypes(data)), "b")
    problems = python_input_problems(a, "a") + python_input_problems(b, "b")
    if not ok:
        problems.append((ValueError, "a"))

    def check(y):
        ref = np.where(np.asarray(cond, dtype=bool), as_f32(a).astype(np.float64), as_f32(b).astype(np.float64))
        assert_close(y, ref, 0.0, 0.0, "where")

    contract(lambda: ops.where(cond, a, b), problems, check)


@fuzz
@given(data=st.data(), shape=shapes(0, 4), which=st.sampled_from(["sum", "mean"]), keepdims=st.booleans())
def test_reductions(data, shape, which, keepdims):
    x, _, _ = data.draw(arrays(shape, dtypes=_dtypes(data)), "x")
    nd = len(shape)
    axis = data.draw(st.one_of(st.none(), st.integers(-nd - 1, nd),
                               st.lists(st.integers(0, max(nd - 1, 0)), min_size=1, max_size=2, unique=True)
                               .map(tuple)), "axis")
    problems = python_input_problems(x, "x")
    try:  # the axes NumPy accepts (a 0-d array takes axis 0 or -1)
        np.add.reduce(np.zeros(shape), axis=axis)
    except ValueError:
        problems.append((ValueError, "axis"))

    def check(y):
        x64 = as_f32(x).astype(np.float64)
        with np.errstate(all="ignore"):
            ref = np.add.reduce(x64, axis=axis, keepdims=keepdims)
            count = x64.size // max(np.size(ref), 1)
            if which == "mean":  # (np.mean itself refuses axis=0 on a 0-d array)
                ref = ref / count if count else np.full_like(ref, np.nan)
            # a float64 sum rounded once to float32, plus float64 summation error
            atol = (EPS32 + 1e-15 * count) * np.nan_to_num(
                np.sum(np.abs(x64), axis=axis, keepdims=keepdims) / (max(count, 1) if which == "mean" else 1),
                posinf=0.0) + TINY
        assert y.dtype == np.float32
        assert_close(y, ref, atol, 0.0, which)

    contract(lambda: getattr(ops, which)(x, axis=axis, keepdims=keepdims), problems, check)


@fuzz
@given(data=st.data(), shape=shapes(0, 4), op=st.sampled_from(["reshape", "flatten"]))
def test_reshape_flatten(data, shape, op):
    x, _, _ = data.draw(arrays(shape, dtypes=_dtypes(data)), "x")
    problems = python_input_problems(x, "x")
    size = math.prod(shape)
    if op == "reshape":
        target = data.draw(st.sampled_from([(size,), (-1,), (1, size), (size, 1), (-1, 1), (size + 1,), (2, -1)]))
        if (size + 1,) == target or (target == (2, -1) and size % 2):
            problems.append((ValueError, "shape"))
        ref_shape = target
        call = lambda: ops.reshape(x, target)  # noqa: E731
    else:
        ref_shape = (shape[0], math.prod(shape[1:])) if shape else (1, 1)
        call = lambda: ops.flatten(x)  # noqa: E731

    def check(y):
        ref = as_f32(x).reshape(ref_shape)
        assert y.dtype == np.float32 and y.shape == ref.shape
        assert_close(y, ref.astype(np.float64), 0.0, 0.0, op)

    contract(call, problems, check)
