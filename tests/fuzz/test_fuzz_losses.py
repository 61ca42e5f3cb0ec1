"""Fuzzing of the cross-entropies, losses and metrics: ops.sparse_softmax_cross_entropy(_mean),
ops.softmax_cross_entropy, the raw _C.softmax_xent, fastdnn.losses (functions and Loss objects
with reductions and sample weights) and fastdnn.metrics, against float64 NumPy — including
out-of-range, negative, float, NaN and non-numeric labels and mismatched shapes."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastdnn import _C, losses, metrics, ops

from _tolerances import EPS32
from fuzz_arrays import close as assert_close
from fuzz_arrays import drawn_kernel_path

# NaN, infinities and extreme values are fed on purpose: NumPy's RuntimeWarnings about them (in
# the references and in fastdnn's NumPy-backed ops) are expected.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
from fuzz_arrays import (BAD_DTYPES, REAL_DTYPES, arrays, as_f32, cast, contract, dims, fuzz,
                         native_input_problems, python_input_problems, values, with_layout)
from test_losses import ref_binary_ce, ref_categorical_ce, ref_mae, ref_mse, ref_sparse_ce

# A float32 cross-entropy rounds the row's max, a sum of `classes` exponentials and a log:
# a few ulp of the magnitudes involved (|lse| + |x_label|), times sqrt(classes) for the sum.
XENT_ERR = 8 * EPS32


def _lse64(x):
    """max + log Σ exp(x - max) per row, NaN where the row's max is not finite (the formula
    evaluated in IEEE arithmetic: inf - inf)."""
    x = np.asarray(x, np.float64)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        mx = np.max(np.where(np.isnan(x), -np.inf, x), axis=-1) if x.shape[-1] else \
            np.full(x.shape[:-1], np.nan)
        mx = np.where(np.isfinite(mx), mx, np.nan)
        return mx + np.log(np.exp(x - mx[..., None]).sum(axis=-1))


def _xent_atol(x, lse, extra):
    with np.errstate(invalid="ignore"):
        cols = max(x.shape[-1], 1)
        return XENT_ERR * math.sqrt(cols) * (np.nan_to_num(np.abs(lse), posinf=0.0) + extra) + 1e-30


@st.composite
def class_labels(draw, n, classes):
    """(labels, defects): labels for n samples of `classes` classes, now and then wrong."""
    kind = draw(st.sampled_from(["int"] * 6 + ["float", "column", "bool", "out", "negative",
                                              "fraction", "nan", "huge", "length", "text", "complex"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    good = rng.integers(0, max(classes, 1), n)
    dtype = draw(st.sampled_from(["int64", "int32", "uint8", "int8", "float64", "float32"]))
    problems = [] if classes else ([(ValueError, "labels")] if n else [])
    if kind == "int":
        return with_layout(good.astype(dtype), draw(st.sampled_from(["c", "reversed", "strided", "list"]))), problems
    if kind == "float":
        return good.astype(np.float64), problems
    if kind == "column":
        return good.reshape(n, 1), problems
    if kind == "bool":
        return good > 0, ([(ValueError, "labels")] if n and classes < 2 and np.any(good > 0) else problems)
    bad = good.astype(np.float64)
    if kind == "length":
        return np.resize(good, n + 1), [(ValueError, "labels")]
    if kind == "text":
        return good.astype(str), [(TypeError, "labels")]
    if kind == "complex":
        return good.astype(np.complex128), [(TypeError, "labels")]
    if n == 0:
        return good, problems
    i = rng.integers(0, n)
    bad[i] = {"out": classes, "negative": -1, "fraction": 0.5, "nan": np.nan, "huge": 1e30}[kind]
    if kind in ("out", "negative"):
        return bad.astype(np.int64), [(ValueError, "labels")]
    return bad, [(ValueError, "labels")]


@fuzz
@given(data=st.data(), n=dims(), classes=dims(), ndim=st.sampled_from([2] * 9 + [1, 3]),
       which=st.sampled_from(["per_sample", "mean"]))
def test_sparse_softmax_cross_entropy(data, n, classes, ndim, which):
    with drawn_kernel_path(data):
        _run_sparse_softmax_cross_entropy(data, n, classes, ndim, which)


def _run_sparse_softmax_cross_entropy(data, n, classes, ndim, which):
    shape = {1: (classes,), 2: (n, classes), 3: (n, 1, classes)}[ndim]
    dtypes = REAL_DTYPES + BAD_DTYPES[:2] if data.draw(st.integers(0, 9)) == 0 else REAL_DTYPES
    logits, _, _ = data.draw(arrays(shape, dtypes=dtypes), "logits")
    labels, problems = data.draw(class_labels(n, classes), "labels")
    problems = problems + python_input_problems(logits, "logits")
    if ndim != 2:
        problems.append((ValueError, "logits"))
    fn = ops.sparse_softmax_cross_entropy if which == "per_sample" else ops.sparse_softmax_cross_entropy_mean

    def check(loss):
        x = as_f32(logits).astype(np.float64)
        lab = np.asarray(labels).astype(np.int64).reshape(n)
        lse = _lse64(x)
        with np.errstate(invalid="ignore"):
            ref = lse - x[np.arange(n), lab]
        atol = _xent_atol(x, lse, np.nan_to_num(np.abs(x[np.arange(n), lab]), posinf=0.0))
        if which == "mean":
            assert loss.shape == () and loss.dtype == np.float32
            if n:
                assert_close(loss, ref.mean(), atol.mean() + XENT_ERR * np.nan_to_num(np.abs(ref)).mean(), 0.0,
                             "mean cross-entropy")
        else:
            assert_close(loss, ref, atol, 0.0, "sparse cross-entropy")

    contract(lambda: fn(logits, labels), problems, check)


@fuzz
@given(data=st.data(), n=dims(), classes=dims(), t_off=st.sampled_from([0] * 9 + [1]))
def test_softmax_cross_entropy(data, n, classes, t_off):
    with drawn_kernel_path(data):
        _run_softmax_cross_entropy(data, n, classes, t_off)


def _run_softmax_cross_entropy(data, n, classes, t_off):
    logits, _, _ = data.draw(arrays((n, classes)), "logits")
    dtypes = REAL_DTYPES + BAD_DTYPES[:2] if data.draw(st.integers(0, 9)) == 0 else REAL_DTYPES
    # (finite targets: an infinite target times a log-probability that is 0 in one rounding and
    # tiny in another is NaN or inf by chance; the logits carry the NaN/inf cases)
    targets, _, _ = data.draw(arrays((n, classes + t_off), dtypes=dtypes, low=0.0, high=1.0, special=False),
                              "targets")
    problems = python_input_problems(targets, "targets")
    if t_off:
        problems.append((ValueError, "targets"))

    def check(loss):
        x = as_f32(logits).astype(np.float64)
        t = as_f32(targets).astype(np.float64)
        lse = _lse64(x)
        with np.errstate(invalid="ignore"):
            ref = (t * (lse[:, None] - x)).sum(axis=-1) if classes else np.full(n, np.nan)
            extra = np.nan_to_num(np.abs(t) * (np.abs(x) + np.abs(lse[:, None])), posinf=0.0).sum(axis=-1)
        assert_close(loss, ref, _xent_atol(x, lse, extra), 0.0, "soft cross-entropy")

    contract(lambda: ops.softmax_cross_entropy(logits, targets), problems, check)


@fuzz
@given(data=st.data(), n=dims(), classes=dims(), mode=st.sampled_from(["labels", "targets", "both", "none"]),
       want_grad=st.booleans(), scale=st.sampled_from([1.0, 0.25, 0.0]))
def test_native_softmax_xent(data, n, classes, mode, want_grad, scale):
    with drawn_kernel_path(data):
        _run_native_softmax_xent(data, n, classes, mode, want_grad, scale)


def _run_native_softmax_xent(data, n, classes, mode, want_grad, scale):
    f32 = ("float32",) * 10 + ("float64", "int32")
    logits, _, _ = data.draw(arrays((n, classes), dtypes=f32), "logits")
    problems = native_input_problems(logits, "logits", 2)
    labels = targets = None
    if mode in ("labels", "both"):
        labels, lp = data.draw(class_labels(n, classes), "labels")
        problems += lp
        lab = np.asarray(labels)
        if not (isinstance(labels, np.ndarray) and lab.dtype == np.int64 and lab.ndim == 1 and lab.flags.c_contiguous):
            problems.append((TypeError, "labels"))
        elif lab.shape != (n,):
            problems.append((ValueError, "labels"))
    if mode in ("targets", "both"):
        targets, _, _ = data.draw(arrays((n, classes), dtypes=f32, low=0.0, high=1.0, special=False), "targets")
        problems += native_input_problems(targets, "targets", 2)
    if mode in ("both", "none"):
        problems.append((ValueError, "labels"))

    def check(result):
        loss, grad = result
        x = as_f32(logits).astype(np.float64)
        lse = _lse64(x)
        if labels is not None:
            t = np.zeros((n, classes))
            t[np.arange(n), np.asarray(labels)] = 1.0
        else:
            t = as_f32(targets).astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            if labels is not None:
                ref = lse - x[np.arange(n), np.asarray(labels)]
            else:
                ref = (t * (lse[:, None] - x)).sum(axis=-1) if classes else np.full(n, np.nan)
            extra = np.nan_to_num(np.abs(t) * (np.abs(x) + np.abs(lse[:, None])), posinf=0.0).sum(axis=-1)
            p = np.exp(x - lse[:, None])
            g_ref = (p * t.sum(axis=-1, keepdims=True) - t) * scale
        assert_close(loss, ref, _xent_atol(x, lse, extra), 0.0, "softmax_xent loss")
        if want_grad:
            with np.errstate(invalid="ignore"):
                g_atol = XENT_ERR * math.sqrt(max(classes, 1)) * abs(scale) * (
                    np.nan_to_num(np.abs(p), posinf=0.0) * (1 + np.nan_to_num(np.abs(x - lse[:, None]), posinf=0.0))
                    * np.abs(t).sum(axis=-1, keepdims=True) + np.abs(t)) + 1e-30
            # (an infinite target times a probability that underflows in float32 but not in
            # float64 is NaN on one side and inf on the other: both only need to be non-finite)
            bad = ~np.isfinite(g_ref)
            assert not np.isfinite(grad[bad]).any(), "softmax_xent gradient: finite where the reference is not"
            assert_close(np.where(bad, np.nan, grad), np.where(bad, np.nan, g_ref), g_atol, 0.0,
                         "softmax_xent gradient")
        else:
            assert grad is None

    contract(lambda: _C.softmax_xent(logits, labels, targets, scale, want_grad), problems, check)


# ---- fastdnn.losses ----------------------------------------------------------------------------

LOSS_RTOL = 2e-6  # as tests/test_losses.py: a handful of float32 steps per value
LOSS_ATOL = 2e-6

REFS = {
    "sparse_categorical_crossentropy": ref_sparse_ce,
    "categorical_crossentropy": ref_categorical_ce,
    "binary_crossentropy": ref_binary_ce,
    "mean_squared_error": ref_mse,
    "mean_absolute_error": ref_mae,
}


def _loss_inputs(data, name, n, c, from_logits):
    """(y_true, y_pred, defects) for loss `name`."""
    lo, hi = (-4.0, 4.0) if from_logits or name.startswith("mean") else (0.0, 1.0)
    y_pred_v = data.draw(values((n, c), low=lo, high=hi, special=False, scale=False), "y_pred")
    if name.startswith("sparse"):
        y_true, problems = data.draw(class_labels(n, c), "y_true")
        if c == 0:
            problems = problems + [(ValueError, "y_pred")]
        return y_true, y_pred_v.astype(np.float32), problems
    shape_t = (n, c) if data.draw(st.integers(0, 9)) else (n, c + 1)
    dtype = data.draw(st.sampled_from(REAL_DTYPES + ("complex64",)), "y_true dtype")
    y_true = cast(data.draw(values(shape_t, low=0.0, high=1.0, special=False, scale=False)), dtype)
    problems = [] if dtype != "complex64" else [(TypeError, "y_true")]
    if shape_t != (n, c) and not (name.startswith("mean") and c in (0, 1)):
        # (mean squared/absolute errors broadcast y_true against y_pred, as Keras does)
        problems.append((ValueError, "y_true"))
    if name == "categorical_crossentropy" and c == 0:
        problems.append((ValueError, "y_pred"))
    return y_true, y_pred_v.astype(np.float32), problems


@fuzz
@given(data=st.data(), name=st.sampled_from(sorted(REFS)), n=st.integers(0, 9), c=st.integers(0, 6),
       from_logits=st.booleans(), smoothing=st.sampled_from([0.0, 0.0, 0.1]))
def test_loss_functions(data, name, n, c, from_logits, smoothing):
    y_true, y_pred, problems = _loss_inputs(data, name, n, c, from_logits)
    kwargs = {}
    if name.endswith("crossentropy"):
        kwargs["from_logits"] = from_logits
    if name in ("categorical_crossentropy", "binary_crossentropy"):
        kwargs["label_smoothing"] = smoothing

    def check(loss):
        if name.startswith("mean") and c == 0:
            ref = np.full((n,), np.nan)
        else:
            ref = REFS[name](y_true, y_pred, **kwargs)
        assert np.asarray(loss).dtype == np.float32
        assert_close(loss, ref, LOSS_ATOL, LOSS_RTOL, name)

    contract(lambda: getattr(losses, name)(y_true, y_pred, **kwargs), problems, check)


CLASSES = {
    "sparse_categorical_crossentropy": losses.SparseCategoricalCrossentropy,
    "categorical_crossentropy": losses.CategoricalCrossentropy,
    "binary_crossentropy": losses.BinaryCrossentropy,
    "mean_squared_error": losses.MeanSquaredError,
    "mean_absolute_error": losses.MeanAbsoluteError,
}


@fuzz
@given(data=st.data(), name=st.sampled_from(sorted(REFS)), n=st.integers(1, 9), c=st.integers(1, 6),
       from_logits=st.booleans(),
       reduction=st.sampled_from(["sum_over_batch_size", "sum", "none", "mean_with_sample_weight", "bogus"]),
       weight_kind=st.sampled_from(["none", "good", "column", "scalar", "short", "text"]))
def test_loss_objects(data, name, n, c, from_logits, reduction, weight_kind):
    y_true, y_pred, problems = _loss_inputs(data, name, n, c, from_logits)
    kwargs = {"from_logits": from_logits} if name.endswith("crossentropy") else {}
    w = np.random.default_rng(n * 7 + c).uniform(0, 2, n).astype(np.float32)
    weight = {"none": None, "good": w, "column": w.reshape(n, 1), "scalar": np.float32(0.5),
              "short": w[:-1], "text": w.astype(str)}[weight_kind]
    if weight_kind == "short" and n < 3:  # a single weight broadcasts over anything
        weight = None
    if weight_kind == "short" and n >= 3:
        problems = problems + [(ValueError, "sample_weight")]
    if weight_kind == "text":
        problems = problems + [(TypeError, "sample_weight")]
    if reduction == "bogus":
        expect = [(ValueError, "reduction")]
        contract(lambda: CLASSES[name](reduction=reduction, **kwargs), expect, None)
        return
    loss = CLASSES[name](reduction=reduction, **kwargs)

    def check(value):
        per = REFS[name](y_true, y_pred, **kwargs)
        # Keras's reduce_weighted_values: a (batch, 1) weight turns (batch,) losses into a column
        v, w = per, None
        if weight is not None:
            w = np.asarray(weight, np.float64)
            v = per[:, None] * w if w.ndim == 2 else per * w
        if w is not None and w.ndim == 0 and n == 1:
            # (Keras squeezes a (1,) loss against a scalar weight to 0-d, which it returns as is)
            ref = v.reshape(())
        elif reduction == "none":
            ref = v
        elif reduction == "sum":
            ref = v.sum()
        else:
            div = np.broadcast_to(w, v.shape).sum() if reduction == "mean_with_sample_weight" and w is not None \
                else v.size
            ref = v.sum() / div if div else 0.0
        assert_close(value, ref, LOSS_ATOL, 4 * LOSS_RTOL, f"{name} {reduction}")

    contract(lambda: loss(y_true, y_pred, sample_weight=weight), problems, check)


# ---- fastdnn.metrics ---------------------------------------------------------------------------

METRIC_REFS = {
    "accuracy": lambda t, p: (t == p).mean(axis=-1),
    "binary_accuracy": lambda t, p: (t == (p > 0.5)).mean(axis=-1),
    "categorical_accuracy": lambda t, p: (np.argmax(t, -1) == np.argmax(p, -1)).astype(np.float64),
    "sparse_categorical_accuracy": lambda t, p: (t.reshape(-1) == np.argmax(p, -1)).astype(np.float64),
    "mean_squared_error": lambda t, p: ((t - p) ** 2).mean(axis=-1),
    "mean_absolute_error": lambda t, p: np.abs(t - p).mean(axis=-1),
}


@fuzz
@given(data=st.data(), name=st.sampled_from(sorted(METRIC_REFS)), n=st.integers(0, 9), c=st.integers(1, 6),
       bad=st.sampled_from([None] * 6 + ["complex", "text", "shape"]))
def test_metric_functions(data, name, n, c, bad):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    y_pred = rng.uniform(0, 1, (n, c)).astype(np.float32)
    if name == "sparse_categorical_accuracy":
        y_true = rng.integers(0, c, (n, 1))
    elif name in ("accuracy", "binary_accuracy", "categorical_accuracy"):
        y_true = rng.integers(0, 2, (n, c)).astype(np.float32)
        if name == "accuracy":
            y_pred = rng.integers(0, 2, (n, c)).astype(np.float32)
    else:
        y_true = rng.uniform(0, 1, (n, c)).astype(np.float32)
    problems = []
    if bad == "complex":
        y_true = y_true.astype(np.complex128) + 1j
        problems.append((TypeError, "y_true"))
    elif bad == "text":
        y_true = y_true.astype(str)
        problems.append((TypeError, "y_true"))
    elif bad == "shape" and name in ("accuracy", "binary_accuracy", "mean_squared_error",
                                     "mean_absolute_error"):
        y_true = np.concatenate([y_true, y_true, y_true], axis=-1)
        if c > 1:  # (as Keras, a single column broadcasts)
            problems.append((ValueError, "y_true"))

    def check(value):
        ref = METRIC_REFS[name](np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64))
        assert_close(value, ref, 1e-12, 1e-12, name)

    contract(lambda: getattr(metrics, name)(y_true, y_pred), problems, check)
