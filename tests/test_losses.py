"""fastdnn.losses: values against float64 NumPy references of Keras 3's formulas (every
reduction, sample weights, logits and probabilities), gradients on the GradientTape against
central finite differences of those references, the fused softmax path, extreme logits, label
checks, the registry, and PyTorch where it is installed."""

import json
import re

import numpy as np
import pytest

from fastdnn import losses as L
from fastdnn import ops
from fastdnn.autodiff import GradientTape
from fastdnn.variables import Variable

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the torch comparisons skip; everything else runs
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


# ---- tolerances, all in one place --------------------------------------------------------------
# fastdnn computes in float32 from float32 inputs; the references compute in float64 from the same
# inputs. A loss rounds a handful of float32 steps (p / sum p, log, a product, a sum over classes,
# a mean over the batch); the largest error seen over every case below is ~1.5e-7 relative plus
# ~1.5e-7 absolute (per-sample losses near 0 inherit the absolute error of log(p) near 1), so these
# leave ~10x headroom and still fail a wrong clip bound, a missed normalisation or a float16 step.
LOSS_RTOL = 2e-6
LOSS_ATOL = 2e-6
# Gradients go through more float32 steps (1/p, the clip mask, broadcasts), and the finite
# difference itself (float64, h = 1e-6 on values of size ~1) is accurate to ~1e-9. Seen: ~2e-7
# relative; 1e-5 leaves headroom and still fails a dropped 1/batch or a missing (1 - t) term.
GRAD_RTOL = 1e-5
GRAD_ATOL = 1e-7
FD_STEP = 1e-6
# Two float32 implementations (fastdnn and torch), each within the tolerances above.
TORCH_RTOL = 2 * LOSS_RTOL
TORCH_GRAD_RTOL = 2 * GRAD_RTOL
# Keras clips probabilities in float32, so its bounds are the float32 roundings of 1e-7 and
# 1 - 1e-7 (1 - 1e-7 rounds to 1 - 1.19e-7); the reference clips to exactly those.
CLIP_LO = float(np.float32(1e-7))
CLIP_HI = float(np.float32(1 - 1e-7))

REDUCTIONS = ["sum_over_batch_size", "mean", "sum", "none", None, "mean_with_sample_weight"]


def assert_close(actual, ref, rtol, atol, what="value"):
    actual = np.asarray(actual, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert actual.shape == ref.shape, f"{what}: shape {actual.shape}, expected {ref.shape}"
    assert np.all(np.isfinite(actual)), f"{what}: non-finite values {actual}"
    err = np.abs(actual - ref)
    allowed = atol + rtol * np.abs(ref)
    assert np.all(err <= allowed), (
        f"{what}: max error {err.max():.3g} (allowed {allowed.flat[np.argmax(err - allowed)]:.3g}) "
        f"at {np.unravel_index(np.argmax(err - allowed), err.shape)}")


# ---- float64 references (Keras 3's formulas) ---------------------------------------------------

def f64(x):
    return np.asarray(x, dtype=np.float64)


def ref_log_softmax(z):
    z = f64(z)
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def ref_log_probs(p):
    p = f64(p)
    return np.log(np.clip(p / p.sum(axis=-1, keepdims=True), CLIP_LO, CLIP_HI))


def ref_sparse_ce(labels, y, from_logits=False):
    logp = ref_log_softmax(y) if from_logits else ref_log_probs(y)
    labels = np.asarray(labels).astype(np.int64).reshape(logp.shape[:-1])
    return -np.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]


def ref_categorical_ce(t, y, from_logits=False, label_smoothing=0.0):
    t = f64(t)
    t = t * (1 - label_smoothing) + label_smoothing / t.shape[-1]
    logp = ref_log_softmax(y) if from_logits else ref_log_probs(y)
    return -(t * logp).sum(axis=-1)


