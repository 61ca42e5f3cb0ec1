"""Helpers the metrics share: input checks, and the confusion-matrix counts behind the
TruePositives family, Precision, Recall and AUC.

Shapes: y_true, y_pred (batch, ..., d), brought to the same rank as Keras does; sample_weight
broadcast to y_pred; thresholds (T,); counts (T,), or (T, labels) for multi-label AUC.

A prediction counts as positive at threshold t when it is strictly above t, compared in the
metric's dtype (float32 unless it names another), as Keras compares them. Each prediction gets
the number of thresholds it exceeds: on an even grid i / (T - 1) (AUC's default) that is
ceil(p·(T - 1)), computed in that dtype as Keras's fast path does, else one `np.searchsorted`.
The (weighted) labels are summed per count with one `np.bincount`, and a reversed cumulative sum
turns those sums into counts per threshold: O(n) or O(n log T) for n predictions, with no loop
over the thresholds. Counts accumulate in float64.

    >>> counter = ConfusionCounter([0.2, 0.5])
    >>> tp, fp, tn, fn = counter.counts([1, 0, 1], [0.9, 0.4, 0.3])
    >>> tp, fp
    (array([2., 1.]), array([1., 0.]))
"""

import numbers

import numpy as np

from .. import losses as losses_module

NEG_INF = -1e10  # the threshold of top-k Precision/Recall: every kept prediction is above it
EPSILON = 1e-7  # AUC's end thresholds are -EPSILON and 1 + EPSILON


def _f64(x, name="y_true"):
    """`x` as float64, or a TypeError for values that are not real numbers (a complex or text
    array would otherwise compare or convert silently)."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"Metrics take real numbers. Received: {name}.dtype={arr.dtype}")
    return arr.astype(np.float64, copy=False)


def _same_rank(y_true, y_pred):
    return losses_module._squeeze_or_expand(y_true, y_pred, reshape=np.reshape)


def _real(x, name, dtype=None):
    """`x` as an array of real numbers (of `dtype` if given), else a TypeError."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"Metrics take real numbers. Received: {name}.dtype={arr.dtype}")
    return arr if dtype is None else arr.astype(dtype, copy=False)


def compare_dtype(dtype):
    """The NumPy float type a metric with `dtype` compares predictions in (float32 for None).

    Raises:
        ValueError: for a dtype that is not a floating-point type.
    """
    try:
        kind = np.dtype(dtype or "float32")
    except TypeError:
        kind = None
    if kind is None or kind.kind != "f":
        raise ValueError(f"The `dtype` argument must be a floating-point type such as 'float32'. "
                         f"Received: dtype={dtype!r}")
    return kind.type


def parse_thresholds(thresholds, default_threshold=0.5):
    """`thresholds` (None, one number, or a list, tuple or 1-D array of them) as a list of
    floats, `[default_threshold]` for None.

    Raises:
        ValueError: for thresholds outside [0, 1] or that are not numbers.
    """
    if thresholds is None:
        return [float(default_threshold)]
    values = list(np.asarray(thresholds).tolist()) if isinstance(thresholds, (list, tuple, np.ndarray)) \
        else [thresholds]
    bad = [t for t in values if not isinstance(t, numbers.Real) or isinstance(t, bool) or not 0 <= t <= 1]
    if bad or not values:
        raise ValueError(f"Threshold values must be in [0, 1]. Received: thresholds={thresholds!r}")
    return [float(t) for t in values]


def json_thresholds(thresholds):
    """The `thresholds` argument as a JSON-safe config value (a tuple or array becomes a list)."""
    if isinstance(thresholds, (tuple, np.ndarray)):
        return [float(t) for t in np.asarray(thresholds).tolist()]
    return thresholds


def is_evenly_distributed(thresholds):
    """Whether thresholds are i / (T - 1) for i = 0..T-1 (T >= 3), as Keras tests it; Keras then
    clips predictions to [0, 1] and buckets them on that exact grid."""
    n = len(thresholds)
    if n < 3:
        return False
    return bool(np.allclose(thresholds, np.arange(n, dtype=np.float32) / (n - 1), atol=EPSILON))


def filter_top_k(x, k):
    """x with all but the k largest values of its last axis set to NEG_INF (ties: lower index)."""
    if k >= x.shape[-1]:
        return x
    top = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    keep = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(keep, top, True, axis=-1)
    return np.where(keep, x, x.dtype.type(NEG_INF))


def _sample_weight(sample_weight, y_true):
    """Keras's placement of sample weights against the labels: a weight per sample, per element
    or one for all; broadcast against y_pred later."""
    weight = _f64(sample_weight, "sample_weight")
    return weight if weight.ndim == y_true.ndim else weight[..., None]


def _broadcast(weight, shape, what):
    try:
        return np.broadcast_to(weight, shape)
    except ValueError:
        raise ValueError(f"`{what}` of shape {np.shape(weight)} does not broadcast to the "
                         f"predictions of shape {shape}.") from None


