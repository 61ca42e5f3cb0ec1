"""AUC: the area under the ROC or precision-recall curve, from confusion counts at T thresholds.

State: true_positives, false_positives, true_negatives, false_negatives, each (T,), or
(T, labels) with `multi_label=True`. Thresholds are -1e-7, the T - 2 inner ones, and 1 + 1e-7,
so that every prediction in [0, 1] is above the first and below the last. The curve's points
(one per threshold) are summed as Riemann rectangles between neighbours: their mean height
("interpolation"), the lower ("minoring") or the higher ("majoring"). For PR with interpolation,
TP and the predicted positives P = TP + FP vary linearly between neighbouring thresholds, and
the precision TP / P is integrated exactly over each interval (Davis & Goadrich, 2006), with
Keras's closed form: slope · (ΔTP + intercept · log(P_A / P_B)) / positives.
"""

import numbers

import numpy as np

from .metric import Metric
from .metrics_utils import (
    EPSILON,
    ConfusionCounter,
    compare_dtype,
    divide_no_nan,
    is_evenly_distributed,
)

_CURVES = {"ROC": "ROC", "roc": "ROC", "PR": "PR", "pr": "PR", "PRGAIN": "PRGAIN", "prgain": "PRGAIN"}
_SUMMATIONS = {"interpolation": "interpolation", "Interpolation": "interpolation",
               "majoring": "majoring", "Majoring": "majoring",
               "minoring": "minoring", "Minoring": "minoring"}


def _label_weights(label_weights):
    if label_weights is None:
        return None
    weights = np.asarray(label_weights)
    if weights.dtype.kind not in "biuf" or weights.ndim != 1 or np.any(weights < 0):
        raise ValueError("Argument `label_weights` must be a 1-D list of non-negative weights, one "
                         f"per label. Received: label_weights={label_weights!r}")
    return weights.astype(np.float64)