def ref_binary_ce(t, y, from_logits=False, label_smoothing=0.0):
    t, y = f64(t), f64(y)
    t = t * (1 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        per = np.logaddexp(0.0, y) - y * t  # softplus(x) - x t
    else:
        p = np.clip(y, CLIP_LO, CLIP_HI)
        per = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    return per.mean(axis=-1)


def _rank_match(t, y):
    t, y = f64(t), f64(y)
    if t.ndim == 1 and y.ndim == 2 and y.shape[-1] == 1:
        t = t[:, None]
    if y.ndim == 1 and t.ndim == 2 and t.shape[-1] == 1:
        y = y[:, None]
    return t, y


def ref_mse(t, y):
    t, y = _rank_match(t, y)
    return ((t - y) ** 2).mean(axis=-1)


def ref_mae(t, y):
    t, y = _rank_match(t, y)
    return np.abs(t - y).mean(axis=-1)


def ref_reduce(values, weight, reduction):
    values = f64(values)
    if weight is not None:
        w = f64(weight).reshape(values.shape)
        values = values * w
    if reduction in ("none", None):
        return values
    total = values.sum()
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and weight is not None:
        return total / f64(weight).sum()
    return total / values.size


# ---- the cases: (loss object, per-sample reference, data) -------------------------------------

def probabilities(rng, n, c):
    z = rng.normal(0.0, 1.5, (n, c))
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return p.astype(np.float32)


def make_case(name, rng, n):
    """Returns (loss, reference(y_true, y_pred) -> per-sample float64, y_true, y_pred float32)."""
    c = 5
    labels = rng.integers(0, c, n)
    onehot = np.eye(c, dtype=np.float32)[labels]
    logits = rng.normal(0.0, 3.0, (n, c)).astype(np.float32)
    bin_t = rng.integers(0, 2, (n, 3)).astype(np.float32)
    reg_t = rng.normal(0.0, 1.0, (n, 3)).astype(np.float32)
    reg_p = rng.normal(0.0, 1.0, (n, 3)).astype(np.float32)
    cases = {
        "sparse_probs": (L.SparseCategoricalCrossentropy(), ref_sparse_ce,
                         labels, probabilities(rng, n, c)),
        "sparse_probs_col_labels": (L.SparseCategoricalCrossentropy(), ref_sparse_ce,
                                    labels[:, None], probabilities(rng, n, c)),
        "sparse_probs_float_labels": (L.SparseCategoricalCrossentropy(), ref_sparse_ce,
                                      labels.astype(np.float32), probabilities(rng, n, c)),
        # Keras normalises the rows before taking logs; these rows sum to 0.5 .. 2
        "sparse_unnormalized": (L.SparseCategoricalCrossentropy(), ref_sparse_ce, labels,
                                probabilities(rng, n, c)
                                * rng.uniform(0.5, 2, (n, 1)).astype(np.float32)),
        "sparse_logits": (L.SparseCategoricalCrossentropy(from_logits=True),
                          lambda t, y: ref_sparse_ce(t, y, True), labels, logits),
        "categorical_probs": (L.CategoricalCrossentropy(), ref_categorical_ce,
                              onehot, probabilities(rng, n, c)),
        "categorical_logits": (L.CategoricalCrossentropy(from_logits=True),
                               lambda t, y: ref_categorical_ce(t, y, True), onehot, logits),
        "categorical_smoothed": (L.CategoricalCrossentropy(label_smoothing=0.1),
                                 lambda t, y: ref_categorical_ce(t, y, False, 0.1),
                                 onehot, probabilities(rng, n, c)),
        "categorical_soft_targets": (L.CategoricalCrossentropy(from_logits=True),
                                     lambda t, y: ref_categorical_ce(t, y, True),
                                     probabilities(rng, n, c), logits),
        "binary_probs": (L.BinaryCrossentropy(), ref_binary_ce,
                         bin_t, rng.uniform(0.02, 0.98, (n, 3)).astype(np.float32)),
        "binary_logits": (L.BinaryCrossentropy(from_logits=True),
                          lambda t, y: ref_binary_ce(t, y, True), bin_t, logits[:, :3].copy()),
        "binary_smoothed": (L.BinaryCrossentropy(from_logits=True, label_smoothing=0.2),
                            lambda t, y: ref_binary_ce(t, y, True, 0.2), bin_t,
                            logits[:, :3].copy()),
        "binary_column": (L.BinaryCrossentropy(), ref_binary_ce, bin_t[:, :1].copy(),
                          rng.uniform(0.02, 0.98, (n, 1)).astype(np.float32)),
        "mse": (L.MeanSquaredError(), ref_mse, reg_t, reg_p),
        "mse_vector_targets": (L.MeanSquaredError(), ref_mse, reg_t[:, 0].copy(),
                               reg_p[:, :1].copy()),
        "mae_column_targets": (L.MeanAbsoluteError(), ref_mae, reg_t[:, :1].copy(),
                               reg_p[:, 0].copy()),
        "mae": (L.MeanAbsoluteError(), ref_mae, reg_t, reg_p),
    }
    return cases[name]


CASES = ["sparse_probs", "sparse_probs_col_labels", "sparse_probs_float_labels",
         "sparse_unnormalized", "sparse_logits",
         "categorical_probs", "categorical_logits", "categorical_smoothed",
         "categorical_soft_targets", "binary_probs", "binary_logits", "binary_smoothed",
         "binary_column", "mse", "mse_vector_targets", "mae", "mae_column_targets"]


def with_reduction(loss, reduction):
    config = loss.get_config()
    config["reduction"] = reduction
    return type(loss).from_config(config)


def tape_loss(loss, y_true, y_pred, **kwargs):
    """The loss and its tape gradient with respect to y_pred."""
    with GradientTape() as tape:
        tape.watch(y_pred)
        value = loss(y_true, y_pred, **kwargs)
    return value, tape.gradient(value, y_pred)


def fd_gradient(f, x):
    """Central finite differences of a float64 scalar function, element by element."""
    x = f64(x)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += FD_STEP
        down[i] -= FD_STEP
        g[i] = (f(up) - f(down)) / (2 * FD_STEP)
    return g


# ---- values --------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 3, 17, 257])
@pytest.mark.parametrize("case", CASES)
def test_default_reduction_matches_reference(case, n, rng):
    loss, ref, y_true, y_pred = make_case(case, rng, n)
    value = loss(y_true, y_pred)
    assert isinstance(value, np.ndarray) and value.shape == () and value.dtype == np.float32
    assert_close(value, ref(y_true, y_pred).mean(), LOSS_RTOL, LOSS_ATOL, case)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", CASES)
def test_reductions_and_sample_weight(case, reduction, weighted, rng):
    loss, ref, y_true, y_pred = make_case(case, rng, 17)
    loss = with_reduction(loss, reduction)
    weight = rng.uniform(0.0, 2.0, 17).astype(np.float32) if weighted else None
    value = loss(y_true, y_pred, sample_weight=weight)
    expected = ref_reduce(ref(y_true, y_pred), weight, reduction)
    assert_close(value, expected, LOSS_RTOL, LOSS_ATOL, f"{case} {reduction}")


@pytest.mark.parametrize("shape", [(17,), (17, 1)])
def test_sample_weight_shapes(shape, rng):
    """(batch,) and (batch, 1) weights and a scalar weight all weight the samples."""
    loss, ref, y_true, y_pred = make_case("sparse_probs", rng, 17)
    weight = rng.uniform(0.0, 2.0, shape).astype(np.float32)
    expected = ref_reduce(ref(y_true, y_pred), weight.reshape(-1), "sum_over_batch_size")
    assert_close(loss(y_true, y_pred, sample_weight=weight), expected, LOSS_RTOL, LOSS_ATOL)
    assert_close(loss(y_true, y_pred, sample_weight=2.5), 2.5 * ref(y_true, y_pred).mean(),
                 LOSS_RTOL, LOSS_ATOL)


@pytest.mark.parametrize("name, fn, ref", [
    ("sparse_categorical_crossentropy", L.sparse_categorical_crossentropy, ref_sparse_ce),
    ("mse", L.mse, ref_mse), ("mae", L.mae, ref_mae),
    ("mean_squared_error", L.mean_squared_error, ref_mse),
    ("mean_absolute_error", L.mean_absolute_error, ref_mae),
])
def test_functions_return_per_sample_losses(name, fn, ref, rng):
    if name.startswith("sparse"):
        y_true, y_pred = rng.integers(0, 4, 9), probabilities(rng, 9, 4)
    else:
        y_true, y_pred = rng.normal(size=(9, 3)), rng.normal(size=(9, 3)).astype(np.float32)
    value = fn(y_true, y_pred)
    assert value.shape == (9,) and value.dtype == np.float32
    assert_close(value, ref(y_true, y_pred), LOSS_RTOL, LOSS_ATOL, name)


def test_function_keyword_arguments(rng):
    t = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 6)]
    z = rng.normal(0, 2, (6, 4)).astype(np.float32)
    assert_close(L.categorical_crossentropy(t, z, from_logits=True, label_smoothing=0.3),
                 ref_categorical_ce(t, z, True, 0.3), LOSS_RTOL, LOSS_ATOL)
    assert_close(L.binary_crossentropy(t, z, from_logits=True, label_smoothing=0.3),
                 ref_binary_ce(t, z, True, 0.3), LOSS_RTOL, LOSS_ATOL)
    labels = rng.integers(0, 4, 6)
    assert_close(L.sparse_categorical_crossentropy(labels, z, from_logits=True),
                 ref_sparse_ce(labels, z, True), LOSS_RTOL, LOSS_ATOL)


