"""Fuzzing of the native entry points that update or normalise state: _C.optimizer_update (SGD,
momentum, Nesterov, Adam; clipping and weight decay; wrong lists, slots, dtypes, shapes and
hyperparameters) and _C.batchnorm_forward_train / batchnorm_forward_infer / batchnorm_backward,
against float64 NumPy transcriptions of the formulas in csrc/optim/optim_op.cpp and
csrc/batchnorm/bn_op.cpp."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastdnn import _C

from _tolerances import EPS32
from fuzz_arrays import arrays, as_f32, contract, fuzz, native_input_problems, shapes
from fuzz_arrays import close as assert_close
from fuzz_arrays import drawn_kernel_path

# NaN, infinities and extreme values are fed on purpose: NumPy's RuntimeWarnings about them (in
# the references and in fastdnn's NumPy-backed ops) are expected.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

F32 = ("float32",) * 12 + ("float64", "int32")
F32_LAYOUTS = ("c",) * 10 + ("readonly", "strided", "list")


def _optimizer_ref(kind, w, g, slots, h):
    """One step in float64: clipping, decoupled weight decay, then the rule (optim_op.cpp)."""
    w, g = w.astype(np.float64), g.astype(np.float64)
    lr = h.get("learning_rate", 0.01)
    if h.get("clipnorm"):
        norm = math.sqrt(float((g * g).sum()))
        g = g * (h["clipnorm"] / norm if norm > h["clipnorm"] else 1.0)
    if h.get("clipvalue"):
        g = np.clip(g, -h["clipvalue"], h["clipvalue"])
    w = w - lr * h.get("weight_decay", 0.0) * w
    s = [x.astype(np.float64) for x in slots]
    if kind == 0:
        mu = h.get("momentum", 0.0)
        if mu > 0:
            s[0] = mu * s[0] - lr * g
            w = w + (mu * s[0] - lr * g if h.get("nesterov") else s[0])
        else:
            w = w - lr * g
    else:  # Adam
        s[0] = s[0] + (g - s[0]) * (1 - h["beta_1"])
        s[1] = s[1] + (g * g - s[1]) * (1 - h["beta_2"])
        w = w - h["coef0"] * s[0] / (np.sqrt(s[1]) + h["epsilon"])
    return w, s


@fuzz
@given(data=st.data(), count=st.integers(0, 3), kind=st.sampled_from([0, 0, 3, 9]),
       momentum=st.sampled_from([0.0, 0.9]), nesterov=st.booleans(),
       clip=st.sampled_from([None, None, "clipnorm", "clipvalue"]), weight_decay=st.sampled_from([0.0, 0.01]),
       defect=st.sampled_from([None] * 8 + ["grad_shape", "slot_count", "slot_type", "hyper_type",
                                            "list_length", "param_type"]))
def test_native_optimizer_update(data, count, kind, momentum, nesterov, clip, weight_decay, defect):
    with drawn_kernel_path(data):
        _run_native_optimizer_update(data, count, kind, momentum, nesterov, clip, weight_decay, defect)


def _run_native_optimizer_update(data, count, kind, momentum, nesterov, clip, weight_decay, defect):
    hyper = {"learning_rate": 0.05, "momentum": momentum, "nesterov": nesterov,
             "weight_decay": weight_decay, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "coef0": 0.01}
    if clip:
        hyper[clip] = 0.5
    nslots = (1 if momentum > 0 else 0) if kind == 0 else 2
    problems = [] if kind != 9 else [(ValueError, "kind")]
    params, grads, slots = [], [], []
    for i in range(count):
        shape = data.draw(shapes(0, 2, 40), f"shape {i}")
        w, _, _ = data.draw(arrays(shape, dtypes=F32, layouts=F32_LAYOUTS, special=False), f"w{i}")
        g, _, _ = data.draw(arrays(shape, dtypes=F32, layouts=F32_LAYOUTS), f"g{i}")
        sl = [data.draw(arrays(shape, dtypes=F32, layouts=F32_LAYOUTS, low=0.0, high=1.0, special=False),
                        f"slot{i}.{k}")[0] for k in range(nslots)]
        for arr, name in [(w, "params")] + [(s, "slots") for s in sl]:
            problems += native_input_problems(arr, name)
            if isinstance(arr, np.ndarray) and not arr.flags.writeable:
                problems.append((ValueError, name))
        problems += native_input_problems(g, "grads")
        params.append(w), grads.append(g), slots.append(sl)
    if defect == "grad_shape" and count:
        grads[0] = np.zeros(np.shape(grads[0]) + (2,), np.float32)
        problems.append((ValueError, "grads"))
    elif defect == "slot_count" and count:
        slots[0] = slots[0] + [np.zeros(np.shape(params[0]), np.float32)]
        problems.append((ValueError, "slots"))
    elif defect == "slot_type" and count:
        slots[0] = np.zeros(np.shape(params[0]), np.float32)
        problems.append((TypeError, "slots"))
    elif defect == "hyper_type":
        hyper["learning_rate"] = "fast"
        problems.append((TypeError, "learning_rate"))
    elif defect == "list_length":
        grads = grads + [np.zeros(1, np.float32)]
        problems.append((ValueError, "grads"))
    elif defect == "param_type" and count:
        params[0] = list(np.shape(params[0]))
        problems.append((TypeError, "params"))
    if kind == 9:
        problems = [(ValueError, "kind")]
    before = [(np.array(w, np.float64), np.array(g, np.float64), [np.array(s, np.float64) for s in sl])
              for w, g, sl in zip(params, grads, slots)] if not problems else None

    def check(result):
        assert result is None
        for (w0, g0, s0), w, sl in zip(before, params, slots):
            w_ref, s_ref = _optimizer_ref(kind, w0, g0, s0, hyper)
            with np.errstate(invalid="ignore"):
                g_mag = np.nan_to_num(np.abs(g0), posinf=0.0)
                # each step rounds a few float32 operations on values of size |w|, lr·|g| and
                # the state; clipnorm's norm adds sqrt(n) ulp to the scale of g. Adam's step
                # divides by a vectorised sqrt, good to ~4e-6 relative (tests/test_optimizers.py
                # allows 1e-5 for the same reason)
                n = max(w0.size, 1)
                atol = 16 * EPS32 * math.sqrt(n) * (np.abs(w0) + 0.05 * g_mag + np.abs(w_ref - w0)) + 1e-30
                if kind == 3:
                    atol = atol + 1e-5 * np.abs(w_ref - w0)
            assert_close(w, w_ref, np.nan_to_num(atol, nan=0.0, posinf=0.0), 0.0, "parameter")
            for s, r in zip(sl, s_ref):
                with np.errstate(invalid="ignore"):
                    s_atol = 16 * EPS32 * math.sqrt(n) * np.nan_to_num(np.abs(r) + g_mag * g_mag + 1, posinf=0.0)
                assert_close(s, r, s_atol, 0.0, "slot")

    contract(lambda: _C.optimizer_update(kind, params, grads, slots, hyper), problems, check)


# ---- batch normalization -----------------------------------------------------------------------

def _vec(data, cols, name, low=-2.0, high=2.0):
    # (finite: with an infinite gamma or statistic the kernels' algebraically equal forms
    # legitimately differ in which of inf and NaN they give)
    """An optional per-feature vector: None, right, wrong length, or wrong dtype/layout."""
    kind = data.draw(st.sampled_from(["none", "good", "good", "good", "length"]), f"{name} kind")
    if kind == "none":
        return None, []
    n = cols if kind == "good" else cols + 1
    v, _, _ = data.draw(arrays((n,), dtypes=F32, layouts=F32_LAYOUTS, low=low, high=high, special=False), name)
    problems = native_input_problems(v, name, 1)
    if kind == "length":
        problems.append((ValueError, name))
    return v, problems


@fuzz
@given(data=st.data(), shape=shapes(1, 3, 40), eps=st.sampled_from([1e-3, 1e-5, 0.1, -1.0, float("nan")]))
def test_native_batchnorm_forward(data, shape, eps):
    with drawn_kernel_path(data):
        _run_native_batchnorm_forward(data, shape, eps)


def _run_native_batchnorm_forward(data, shape, eps):
    x, _, _ = data.draw(arrays(shape, dtypes=F32, layouts=F32_LAYOUTS), "x")
    cols = shape[-1]
    gamma, gp = _vec(data, cols, "gamma")
    beta, bp = _vec(data, cols, "beta")
    problems = native_input_problems(x, "x", min_ndim=1) + gp + bp
    if not eps >= 0:
        problems.append((ValueError, "epsilon"))

    def check(result):
        y, mean, var, inv_std = result
        x64 = as_f32(x).astype(np.float64).reshape(math.prod(shape[:-1]), cols)
        rows = x64.shape[0]
        with np.errstate(all="ignore"):
            m = x64.mean(axis=0) if rows else np.zeros(cols)
            v = ((x64 - m) ** 2).mean(axis=0) if rows else np.zeros(cols)
            inv = 1.0 / np.sqrt(v + eps)
            g = np.ones(cols) if gamma is None else as_f32(gamma).astype(np.float64)
            b = np.zeros(cols) if beta is None else as_f32(beta).astype(np.float64)
            y_ref = (x64 - m) * inv * g + b
            amax = np.nan_to_num(np.abs(x64), posinf=0.0).max(axis=0) if rows else np.zeros(cols)
            atol = 16 * EPS32 * math.sqrt(rows + 1) * np.nan_to_num(
                np.abs(g) * inv * (np.abs(x64 - m) + amax) + np.abs(b), posinf=0.0) + 1e-30
        assert_close(mean, m, 4 * EPS32 * math.sqrt(rows + 1) * amax + 1e-30, 0.0, "mean")
        assert_close(var, v, 8 * EPS32 * math.sqrt(rows + 1) * amax * amax + 1e-30, 0.0, "variance")
        assert_close(y.reshape(math.prod(shape[:-1]), cols), y_ref, atol, 0.0, "y")

    contract(lambda: _C.batchnorm_forward_train(x, gamma, beta, eps), problems, check)

    mm, mp = _vec(data, cols, "moving_mean")
    mv, vp = _vec(data, cols, "moving_variance", low=0.0, high=3.0)
    problems = native_input_problems(x, "x", min_ndim=1) + gp + bp
    for v, p, name in ((mm, mp, "moving_mean"), (mv, vp, "moving_variance")):
        problems += p if v is not None else [(TypeError, name)]
    if not eps >= 0:
        problems.append((ValueError, "epsilon"))

    def check_infer(y):
        x64 = as_f32(x).astype(np.float64).reshape(math.prod(shape[:-1]), cols)
        with np.errstate(all="ignore"):
            g = np.ones(cols) if gamma is None else as_f32(gamma).astype(np.float64)
            b = np.zeros(cols) if beta is None else as_f32(beta).astype(np.float64)
            m, v = as_f32(mm).astype(np.float64), as_f32(mv).astype(np.float64)
            inv = 1.0 / np.sqrt(v + eps)
            y_ref = (x64 - m) * inv * g + b
            atol = 16 * EPS32 * np.nan_to_num(np.abs(g) * inv * (np.abs(x64) + np.abs(m)) + np.abs(b),
                                               posinf=0.0) + 1e-30
        assert_close(y.reshape(math.prod(shape[:-1]), cols), y_ref, atol, 0.0, "inference y")

    contract(lambda: _C.batchnorm_forward_infer(x, mm, mv, gamma, beta, eps), problems, check_infer)


@fuzz
@given(data=st.data(), shape=shapes(1, 3, 40), training=st.booleans(), mismatch=st.sampled_from([False] * 9 + [True]))
def test_native_batchnorm_backward(data, shape, training, mismatch):
    with drawn_kernel_path(data):
        _run_native_batchnorm_backward(data, shape, training, mismatch)


def _run_native_batchnorm_backward(data, shape, training, mismatch):
    cols = shape[-1]
    x, _, _ = data.draw(arrays(shape, dtypes=F32, layouts=F32_LAYOUTS), "x")
    dy, _, _ = data.draw(arrays(shape + (1,) if mismatch else shape, dtypes=F32, layouts=F32_LAYOUTS), "dy")
    mean, mp = _vec(data, cols, "mean")
    inv_std, ip = _vec(data, cols, "inv_std", low=0.1, high=3.0)
    gamma, gp = _vec(data, cols, "gamma")
    problems = native_input_problems(dy, "dy", min_ndim=1) + native_input_problems(x, "x", min_ndim=1) + gp
    for v, p, name in ((mean, mp, "mean"), (inv_std, ip, "inv_std")):
        problems += p if v is not None else [(TypeError, name)]
    if mismatch:
        problems.append((ValueError, "dy"))

    def check(result):
        dx, dgamma, dbeta = result
        x64 = as_f32(x).astype(np.float64).reshape(math.prod(shape[:-1]), cols)
        dy64 = as_f32(dy).astype(np.float64).reshape(math.prod(shape[:-1]), cols)
        n = x64.shape[0]
        with np.errstate(all="ignore"):
            m, inv = as_f32(mean).astype(np.float64), as_f32(inv_std).astype(np.float64)
            g = np.ones(cols) if gamma is None else as_f32(gamma).astype(np.float64)
            xh = (x64 - m) * inv
            db_ref, dg_ref = dy64.sum(axis=0), (dy64 * xh).sum(axis=0)
            if training:
                dx_ref = g * inv / n * (n * dy64 - db_ref - xh * dg_ref) if n else dy64.copy()
            else:
                dx_ref = g * inv * dy64
            ady = np.nan_to_num(np.abs(dy64), posinf=0.0)
            axh = np.nan_to_num(np.abs(xh), posinf=0.0)
            sdb = ady.sum(axis=0)
            sdg = (ady * axh).sum(axis=0)
            k = 16 * EPS32 * math.sqrt(n + 1)
            db_atol = k * sdb + 1e-30
            dg_atol = k * (sdg + (ady * (np.abs(x64) + np.abs(m)) * np.abs(inv)).sum(axis=0)) + 1e-30
            dx_atol = k * np.nan_to_num(np.abs(g) * np.abs(inv) * (
                ady + ((sdb + axh * sdg + (np.abs(x64) + np.abs(m)) * np.abs(inv) * sdg) / max(n, 1)
                       if training else 0)), posinf=0.0) + 1e-30
        assert_close(dbeta, db_ref, db_atol, 0.0, "dbeta")
        assert_close(dgamma, dg_ref, dg_atol, 0.0, "dgamma")
        dx = dx.reshape(math.prod(shape[:-1]), cols)
        if training:
            # with an infinite x the training formula is inf - inf in one algebraic form and ±inf
            # in another: where the reference is not finite, fastdnn must not be finite either
            bad = ~np.isfinite(dx_ref)
            assert not np.isfinite(dx[bad]).any(), "dx: finite where the reference is not"
            dx, dx_ref = np.where(bad, np.nan, dx), np.where(bad, np.nan, dx_ref)
        assert_close(dx, dx_ref, dx_atol, 0.0, "dx")

    contract(lambda: _C.batchnorm_backward(dy, x, mean, inv_std, gamma, training), problems, check)