class ConfusionCounter:
    """True/false positives and negatives of a batch at fixed thresholds.

    Args:
        thresholds: the thresholds, a list of floats in any order (counts follow that order).
        evenly: whether Keras treats them as an even grid on [0, 1] (see
            `is_evenly_distributed`): predictions are then clipped to [0, 1] and placed on the
            exact grid by ceil(p·(T - 1)); a first threshold below 0 (AUC's -EPSILON) is
            exceeded by every prediction, a last one above 1 by none.
        dtype: the float type predictions and thresholds are compared in.

    Example:
        >>> ConfusionCounter([0.5]).counts([[1], [0]], [[0.7], [0.6]], sample_weight=[2, 1])[:2]
        (array([2.]), array([1.]))
    """

    def __init__(self, thresholds, evenly=False, dtype=np.float32):
        thresholds = np.asarray(thresholds, dtype=np.float64)
        self._first_below_zero = bool(evenly and thresholds[0] < 0)
        self.dtype = dtype
        self.evenly = evenly
        self.size = len(thresholds)
        self._order = np.argsort(thresholds, kind="stable")
        self._sorted = thresholds[self._order].astype(dtype)
        self._in_order = bool(np.all(self._order == np.arange(self.size)))

    def counts(self, y_true, y_pred, sample_weight=None, top_k=None, class_id=None,
               multi_label=False, label_weights=None):
        """(tp, fp, tn, fn) of one batch, float64 arrays of shape (T,) or (T, labels).

        Args:
            y_true: labels; any nonzero value counts as positive.
            y_pred: scores of the same shape (a trailing 1 may differ, as in Keras).
            sample_weight: optional weights, per sample or per element.
            top_k: keep only the k largest predictions of each row (the rest are negative).
            class_id: count only this column of the last axis.
            multi_label: keep the label axis of (batch, labels) inputs: counts (T, labels).
            label_weights: weights per label (last axis), multiplied into the sample weights.

        Raises:
            TypeError: for values that are not real numbers.
            ValueError: for shapes that do not match or a `class_id` out of range.
        """
        y_pred = _real(y_pred, "y_pred", self.dtype)
        y_true = _real(y_true, "y_true")
        y_pred, y_true = _same_rank(y_pred, y_true)
        if y_pred.shape != y_true.shape:
            raise ValueError("`y_true` and `y_pred` must have the same shape. Received: "
                             f"y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}")
        weight = None if sample_weight is None else _sample_weight(sample_weight, y_true)
        if top_k is not None:
            y_pred = filter_top_k(y_pred, top_k)
        if class_id is not None:
            if y_pred.ndim < 2:
                raise ValueError("When class_id is provided, y_pred must be a 2D array with shape "
                                 f"(num_samples, num_classes), found shape: {y_pred.shape}")
            if class_id >= y_pred.shape[-1]:
                raise ValueError(f"`class_id` must be less than the number of classes "
                                 f"({y_pred.shape[-1]}). Received: class_id={class_id}")
            y_true, y_pred = y_true[..., class_id, None], y_pred[..., class_id, None]
        if self.evenly:
            y_pred = np.clip(y_pred, 0, 1)
        if weight is not None:
            weight = _broadcast(weight, y_pred.shape, "sample_weight")
        if label_weights is not None:
            lw = _broadcast(label_weights, y_pred.shape, "label_weights")
            weight = lw if weight is None else weight * lw
        positive = y_true != 0
        if multi_label and y_pred.ndim != 2:
            raise ValueError("`y_pred` must have rank 2 when `multi_label=True`. Found rank "
                             f"{y_pred.ndim}. Full shape received for `y_pred`: {y_pred.shape}")
        labels = y_pred.shape[1] if multi_label else None
        return self._count(positive.ravel(), y_pred.ravel(),
                           None if weight is None else weight.ravel(), labels)

    def _count(self, positive, scores, weight, labels):
        """Counts from flat positives, scores and weights; with `labels` columns (row-major),
        counts per column."""
        size = self.size + 1  # a prediction exceeds 0..T of the thresholds
        nan = np.isnan(scores)
        has_nan = bool(nan.any())
        if has_nan:
            scores = np.where(nan, self.dtype(0), scores)
        if self.evenly:  # scores lie in [0, 1]: grid points i / (T - 1) below p number ceil(p·(T - 1))
            above = np.ceil(scores * self.dtype(self.size - 1)).astype(np.intp)
            if self._first_below_zero:
                np.maximum(above, 1, out=above)
        else:
            above = np.searchsorted(self._sorted, scores, side="left")
        if has_nan:
            above[nan] = 0  # NaN is above no threshold
        index = above + size * (~positive)
        columns = 1 if labels is None else labels
        if columns > 1:
            index = index * columns + np.tile(np.arange(columns), len(index) // columns)
        bins = np.bincount(index, weights=weight, minlength=2 * size * columns)
        bins = bins.astype(np.float64, copy=False).reshape(2, size, columns)
        at_least = np.cumsum(bins[:, ::-1], axis=1)[:, ::-1]  # [:, c]: predictions above >= c
        tp, fp = at_least[0, 1:], at_least[1, 1:]
        fn, tn = at_least[0, :1] - tp, at_least[1, :1] - fp
        out = []
        for counts in (tp, fp, tn, fn):
            if not self._in_order:
                unsorted = np.empty_like(counts)
                unsorted[self._order] = counts
                counts = unsorted
            out.append(counts[:, 0] if labels is None else counts)
        return tuple(out)


def divide_no_nan(a, b):
    """a / b, 0 where b is 0 (Keras's divide_no_nan)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b == 0, 0.0, a / np.where(b == 0, 1.0, b))


def scalar_or_list(values):
    """One value as a Python float, several as a float64 array (Keras's result for one
    threshold or several)."""
    return float(values[0]) if len(values) == 1 else np.array(values, dtype=np.float64)