def test_keras_documented_values():
    """The examples in Keras 3's docstrings (rounded to 3 digits there)."""
    y_pred = np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]])
    assert round(float(L.SparseCategoricalCrossentropy()([1, 2], y_pred)), 3) == 1.177
    assert round(float(L.CategoricalCrossentropy()([[0, 1, 0], [0, 0, 1]], y_pred,
                                                   sample_weight=[0.3, 0.7])), 3) == 0.814
    summed = L.SparseCategoricalCrossentropy(reduction="sum")([1, 2], y_pred)
    assert round(float(summed), 3) == 2.354


def test_higher_rank_predictions(rng):
    """(batch, steps, classes) predictions: one loss per (sample, step), on both paths."""
    labels = rng.integers(0, 5, (4, 3))
    logits = rng.normal(0, 2, (4, 3, 5)).astype(np.float32)
    expected = ref_sparse_ce(labels, logits, True)
    value = L.SparseCategoricalCrossentropy(from_logits=True, reduction=None)(labels, logits)
    assert_close(value, expected, LOSS_RTOL, LOSS_ATOL)
    assert_close(L.SparseCategoricalCrossentropy(reduction=None)(labels, ops.softmax(logits)),
                 expected, LOSS_RTOL, LOSS_ATOL)
    with GradientTape() as tape:
        tape.watch(logits)
        fused = L.SparseCategoricalCrossentropy()(labels[..., None], ops.softmax(logits))
    grad = tape.gradient(fused, logits)
    assert_close(fused, expected.mean(), LOSS_RTOL, LOSS_ATOL)
    assert_close(grad, (np.exp(ref_log_softmax(logits)) - np.eye(5)[labels]) / 12,
                 GRAD_RTOL, GRAD_ATOL)