class AUC(Metric):
    """The area under the ROC curve (default) or the precision-recall curve.

    Args:
        num_thresholds: how many thresholds discretize the curve (> 1): 0 - 1e-7, the
            num_thresholds - 2 evenly spaced inner ones, and 1 + 1e-7.
        curve: "ROC" (true positive rate over false positive rate), "PR" (precision over
            recall), or "PRGAIN" (precision gain over recall gain).
        summation_method: "interpolation" (trapezoids; for PR, Davis & Goadrich's
            interpolation), "minoring" (the lower neighbour) or "majoring" (the higher).
        name: as for `Metric`.
        dtype: the float type predictions and thresholds are compared in (float32 by default,
            as Keras).
        thresholds: inner thresholds to use instead of `num_thresholds` (values in [0, 1]);
            -1e-7 and 1 + 1e-7 are added.
        multi_label: with (batch, labels) data, one AUC per label, averaged (weighted by
            `label_weights`); when False, every label-prediction pair is one data point.
        num_labels: the number of labels, with `multi_label` (else taken from the first batch).
        label_weights: non-negative weights per label: of each label's AUC in the average with
            `multi_label`, else of each label's data points.
        from_logits: whether predictions are logits (a sigmoid is applied first).

    Example:
        >>> m = AUC(num_thresholds=3)
        >>> m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
        >>> m.result()  # tpr [1, 0.5, 0], fpr [1, 0, 0]: (1 + 0.5) / 2 · 1
        0.75

    Raises:
        ValueError: for an unknown curve or summation method, `num_thresholds` < 2,
            thresholds outside [0, 1], negative label weights, or `num_labels` without
            `multi_label`.
    """

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name=None, dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        if curve not in _CURVES:
            raise ValueError(f'Invalid AUC curve value: "{curve}". Expected values are '
                             '["PR", "ROC", "PRGAIN"]')
        if summation_method not in _SUMMATIONS:
            raise ValueError(f'Invalid AUC summation method value: "{summation_method}". Expected '
                             'values are ["interpolation", "majoring", "minoring"]')
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = np.asarray(thresholds, dtype=np.float64).reshape(-1)
            if not np.all((inner >= 0) & (inner <= 1)):
                raise ValueError(f"Threshold values must be in [0, 1]. Received: thresholds={thresholds!r}")
            inner = sorted(float(t) for t in inner)
            self.num_thresholds = len(inner) + 2
            evenly = is_evenly_distributed([0.0] + inner + [1.0])
        else:
            if not isinstance(num_thresholds, numbers.Integral) or num_thresholds <= 1:
                raise ValueError("Argument `num_thresholds` must be an integer > 1. "
                                 f"Received: num_thresholds={num_thresholds}")
            self.num_thresholds = int(num_thresholds)
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            evenly = True
        self._thresholds = np.array([0.0 - EPSILON] + inner + [1.0 + EPSILON])
        self._thresholds_distributed_evenly = evenly
        self.curve = _CURVES[curve]
        self.summation_method = _SUMMATIONS[summation_method]
        super().__init__(name=name, dtype=dtype)
        self._counter = ConfusionCounter(self._thresholds, evenly, compare_dtype(dtype))
        self.multi_label = bool(multi_label)
        self.num_labels = num_labels
        self.label_weights = _label_weights(label_weights)
        self._from_logits = bool(from_logits)
        self._built = False
        if self.multi_label:
            if num_labels:
                self._build(num_labels)
        else:
            if num_labels:
                raise ValueError("`num_labels` is needed only when `multi_label` is True.")
            self._build(None)

    @property
    def thresholds(self):
        """The thresholds the curve is evaluated at, end points included."""
        return [float(t) for t in self._thresholds]

    def _build(self, labels):
        """Creates the four count variables: (T,), or (T, labels) for multi-label data."""
        shape = (self.num_thresholds,) if labels is None else (self.num_thresholds, int(labels))
        self._num_labels = labels
        for var_name in ("true_positives", "false_positives", "true_negatives", "false_negatives"):
            setattr(self, var_name, self.add_variable(shape, "zeros", name=var_name))
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Adds a batch's counts at every threshold.

        Args:
            y_true: labels; any nonzero value counts as positive.
            y_pred: probabilities (or logits with `from_logits=True`) of y_true's shape;
                (batch, labels) with `multi_label`.
            sample_weight: optional weights, one per sample or per element.

        Raises:
            TypeError: for values that are not real numbers.
            ValueError: for mismatched shapes, or data that is not (batch, labels) with
                `multi_label`.
        """
        if self._from_logits:
            logits = np.asarray(y_pred)
            if logits.dtype.kind not in "biuf":
                raise TypeError(f"Metrics take real numbers. Received: y_pred.dtype={logits.dtype}")
            logits = logits.astype(self._counter.dtype, copy=False)
            with np.errstate(over="ignore"):
                y_pred = 1 / (1 + np.exp(-logits))
        if not self._built:
            shape = np.shape(y_pred)
            if len(shape) != 2:
                raise ValueError("`y_pred` must have rank 2 when `multi_label=True`. Found rank "
                                 f"{len(shape)}. Full shape received for `y_pred`: {shape}")
            self._build(shape[1])
        counts = self._counter.counts(
            y_true, y_pred, sample_weight, multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights)
        if self.multi_label and counts[0].shape[1] != self._num_labels:
            raise ValueError(f"This AUC counts {self._num_labels} labels. Received: y_pred with "
                             f"{counts[0].shape[1]}")
        for var, count in zip(self.variables, counts):
            var._value += count

    def _average(self, by_label):
        """The AUC of each label averaged (weighted by `label_weights` if given)."""
        if self.label_weights is None:
            return float(np.mean(by_label)) if by_label.size else 0.0
        return float(divide_no_nan(np.sum(by_label * self.label_weights), np.sum(self.label_weights)))

    def _total(self, terms):
        by_label = np.sum(terms, axis=0)
        return self._average(by_label) if self.multi_label else float(by_label)

    def interpolate_pr_auc(self):
        """The area under the PR curve with TP and P = TP + FP linear between thresholds:
        over each interval, ∫ precision d(recall) = slope · (ΔTP + intercept · log(P_A / P_B))
        / positives, where slope = ΔTP / ΔP and intercept = TP_B - slope · P_B.

        Returns:
            The area, a Python float.
        """
        tp, fp, fn = self.true_positives._value, self.false_positives._value, self.false_negatives._value
        p = tp + fp
        dtp = tp[:-1] - tp[1:]
        dp = p[:-1] - p[1:]
        slope = divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        log_ratio = np.log(np.where(both, divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0))
        terms = divide_no_nan(slope * (dtp + intercept * log_ratio), np.maximum(tp[1:] + fn[1:], 0))
        return self._total(terms)

    def _curve(self):
        """The curve's (x, y) points, one per threshold (from low thresholds to high)."""
        tp, fp = self.true_positives._value, self.false_positives._value
        tn, fn = self.true_negatives._value, self.false_negatives._value
        recall = divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            return divide_no_nan(fp, fp + tn), recall
        if self.curve == "PR":
            return recall, divide_no_nan(tp, tp + fp)
        # PRGAIN: gains relative to a classifier that calls everything positive; no true
        # positives gives recall gain 0 and precision gain 1; a negative recall gain becomes 0.
        scale = divide_no_nan(tp + fn, tn + fp)
        recall_gain = np.where(tp == 0, 0.0, 1.0 - scale * divide_no_nan(fn, tp))
        precision_gain = np.where(tp == 0, 1.0, 1.0 - scale * divide_no_nan(fp, tp))
        return np.maximum(recall_gain, 0.0), precision_gain

    def result(self):
        """The area under the curve, a Python float (0 before any update)."""
        if not self._built:
            return 0.0
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self.interpolate_pr_auc()
        x, y = self._curve()
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return self._total((x[:-1] - x[1:]) * heights)

    def get_config(self):
        config = {**super().get_config(), "num_thresholds": self.num_thresholds,
                  "curve": self.curve, "summation_method": self.summation_method,
                  "multi_label": self.multi_label, "num_labels": self.num_labels,
                  "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
                  "from_logits": self._from_logits}
        if self._init_from_thresholds:  # the inner thresholds, which rebuild the same ones
            config["thresholds"] = self.thresholds[1:-1]
        return config
