"""fastdnn.metrics' confusion-count metrics (TruePositives ... FalseNegatives, Precision, Recall,
AUC): counts and areas over several weighted batches against float64 NumPy references written
here (a loop over thresholds, trapezoids, Gauss-Legendre integration of the interpolated PR
curve, the Mann-Whitney statistic), against real Keras 3 and scikit-learn where installed, the
configs, the errors, and a fit that logs them."""

import json
import os

import fastdnn
import numpy as np
import pytest
from fastdnn import metrics as M

# Keras's NumPy backend converts its own variables through a NumPy 1 style __array__.
# Its divide_no_nan divides before it masks, which warns for the zeros it then masks.
pytestmark = [
    pytest.mark.filterwarnings(
        "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::RuntimeWarning:keras"),
]

# Counts are float64 sums of the same float64 weights the references add, in another order:
# ~1e-15 relative; 1e-12 leaves room and still fails one misplaced sample (>= 1e-3 here).
RTOL = 1e-12
# Keras keeps its counts in float32 variables and computes the areas in float32: each count
# carries ~n·eps32/2 relative error (n <= 200 weighted additions, ~1e-5 at worst, ~1e-7 seen)
# and an area sums ~200 float32 terms. The largest difference seen over every case is 9e-7
# relative (PRGAIN, a small area made of differences); 2e-5 still fails one misplaced sample.
KERAS_RTOL = 2e-5
KERAS_ATOL = 1e-6
# Gauss-Legendre with 16 nodes integrates the interpolated precision TP(P) / P, a rational
# function without a pole inside each interval, to ~1e-15 for the P_A / P_B <= 100 ratios here.
QUADRATURE_RTOL = 1e-10


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    return pytest.importorskip("keras", minversion="3.0")


def close(actual, expected, rtol=RTOL, atol=1e-12):
    np.testing.assert_allclose(np.asarray(actual, np.float64), np.asarray(expected, np.float64),
                               rtol=rtol, atol=atol)


# ---- float64 references ------------------------------------------------------------------------

def f32(x):
    """Thresholds as Keras compares them: rounded to float32, held exactly in float64."""
    return np.asarray(x, np.float32).astype(np.float64)


def ref_weights(sample_weight, y_true):
    """Keras's placement of sample weights: per sample ((batch,) against (batch, d)) or per
    element."""
    shape = np.shape(y_true)
    if sample_weight is None:
        return np.ones(shape)
    w = np.asarray(sample_weight, np.float64)
    if w.ndim == len(shape) - 1:
        w = w[..., None]
    return np.broadcast_to(w, shape)


def ref_counts(batches, thresholds, clip=False, per_label=False):
    """(tp, fp, tn, fn) per threshold (per label) by one comparison per threshold. (On an even
    grid fastdnn, as Keras, buckets by ceil(p·(T - 1)) in float32, which can differ for a
    prediction within an ulp of a threshold; these random predictions land nowhere so close.)"""
    t = f32(thresholds)
    out = np.zeros((4, len(t)) + ((batches[0][1].shape[-1],) if per_label else ()))
    for y_true, y_pred, w in batches:
        p = np.asarray(y_pred, np.float32).astype(np.float64)
        if clip:
            p = np.clip(p, 0, 1)
        pos = np.asarray(y_true) != 0
        w = ref_weights(w, y_true)
        for i, thr in enumerate(t):
            above = p > thr
            for k, mask in enumerate((pos & above, ~pos & above, ~pos & ~above, pos & ~above)):
                sums = np.where(mask, w, 0.0)
                out[k, i] += sums.sum(axis=0) if per_label else sums.sum()
    return out


def auc_thresholds(num_thresholds):
    return [-1e-7] + [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)] + [1 + 1e-7]


def safe_div(a, b):
    a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    out = np.zeros(a.shape)
    np.divide(a, b, out=out, where=b != 0)
    return out


def ref_riemann(x, y, method):
    """Area of the polyline through points ordered from low threshold to high."""
    if method == "interpolation":
        h = (y[:-1] + y[1:]) / 2
    elif method == "minoring":
        h = np.minimum(y[:-1], y[1:])
    else:
        h = np.maximum(y[:-1], y[1:])
    return ((x[:-1] - x[1:]) * h).sum(axis=0)