def test_empty_batch_reduces_to_zero():
    value = L.SparseCategoricalCrossentropy()(np.zeros(0, np.int64), np.zeros((0, 3), np.float32))
    assert value.shape == () and float(value) == 0.0
    value = L.MeanSquaredError(reduction="sum")(np.zeros((0, 2)), np.zeros((0, 2)))
    assert float(value) == 0.0


# ---- gradients -----------------------------------------------------------------------------------

@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", CASES)
def test_gradient_matches_finite_differences(case, weighted, rng):
    loss, ref, y_true, y_pred = make_case(case, rng, 5)
    if case.startswith("mae"):
        # |t - y| has a kink at t = y: keep the finite differences away from it.
        t = y_true.reshape(y_pred.shape)
        y_pred = (t + np.where(y_pred >= t, 1, -1) * (0.1 + np.abs(y_pred))).astype(np.float32)
    weight = rng.uniform(0.1, 2.0, 5).astype(np.float32) if weighted else None
    _, grad = tape_loss(loss, y_true, y_pred, sample_weight=weight)
    expected = fd_gradient(lambda y: ref_reduce(ref(y_true, y), weight, "sum_over_batch_size"),
                           y_pred)
    assert grad.dtype == np.float32
    assert_close(grad, expected, GRAD_RTOL, GRAD_ATOL, f"d{case}/dy_pred")


@pytest.mark.parametrize("reduction", ["sum", "mean_with_sample_weight"])
def test_gradient_of_other_reductions(reduction, rng):
    loss, ref, y_true, y_pred = make_case("categorical_logits", rng, 4)
    weight = rng.uniform(0.1, 2.0, 4).astype(np.float32)
    _, grad = tape_loss(with_reduction(loss, reduction), y_true, y_pred, sample_weight=weight)
    expected = fd_gradient(lambda y: ref_reduce(ref(y_true, y), weight, reduction), y_pred)
    assert_close(grad, expected, GRAD_RTOL, GRAD_ATOL)


def test_gradient_reaches_a_variable(rng):
    target = rng.normal(size=(6, 2)).astype(np.float32)
    v = Variable(rng.normal(size=(6, 2)))
    with GradientTape() as tape:
        value = L.MeanSquaredError()(target, v)
    grad = tape.gradient(value, v)
    assert_close(grad, 2 * (f64(v.numpy()) - target) / 12, GRAD_RTOL, GRAD_ATOL)


# ---- the fused path: a softmax recorded on the tape --------------------------------------------

@pytest.mark.parametrize("n, c", [(1, 2), (3, 5), (17, 10), (33, 3)])
def test_sparse_ce_on_recorded_softmax_uses_fused_gradient(n, c, rng):
    """d/dlogits of SCCE(softmax(logits)) is (softmax - onehot) / batch."""
    logits = rng.normal(0, 2, (n, c)).astype(np.float32)
    labels = rng.integers(0, c, n)
    with GradientTape() as tape:
        tape.watch(logits)
        probs = ops.softmax(logits)
        assert ops.softmax_logits(probs) is logits
        value = L.SparseCategoricalCrossentropy()(labels, probs)
    grad = tape.gradient(value, logits)
    softmax = np.exp(ref_log_softmax(logits))
    assert_close(grad, (softmax - np.eye(c)[labels]) / n, GRAD_RTOL, GRAD_ATOL)
    assert_close(value, ref_sparse_ce(labels, logits, True).mean(), LOSS_RTOL, LOSS_ATOL)


def test_categorical_ce_on_recorded_softmax_uses_fused_gradient(rng):
    logits = rng.normal(0, 2, (7, 4)).astype(np.float32)
    targets = probabilities(rng, 7, 4)
    loss = L.CategoricalCrossentropy(label_smoothing=0.1)
    with GradientTape() as tape:
        tape.watch(logits)
        value = loss(targets, ops.softmax(logits))
    grad = tape.gradient(value, logits)
    smoothed = f64(targets) * 0.9 + 0.1 / 4
    expected = (np.exp(ref_log_softmax(logits)) * smoothed.sum(1, keepdims=True) - smoothed) / 7
    assert_close(grad, expected, GRAD_RTOL, GRAD_ATOL)
    assert_close(value, ref_categorical_ce(targets, logits, True, 0.1).mean(), LOSS_RTOL, LOSS_ATOL)


@pytest.mark.parametrize("loss_cls, sparse", [(L.SparseCategoricalCrossentropy, True),
                                              (L.CategoricalCrossentropy, False)])
