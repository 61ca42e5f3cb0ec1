"""Hypothesis strategies and the contract checks the fuzz tests share.

Every fuzzed call must either return what the float64 NumPy reference of the same formula returns
(computed from the float32 values fastdnn works on) or raise TypeError/ValueError with a message
that names the problem. Arrays are drawn as (shape, dtype, memory layout, value scale, special
values): hypothesis picks those, a seeded NumPy generator fills the values, which keeps each
example cheap enough for thousands of cases per op family.

The example count comes from the environment: FASTDNN_FUZZ_EXAMPLES (default 300 per test, which
keeps the whole fuzz suite within about a minute on two cores). Examples are derandomized, so CI
runs the same cases every time.
"""

import contextlib
import os
import re

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FUZZ_EXAMPLES = int(os.environ.get("FASTDNN_FUZZ_EXAMPLES", "300"))

fuzz = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
)

FLOAT_DTYPES = ("float16", "float32", "float64")
INT_DTYPES = ("int8", "uint8", "int32", "int64")
REAL_DTYPES = FLOAT_DTYPES + INT_DTYPES + ("bool",)
BAD_DTYPES = ("complex64", "complex128", "object", "<U3")
LAYOUTS = ("c", "c", "c", "fortran", "strided", "reversed", "readonly", "list")


def dims(max_side=9):
    """One dimension: mostly small, sometimes zero, sometimes past a SIMD tile (17, 33, 49, 65)."""
    return st.one_of(st.integers(0, max_side), st.sampled_from([1, 17, 33, 49, 65]))


def shapes(min_ndim=0, max_ndim=3, max_side=9):
    return st.lists(dims(max_side), min_size=min_ndim, max_size=max_ndim).map(tuple)


def with_layout(base, layout):
    """`base`'s values in another memory layout (same shape and dtype), or as nested lists."""
    if layout == "fortran" and base.ndim:  # (np.asfortranarray makes 0-d arrays 1-d)
        return np.asfortranarray(base)
    if layout == "strided" and base.ndim:
        wide = np.repeat(base, 2, axis=-1)
        return wide[..., ::2]
    if layout == "reversed" and base.ndim:
        return base[::-1].copy()[::-1]
    if layout == "readonly":
        ro = base.copy()
        ro.setflags(write=False)
        return ro
    if layout == "list" and base.dtype != object and np.shape(base.tolist()) == base.shape:
        return base.tolist()  # (a list of an empty batch would lose its trailing dimensions)
    return base


