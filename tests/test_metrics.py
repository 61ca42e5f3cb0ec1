"""fastdnn.metrics: per-sample functions and accumulated results against float64 NumPy
references (several batches, sample weights, label shapes), float64 accumulation, the registry,
and `resolve`'s choice of accuracy for each loss."""

import json

import numpy as np
import pytest

from fastdnn import losses as L
from fastdnn import metrics as M
from fastdnn import ops
from fastdnn.autodiff import GradientTape

# Metrics accumulate in float64 from float32 or float64 inputs, exactly as the references do, so
# only the order of float64 summation differs: 1e-12 relative is ~5000 float64 ulps.
RTOL = 1e-12


def close(actual, expected):
    assert isinstance(actual, float)
    assert actual == pytest.approx(float(expected), rel=RTOL, abs=1e-15)


# ---- float64 references ----------------------------------------------------------------------

def ref_sparse_hits(labels, scores):
    return (np.asarray(labels).reshape(-1) == np.argmax(scores, axis=-1)).astype(np.float64)


def ref_categorical_hits(targets, scores):
    return (np.argmax(targets, axis=-1) == np.argmax(scores, axis=-1)).astype(np.float64)


def ref_binary_hits(targets, probs, threshold=0.5):
    targets = np.asarray(targets, np.float64).reshape(np.shape(probs))
    return ((np.asarray(probs) > threshold) == targets).mean(axis=-1)


def ref_weighted_mean(per_sample, weights):
    per_sample = np.concatenate(per_sample)
    weights = np.concatenate(weights)
    return (per_sample * weights).sum() / weights.sum()


def batches(rng, sizes=(1, 3, 17, 33)):
    """Batches of (labels, one-hot, scores, weights) over 4 classes."""
    out = []
    for n in sizes:
        labels = rng.integers(0, 4, n)
        scores = rng.normal(size=(n, 4)).astype(np.float32)
        out.append((labels, np.eye(4, dtype=np.float32)[labels], scores,
                    rng.uniform(0.0, 2.0, n)))
    return out


# ---- functions -------------------------------------------------------------------------------

def test_sparse_categorical_accuracy_label_shapes(rng):
    labels = rng.integers(0, 5, 17)
    scores = rng.normal(size=(17, 5))
    scores[np.arange(0, 17, 2), labels[::2]] = 10  # about half are hits
    expected = ref_sparse_hits(labels, scores)
    assert 0 < expected.mean() < 1
    for y_true in (labels, labels[:, None], labels.astype(np.float32)):
        got = M.sparse_categorical_accuracy(y_true, scores)
        assert got.shape == (17,) and got.dtype == np.float64
        np.testing.assert_array_equal(got, expected)


def test_categorical_and_binary_accuracy(rng):
    labels = rng.integers(0, 3, 9)
    scores = rng.normal(size=(9, 3))
    np.testing.assert_array_equal(M.categorical_accuracy(np.eye(3)[labels], scores),
                                  ref_categorical_hits(np.eye(3)[labels], scores))
    t = rng.integers(0, 2, (9, 4))
    p = rng.uniform(size=(9, 4))
    np.testing.assert_array_equal(M.binary_accuracy(t, p), ref_binary_hits(t, p))
    np.testing.assert_array_equal(M.binary_accuracy(t, p, threshold=0.8),
                                  ref_binary_hits(t, p, 0.8))
    # a prediction at the threshold counts as 0 (strictly greater is 1)
    np.testing.assert_array_equal(M.binary_accuracy([[0], [1]], [[0.5], [0.5]]), [1.0, 0.0])
    # (batch,) labels against (batch, 1) probabilities: one value per sample
    got = M.binary_accuracy(t[:, 0], p[:, :1])
    assert got.shape == (9,)
    np.testing.assert_array_equal(got, ref_binary_hits(t[:, 0], p[:, :1]))


def test_accuracy_and_regression_functions(rng):
    y = rng.integers(0, 3, (6, 1))
    p = y.copy()
    p[::2] += 1
    np.testing.assert_array_equal(M.accuracy(y, p), [0, 1, 0, 1, 0, 1])
    t, q = rng.normal(size=(6, 3)), rng.normal(size=(6, 3)).astype(np.float32)
    np.testing.assert_allclose(M.mse(t, q), ((t - q.astype(np.float64)) ** 2).mean(-1), rtol=RTOL)
    np.testing.assert_allclose(M.mae(t, q), np.abs(t - q.astype(np.float64)).mean(-1), rtol=RTOL)


# ---- accumulation --------------------------------------------------------------------------------