def test_fused_and_probability_paths_agree(loss_cls, sparse, rng):
    """The same softmax probabilities give the same loss on and off the tape (moderate logits,
    so that the probability path's clipping never triggers)."""
    logits = rng.normal(0, 2, (17, 6)).astype(np.float32)
    labels = rng.integers(0, 6, 17)
    y_true = labels if sparse else np.eye(6, dtype=np.float32)[labels]
    off_tape = loss_cls()(y_true, ops.softmax(logits))
    with GradientTape() as tape:
        tape.watch(logits)
        probs = ops.softmax(logits)
        on_tape = loss_cls()(y_true, probs)
    assert_close(on_tape, f64(off_tape), LOSS_RTOL, LOSS_ATOL)
    assert_close(off_tape, ref_sparse_ce(labels, probs).mean(), LOSS_RTOL, LOSS_ATOL)


def test_fused_path_is_exact_where_probabilities_saturate():
    """A confidently wrong softmax: the probabilities clip at 1e-7 (loss 16.1), the fused path
    sees the logits (loss 100); the gradient is still softmax - onehot."""
    logits = np.array([[100.0, 0.0, 0.0]], np.float32)
    assert_close(L.SparseCategoricalCrossentropy()([1], ops.softmax(logits)), -np.log(CLIP_LO),
                 LOSS_RTOL, LOSS_ATOL)
    with GradientTape() as tape:
        tape.watch(logits)
        value = L.SparseCategoricalCrossentropy()([1], ops.softmax(logits))
    assert_close(value, 100.0, LOSS_RTOL, LOSS_ATOL)
    assert_close(tape.gradient(value, logits), [[1.0, -1.0, 0.0]], GRAD_RTOL, GRAD_ATOL)


def test_dense_softmax_output_layer_trains_through_fused_path(rng):
    x = rng.normal(size=(8, 5)).astype(np.float32)
    kernel = Variable(rng.normal(0, 0.5, (5, 3)))
    labels = rng.integers(0, 3, 8)
    with GradientTape() as tape:
        probs = ops.dense(x, kernel, activation="softmax")
        value = L.SparseCategoricalCrossentropy()(labels, probs)
    grad = tape.gradient(value, kernel)
    z = f64(x) @ f64(kernel.numpy())
    expected = f64(x).T @ (np.exp(ref_log_softmax(z)) - np.eye(3)[labels]) / 8
    assert_close(grad, expected, GRAD_RTOL, 1e-6)


# ---- extreme inputs ------------------------------------------------------------------------------

EXTREME = np.array([[100.0, -100.0, 0.0], [-100.0, -100.0, 100.0], [100.0, 100.0, -100.0]],
                   np.float32)


@pytest.mark.parametrize("loss, ref, y_true", [
    (L.SparseCategoricalCrossentropy(from_logits=True), lambda t, y: ref_sparse_ce(t, y, True),
     np.array([1, 0, 2])),
    (L.CategoricalCrossentropy(from_logits=True), lambda t, y: ref_categorical_ce(t, y, True),
     np.eye(3, dtype=np.float32)[[1, 0, 2]]),
    (L.BinaryCrossentropy(from_logits=True), lambda t, y: ref_binary_ce(t, y, True),
     np.array([[1, 0, 1], [0, 1, 0], [0, 0, 1]], np.float32)),
], ids=["sparse", "categorical", "binary"])
def test_extreme_logits_stay_finite(loss, ref, y_true):
    value, grad = tape_loss(with_reduction(loss, None), y_true, EXTREME.copy())
    assert_close(value, ref(y_true, EXTREME), LOSS_RTOL, LOSS_ATOL)
    assert np.all(np.isfinite(grad)) and np.all(np.abs(grad) <= 1.0)


def test_extreme_probabilities_stay_finite():
    p = np.array([[0.0, 1.0], [1.0, 0.0]], np.float32)
    for loss, y_true in [(L.SparseCategoricalCrossentropy(), [0, 0]),
                         (L.CategoricalCrossentropy(), np.eye(2)[[0, 0]]),
                         (L.BinaryCrossentropy(), np.array([[1, 0], [0, 1]], np.float32))]:
        value, grad = tape_loss(loss, y_true, p.copy())
        assert np.isfinite(value) and np.all(np.isfinite(grad)), type(loss).__name__
    assert_close(L.BinaryCrossentropy()(np.array([[1, 0], [0, 1]], np.float32), p),
                 ref_binary_ce([[1, 0], [0, 1]], p).mean(), LOSS_RTOL, LOSS_ATOL)


# ---- label and shape checks ----------------------------------------------------------------

