"""fastdnn.metrics' top-k accuracies (functions and the TopKCategoricalAccuracy and
SparseTopKCategoricalAccuracy metrics): hits against a float64 reference that ranks each row
by sorting it, ties, higher ranks, sorted ids, weighted batches, real Keras 3 where installed,
names and configs, errors, and the values a fit logs."""

import json
import os

import fastdnn
import numpy as np
import pytest
from fastdnn import metrics as M

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

# Hits are exact 0/1 values; their weighted means are float64 sums in another order than the
# reference's (~1e-15 relative). 1e-12 fails a single misjudged row.
RTOL = 1e-12
# Keras averages in float32: ~n·eps32 for the n <= 54 weights here (4e-7 seen).
KERAS_RTOL = 1e-5


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    return pytest.importorskip("keras", minversion="3.0")


def ref_hits(labels, scores, k):
    """1 where the label's score is beaten by fewer than k scores of its row (ties with the
    k-th score count as hits, as in Keras's in_top_k), by sorting each row."""
    labels = np.asarray(labels).reshape(-1)
    scores = np.asarray(scores, np.float64).reshape(len(labels), -1)
    out = np.zeros(len(labels))
    for i, (label, row) in enumerate(zip(labels, scores)):
        ordered = np.sort(row)[::-1]
        kth = ordered[min(k, len(row)) - 1]
        out[i] = float(row[int(label)] >= kth)
    return out


def make_batch(rng, n, classes=6, ties=False):
    labels = rng.integers(0, classes, n)
    scores = rng.normal(size=(n, classes)).astype(np.float32)
    if ties:  # quantised scores: many rows tie at the k-th place
        scores = np.round(scores)
    return labels, scores, rng.uniform(0.0, 2.0, n)


@pytest.mark.parametrize("k", [1, 2, 3, 6, 9])
@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
def test_functions_against_reference(k, ties, rng):
    labels, scores, _ = make_batch(rng, 33, ties=ties)
    expected = ref_hits(labels, scores, k)
    assert 0 < expected.mean() <= 1
    for y_true in (labels, labels[:, None], labels.astype(np.float32)):
        got = M.sparse_top_k_categorical_accuracy(y_true, scores, k=k)
        assert got.dtype == np.float64 and got.shape == np.shape(y_true)
        np.testing.assert_array_equal(got.reshape(-1), expected)
    onehot = np.eye(6)[labels]
    np.testing.assert_array_equal(M.top_k_categorical_accuracy(onehot, scores, k=k), expected)


def test_higher_ranks_and_sorted_ids(rng):
    labels = rng.integers(0, 5, (4, 7))
    scores = rng.normal(size=(4, 7, 5))
    got = M.top_k_categorical_accuracy(np.eye(5)[labels], scores, k=2)
    assert got.shape == (4, 7)
    np.testing.assert_array_equal(got.reshape(-1), ref_hits(labels.reshape(-1), scores, 2))
    ids = np.argsort(-scores.reshape(-1, 5), axis=-1)
    np.testing.assert_array_equal(
        M.sparse_top_k_categorical_accuracy(labels.reshape(-1), ids, k=2, from_sorted_ids=True),
        ref_hits(labels.reshape(-1), scores, 2))
    # a NaN score at the label is never a hit
    np.testing.assert_array_equal(M.sparse_top_k_categorical_accuracy([0, 1], [[np.nan, 1.0], [np.nan, 1.0]], k=1),
                                  [0.0, 1.0])


@pytest.mark.parametrize("sparse", [False, True], ids=["categorical", "sparse"])
def test_metrics_over_several_weighted_batches(sparse, rng):
    metric = M.SparseTopKCategoricalAccuracy(k=2) if sparse else M.TopKCategoricalAccuracy(k=2)
    hits, weights = [], []
    for n in (1, 4, 17, 32):
        labels, scores, w = make_batch(rng, n, ties=True)
        metric.update_state(labels if sparse else np.eye(6)[labels], scores, sample_weight=w)
        hits.append(ref_hits(labels, scores, 2))
        weights.append(w)
    hits, weights = np.concatenate(hits), np.concatenate(weights)
    assert metric.result() == pytest.approx((hits * weights).sum() / weights.sum(), rel=RTOL)
    metric.reset_state()
    assert metric.result() == 0.0