def ref_pr_interpolated(tp, fp, fn):
    """∫ precision d(recall) with TP and P = TP + FP linear between neighbouring thresholds,
    by Gauss-Legendre quadrature in P over each interval (Davis & Goadrich's interpolation)."""
    nodes, weights = np.polynomial.legendre.leggauss(16)
    positives = tp[0] + fn[0]
    area = 0.0
    for i in range(len(tp) - 1):
        pa, pb = tp[i] + fp[i], tp[i + 1] + fp[i + 1]
        dtp = tp[i] - tp[i + 1]
        if pa - pb <= 0 or dtp == 0 or positives <= 0:
            continue
        slope = dtp / (pa - pb)
        # P runs over [pb, pa]; TP(P) = tp_b + slope·(P - pb); d(recall) = slope·dP / positives
        p = pb + (pa - pb) * (nodes + 1) / 2
        precision = (tp[i + 1] + slope * (p - pb)) / p
        area += (pa - pb) / 2 * np.sum(weights * precision) * slope / positives
    return area


def ref_auc(counts, curve, method):
    tp, fp, tn, fn = counts
    if curve == "PR" and method == "interpolation":
        return ref_pr_interpolated(tp, fp, fn)
    recall = safe_div(tp, tp + fn)
    if curve == "ROC":
        return ref_riemann(safe_div(fp, fp + tn), recall, method)
    return ref_riemann(recall, safe_div(tp, tp + fp), method)


def mann_whitney(batches):
    """The exact ROC AUC: P(score of a positive > score of a negative) + ½ P(tie), weighted."""
    y = np.concatenate([np.ravel(b[0]) for b in batches]) != 0
    p = np.concatenate([np.ravel(b[1]) for b in batches]).astype(np.float64)
    w = np.concatenate([np.ravel(ref_weights(b[2], b[0])) for b in batches])
    sp, wp, sn, wn = p[y], w[y], p[~y], w[~y]
    wins = (sp[:, None] > sn[None, :]) + 0.5 * (sp[:, None] == sn[None, :])
    return float((wp[:, None] * wn[None, :] * wins).sum() / (wp.sum() * wn.sum()))


def make_batches(rng, sizes=(1, 3, 17, 33), labels=None, weights="sample"):
    out = []
    for n in sizes:
        shape = (n,) if labels is None else (n, labels)
        y = rng.integers(0, 2, shape).astype(np.float32)
        p = np.clip(rng.uniform(size=shape) * 0.6 + 0.4 * y, 0, 1).astype(np.float32)
        if weights == "sample":
            w = rng.uniform(0.0, 2.0, n)
        elif weights == "element":
            w = rng.uniform(0.0, 2.0, shape)
        else:
            w = None
        out.append((y, p, w))
    return out


def feed(metric, batches):
    for y, p, w in batches:
        metric.update_state(y, p, sample_weight=w)
    return metric


# ---- counts ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls, index", [(M.TruePositives, 0), (M.FalsePositives, 1),
                                        (M.TrueNegatives, 2), (M.FalseNegatives, 3)])
@pytest.mark.parametrize("thresholds", [None, 0.25, [0.8, 0.1, 0.5], [0.0, 0.5, 1.0]],
                         ids=["default", "one", "unsorted", "even"])
@pytest.mark.parametrize("weights", ["sample", "element", None])
def test_counts_over_several_batches(cls, index, thresholds, weights, rng):
    batches = make_batches(rng, labels=3, weights=weights)
    metric = feed(cls(thresholds=thresholds), batches)
    listed = [0.5] if thresholds is None else np.atleast_1d(thresholds).tolist()
    expected = ref_counts(batches, listed, clip=thresholds == [0.0, 0.5, 1.0])[index]
    result = metric.result()
    if len(listed) == 1:
        assert isinstance(result, float)
    else:
        assert isinstance(result, np.ndarray) and result.shape == (len(listed),)
    close(result, expected if len(listed) > 1 else expected[0])
    metric.reset_state()
    close(metric.result(), np.zeros(len(listed)) if len(listed) > 1 else 0.0)


def test_prediction_at_a_threshold_is_negative_and_ranks_shape():
    """Strictly above counts; (batch,) labels against (batch, 1) predictions."""
    tp = M.TruePositives(thresholds=[0.25, 0.5])
    tp.update_state([1, 1, 1], np.array([[0.25], [0.5], [0.75]], np.float32))
    close(tp.result(), [2.0, 1.0])
    # a float32 0.3 is not above the float32 threshold 0.3 (Keras compares in float32)
    fp = M.FalsePositives(thresholds=0.3)
    fp.update_state([0], np.array([0.3], np.float32))
    assert fp.result() == 0.0
    # NaN is above no threshold; out-of-range values are compared as they are, except for an
    # even grid of thresholds, which Keras clips predictions to [0, 1] for
    fp = M.FalsePositives(thresholds=[0.5])
    fp.update_state([0, 0, 0], [np.nan, 1.5, -1.0])
    assert fp.result() == 1.0
    fp = M.FalsePositives(thresholds=[0.0, 0.5, 1.0])
    fp.update_state([0, 0], [1.5, -1.0])
    close(fp.result(), [1.0, 1.0, 0.0])


