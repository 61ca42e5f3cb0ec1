"""Metrics from confusion-matrix counts at thresholds: TruePositives, FalsePositives,
TrueNegatives, FalseNegatives, Precision and Recall.

Each keeps one float64 count per threshold (Keras's variable names: `accumulator`, or
`true_positives` and the like); a prediction is positive at threshold t when it is above t
(see `metrics_utils.ConfusionCounter`). The result is a Python float for one threshold and a
float64 array, one value per threshold, for several.

    >>> m = Precision(thresholds=[0.3, 0.7])
    >>> m.update_state([0, 1, 1, 0], [0.5, 0.8, 0.4, 0.2])
    >>> m.result()
    array([0.66666667, 1.        ])
"""

import numbers

from .metric import Metric
from .metrics_utils import (
    NEG_INF,
    ConfusionCounter,
    compare_dtype,
    divide_no_nan,
    is_evenly_distributed,
    json_thresholds,
    parse_thresholds,
    scalar_or_list,
)

_COUNTS = ("tp", "fp", "tn", "fn")


def _check_index(value, name):
    if value is not None and (not isinstance(value, numbers.Integral) or isinstance(value, bool)
                              or value < (1 if name == "top_k" else 0)):
        expected = "a positive integer" if name == "top_k" else "a non-negative integer"
        raise ValueError(f"Argument `{name}` must be {expected} or None. Received: {name}={value!r}")


class _ThresholdCounts(Metric):
    """Counts at thresholds. A subclass names the counts it keeps, pairs (variable name, "tp",
    "fp", "tn" or "fn"), in `_KEEPS`, and writes `result`."""

    _KEEPS = ()

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        _check_index(top_k, "top_k")
        _check_index(class_id, "class_id")
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        self.thresholds = parse_thresholds(thresholds, 0.5 if top_k is None else NEG_INF)
        self._thresholds_distributed_evenly = is_evenly_distributed(self.thresholds)
        self._counter = ConfusionCounter(self.thresholds, self._thresholds_distributed_evenly,
                                         compare_dtype(dtype))
        self._kept = []
        for var_name, kind in self._KEEPS:
            var = self.add_variable((len(self.thresholds),), "zeros", name=var_name)
            setattr(self, var_name, var)
            self._kept.append((var, _COUNTS.index(kind)))

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Adds the counts of a batch.

        Args:
            y_true: labels; any nonzero value counts as positive.
            y_pred: predicted scores, of y_true's shape.
            sample_weight: optional weights, one per sample or per element.

        Raises:
            TypeError: for values that are not real numbers.
            ValueError: for mismatched shapes or a `class_id` out of range.
        """
        counts = self._counter.counts(y_true, y_pred, sample_weight, top_k=self.top_k,
                                      class_id=self.class_id)
        for var, index in self._kept:
            var._value += counts[index]

    def get_config(self):
        return {**super().get_config(), "thresholds": json_thresholds(self.init_thresholds),
                "top_k": self.top_k, "class_id": self.class_id}


class _ConfusionMatrixConditionCount(_ThresholdCounts):
    """One count per threshold; its config has `thresholds` only, as Keras's."""

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(thresholds=thresholds, name=name, dtype=dtype)

    def result(self):
        return scalar_or_list(self.accumulator._value)

    def get_config(self):
        return {**Metric.get_config(self), "thresholds": json_thresholds(self.init_thresholds)}


class TruePositives(_ConfusionMatrixConditionCount):
    """The (weighted) number of positive labels predicted above each threshold.

    Args:
        thresholds: a float or a list of floats in [0, 1] (one result per threshold); default 0.5.
        name, dtype: as for `Metric` (dtype: the float type predictions are compared in).

    Example:
        >>> m = TruePositives(); m.update_state([0, 1, 1, 1], [1, 0, 1, 1]); m.result()
        2.0

    Raises:
        ValueError: for thresholds outside [0, 1].
    """

    _KEEPS = (("accumulator", "tp"),)


class FalsePositives(_ConfusionMatrixConditionCount):
    """The (weighted) number of negative labels predicted above each threshold.

    Args:
        thresholds, name, dtype: as for `TruePositives`.

    Example:
        >>> m = FalsePositives(); m.update_state([0, 1, 0, 0], [0, 0, 1, 1]); m.result()
        2.0

    Raises:
        ValueError: for thresholds outside [0, 1].
    """

    _KEEPS = (("accumulator", "fp"),)


class TrueNegatives(_ConfusionMatrixConditionCount):
    """The (weighted) number of negative labels predicted at or below each threshold.

    Args:
        thresholds, name, dtype: as for `TruePositives`.

    Example:
        >>> m = TrueNegatives(); m.update_state([0, 1, 0, 0], [1, 1, 0, 0]); m.result()
        2.0

    Raises:
        ValueError: for thresholds outside [0, 1].
    """

    _KEEPS = (("accumulator", "tn"),)


class FalseNegatives(_ConfusionMatrixConditionCount):
    """The (weighted) number of positive labels predicted at or below each threshold.

    Args:
        thresholds, name, dtype: as for `TruePositives`.

    Example:
        >>> m = FalseNegatives(); m.update_state([0, 1, 1, 1], [0, 1, 0, 0]); m.result()
        2.0

    Raises:
        ValueError: for thresholds outside [0, 1].
    """

    _KEEPS = (("accumulator", "fn"),)


class Precision(_ThresholdCounts):
    """The fraction of predicted positives that are positive: tp / (tp + fp), 0 when nothing
    is predicted positive.

    Args:
        thresholds: a float or a list of floats in [0, 1] (one result per threshold); default
            0.5, or with `top_k` every kept prediction.
        top_k: count only the k largest predictions of each row as positive.
        class_id: count only this class (column of the last axis).
        name, dtype: as for `Metric` (dtype: the float type predictions are compared in).

    Example:
        >>> m = Precision(); m.update_state([0, 1, 1, 1], [1, 0, 1, 1]); round(m.result(), 4)
        0.6667
        >>> m = Precision(top_k=1, class_id=2)
        >>> m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.2, 0.7], [0.1, 0.3, 0.6]]); m.result()
        0.5

    Raises:
        ValueError: for thresholds outside [0, 1], or a `top_k` or `class_id` that is not a
            positive (non-negative) integer.
    """

    _KEEPS = (("true_positives", "tp"), ("false_positives", "fp"))

    def result(self):
        tp = self.true_positives._value
        return scalar_or_list(divide_no_nan(tp, tp + self.false_positives._value))


class Recall(_ThresholdCounts):
    """The fraction of positives predicted positive: tp / (tp + fn), 0 without positives.

    Args:
        thresholds, top_k, class_id, name, dtype: as for `Precision`.

    Example:
        >>> m = Recall(); m.update_state([0, 1, 1, 1], [1, 0, 1, 1]); round(m.result(), 4)
        0.6667

    Raises:
        ValueError: as `Precision`.
    """

    _KEEPS = (("true_positives", "tp"), ("false_negatives", "fn"))

    def result(self):
        tp = self.true_positives._value
        return scalar_or_list(divide_no_nan(tp, tp + self.false_negatives._value))