@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("metric_cls, kind", [
    (M.SparseCategoricalAccuracy, "sparse"), (M.CategoricalAccuracy, "categorical"),
])
def test_accuracy_over_several_batches(metric_cls, kind, weighted, rng):
    metric = metric_cls()
    hits, weights = [], []
    for labels, onehot, scores, w in batches(rng):
        w = w if weighted else np.ones(len(labels))
        metric.update_state(labels if kind == "sparse" else onehot, scores,
                            sample_weight=w if weighted else None)
        hits.append(ref_sparse_hits(labels, scores))
        weights.append(w)
    close(metric.result(), ref_weighted_mean(hits, weights))
    metric.reset_state()
    assert metric.result() == 0.0


def test_binary_accuracy_over_several_batches(rng):
    metric = M.BinaryAccuracy(threshold=0.3)
    hits, weights = [], []
    for n in (2, 5, 11):
        t, p, w = rng.integers(0, 2, (n, 1)), rng.uniform(size=(n, 1)), rng.uniform(0, 2, (n, 1))
        metric.update_state(t[:, 0], p, sample_weight=w)  # (batch,) labels, (batch, 1) weights
        hits.append(ref_binary_hits(t, p, 0.3))
        weights.append(w[:, 0])
    close(metric.result(), ref_weighted_mean(hits, weights))


@pytest.mark.parametrize("metric_cls, per_sample, finish", [
    (M.MeanSquaredError, lambda t, y: ((t - y) ** 2).mean(-1), lambda m: m),
    (M.MeanAbsoluteError, lambda t, y: np.abs(t - y).mean(-1), lambda m: m),
    (M.RootMeanSquaredError, lambda t, y: ((t - y) ** 2).mean(-1), np.sqrt),
])
def test_regression_metrics_over_several_batches(metric_cls, per_sample, finish, rng):
    metric = metric_cls()
    values, weights = [], []
    for n in (1, 4, 9):
        t = rng.normal(size=(n, 3))
        y = rng.normal(size=(n, 3)).astype(np.float32)
        w = rng.uniform(0, 2, n)
        metric.update_state(t, y, sample_weight=w)
        values.append(per_sample(t, y.astype(np.float64)))
        weights.append(w)
    close(metric.result(), finish(ref_weighted_mean(values, weights)))


def test_mean_weights_and_shapes():
    m = M.Mean()
    m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    close(m.result(), 2.0)
    m.update_state(10.0)  # a scalar counts as one sample
    close(m.result(), 14.0 / 3)
    m.update_state([[1.0, 3.0], [5.0, 7.0]])  # rows are averaged: samples 2 and 6
    close(m.result(), 22.0 / 5)
    m.update_state([[1.0, 3.0], [5.0, 7.0]], sample_weight=[[1.0, 0.0], [0.0, 0.0]])
    # per-element weights: values (1·1 + 3·0) / 2 and 0, weights averaged to 0.5 and 0
    close(m.result(), 22.5 / 5.5)
    with pytest.raises(ValueError, match="sample_weight"):
        m.update_state([1.0, 2.0, 3.0], sample_weight=[1.0, 2.0])


def test_mean_accumulates_in_float64():
    """1e8 then a hundred 1s: float32 would lose every 1 (1e8 + 1 == 1e8 in float32)."""
    m = M.Mean()
    m.update_state(np.array([1e8], np.float32))
    for _ in range(100):
        m.update_state(np.array([1.0], np.float32))
    close(m.result(), (1e8 + 100) / 101)


def test_call_reset_and_state():
    m = M.SparseCategoricalAccuracy()
    assert m([0, 1], [[0.9, 0.1], [0.8, 0.2]]) == 0.5  # __call__ updates, then returns result
    assert m([1], [[0.1, 0.9]]) == pytest.approx(2 / 3)
    assert [v.name for v in m.variables] == ["total", "count"]
    assert all(v.dtype == np.float64 and not v.trainable for v in m.variables)
    m.reset_states()  # tf.keras 2's name
    assert m.result() == 0.0 and float(m.count.numpy()) == 0.0
    m.update_state([1], [[0.1, 0.9]])
    assert m.result() == 1.0


def test_metrics_stay_off_the_tape(rng):
    logits = rng.normal(size=(5, 3)).astype(np.float32)
    metric = M.SparseCategoricalAccuracy()
    with GradientTape() as tape:
        tape.watch(logits)
        probs = ops.softmax(logits)
        nodes = len(tape._nodes)
        metric.update_state(rng.integers(0, 3, 5), probs)
        M.MeanSquaredError().update_state(np.zeros((5, 3)), probs)
        assert len(tape._nodes) == nodes