def test_empty_batch_counts_nothing():
    m = M.Precision(thresholds=[0.2, 0.6])
    m.update_state(np.zeros((0, 3)), np.zeros((0, 3)))
    close(m.result(), [0.0, 0.0])
    close(m.true_positives.numpy(), [0.0, 0.0])


# ---- Precision and Recall ----------------------------------------------------------------------

def ref_top_k(p, k):
    """Scores outside each row's k largest (first index wins a tie) set to -1e10."""
    out = np.full(p.shape, -1e10)
    for row in np.ndindex(p.shape[:-1]):
        keep = sorted(range(p.shape[-1]), key=lambda j: (-p[row][j], j))[:k]
        out[row][keep] = p[row][keep]
    return out


@pytest.mark.parametrize("cls", [M.Precision, M.Recall])
@pytest.mark.parametrize("thresholds, top_k, class_id", [
    (None, None, None), ([0.2, 0.9, 0.5], None, None), (None, 2, None), (None, None, 1),
    ([0.1, 0.5], 1, 2), ([0.0, 0.25, 0.5, 0.75, 1.0], None, 0)])
def test_precision_and_recall(cls, thresholds, top_k, class_id, rng):
    batches = make_batches(rng, labels=4)
    metric = feed(cls(thresholds=thresholds, top_k=top_k, class_id=class_id), batches)
    listed = ([0.5] if top_k is None else [-1e10]) if thresholds is None else thresholds
    even = thresholds is not None and len(thresholds) >= 3 and np.allclose(
        thresholds, np.linspace(0, 1, len(thresholds)))
    ref_batches = []
    for y, p, w in batches:
        p = p.astype(np.float64)
        if top_k is not None:
            p = ref_top_k(p, top_k)
        if class_id is not None:
            y, p = y[:, class_id:class_id + 1], p[:, class_id:class_id + 1]
        ref_batches.append((y, p, w))
    tp, fp, _, fn = ref_counts(ref_batches, listed, clip=even)
    expected = safe_div(tp, tp + (fp if cls is M.Precision else fn))
    result = metric.result()
    close(result, expected if len(listed) > 1 else expected[0])
    assert 0 < np.min(expected[:-1] if even else expected)  # the data exercise every threshold


def test_precision_and_recall_without_positives_give_zero():
    p, r = M.Precision(), M.Recall()
    for m in (p, r):
        m.update_state([0, 0], [0.1, 0.2])
    assert p.result() == 0.0 and r.result() == 0.0


# ---- AUC ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("curve", ["ROC", "PR"])
@pytest.mark.parametrize("method", ["interpolation", "minoring", "majoring"])
@pytest.mark.parametrize("num_thresholds", [3, 17, 200])
def test_auc_against_reference(curve, method, num_thresholds, rng):
    batches = make_batches(rng, labels=2, weights="element")
    metric = feed(M.AUC(num_thresholds=num_thresholds, curve=curve, summation_method=method),
                  batches)
    counts = ref_counts(batches, auc_thresholds(num_thresholds), clip=True)
    close([v.numpy() for v in metric.variables], counts)
    result = metric.result()
    assert isinstance(result, float) and 0 < result <= 1
    close(result, ref_auc(counts, curve, method), rtol=QUADRATURE_RTOL)


def test_auc_bounds_and_the_exact_area(rng):
    """With a threshold between every two distinct scores, the trapezoidal ROC area is the
    exact one (Mann-Whitney); minoring <= interpolation <= majoring always, strictly on a grid
    coarse enough that an interval holds positives and negatives."""
    scores = (rng.permutation(60) + 0.5) / 60
    batches = [(rng.integers(0, 2, 60), scores.astype(np.float32), rng.uniform(0.5, 2.0, 60))]
    cuts = list(np.arange(1, 60) / 60)
    close(feed(M.AUC(thresholds=cuts), batches).result(), mann_whitney(batches), rtol=1e-12)
    for curve in ("ROC", "PR"):
        lo, mid, hi = (feed(M.AUC(num_thresholds=6, curve=curve, summation_method=s), batches).result()
                       for s in ("minoring", "interpolation", "majoring"))
        assert lo <= mid <= hi and lo < hi