@pytest.mark.parametrize("sparse, from_sorted_ids", [(False, False), (True, False), (True, True)])
@pytest.mark.parametrize("k", [1, 3])
def test_matches_keras(sparse, from_sorted_ids, k, keras, rng):
    if sparse:
        ours = M.SparseTopKCategoricalAccuracy(k=k, from_sorted_ids=from_sorted_ids)
        theirs = keras.metrics.SparseTopKCategoricalAccuracy(k=k, from_sorted_ids=from_sorted_ids)
    else:
        ours, theirs = M.TopKCategoricalAccuracy(k=k), keras.metrics.TopKCategoricalAccuracy(k=k)
    for n in (1, 5, 16, 32):
        labels, scores, w = make_batch(rng, n, ties=True)
        y = labels if sparse else np.eye(6, dtype=np.float32)[labels]
        p = np.argsort(-scores, axis=-1).astype(np.float32) if from_sorted_ids else scores
        ours.update_state(y, p, sample_weight=w)
        theirs.update_state(y, p, sample_weight=w)
        assert ours.result() == pytest.approx(float(theirs.result()), rel=KERAS_RTOL)
    assert ours.get_config() == {**theirs.get_config(), "dtype": None}


# ---- names, configs and errors ---------------------------------------------------------------

def test_names_and_round_trips(rng):
    for name, fn in [("top_k_categorical_accuracy", M.top_k_categorical_accuracy),
                     ("sparse_top_k_categorical_accuracy", M.sparse_top_k_categorical_accuracy)]:
        assert M.get(name) is fn
        metric = M.resolve(name)
        assert metric.name == name and metric._fn is fn and metric._fn_kwargs == {}
    for cls, name in [(M.TopKCategoricalAccuracy, "top_k_categorical_accuracy"),
                      (M.SparseTopKCategoricalAccuracy, "sparse_top_k_categorical_accuracy")]:
        metric = M.get(cls.__name__)
        assert type(metric) is cls and metric.get_config() == {"name": name, "dtype": None, "k": 5}
    metric = M.SparseTopKCategoricalAccuracy(k=2, name="top2", from_sorted_ids=True)
    config = json.loads(json.dumps(M.serialize(metric)))
    assert config["config"] == {"name": "top2", "dtype": None, "k": 2, "from_sorted_ids": True}
    again = M.deserialize(config)
    labels, scores, _ = make_batch(rng, 9)
    ids = np.argsort(-scores, axis=-1)
    metric.update_state(labels, ids)
    again.update_state(labels, ids)
    assert again.result() == metric.result() == pytest.approx(ref_hits(labels, scores, 2).mean())


def test_errors():
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="`k`"):
            M.TopKCategoricalAccuracy(k=bad)
        with pytest.raises(ValueError, match="`k`"):
            M.sparse_top_k_categorical_accuracy([0], [[1.0, 0.0]], k=bad)
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        M.sparse_top_k_categorical_accuracy([2], [[1.0, 0.0]])
    with pytest.raises(ValueError, match="integers"):
        M.sparse_top_k_categorical_accuracy([0.5], [[1.0, 0.0]])
    with pytest.raises(ValueError, match="one label per row"):
        M.sparse_top_k_categorical_accuracy([0, 1, 0], [[1.0, 0.0]])
    with pytest.raises(TypeError, match=r"y_pred\.dtype"):
        M.top_k_categorical_accuracy([[1, 0]], np.array([["a", "b"]]))


def test_fit_logs_top_k_accuracy(rng):
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = rng.integers(0, 5, 64)
    model = fastdnn.Sequential([fastdnn.Input(shape=[4]),
                                fastdnn.layers.Dense(5, activation="softmax", trainable=False)])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=["sparse_top_k_categorical_accuracy",
                           M.SparseTopKCategoricalAccuracy(k=2, name="top2")])
    history = model.fit(x, y, batch_size=16, epochs=1, verbose=0).history
    scores = model.predict(x, verbose=0)
    assert history["sparse_top_k_categorical_accuracy"][0] == pytest.approx(
        ref_hits(y, scores, 5).mean(), rel=RTOL)
    expected = ref_hits(y, scores, 2).mean()
    assert 0 < expected < 1
    assert history["top2"][0] == pytest.approx(expected, rel=RTOL)