@st.composite
def values(draw, shape, *, low=-4.0, high=4.0, special=True, scale=True):
    """A float64 array of `shape`: uniform in [low, high]·s for a drawn scale s, with NaN/±inf
    sprinkled in when `special`."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    s = draw(st.sampled_from([1.0, 1.0, 1e-3, 30.0])) if scale else 1.0
    v = np.asarray(rng.uniform(low, high, shape) * s, dtype=np.float64)
    if special and draw(st.booleans()) and v.size:
        which = draw(st.sampled_from(["nan", "inf", "-inf", "mixed"]))
        mask = np.asarray(rng.random(shape)) < draw(st.sampled_from([0.05, 0.3]))
        fill = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}.get(which)
        if fill is None:
            fill = np.asarray(rng.choice([np.nan, np.inf, -np.inf], size=shape))
            v[mask] = fill[mask]
        else:
            v[mask] = fill
    return v


def cast(v, dtype):
    """`v` as `dtype` (integers and booleans by rounding; complex gets an imaginary part so the
    input really is complex; object keeps Python floats)."""
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        v = np.nan_to_num(v, nan=0.0, posinf=info.max, neginf=info.min)
        return np.clip(np.round(v), info.min, info.max).astype(dtype)
    if dtype.kind == "b":
        return np.nan_to_num(v) > 0
    if dtype.kind == "c":
        return (v + 1j).astype(dtype)
    if dtype.kind == "U":
        return v.astype(str).astype(dtype)
    return v.astype(dtype)


@st.composite
def arrays(draw, shape, *, dtypes=REAL_DTYPES, layouts=LAYOUTS, **value_args):
    """(array-like, dtype name, layout): values of `shape` in a drawn dtype and layout."""
    dtype = draw(st.sampled_from(dtypes))
    layout = draw(st.sampled_from(layouts))
    base = cast(draw(values(shape, **value_args)), dtype)
    return with_layout(base, layout), dtype, layout


def as_f32(x):
    """What fastdnn computes on: the input converted to float32 (as Keras casts its inputs)."""
    return np.asarray(np.asarray(x), dtype=np.float32)


def is_real(dtype):
    return np.dtype(dtype).kind in "biuf"


class Rejected(Exception):
    """Raised by `outcome` when fastdnn rejected the input with a clear error."""


# Words of a message that says what was received or expected (NumPy's own shape errors name the
# shapes: "could not be broadcast together with shapes (2,3) (2,4)", "cannot reshape array of
# size 6 into shape (4,2)", "axis 5 is out of bounds for array of dimension 2").
# pybind11's own TypeError for an argument of the wrong Python type lists the accepted types and
# the arguments received ("incompatible function arguments ... Invoked with: ...").
_MESSAGE_WORDS = re.compile(r"Received|received|[Ee]xpected|[Ee]xpects|with shapes|into shape|"
                            r"out of bounds|Invoked with", re.ASCII)


def check_error(err, *names):
    """Asserts a TypeError/ValueError message is helpful: it mentions one of `names` (the
    argument at fault) or says what was received/expected."""
    msg = str(err)
    assert isinstance(err, (TypeError, ValueError)), f"{type(err).__name__}: {msg}"
    assert len(msg) >= 20, f"error message too terse: {msg!r}"
    assert _MESSAGE_WORDS.search(msg) or any(f"`{n}`" in msg or f"`{n}[" in msg or f"{n}=" in msg for n in names), \
        f"error message does not say what to fix: {msg!r}"


def expect_error(fn, exc_types, *names):
    """Calls `fn`, which must raise one of `exc_types` with a helpful message; returns it."""
    try:
        result = fn()
    except exc_types as err:
        check_error(err, *names)
        return err
    raise AssertionError(f"expected {exc_types} for this input, got a result: {result!r}")


def contract(fn, problems, check):
    """The fuzz contract. `problems` lists (exception type, argument name) for every defect the
    test put into the input: with none, `fn()` must succeed and pass `check`; otherwise it must
    raise one of those exception types with a message that says what to fix."""
    if problems:
        return expect_error(fn, tuple({t for t, _ in problems}), *(n for _, n in problems))
    return check(fn())


def native_input_problems(x, name, ndim=None, min_ndim=None):
    """Defects of `x` as an input of a native entry point (float32, C-contiguous ndarray)."""
    if not isinstance(x, np.ndarray):
        return [(TypeError, name)]
    out = []
    if x.dtype != np.float32:
        out.append((TypeError, name))
    if (ndim is not None and x.ndim != ndim) or (min_ndim is not None and x.ndim < min_ndim):
        out.append((ValueError, name))
    if not x.flags.c_contiguous:
        out.append((ValueError, name))
    return out


def python_input_problems(x, name):
    """Defects of `x` as an input of a fastdnn op, which converts any real array-like."""
    return [] if is_real(np.asarray(x).dtype) else [(TypeError, name)]


OUT_KINDS = ("none", "none", "good", "good", "float64", "shape", "readonly", "strided", "list")


def make_out(kind, shape, rng_seed=0):
    """An `out=` argument of `kind` for a result of `shape`, and the defects it carries."""
    fill = np.random.default_rng(rng_seed).uniform(-1, 1, shape).astype(np.float32)
    if kind == "none":
        return None, []
    if kind == "good":
        return fill, []
    if kind == "float64":
        return fill.astype(np.float64), [(TypeError, "out")]
    if kind == "shape":
        return np.zeros(tuple(shape) + (1,), np.float32), [(ValueError, "out")]
    if kind == "readonly":
        fill.setflags(write=False)
        return fill, [(ValueError, "out")]
    if kind == "strided":
        wide = np.zeros(tuple(shape[:-1]) + (2 * shape[-1] if shape else 2,), np.float32)[..., ::2] \
            if shape else np.zeros(2, np.float32)[::2]
        return wide, ([] if wide.flags.c_contiguous and wide.shape == tuple(shape)
                      else [(ValueError, "out")])
    if kind == "list":
        return fill.tolist(), [(TypeError, "out")]
    raise KeyError(kind)


def in_float32(ref):
    """A float64 reference as a float32 result can hold it: values beyond float32's range become
    the infinity they round to."""
    ref = np.asarray(ref, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        big = np.abs(ref) > np.finfo(np.float32).max
        return np.where(big, ref.astype(np.float32).astype(np.float64), ref)


def close(actual, ref, atol, rtol=0.0, what="result"):
    """conftest.assert_close against a float64 reference seen through float32's range."""
    from conftest import assert_close
    assert_close(actual, in_float32(ref), atol, rtol, what)


@contextlib.contextmanager
def drawn_kernel_path(data):
    """Runs the body on a drawn kernel path (every ISA this build and CPU offer, the float64
    'reference' included), with products now and then split across threads even when small."""
    import fastdnn
    from fastdnn import _C
    isa = data.draw(st.sampled_from(fastdnn.available_isas()), "kernel path")
    split = data.draw(st.booleans(), "split small products across threads")
    previous_isa, previous_threshold = fastdnn.get_isa(), _C.gemm_parallel_threshold()
    fastdnn.set_isa(isa)
    if split:
        _C.set_gemm_parallel_threshold(0)
    try:
        yield
    finally:
        fastdnn.set_isa(previous_isa)
        _C.set_gemm_parallel_threshold(previous_threshold)