def test_auc_documented_values():
    m = M.AUC(num_thresholds=3)
    m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
    close(m.result(), 0.75)
    m.reset_state()
    m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9], sample_weight=[1, 0, 0, 1])
    close(m.result(), 1.0)


def test_auc_thresholds_argument(rng):
    batches = make_batches(rng)
    inner = [0.9, 0.05, 0.35, 0.6]  # sorted by AUC
    metric = feed(M.AUC(thresholds=inner, curve="PR"), batches)
    assert metric.num_thresholds == 6
    assert metric.thresholds == [-1e-7, 0.05, 0.35, 0.6, 0.9, 1 + 1e-7]
    counts = ref_counts(batches, metric.thresholds)
    close(metric.result(), ref_pr_interpolated(counts[0], counts[1], counts[3]), rtol=QUADRATURE_RTOL)


def test_auc_from_logits(rng):
    batches = make_batches(rng, labels=3)
    logits = [(y, np.log(p + 1e-3) - np.log1p(1e-3 - p), w) for y, p, w in batches]
    probs = [(y, (1 / (1 + np.exp(-z.astype(np.float32)))).astype(np.float32), w) for y, z, w in logits]
    got = feed(M.AUC(from_logits=True), logits).result()
    close(got, ref_auc(ref_counts(probs, auc_thresholds(200), clip=True), "ROC", "interpolation"))


@pytest.mark.parametrize("curve", ["ROC", "PR"])
@pytest.mark.parametrize("label_weights", [None, [1.0, 3.0, 0.5]])
def test_auc_multi_label(curve, label_weights, rng):
    batches = make_batches(rng, labels=3, weights="element")
    metric = feed(M.AUC(curve=curve, multi_label=True, label_weights=label_weights,
                        num_thresholds=50), batches)
    counts = ref_counts(batches, auc_thresholds(50), clip=True, per_label=True)
    assert metric.true_positives.shape == (50, 3)
    close(metric.true_positives.numpy(), counts[0])
    per_label = [ref_auc(counts[..., j], curve, "interpolation") for j in range(3)]
    lw = np.ones(3) if label_weights is None else np.asarray(label_weights)
    close(metric.result(), (np.dot(per_label, lw) / lw.sum()), rtol=QUADRATURE_RTOL)
    assert len(set(np.round(per_label, 6))) == 3  # the labels differ, so the weights matter


def test_auc_label_weights_on_flattened_data(rng):
    batches = make_batches(rng, labels=3)
    lw = np.array([1.0, 0.0, 2.5])
    metric = feed(M.AUC(label_weights=lw), batches)
    weighted = [(y, p, ref_weights(w, y) * lw) for y, p, w in batches]
    close(metric.result(), ref_auc(ref_counts(weighted, auc_thresholds(200), clip=True), "ROC",
                                   "interpolation"))


def test_auc_multi_label_builds_on_first_update(rng):
    m = M.AUC(multi_label=True)
    assert m.variables == [] and m.result() == 0.0
    y, p, _ = make_batches(rng, sizes=(9,), labels=4)[0]
    m.update_state(y, p)
    assert [v.shape for v in m.variables] == [(200, 4)] * 4
    with pytest.raises(ValueError, match="4 labels"):
        m.update_state(y[:, :3], p[:, :3])
    fixed = M.AUC(multi_label=True, num_labels=4)
    assert [v.name for v in fixed.variables] == ["true_positives", "false_positives",
                                                 "true_negatives", "false_negatives"]


# ---- Keras and scikit-learn --------------------------------------------------------------------