@pytest.mark.parametrize("path", ["probabilities", "logits", "fused"])
@pytest.mark.parametrize("bad", [3, -1, 1000])
def test_labels_out_of_range_raise(path, bad, rng):
    labels = np.array([0, bad, 1])
    logits = rng.normal(size=(3, 3)).astype(np.float32)
    loss = L.SparseCategoricalCrossentropy(from_logits=path == "logits")
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        if path == "fused":
            with GradientTape() as tape:
                tape.watch(logits)
                loss(labels, ops.softmax(logits))
        else:
            loss(labels, logits if path == "logits" else ops.softmax(logits))


def test_bad_labels_raise(rng):
    probs = probabilities(rng, 3, 4)
    with pytest.raises(ValueError, match="integers"):
        L.sparse_categorical_crossentropy([0.0, 1.5, 2.0], probs)
    with pytest.raises(ValueError, match="integers"):
        L.sparse_categorical_crossentropy([0.0, np.nan, 2.0], probs)
    with pytest.raises(TypeError, match="integers"):
        L.sparse_categorical_crossentropy(np.array(["a", "b", "c"]), probs)
    with pytest.raises(ValueError, match="one class index per sample"):
        L.sparse_categorical_crossentropy([0, 1], probs)
    with pytest.raises(ValueError, match="one class index per sample"):
        L.sparse_categorical_crossentropy(np.eye(4)[[0, 1, 2]], probs)


def test_shape_mismatch_raises(rng):
    with pytest.raises(ValueError, match="same shape"):
        L.categorical_crossentropy(np.eye(3)[[0, 1]], probabilities(rng, 2, 4))
    with pytest.raises(ValueError, match="same shape"):
        L.binary_crossentropy(np.ones((2, 3)), np.full((2, 2), 0.5))


def test_argument_errors():
    with pytest.raises(ValueError, match="reduction"):
        L.MeanSquaredError(reduction="average")
    with pytest.raises(ValueError, match="float32"):
        L.MeanSquaredError(dtype="float64")
    with pytest.raises(ValueError, match="axis"):
        L.CategoricalCrossentropy(axis=1)
    with pytest.raises(ValueError, match="ignore_class"):
        L.SparseCategoricalCrossentropy(ignore_class=0)
    with pytest.raises(TypeError, match="fn"):
        L.LossFunctionWrapper("mse")
    with pytest.raises(NotImplementedError):
        L.Loss()([1.0], [1.0])


def test_custom_loss_subclass(rng):
    class Huber(L.Loss):
        def __init__(self, delta=1.0, **kwargs):
            super().__init__(**kwargs)
            self.delta = delta

        def call(self, y_true, y_pred):
            err = ops.abs(ops.subtract(y_true, y_pred))
            quadratic = ops.multiply(np.float32(0.5), ops.square(err))
            linear = ops.subtract(ops.multiply(np.float32(self.delta), err),
                                  np.float32(0.5 * self.delta ** 2))
            return ops.where(f64(err) <= self.delta, quadratic, linear)

        def get_config(self):
            return {**super().get_config(), "delta": self.delta}

    y_true = rng.normal(size=7).astype(np.float32)
    y_pred = (y_true + rng.uniform(-3, 3, 7)).astype(np.float32)
    err = np.abs(f64(y_true) - f64(y_pred))
    expected = np.where(err <= 1.0, 0.5 * err ** 2, err - 0.5)
    assert Huber().name == "huber"
    assert_close(Huber()(y_true, y_pred), expected.mean(), LOSS_RTOL, LOSS_ATOL)
    config = L.serialize(Huber(delta=2.0))
    assert L.deserialize(config, custom_objects={"Huber": Huber}).delta == 2.0


# ---- registry ----------------------------------------------------------------------------------

CLASSES = {
    "SparseCategoricalCrossentropy": {"from_logits": False, "ignore_class": None},
    "CategoricalCrossentropy": {"from_logits": False, "label_smoothing": 0.0, "axis": -1},
    "BinaryCrossentropy": {"from_logits": False, "label_smoothing": 0.0, "axis": -1},
    "MeanSquaredError": {},
    "MeanAbsoluteError": {},
}
FUNCTIONS = {
    "sparse_categorical_crossentropy": L.sparse_categorical_crossentropy,
    "categorical_crossentropy": L.categorical_crossentropy,
    "binary_crossentropy": L.binary_crossentropy,
    "mean_squared_error": L.mean_squared_error, "mse": L.mean_squared_error,
    "MSE": L.mean_squared_error,
    "mean_absolute_error": L.mean_absolute_error, "mae": L.mean_absolute_error,
    "MAE": L.mean_absolute_error,
    "bce": L.binary_crossentropy, "BCE": L.binary_crossentropy,
}


