"""The `Metric` base class, Keras's automatic metric names, and the family's name registry.

A metric keeps its state in float64 Variables, updates them batch by batch (`update_state`),
reports them (`result`) and starts over (`reset_state`). The registry object lives here, empty,
so that `MeanMetricWrapper` can serialize its function without importing the package;
`fastdnn.metrics` fills it with every metric name.
"""

import collections
import re

import numpy as np

from .. import _global_state, initializers
from .._registry import Registry
from ..variables import Variable

_name_counts = collections.Counter()
_global_state.on_clear_session(_name_counts.clear)  # clear_session() restarts "auc", "auc_1", ...


def _snake_case(name):
    """Keras's to_snake_case: 'SparseCategoricalAccuracy' -> 'sparse_categorical_accuracy',
    'AUC' -> 'auc'."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _auto_name(class_name):
    """Keras's auto_name for a metric built without a name: 'auc', then 'auc_1', 'auc_2', ..."""
    base = _snake_case(class_name)
    n = _name_counts[base]
    _name_counts[base] += 1
    return base if n == 0 else f"{base}_{n}"


class Metric:
    """Base class of metrics: state in float64 Variables, updated batch by batch.

    A subclass creates its state with `add_variable` in `__init__` and writes `update_state`
    and `result`; `reset_state` zeroes every variable.

    Args:
        name: a name for logs; without one, the class name in snake_case, made unique as Keras
            does ("auc", "auc_1", ...).
        dtype: recorded in the config (Keras compatibility); accumulation is always float64.

    Example:
        >>> class Maximum(Metric):
        ...     def __init__(self, name="maximum"):
        ...         super().__init__(name=name)
        ...         self.top = self.add_variable((), "zeros", name="top")
        ...     def update_state(self, values, sample_weight=None):
        ...         self.top.assign(max(float(self.top.numpy()), float(np.max(values))))
        ...     def result(self):
        ...         return float(self.top.numpy())
        >>> m = Maximum(); m.update_state([1.0, 4.0]); m.update_state([2.0]); m.result()
        4.0
    """

    def __init__(self, name=None, dtype=None):
        self.name = name or _auto_name(type(self).__name__)
        self.dtype = dtype
        self._variables = []

    def add_variable(self, shape=(), initializer="zeros", dtype="float64", name=None):
        """Creates a state variable (not trainable) that `reset_state` zeroes.

        Args:
            shape: the variable's shape.
            initializer: an initializer or its name (see `fastdnn.initializers.get`).
            dtype: float64 by default.
            name: the variable's name.
        """
        var = Variable(initializers.get(initializer), shape=shape, dtype=dtype, trainable=False,
                       name=name)
        self._variables.append(var)
        return var

    add_weight = add_variable

    @property
    def variables(self):
        """The state variables, in creation order."""
        return list(self._variables)

    def update_state(self, *args, **kwargs):
        """Accumulates statistics from a batch; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement `update_state`.")

    def result(self):
        """The metric's value as a Python float; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement `result`.")

    def reset_state(self):
        """Zeroes every state variable."""
        for var in self._variables:
            var.assign(np.zeros(var.shape))

    reset_states = reset_state  # the tf.keras 2 name, used by the book's training loops

    def __call__(self, *args, **kwargs):
        """Updates the state with one batch and returns the result so far."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        """The constructor arguments as a JSON-safe dict."""
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        """Builds the metric from the output of `get_config()`."""
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


# Filled by fastdnn.metrics with every class and function name (and the list shown in messages).
_ENTRIES = {}
FAMILY = Registry("metric", Metric, _ENTRIES, "'accuracy' or 'acc' in compile(), a Metric or a "
                  "callable(y_true, y_pred)", listed=())