def test_custom_metric_subclass():
    class Maximum(M.Metric):
        def __init__(self, name="maximum", dtype=None):
            super().__init__(name=name, dtype=dtype)
            self.top = self.add_weight(shape=(), initializer="zeros", name="top")

        def update_state(self, values, sample_weight=None):
            self.top.assign(max(float(self.top.numpy()), float(np.max(values))))

        def result(self):
            return float(self.top.numpy())

    m = Maximum()
    m.update_state([1.0, 4.0])
    m.update_state([2.0])
    assert m.result() == 4.0 and m.name == "maximum"
    m.reset_state()
    assert m.result() == 0.0
    again = M.deserialize(M.serialize(m), custom_objects={"Maximum": Maximum})
    assert type(again) is Maximum and again.name == "maximum"


def test_argument_errors():
    with pytest.raises(ValueError, match="threshold"):
        M.BinaryAccuracy(threshold=1.5)
    with pytest.raises(TypeError, match="fn"):
        M.MeanMetricWrapper("accuracy")
    with pytest.raises(NotImplementedError):
        M.Metric().result()


# ---- registry --------------------------------------------------------------------------------

CLASSES = {
    "Accuracy": ("accuracy", {}),
    "BinaryAccuracy": ("binary_accuracy", {"threshold": 0.5}),
    "CategoricalAccuracy": ("categorical_accuracy", {}),
    "SparseCategoricalAccuracy": ("sparse_categorical_accuracy", {}),
    "Mean": ("mean", {}),
    "MeanSquaredError": ("mean_squared_error", {}),
    "MeanAbsoluteError": ("mean_absolute_error", {}),
    "RootMeanSquaredError": ("root_mean_squared_error", {}),
}
FUNCTIONS = {
    "accuracy": M.accuracy, "binary_accuracy": M.binary_accuracy,
    "categorical_accuracy": M.categorical_accuracy,
    "sparse_categorical_accuracy": M.sparse_categorical_accuracy,
    "mean_squared_error": M.mean_squared_error, "mse": M.mean_squared_error,
    "MSE": M.mean_squared_error,
    "mean_absolute_error": M.mean_absolute_error, "mae": M.mean_absolute_error,
    "MAE": M.mean_absolute_error,
    "sparse_categorical_crossentropy": L.sparse_categorical_crossentropy,
    "categorical_crossentropy": L.categorical_crossentropy,
    "binary_crossentropy": L.binary_crossentropy,
}


@pytest.mark.parametrize("class_name", sorted(CLASSES))
def test_class_round_trips(class_name, rng):
    cls = getattr(M, class_name)
    name, extra = CLASSES[class_name]
    metric = M.get(class_name)
    assert type(metric) is cls and metric.name == name
    assert metric.get_config() == {"name": name, "dtype": None, **extra}
    assert type(M.get(cls)) is cls and M.get(metric) is metric
    custom = cls(name="custom")
    config = json.loads(json.dumps(M.serialize(custom)))
    assert config["class_name"] == class_name
    again = M.deserialize(config)
    assert type(again) is cls and again.get_config() == custom.get_config()
    assert type(M.get({"module": "keras.metrics", **config})) is cls
    # the copy computes what the original does
    if class_name != "Mean":
        labels = rng.integers(0, 2, 6)
        scores = rng.uniform(size=(6, 2))
        y_true = labels[:, None] if class_name in ("Accuracy", "BinaryAccuracy") else \
            (np.eye(2)[labels] if class_name != "SparseCategoricalAccuracy" else labels)
        y_pred = labels[:, None] if class_name == "Accuracy" else \
            (scores[:, :1] if class_name == "BinaryAccuracy" else scores)
        custom.update_state(y_true, y_pred)
        again.update_state(y_true, y_pred)
        assert again.result() == custom.result()


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_names(name):
    fn = FUNCTIONS[name]
    assert M.get(name) is fn and M.get(fn) is fn
    assert M.deserialize(M.serialize(fn)) is fn
    if name == "accuracy":  # resolve picks an accuracy for the loss (tested below)
        return
    metric = M.resolve(name)
    assert isinstance(metric, M.MeanMetricWrapper) and metric._fn is fn and metric.name == name


def test_mean_metric_wrapper_round_trip(rng):
    metric = M.MeanMetricWrapper(M.binary_accuracy, name="acc_at_0.7", threshold=0.7)
    config = json.loads(json.dumps(M.serialize(metric)))
    assert config == {"class_name": "MeanMetricWrapper", "config": {
        "name": "acc_at_0.7", "dtype": None, "threshold": 0.7,
        "fn": {"class_name": "function", "config": "binary_accuracy"}}}
    again = M.deserialize(config)
    t, p = rng.integers(0, 2, (8, 1)), rng.uniform(size=(8, 1))
    metric.update_state(t, p)
    again.update_state(t, p)
    close(again.result(), ref_binary_hits(t, p, 0.7).mean())
    assert again.result() == metric.result()
    # a loss function wrapped as a metric round-trips too
    xent = M.MeanMetricWrapper(L.sparse_categorical_crossentropy, from_logits=True)
    assert M.deserialize(M.serialize(xent))._fn is L.sparse_categorical_crossentropy


