"""fastdnn.metrics: Keras 3 metrics, computed with NumPy and accumulated in float64.

A metric function maps (y_true, y_pred) to one value per sample; a `Metric` object accumulates
them over batches (`update_state`), reports a Python float (`result`) and starts over
(`reset_state`). Metrics never touch the GradientTape.

    >>> import numpy as np
    >>> m = SparseCategoricalAccuracy()
    >>> m.update_state([2, 1], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]])
    >>> m.update_state([0], [[0.9, 0.1, 0.0]], sample_weight=[2.0])
    >>> m.result()
    0.75
"""

import re

import numpy as np

from . import initializers
from . import losses as losses_module
from ._registry import Registry
from .variables import Variable


def _f64(x, name="y_true"):
    """`x` as float64, or a TypeError for values that are not real numbers (a complex or text
    array would otherwise compare or convert silently)."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"Metrics take real numbers. Received: {name}.dtype={arr.dtype}")
    return arr.astype(np.float64, copy=False)


def _same_rank(y_true, y_pred):
    return losses_module._squeeze_or_expand(y_true, y_pred, reshape=np.reshape)


# ---- metric functions: per-sample values -------------------------------------------------------

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
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)  # argmax needs no float64 copy
    for name, arr in (("y_true", y_true), ("y_pred", y_pred)):
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"Metrics take real numbers. Received: {name}.dtype={arr.dtype}")
    if y_true.ndim == y_pred.ndim and y_true.ndim > 0 and y_true.shape[-1] == 1:
        y_true = y_true.reshape(y_true.shape[:-1])
    return (y_true == np.argmax(y_pred, axis=-1)).astype(np.float64)


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


# ---- Metric objects ----------------------------------------------------------------------------

class Metric:
    """Base class of metrics: state in float64 Variables, updated batch by batch.

    A subclass creates its state with `add_variable` in `__init__` and writes `update_state`
    and `result`; `reset_state` zeroes every variable.

    Args:
        name: a name for logs; defaults to the class name in snake_case.
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
        self.name = name or _snake_case(type(self).__name__)
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


def _snake_case(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


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
        return {**super().get_config(), "fn": serialize(self._fn), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "fn" in config:
            config["fn"] = deserialize(config["fn"])
        return cls(**config)


class _NamedMean(MeanMetricWrapper):
    """A wrapper around one of this module's functions; its config is its own arguments."""

    def get_config(self):
        return Metric.get_config(self)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


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


# ---- registry ----------------------------------------------------------------------------------

_CLASSES = (Accuracy, BinaryAccuracy, CategoricalAccuracy, Mean, MeanAbsoluteError,
            MeanMetricWrapper, MeanSquaredError, Metric, RootMeanSquaredError,
            SparseCategoricalAccuracy)
_FUNCTIONS = (accuracy, binary_accuracy, categorical_accuracy, mean_absolute_error,
              mean_squared_error, sparse_categorical_accuracy)

_REGISTRY = {obj.__name__: obj for obj in _CLASSES + _FUNCTIONS}
_REGISTRY.update({  # the cross-entropy loss functions, which Keras exports as metrics too
    fn.__name__: fn for fn in (losses_module.binary_crossentropy,
                               losses_module.categorical_crossentropy,
                               losses_module.sparse_categorical_crossentropy)})
_REGISTRY.update({  # Keras 3's aliases
    "mae": mean_absolute_error, "MAE": mean_absolute_error,
    "mse": mean_squared_error, "MSE": mean_squared_error,
})
_NAMES = sorted(k for k in _REGISTRY if k not in ("Metric", "MeanMetricWrapper"))


_FAMILY = Registry("metric", Metric, _REGISTRY, "'accuracy' or 'acc' in compile(), a Metric or a "
                   "callable(y_true, y_pred)", _NAMES)
_lookup = _FAMILY.lookup
serialize = _FAMILY.serialize
deserialize = _FAMILY.deserialize


def get(identifier):
    """Returns the metric an identifier names, as Keras's `metrics.get` does.

    Args:
        identifier: None (returns None); a `Metric` or any callable(y_true, y_pred) (returned
            as is); a Metric class (instantiated); a class name ("SparseCategoricalAccuracy",
            giving an instance) or a function name or alias ("sparse_categorical_accuracy",
            "mse", giving the function); or a dict {"class_name": ..., "config": ...}.

    Example:
        >>> get("CategoricalAccuracy").name
        'categorical_accuracy'

    Raises:
        ValueError: for an unknown name or anything that is not a metric.
    """
    return _FAMILY.get(identifier)


_ACCURACY_FOR_LOSS = (
    (losses_module.sparse_categorical_crossentropy, SparseCategoricalAccuracy),
    (losses_module.categorical_crossentropy, CategoricalAccuracy),
    (losses_module.binary_crossentropy, BinaryAccuracy),
)


def _accuracy_class(loss, y_true, y_pred):
    """Keras's choice of accuracy: by the cross-entropy loss, else by the shapes of the data."""
    loss_obj = losses_module.get(loss)
    fn = loss_obj.fn if isinstance(loss_obj, losses_module.LossFunctionWrapper) else loss_obj
    for loss_fn, cls in _ACCURACY_FOR_LOSS:
        if fn is loss_fn:
            return cls
    if y_true is None or y_pred is None:
        raise ValueError(
            f"Cannot tell which accuracy 'accuracy' means for loss={loss!r}: pass y_true and "
            "y_pred (a batch, or arrays of the right shapes), or name the metric: "
            "'sparse_categorical_accuracy', 'categorical_accuracy' or 'binary_accuracy'.")
    true_shape, pred_shape = np.shape(y_true), np.shape(y_pred)
    if pred_shape[-1] == 1:
        return BinaryAccuracy
    if len(true_shape) < len(pred_shape) or true_shape[-1] == 1:
        return SparseCategoricalAccuracy
    return CategoricalAccuracy


def resolve(identifier, loss=None, y_true=None, y_pred=None):
    """The `Metric` object that `compile(metrics=[identifier], loss=loss)` tracks (None for None).

    "accuracy" and "acc" (any case) become SparseCategoricalAccuracy for a sparse categorical
    cross-entropy loss, CategoricalAccuracy for a categorical one and BinaryAccuracy for a
    binary one; for any other loss the shapes of y_true and y_pred decide, as in Keras 3
    (y_pred ending in 1: binary; y_true of lower rank or ending in 1: sparse; else categorical).
    The metric keeps the name it was asked by ("accuracy"), so logs read "accuracy" and
    "val_accuracy". Other strings resolve through `get` and also keep their spelling as the name
    ("mse" logs as "mse"); functions are wrapped in a `MeanMetricWrapper`.

    Args:
        identifier: anything `get` accepts, or "accuracy"/"acc".
        loss: the compiled loss: a name, Loss instance or class, function or config dict.
        y_true: optional targets (or any array of their shape), used when the loss is not a
            cross-entropy.
        y_pred: optional predictions (or any array of their shape), likewise.

    Example:
        >>> m = resolve("accuracy", "sparse_categorical_crossentropy")
        >>> type(m).__name__, m.name
        ('SparseCategoricalAccuracy', 'accuracy')

    Raises:
        ValueError: for an unknown identifier, or "accuracy" with a loss that does not decide
            it and no y_true/y_pred.
    """
    if identifier is None:
        return None
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        return _accuracy_class(loss, y_true, y_pred)(name=identifier)
    metric = get(identifier)
    if not isinstance(metric, Metric):
        metric = MeanMetricWrapper(metric)
    if isinstance(identifier, str):
        metric.name = identifier
    return metric