@pytest.mark.parametrize("class_name", sorted(CLASSES))
def test_class_names_configs_and_round_trips(class_name):
    cls = getattr(L, class_name)
    snake = "_".join(w.lower() for w in re.findall(r"[A-Z][a-z]*", class_name))
    loss = L.get(class_name)
    assert type(loss) is cls and loss.name == snake
    assert loss.get_config() == {"name": snake, "reduction": "sum_over_batch_size",
                                 **CLASSES[class_name]}
    assert type(L.get(cls)) is cls
    assert L.get(loss) is loss
    custom = cls(reduction="sum", name="custom")
    config = json.loads(json.dumps(L.serialize(custom)))
    assert config["class_name"] == class_name
    again = L.deserialize(config)
    assert type(again) is cls and again.get_config() == custom.get_config()
    assert L.get(config).get_config() == custom.get_config()
    # a Keras 3 config carries extra keys
    assert type(L.deserialize({"module": "keras.losses", "registered_name": None, **config})) is cls


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_names(name):
    fn = FUNCTIONS[name]
    assert L.get(name) is fn
    assert L.get(fn) is fn
    assert L.deserialize(L.serialize(fn)) is fn
    wrapped = L.resolve(name)
    assert isinstance(wrapped, L.LossFunctionWrapper) and wrapped.fn is fn and wrapped.name == name


def test_non_default_arguments_round_trip():
    for loss in [L.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2),
                 L.BinaryCrossentropy(from_logits=True, label_smoothing=0.1, reduction=None),
                 L.SparseCategoricalCrossentropy(from_logits=True, name="xent")]:
        again = L.deserialize(json.loads(json.dumps(L.serialize(loss))))
        assert again.get_config() == loss.get_config() and again.from_logits


def test_loss_function_wrapper_round_trip(rng):
    loss = L.LossFunctionWrapper(L.categorical_crossentropy, name="cce", from_logits=True,
                                 label_smoothing=0.1, reduction="sum")
    config = json.loads(json.dumps(L.serialize(loss)))
    assert config == {"class_name": "LossFunctionWrapper", "config": {
        "name": "cce", "reduction": "sum", "from_logits": True, "label_smoothing": 0.1,
        "fn": {"class_name": "function", "config": "categorical_crossentropy"}}}
    again = L.deserialize(config)
    t = np.eye(3, dtype=np.float32)[[0, 2]]
    z = rng.normal(size=(2, 3)).astype(np.float32)
    assert float(again(t, z)) == float(loss(t, z))
    assert_close(loss(t, z), ref_categorical_ce(t, z, True, 0.1).sum(), LOSS_RTOL, LOSS_ATOL)


def test_get_and_resolve_edge_cases():
    assert L.get(None) is None and L.resolve(None) is None

    def my_loss(y_true, y_pred):
        return L.mean_absolute_error(y_true, y_pred)

    assert L.get(my_loss) is my_loss
    wrapped = L.resolve(my_loss)
    assert wrapped.name == "my_loss" and float(wrapped([[0.0], [0.0]], [[1.0], [3.0]])) == 2.0
    instance = L.BinaryCrossentropy()
    assert L.resolve(instance) is instance
    assert isinstance(L.resolve("BinaryCrossentropy"), L.BinaryCrossentropy)
    with pytest.raises(ValueError, match="mean_squared_error"):  # lists the valid names
        L.get("mean_sqared_error")
    with pytest.raises(ValueError, match="Could not interpret"):
        L.get(3)
    with pytest.raises(ValueError, match="class_name"):
        L.deserialize({"config": {}})
    with pytest.raises(ValueError, match="serialize"):
        L.serialize(3)


# ---- PyTorch ---------------------------------------------------------------------------------

def torch_grad(fn, y_pred, *args):
    x = torch.tensor(f64(y_pred), dtype=torch.float32, requires_grad=True)
    value = fn(x, *args)
    value.backward()
    return value.detach().numpy(), x.grad.numpy()


@needs_torch
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_sparse_and_categorical_ce_match_torch(weighted, rng):
    n, c = 33, 10
    logits = rng.normal(0, 3, (n, c)).astype(np.float32)
    labels = rng.integers(0, c, n)
    w = rng.uniform(0.1, 2.0, n).astype(np.float32) if weighted else np.ones(n, np.float32)
    tw, tl = torch.from_numpy(w), torch.from_numpy(labels)
    expected, expected_grad = torch_grad(
        lambda x: (F.cross_entropy(x, tl, reduction="none") * tw).mean(), logits)
    sw = w if weighted else None
    for loss, y_true in [(L.SparseCategoricalCrossentropy(from_logits=True), labels),
                         (L.CategoricalCrossentropy(from_logits=True), np.eye(c)[labels])]:
        value, grad = tape_loss(loss, y_true, logits, sample_weight=sw)
        assert_close(value, expected, TORCH_RTOL, LOSS_ATOL)
        assert_close(grad, expected_grad, TORCH_GRAD_RTOL, GRAD_ATOL)
    # probabilities from a recorded softmax, gradient with respect to the logits
    with GradientTape() as tape:
        tape.watch(logits)
        value = L.SparseCategoricalCrossentropy()(labels, ops.softmax(logits), sample_weight=sw)
    assert_close(value, expected, TORCH_RTOL, LOSS_ATOL)
    assert_close(tape.gradient(value, logits), expected_grad, TORCH_GRAD_RTOL, GRAD_ATOL)