KERAS_CASES = {
    "auc_roc": lambda k: k.metrics.AUC(),
    "auc_pr": lambda k: k.metrics.AUC(curve="PR"),
    "auc_pr_minoring": lambda k: k.metrics.AUC(curve="PR", summation_method="minoring"),
    "auc_roc_majoring": lambda k: k.metrics.AUC(num_thresholds=33, summation_method="majoring"),
    "auc_prgain": lambda k: k.metrics.AUC(curve="PRGAIN"),
    "auc_thresholds": lambda k: k.metrics.AUC(thresholds=[0.1, 0.35, 0.5, 0.9]),
    "auc_multi_label": lambda k: k.metrics.AUC(multi_label=True),
    "auc_multi_label_pr": lambda k: k.metrics.AUC(curve="PR", multi_label=True,
                                                  label_weights=[1, 2, 0.5]),
    "auc_label_weights": lambda k: k.metrics.AUC(label_weights=[1, 2, 0.5]),
    "precision": lambda k: k.metrics.Precision(),
    "precision_thresholds": lambda k: k.metrics.Precision(thresholds=[0.7, 0.2, 0.5]),
    "precision_top_k": lambda k: k.metrics.Precision(top_k=2),
    "precision_class_id": lambda k: k.metrics.Precision(class_id=1),
    "recall_top_k_class": lambda k: k.metrics.Recall(top_k=1, class_id=2, thresholds=[0.0, 0.5, 1.0]),
    "recall_even": lambda k: k.metrics.Recall(thresholds=[0.0, 0.25, 0.5, 0.75, 1.0]),
    "true_positives": lambda k: k.metrics.TruePositives(thresholds=[0.3, 0.6]),
    "true_negatives": lambda k: k.metrics.TrueNegatives(),
    "false_positives": lambda k: k.metrics.FalsePositives(thresholds=[0.0, 0.5, 1.0]),
    "false_negatives": lambda k: k.metrics.FalseNegatives(thresholds=0.8),
}


@pytest.mark.parametrize("case", sorted(KERAS_CASES))
def test_matches_keras(case, keras, rng):
    batches = make_batches(rng, sizes=(1, 17, 33, 64), labels=3)
    ours, theirs = (feed(KERAS_CASES[case](lib), batches) for lib in (fastdnn, keras))
    close(ours.result(), np.asarray(theirs.result()), rtol=KERAS_RTOL, atol=KERAS_ATOL)
    assert [v.name for v in ours.variables] == [v.name for v in theirs.variables]
    # the same config (Keras writes its dtype and a label_weights array)
    theirs_config = {k: (np.asarray(v).tolist() if k == "label_weights" and v is not None else v)
                     for k, v in theirs.get_config().items() if k not in ("name", "dtype")}
    ours_config = {k: v for k, v in ours.get_config().items() if k not in ("name", "dtype")}
    assert ours_config == theirs_config


def test_auc_from_logits_matches_keras(keras, rng):
    batches = [(y, (p - 0.5) * 8, w) for y, p, w in make_batches(rng, labels=2)]
    ours, theirs = (feed(lib.metrics.AUC(from_logits=True), batches) for lib in (fastdnn, keras))
    close(ours.result(), float(theirs.result()), rtol=KERAS_RTOL, atol=KERAS_ATOL)


def test_auc_matches_scikit_learn(rng):
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    scores = (rng.permutation(80) + 0.5) / 80
    y, w = rng.integers(0, 2, 80), rng.uniform(0.5, 2.0, 80)
    batches = [(y, scores.astype(np.float32), w)]
    cuts = list(np.arange(1, 80) / 80)
    close(feed(M.AUC(thresholds=cuts), batches).result(),
          sklearn_metrics.roc_auc_score(y, scores, sample_weight=w), rtol=1e-12)
    ap = sklearn_metrics.average_precision_score(y, scores, sample_weight=w)
    lo, hi = (feed(M.AUC(thresholds=cuts, curve="PR", summation_method=s), batches).result()
              for s in ("minoring", "majoring"))
    assert lo <= ap <= hi


# ---- configs, names and errors --------------------------------------------------------------------

@pytest.mark.parametrize("metric", [
    M.AUC(name="a1"), M.AUC(num_thresholds=7, curve="PR", summation_method="majoring",
                            from_logits=True, name="a2"),
    M.AUC(thresholds=[0.2, 0.4], multi_label=True, num_labels=2, label_weights=[1, 2], name="a3"),
    M.Precision(thresholds=(0.3, 0.6), name="p"), M.Recall(top_k=2, class_id=1, name="r"),
    M.TruePositives(thresholds=0.4, name="tp"), M.FalseNegatives(name="fn")],
    ids=["auc", "auc_pr", "auc_multi", "precision", "recall", "tp", "fn"])
def test_config_round_trips(metric, rng):
    config = json.loads(json.dumps(M.serialize(metric)))
    again = M.deserialize(config)
    assert type(again) is type(metric) and again.get_config() == metric.get_config()
    assert again.name == metric.name
    y, p, w = make_batches(rng, sizes=(20,), labels=2)[0]
    for m in (metric, again):
        m.update_state(y, p, sample_weight=w)
    close(again.result(), metric.result(), rtol=0)


