"""Accuracy metrics: per-sample hit functions and their running means.

Shapes: y_true (batch, ..., d) labels or one-hot rows, or (batch, ...)/(batch, ..., 1) class
indices for the sparse ones; y_pred (batch, ..., d) or (batch, ..., classes) scores. Each
function gives one float64 value per sample: 1 for a hit, 0 for a miss (averaged over the last
axis for the element-wise ones).
"""

import numbers

import numpy as np

from .metrics_utils import _f64, _same_rank
from .reduction_metrics import _NamedMean


def accuracy(y_true, y_pred):
    """How often y_pred equals y_true exactly, averaged over the last axis.

    Args:
        y_true: (batch, ..., d) labels.
        y_pred: (batch, ..., d) predicted labels.

    Returns:
        (batch, ...) float64 values in [0, 1].

    Example:
        >>> accuracy([[1], [2], [3], [4]], [[0], [2], [3], [4]])
        array([0., 1., 1., 1.])
    """
    y_true, y_pred = _same_rank(_f64(y_true), _f64(y_pred, "y_pred"))
    return np.mean(y_true == y_pred, axis=-1, dtype=np.float64)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """How often (y_pred > threshold) equals y_true, averaged over the last axis.

    Args:
        y_true: (batch, ..., d) 0/1 labels ((batch,) is taken as (batch, 1) for y_pred (batch, 1)).
        y_pred: (batch, ..., d) probabilities.
        threshold: the probability above which a prediction counts as 1.

    Returns:
        (batch, ...) float64 values in [0, 1].

    Example:
        >>> binary_accuracy([1, 1, 0, 0], [[0.98], [1], [0], [0.6]])
        array([1., 1., 1., 0.])
    """
    y_true, y_pred = _same_rank(_f64(y_true), _f64(y_pred, "y_pred"))
    return np.mean(y_true == (y_pred > threshold), axis=-1, dtype=np.float64)


def categorical_accuracy(y_true, y_pred):
    """Whether the arg-max of y_pred is the arg-max of y_true (one-hot rows), per sample.

    Args:
        y_true: (batch, ..., classes) one-hot (or soft) targets.
        y_pred: (batch, ..., classes) scores (probabilities or logits).

    Returns:
        (batch, ...) float64 values, 0 or 1.

    Example:
        >>> categorical_accuracy([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
        array([0., 1.])
    """
    return (np.argmax(_f64(y_true), axis=-1) == np.argmax(_f64(y_pred, "y_pred"), axis=-1)).astype(np.float64)


def _real_arrays(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)  # argmax needs no float64 copy
    for name, arr in (("y_true", y_true), ("y_pred", y_pred)):
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"Metrics take real numbers. Received: {name}.dtype={arr.dtype}")
    return y_true, y_pred


def sparse_categorical_accuracy(y_true, y_pred):
    """Whether the arg-max of y_pred equals the integer label y_true, per sample.

    Args:
        y_true: (batch, ...) or (batch, ..., 1) class indices.
        y_pred: (batch, ..., classes) scores (probabilities or logits).

    Returns:
        (batch, ...) float64 values, 0 or 1.

    Example:
        >>> sparse_categorical_accuracy([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]])
        array([0., 1.])
    """
    y_true, y_pred = _real_arrays(y_true, y_pred)
    if y_true.ndim == y_pred.ndim and y_true.ndim > 0 and y_true.shape[-1] == 1:
        y_true = y_true.reshape(y_true.shape[:-1])
    return (y_true == np.argmax(y_pred, axis=-1)).astype(np.float64)


def _check_k(k):
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1:
        raise ValueError(f"Argument `k` must be a positive integer. Received: k={k!r}")


def _in_top_k(labels, scores, k):
    """Whether each row's label is among the k largest scores of its row: fewer than k scores
    exceed the label's score (so ties with the k-th score count as hits; a NaN score at the
    label never does), as Keras's in_top_k."""
    classes = scores.shape[-1]
    bad = (labels < 0) | (labels >= classes)
    if bad.any():
        raise ValueError(f"Class labels must lie in [0, {classes}) for y_pred with {classes} "
                         f"classes. Received: y_true={int(labels[bad][0])}")
    at_label = np.take_along_axis(scores, labels[:, None], axis=-1)
    at_label = np.where(np.isnan(at_label), -np.inf, at_label)
    return (np.count_nonzero(scores > at_label, axis=-1) < k).astype(np.float64)