@needs_torch
def test_label_smoothing_matches_torch(rng):
    logits = rng.normal(0, 3, (9, 4)).astype(np.float32)
    labels = rng.integers(0, 4, 9)
    expected, expected_grad = torch_grad(
        lambda x: F.cross_entropy(x, torch.from_numpy(labels), label_smoothing=0.2), logits)
    value, grad = tape_loss(L.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2),
                            np.eye(4)[labels], logits)
    assert_close(value, expected, TORCH_RTOL, LOSS_ATOL)
    assert_close(grad, expected_grad, TORCH_GRAD_RTOL, GRAD_ATOL)


@needs_torch
def test_binary_ce_matches_torch(rng):
    t = rng.integers(0, 2, (17, 3)).astype(np.float32)
    p = rng.uniform(0.02, 0.98, (17, 3)).astype(np.float32)
    z = np.concatenate([rng.normal(0, 3, (16, 3)), EXTREME[:1]]).astype(np.float32)
    tt = torch.from_numpy(t)
    expected, expected_grad = torch_grad(lambda x: F.binary_cross_entropy(x, tt), p)
    value, grad = tape_loss(L.BinaryCrossentropy(), t, p)
    assert_close(value, expected, TORCH_RTOL, LOSS_ATOL)
    assert_close(grad, expected_grad, TORCH_GRAD_RTOL, GRAD_ATOL)
    expected, expected_grad = torch_grad(lambda x: F.binary_cross_entropy_with_logits(x, tt), z)
    value, grad = tape_loss(L.BinaryCrossentropy(from_logits=True), t, z)
    assert_close(value, expected, TORCH_RTOL, LOSS_ATOL)
    assert_close(grad, expected_grad, TORCH_GRAD_RTOL, GRAD_ATOL)


@needs_torch
@pytest.mark.parametrize("loss, torch_fn", [(L.MeanSquaredError(), "mse_loss"),
                                            (L.MeanAbsoluteError(), "l1_loss")])
def test_regression_losses_match_torch(loss, torch_fn, rng):
    t = rng.normal(size=(33, 4)).astype(np.float32)
    y = rng.normal(size=(33, 4)).astype(np.float32)
    expected, expected_grad = torch_grad(lambda x: getattr(F, torch_fn)(x, torch.from_numpy(t)), y)
    value, grad = tape_loss(loss, t, y)
    assert_close(value, expected, TORCH_RTOL, LOSS_ATOL)
    assert_close(grad, expected_grad, TORCH_GRAD_RTOL, GRAD_ATOL)


@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("label_shape", ["flat", "column"])
def test_fused_mean_fast_path_matches_general_path(from_logits, label_shape):
    """The training hot path (one native call for mean sparse CE) gives the general path's value
    and gradient, from logits and from a recorded softmax."""

    r = np.random.default_rng(7)
    logits = r.normal(0, 3, (9, 5)).astype(np.float32)
    labels = r.integers(0, 5, 9)
    y = labels if label_shape == "flat" else labels.reshape(-1, 1)
    loss = L.SparseCategoricalCrossentropy(from_logits=from_logits)
    results = []
    for weights in (None, np.ones(9, np.float32)):  # sample weights force the general path
        with GradientTape() as tape:
            tape.watch(logits)
            scores = logits if from_logits else ops.softmax(logits)
            value = loss(y, scores, sample_weight=weights)
        results.append((float(value), tape.gradient(value, logits)))
    (fast_value, fast_grad), (slow_value, slow_grad) = results
    assert fast_value == pytest.approx(slow_value, rel=1e-6)
    np.testing.assert_allclose(fast_grad, slow_grad, rtol=1e-5, atol=1e-7)
    z = logits.astype(np.float64) - logits.max(1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    np.testing.assert_allclose(fast_grad, (p - np.eye(5)[labels]) / 9, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        loss(np.full(9, 5), logits if from_logits else ops.softmax(logits))


def test_fused_cross_entropy_agrees_on_every_kernel_path(isa):
    """A −inf logit of another class adds nothing (the reference path used to sum 0·(lse + inf)
    = NaN); a row without a finite logit, or without classes, has no distribution: NaN."""
    from fastdnn import _C
    logits = np.array([[-1.5, -np.inf, 0.5], [-np.inf, -np.inf, -np.inf]], np.float32)
    loss, grad = _C.softmax_xent(logits, np.array([0, 1], np.int64), None, 1.0, True)
    z = np.array([-1.5, 0.5])
    assert_close(loss[0], np.log(np.exp(z).sum()) + 1.5, LOSS_RTOL, LOSS_ATOL)
    assert np.isnan(loss[1]) and np.isnan(grad[1]).all()
    assert grad[0, 1] == 0.0
    empty, _ = _C.softmax_xent(np.zeros((2, 0), np.float32), None, np.zeros((2, 0), np.float32), 1.0, False)
    assert np.isnan(empty).all()
