"""Regression metrics: mean squared and absolute errors per sample, and their running means
(the root of the mean for `RootMeanSquaredError`).

Shapes: y_true, y_pred (batch, ..., d); (batch,) against (batch, 1) is taken as (batch, 1).
"""

import numpy as np

from .metrics_utils import _f64, _same_rank
from .reduction_metrics import Mean, _NamedMean


def mean_squared_error(y_true, y_pred):
    """Mean of (y_true - y_pred)² over the last axis, in float64.

    Example:
        >>> mean_squared_error([[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]])
        array([0.5, 0.5])
    """
    y_true, y_pred = _same_rank(_f64(y_true), _f64(y_pred, "y_pred"))
    return np.mean(np.square(y_true - y_pred), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """Mean of |y_true - y_pred| over the last axis, in float64.

    Example:
        >>> mean_absolute_error([[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]])
        array([0.5, 0.5])
    """
    y_true, y_pred = _same_rank(_f64(y_true), _f64(y_pred, "y_pred"))
    return np.mean(np.abs(y_true - y_pred), axis=-1)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error


class MeanSquaredError(_NamedMean):
    """The running mean of the squared errors.

    Example:
        >>> m = MeanSquaredError(); m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]]); m.result()
        0.25
    """

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(_NamedMean):
    """The running mean of the absolute errors.

    Example:
        >>> m = MeanAbsoluteError(); m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]]); m.result()
        0.25
    """

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)


class RootMeanSquaredError(Mean):
    """The square root of the running mean of the squared errors.

    Example:
        >>> m = RootMeanSquaredError(); m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
        >>> m.result()
        0.5

    Raises:
        ValueError: on update, for sample weights that do not broadcast to the errors.
    """

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Adds the squared errors of a batch (averaged per sample), with optional weights."""
        y_true, y_pred = _same_rank(_f64(y_true), _f64(y_pred, "y_pred"))
        super().update_state(np.square(y_pred - y_true), sample_weight=sample_weight)

    def result(self):
        return float(np.sqrt(super().result()))