def test_registry_names_and_automatic_names():
    for name, cls in [("auc", M.AUC), ("precision", M.Precision), ("recall", M.Recall),
                      ("true_positives", M.TruePositives), ("false_negatives", M.FalseNegatives),
                      ("AUC", M.AUC), ("TrueNegatives", M.TrueNegatives)]:
        assert type(M.get(name)) is cls
        resolved = M.resolve(name)
        assert type(resolved) is cls and resolved.name == name
    # without a name, Keras's snake_case made unique until clear_session() starts over
    fastdnn.backend.clear_session()
    assert [M.AUC().name, M.AUC().name, M.Precision().name] == ["auc", "auc_1", "precision"]
    assert M.AUC(name="mine").name == "mine" and M.TruePositives().name == "true_positives"
    fastdnn.backend.clear_session()
    assert M.AUC().name == "auc"


def test_argument_errors():
    with pytest.raises(ValueError, match="curve"):
        M.AUC(curve="XY")
    with pytest.raises(ValueError, match="summation method"):
        M.AUC(summation_method="midpoint")
    with pytest.raises(ValueError, match="num_thresholds"):
        M.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        M.AUC(thresholds=[0.5, 1.5])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        M.Precision(thresholds=[-0.1])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        M.TruePositives(thresholds="0.5")
    with pytest.raises(ValueError, match="num_labels"):
        M.AUC(num_labels=3)
    with pytest.raises(ValueError, match="label_weights"):
        M.AUC(label_weights=[1.0, -1.0])
    with pytest.raises(ValueError, match="top_k"):
        M.Precision(top_k=0)
    with pytest.raises(ValueError, match="class_id"):
        M.Recall(class_id=-1)
    with pytest.raises(ValueError, match="dtype"):
        M.Precision(dtype="int32")


def test_update_errors():
    with pytest.raises(ValueError, match="class_id"):
        M.Precision(class_id=3).update_state([[0, 1]], [[0.2, 0.8]])
    with pytest.raises(ValueError, match="2D"):
        M.Precision(class_id=0).update_state([0, 1], [0.2, 0.8])
    with pytest.raises(ValueError, match="same shape"):
        M.Recall().update_state([[0, 1, 1]], [[0.2, 0.8]])
    with pytest.raises(ValueError, match="rank 2"):
        M.AUC(multi_label=True).update_state(np.zeros((2, 2, 2)), np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="sample_weight"):
        M.AUC().update_state([0, 1, 1], [0.2, 0.8, 0.5], sample_weight=[1.0, 2.0])
    with pytest.raises(TypeError, match=r"y_pred\.dtype"):
        M.AUC().update_state([0, 1], np.array([0.1 + 1j, 0.2]))
    with pytest.raises(TypeError, match=r"y_true\.dtype"):
        M.Precision().update_state(np.array(["0", "1"]), [0.1, 0.9])


# ---- in training ------------------------------------------------------------------------------

def test_fit_logs_what_the_metrics_compute(rng):
    """A model that does not move (its layer frozen) logs, for the training data, the metric of
    its predictions over the whole epoch, and the same for the validation data."""
    x = rng.normal(size=(96, 5)).astype(np.float32)
    y = (x[:, :1] + 0.5 * rng.normal(size=(96, 1)) > 0).astype(np.float32)
    xv, yv = x[:40] * 1.5, y[:40]
    frozen = fastdnn.layers.Dense(1, activation="sigmoid", trainable=False)
    model = fastdnn.Sequential([fastdnn.Input(shape=[5]), frozen])
    model.compile(optimizer="sgd", loss="binary_crossentropy",
                  metrics=[M.AUC(name="auc"), M.AUC(curve="PR", name="pr_auc"),
                           M.Precision(name="precision"), M.Recall(thresholds=0.3, name="recall")])
    history = model.fit(x, y, batch_size=16, epochs=1, validation_data=(xv, yv), verbose=0).history
    for data, (inputs, labels) in (("", (x, y)), ("val_", (xv, yv))):
        predictions = model.predict(inputs, verbose=0)
        for name, metric in [("auc", M.AUC()), ("pr_auc", M.AUC(curve="PR")),
                             ("precision", M.Precision()), ("recall", M.Recall(thresholds=0.3))]:
            metric.update_state(labels, predictions)
            expected = metric.result()
            assert 0 < expected < 1
            close(history[data + name][0], expected, rtol=1e-9)
