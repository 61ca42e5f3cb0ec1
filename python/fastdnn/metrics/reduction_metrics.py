"""Running means: `Mean` of given values, and `MeanMetricWrapper` of a per-sample function.

Values are reduced to one per sample (the mean over the other axes), weighted, and summed into
float64 totals; the training loop's calls take a path of Python floats or one NumPy sum.
"""

import numpy as np

from .metric import FAMILY, Metric
from .metrics_utils import _f64, _same_rank


def _samplewise(values, sample_weight):
    """Keras's reduce_to_samplewise_values: one weighted value per sample, and the weights."""
    values = _f64(values, "values")
    if sample_weight is not None:
        weight = _f64(sample_weight, "sample_weight")
        values, weight = _same_rank(values, weight)
        if values.ndim > weight.ndim:
            values = values.mean(axis=tuple(range(weight.ndim, values.ndim)))
        try:
            weight = np.broadcast_to(weight, values.shape)
        except ValueError:
            raise ValueError(f"`sample_weight` of shape {np.shape(sample_weight)} does not "
                             f"match values of shape {values.shape}; pass one weight per "
                             "sample.") from None
        values = values * weight
        if weight.ndim > 1:
            weight = weight.mean(axis=tuple(range(1, weight.ndim)))
        sample_weight = weight
    if values.ndim > 1:
        values = values.mean(axis=tuple(range(1, values.ndim)))
    return values, sample_weight


class Mean(Metric):
    """The running (weighted) mean of the values it is given.

    Args:
        name: defaults to "mean".
        dtype: as for `Metric`.

    Example:
        >>> m = Mean(); m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0]); m.result()
        2.0

    Raises:
        ValueError: on update, for sample weights that do not broadcast to the values.
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), "zeros", name="total")
        self.count = self.add_variable((), "zeros", name="count")
        self._fast = [0.0, 0]

    @property
    def variables(self):
        self._flush()
        return super().variables

    def _flush(self):
        if self._fast[1]:
            self.total.assign(float(self.total._value) + self._fast[0])
            self.count.assign(float(self.count._value) + self._fast[1])
        self._fast = [0.0, 0]

    def reset_state(self):
        self._fast = [0.0, 0]
        super().reset_state()

    def add_sums(self, total, count):
        """Adds a batch already summed: `total` over `count` samples (a native training step's
        count of correct rows, say). The same result as update_state with the batch's values."""
        self._fast[0] += total
        self._fast[1] += count

    def update_state(self, values, sample_weight=None):
        """Adds a batch of values (each sample's values averaged first) with optional weights."""
        if type(values) is float and type(sample_weight) is int:  # a batch's loss and its size:
            self._fast[0] += values * sample_weight  # Python floats, summed into the variables
            self._fast[1] += sample_weight  # when they are read (the training loop's path)
            return
        if sample_weight is None and isinstance(values, np.ndarray) and values.ndim == 1:
            self.total._value += values.sum(dtype=np.float64)  # the per-batch path of fit
            self.count._value += values.shape[0]
            return
        values, weight = _samplewise(values, sample_weight)
        self.total.assign_add(values.sum())
        if weight is not None:
            self.count.assign_add(weight.sum())
        else:
            self.count.assign_add(values.shape[0] if values.ndim else 1)

    def result(self):
        total, count = self._fast
        if count == 0 or self.count._value:
            total, count = total + float(self.total._value), count + float(self.count._value)
        return total / count if count else 0.0


class MeanMetricWrapper(Mean):
    """The running mean of a function fn(y_true, y_pred, **kwargs) -> per-sample values.

    Args:
        fn: the metric function (any callable; a loss function works too).
        name: defaults to the function's name.
        dtype: as for `Metric`.
        **kwargs: passed to fn on every update.

    Example:
        >>> from fastdnn.metrics import mean_absolute_error
        >>> m = MeanMetricWrapper(mean_absolute_error)
        >>> m.update_state([[0.0], [0.0]], [[1.0], [3.0]]); m.result()
        2.0

    Raises:
        TypeError: if fn is not callable.
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        if not callable(fn):
            raise TypeError(f"`fn` must be a function fn(y_true, y_pred). Received: fn={fn!r}")
        super().__init__(name=name or getattr(fn, "__name__", None), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Adds fn(y_true, y_pred) for a batch, weighted by `sample_weight` if given."""
        values = self._fn(np.asarray(y_true), np.asarray(y_pred), **self._fn_kwargs)
        super().update_state(values, sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), "fn": FAMILY.serialize(self._fn), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "fn" in config:
            config["fn"] = FAMILY.deserialize(config["fn"])
        return cls(**config)


class _NamedMean(MeanMetricWrapper):
    """A wrapper around one of fastdnn's metric functions; its config is its own arguments."""

    def get_config(self):
        return Metric.get_config(self)

    @classmethod
    def from_config(cls, config):
        return cls(**config)