def test_get_errors():
    assert M.get(None) is None and M.resolve(None) is None
    with pytest.raises(ValueError, match="sparse_categorical_accuracy"):  # lists valid names
        M.get("sparse_categorical_acuracy")
    with pytest.raises(ValueError, match="Could not interpret"):
        M.get(3)
    with pytest.raises(ValueError, match="class_name"):
        M.deserialize([1])


# ---- resolve: what compile(metrics=[...]) tracks -----------------------------------------------

SPARSE_LOSSES = ["sparse_categorical_crossentropy", "SparseCategoricalCrossentropy",
                 L.SparseCategoricalCrossentropy, L.SparseCategoricalCrossentropy(from_logits=True),
                 L.sparse_categorical_crossentropy,
                 L.LossFunctionWrapper(L.sparse_categorical_crossentropy),
                 L.serialize(L.SparseCategoricalCrossentropy())]
CATEGORICAL_LOSSES = ["categorical_crossentropy", "CategoricalCrossentropy",
                      L.CategoricalCrossentropy(label_smoothing=0.1), L.categorical_crossentropy]
BINARY_LOSSES = ["binary_crossentropy", "bce", "BinaryCrossentropy",
                 L.BinaryCrossentropy(from_logits=True), L.binary_crossentropy]


@pytest.mark.parametrize("identifier", ["accuracy", "acc", "Accuracy"])
@pytest.mark.parametrize("loss, expected",
                         [(loss, M.SparseCategoricalAccuracy) for loss in SPARSE_LOSSES]
                         + [(loss, M.CategoricalAccuracy) for loss in CATEGORICAL_LOSSES]
                         + [(loss, M.BinaryAccuracy) for loss in BINARY_LOSSES])
def test_resolve_accuracy_by_loss(identifier, loss, expected):
    metric = M.resolve(identifier, loss)
    assert type(metric) is expected and metric.name == identifier


@pytest.mark.parametrize("true_shape, pred_shape, expected", [
    ((8,), (8, 3), M.SparseCategoricalAccuracy),
    ((8, 1), (8, 3), M.SparseCategoricalAccuracy),
    ((8, 3), (8, 3), M.CategoricalAccuracy),
    ((8, 1), (8, 1), M.BinaryAccuracy),
    ((8,), (8, 1), M.BinaryAccuracy),
])
def test_resolve_accuracy_by_shapes(true_shape, pred_shape, expected):
    """With a loss that does not decide (mse, a custom function), Keras 3's shape rule does."""
    for loss in ("mse", lambda y_true, y_pred: L.mae(y_true, y_pred)):
        metric = M.resolve("accuracy", loss, np.zeros(true_shape), np.zeros(pred_shape))
        assert type(metric) is expected and metric.name == "accuracy"


def test_resolve_accuracy_needs_a_loss_or_shapes():
    with pytest.raises(ValueError, match="sparse_categorical_accuracy"):
        M.resolve("accuracy", "mse")
    with pytest.raises(ValueError, match="Unknown loss"):
        M.resolve("accuracy", "not_a_loss")


def test_resolve_other_identifiers():
    metric = M.resolve("mse", "mse")
    assert isinstance(metric, M.MeanMetricWrapper) and metric.name == "mse"
    metric = M.resolve("RootMeanSquaredError")
    assert type(metric) is M.RootMeanSquaredError and metric.name == "RootMeanSquaredError"
    instance = M.BinaryAccuracy(name="hits")
    assert M.resolve(instance, "binary_crossentropy") is instance and instance.name == "hits"
    assert type(M.resolve(M.CategoricalAccuracy)) is M.CategoricalAccuracy

    def hit_rate(y_true, y_pred):
        return M.sparse_categorical_accuracy(y_true, y_pred)

    metric = M.resolve(hit_rate)
    assert isinstance(metric, M.MeanMetricWrapper) and metric.name == "hit_rate"
    metric.update_state([1, 0], [[0.2, 0.8], [0.3, 0.7]])
    assert metric.result() == 0.5


@pytest.mark.parametrize("fn", [M.accuracy, M.binary_accuracy, M.categorical_accuracy,
                                M.sparse_categorical_accuracy, M.mean_squared_error, M.mean_absolute_error])
@pytest.mark.parametrize("bad", [np.array([[1 + 1j], [0j]]), np.array([["1"], ["0"]])], ids=["complex", "text"])
def test_metrics_reject_values_that_are_not_real(fn, bad):
    """A complex y_true used to lose its imaginary part, a text one to compare unequal to
    everything: both gave a number. Now a TypeError names the dtype."""
    with pytest.raises(TypeError, match=r"y_true\.dtype="):
        fn(bad, np.array([[0.9], [0.1]], np.float32))