def _rows(y_true, y_pred):
    """y_pred as (rows, classes) and y_true flattened to one entry per row (Keras's reshape)."""
    scores = y_pred.reshape(-1, y_pred.shape[-1]) if y_pred.ndim > 2 else y_pred
    labels = y_true.reshape(-1)
    if scores.ndim != 2 or labels.shape[0] != scores.shape[0]:
        raise ValueError("Top-k accuracy expects one label per row of `y_pred` (batch, ..., "
                         f"classes). Received: y_true.shape={y_true.shape}, "
                         f"y_pred.shape={y_pred.shape}")
    return labels, scores


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """Whether the arg-max of each one-hot row of y_true is among the k top scores, per sample.

    Args:
        y_true: (batch, ..., classes) one-hot targets.
        y_pred: (batch, ..., classes) scores.
        k: how many of the top scores count.

    Returns:
        (batch, ...) float64 values, 0 or 1.

    Raises:
        ValueError: for a `k` that is not a positive integer, or mismatched shapes.

    Example:
        >>> top_k_categorical_accuracy([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], k=1)
        array([0., 1.])
    """
    _check_k(k)
    y_true, y_pred = _real_arrays(y_true, y_pred)
    y_true = np.argmax(y_true, axis=-1)
    labels, scores = _rows(y_true, y_pred)
    return _in_top_k(labels, scores, k).reshape(y_true.shape)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """Whether each integer label is among the k top scores (or the first k sorted ids).

    Args:
        y_true: (batch,) or (batch, 1) class indices (or ids).
        y_pred: (batch, classes) scores; with `from_sorted_ids=True`, (batch, n >= k) class
            ids sorted from the highest score down.
        k: how many of the top scores count.
        from_sorted_ids: whether y_pred holds sorted class ids rather than scores.

    Returns:
        float64 values of y_true's shape, 0 or 1.

    Raises:
        ValueError: for a `k` that is not a positive integer, labels out of range or
            mismatched shapes.

    Example:
        >>> sparse_top_k_categorical_accuracy([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], k=2)
        array([1., 1.])
    """
    _check_k(k)
    y_true, y_pred = _real_arrays(y_true, y_pred)
    labels, scores = _rows(y_true, y_pred)
    if from_sorted_ids:
        hits = np.any(scores[:, :k] == labels[:, None], axis=-1).astype(np.float64)
        return hits.reshape(y_true.shape)
    if labels.dtype.kind == "f" and not np.all(np.mod(labels, 1) == 0):
        raise ValueError(f"Class labels must be integers. Received: y_true={labels!r:.200}")
    return _in_top_k(labels.astype(np.int64), scores, k).reshape(y_true.shape)


class Accuracy(_NamedMean):
    """How often predictions equal labels exactly.

    Example:
        >>> m = Accuracy(); m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]]); m.result()
        0.75
    """

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(_NamedMean):
    """How often thresholded probabilities match 0/1 labels.

    Args:
        name, dtype: as for `Metric`.
        threshold: in (0, 1); a prediction above it counts as 1.

    Example:
        >>> m = BinaryAccuracy(); m.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]])
        >>> m.result()
        0.75

    Raises:
        ValueError: for a threshold outside (0, 1).
    """

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        if threshold is not None and not 0 < threshold < 1:
            raise ValueError("Invalid value for argument `threshold`. Expected a value in "
                             f"interval (0, 1). Received: threshold={threshold}")
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


class CategoricalAccuracy(_NamedMean):
    """How often the arg-max of the predictions matches the one-hot labels.

    Example:
        >>> m = CategoricalAccuracy()
        >>> m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]],
        ...                sample_weight=[0.7, 0.3]); m.result()
        0.3
    """

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(_NamedMean):
    """How often the arg-max of the predictions matches the integer labels.

    Example:
        >>> m = SparseCategoricalAccuracy()
        >>> m.update_state([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]]); m.result()
        0.5
    """

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(_NamedMean):
    """How often the one-hot target is among the k top predictions.

    Args:
        k: how many of the top scores count.
        name, dtype: as for `Metric`.

    Example:
        >>> m = TopKCategoricalAccuracy(k=1)
        >>> m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]],
        ...                sample_weight=[0.7, 0.3]); m.result()
        0.3

    Raises:
        ValueError: for a `k` that is not a positive integer.
    """

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        _check_k(k)
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k

    def get_config(self):
        return {**super().get_config(), "k": self.k}


class SparseTopKCategoricalAccuracy(_NamedMean):
    """How often the integer target is among the k top predictions.

    Args:
        k: how many of the top scores count.
        name, dtype: as for `Metric`.
        from_sorted_ids: whether y_pred holds class ids sorted by score instead of scores.

    Example:
        >>> m = SparseTopKCategoricalAccuracy(k=1)
        >>> m.update_state([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]); m.result()
        0.5

    Raises:
        ValueError: for a `k` that is not a positive integer.
    """

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None,
                 from_sorted_ids=False):
        _check_k(k)
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k,
                         from_sorted_ids=from_sorted_ids)
        self.k = k
        self.from_sorted_ids = from_sorted_ids

    def get_config(self):
        config = {**super().get_config(), "k": self.k}
        if self.from_sorted_ids:  # as Keras: the key appears only when it is set
            config["from_sorted_ids"] = True
        return config
