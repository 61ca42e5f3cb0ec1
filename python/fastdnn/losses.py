"""fastdnn.losses: Keras 3 losses, built from fastdnn's differentiable ops.

Shapes: y_pred (batch, ..., d); y_true (batch, ..., d), or (batch, ...) class indices for the
sparse cross-entropy. A loss function returns one value per sample, (batch, ...), the last axis
reduced away; a `Loss` object multiplies those by `sample_weight` and reduces them to a 0-d
float32 array. Everything runs through `fastdnn.ops`, so on a GradientTape the gradient reaches
y_pred (and whatever y_pred was computed from) without a hand-written backward here, except for
the sigmoid cross-entropy, whose stable form is one recorded op below.

Cross-entropy on probabilities: when y_pred is the output of a softmax recorded on the active
tape (a `Dense(10, activation="softmax")` output layer during training), the loss is computed
from that softmax's logits by the fused native kernel: exact for confident predictions and with
the gradient (softmax - target) going straight to the logits, as Keras's TensorFlow backend does.
Other probabilities follow Keras's formula: normalise the rows, clip to [1e-7, 1 - 1e-7], take
-sum(t * log(p)).

    >>> import numpy as np, fastdnn
    >>> from fastdnn.losses import SparseCategoricalCrossentropy
    >>> logits = np.array([[2.0, 0.0, -1.0]], np.float32)
    >>> with fastdnn.autodiff.GradientTape() as tape:
    ...     tape.watch(logits)
    ...     loss = SparseCategoricalCrossentropy()([0], fastdnn.ops.softmax(logits))
    >>> np.round(tape.gradient(loss, logits), 3)  # softmax(logits) - onehot(0)
    array([[-0.156,  0.114,  0.042]], dtype=float32)
"""

import re

import numpy as np

from . import ops
from ._arrays import as_float32
from ._dispatch import kernels, on_device
from ._registry import Registry
from .autodiff import record
from .variables import Variable

EPSILON = 1e-7  # keras.backend.epsilon(): probabilities are clipped to [EPSILON, 1 - EPSILON]

_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def _tensor(x, name):
    """A loss input as float32: a Variable's own array, an array passed through (keeping its
    identity on the tape), anything else converted."""
    if isinstance(x, Variable):
        return x.value
    return as_float32(x, name)


def _same_device(x, like):
    """`x` moved to the GPU when `like` is there (targets and weights follow the predictions)."""
    return kernels(like).put(x) if on_device(like) and not on_device(x) else x


def _scalar(value):
    """A 0-d float32 array, which ops take as is (a Python number would become shape (1,))."""
    return np.array(value, dtype=np.float32)


def _snake_case(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _squeeze_or_expand(x1, x2, reshape=ops.reshape):
    """Keras's squeeze_or_expand_to_same_rank: when the ranks differ by one and the higher-rank
    array ends in 1, gives a rank-1 partner a trailing 1, else drops that trailing 1."""
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        if x2.ndim == 1:
            x2 = reshape(x2, x2.shape + (1,))
        else:
            x1 = reshape(x1, x1.shape[:-1])
    elif x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        if x1.ndim == 1:
            x1 = reshape(x1, x1.shape + (1,))
        else:
            x2 = reshape(x2, x2.shape[:-1])
    return x1, x2


def _check_axis(axis):
    if axis not in (-1, None):
        raise ValueError(f"fastdnn losses reduce the last axis only. Received: axis={axis}; "
                         "move the class axis last (or pass axis=-1).")


def _check_same_shape(y_true, y_pred, loss):
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{loss} expects `y_true` and `y_pred` of the same shape. Received: "
                         f"y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}")


def _check_probabilities(y_pred, loss):
    if y_pred.ndim < 1 or y_pred.shape[-1] < 1:
        raise ValueError(f"{loss} expects `y_pred` of shape (batch, ..., classes). "
                         f"Received: y_pred.shape={y_pred.shape}")


def _class_labels(y_true, y_pred, check_range=True):
    """Sparse labels as int64 of shape y_pred.shape[:-1], checked to lie in [0, classes) (the
    fused native kernel checks the range itself, so its callers skip that pass)."""
    labels = y_true if isinstance(y_true, np.ndarray) else np.asarray(y_true)
    if labels.ndim == y_pred.ndim and labels.ndim > 0 and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])
    if labels.shape != y_pred.shape[:-1]:
        raise ValueError(
            "sparse_categorical_crossentropy expects one class index per sample: `y_true` of "
            f"shape {y_pred.shape[:-1]} or {y_pred.shape[:-1] + (1,)} for y_pred of shape "
            f"{y_pred.shape}. Received: y_true.shape={np.shape(y_true)}")
    kind = labels.dtype.kind
    if kind == "f":
        with np.errstate(invalid="ignore"):
            integral = (np.mod(labels, 1) == 0) & (np.abs(labels) < 2.0 ** 63)  # int64 holds it
        if not integral.all():
            i = np.argwhere(~integral)[0]
            raise ValueError("Class labels must be integers. Received: "
                             f"y_true={labels[tuple(i)]!r} at index {tuple(int(k) for k in i)}")
    elif kind not in "iub":
        raise TypeError(f"Class labels must be integers. Received: y_true.dtype={labels.dtype}")
    if labels.dtype != np.int64:
        labels = labels.astype(np.int64)
    classes = y_pred.shape[-1]
    if check_range:
        bad = (labels < 0) | (labels >= classes)
        if bad.any():
            i = tuple(int(k) for k in np.argwhere(bad)[0])
            raise ValueError(f"Class labels must lie in [0, {classes}) for y_pred with {classes} "
                             f"classes. Received: y_true={int(labels[i])} at index {i}")
    return labels


def _fused(kernel, logits, target):
    """Runs a fused softmax cross-entropy over the last axis of logits of any rank >= 1."""
    if logits.ndim == 2:
        return kernel(logits, target)
    lead = logits.shape[:-1]
    classes = logits.shape[-1]
    flat_target = target.reshape(-1) if target.ndim == len(lead) else target.reshape(-1, classes)
    return ops.reshape(kernel(ops.reshape(logits, (-1, classes)), flat_target), lead)


def _log_probabilities(y_pred):
    """log(clip(p / sum(p), eps, 1 - eps)) over the last axis, as Keras computes it."""
    p = ops.divide(y_pred, ops.sum(y_pred, axis=-1, keepdims=True))
    return ops.log(ops.clip(p, EPSILON, 1.0 - EPSILON))


def _sigmoid_cross_entropy(logits, targets):
    """max(x, 0) - x·t + log(1 + exp(-|x|)), element-wise; finite for any finite x.

    Backward: d/dx = sigmoid(x) - t, d/dt = -x.
    """
    e = np.exp(-np.abs(logits))
    y = (np.maximum(logits, 0) - logits * targets + np.log1p(e)).astype(np.float32)

    def backward(g, needs):
        sigmoid = np.where(logits >= 0, 1 / (1 + e), e / (1 + e))
        return (g * (sigmoid - targets) if needs[0] else None,
                -g * logits if needs[1] else None)

    record(y, (logits, targets), backward)
    return y


# ---- loss functions: per-sample values -------------------------------------------------------

def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Cross-entropy between integer class labels and predicted class scores, per sample.

    Args:
        y_true: class indices in [0, classes), shape (batch, ...) or (batch, ..., 1); integer,
            boolean or integral float values.
        y_pred: (batch, ..., classes) probabilities, or logits with `from_logits=True`.
        from_logits: whether y_pred holds logits.
        ignore_class: not supported; must be None.
        axis: the class axis; only the last (-1) is supported.

    Returns:
        (batch, ...) float32 losses.

    Raises:
        ValueError: for labels out of range or of the wrong shape, non-integral labels, or an
            unsupported `ignore_class` or `axis`.
        TypeError: for labels that are not numbers.

    Example:
        >>> import numpy as np
        >>> sparse_categorical_crossentropy([1, 2], np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]]))
        array([0.05129331, 2.3025851 ], dtype=float32)
    """
    _check_axis(axis)
    if ignore_class is not None:
        raise ValueError(f"`ignore_class` is not supported. Received: ignore_class={ignore_class}")
    y_pred = _tensor(y_pred, "y_pred")
    _check_probabilities(y_pred, "sparse_categorical_crossentropy")
    logits = y_pred if from_logits else ops.softmax_logits(y_pred)
    labels = _class_labels(y_true, y_pred, check_range=logits is None)
    if logits is not None:
        return _fused(ops.sparse_softmax_cross_entropy, logits, labels)
    if on_device(y_pred) and y_pred.ndim == 2:  # probabilities on the GPU: one kernel, same formula
        return ops.sparse_crossentropy_from_probabilities(y_pred, labels, EPSILON)
    onehot = np.eye(y_pred.shape[-1], dtype=np.float32)[labels]
    return ops.negative(ops.sum(ops.multiply(onehot, _log_probabilities(y_pred)), axis=-1))


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Cross-entropy between target distributions (e.g. one-hot rows) and predictions, per sample.

    Args:
        y_true: (batch, ..., classes) targets.
        y_pred: (batch, ..., classes) probabilities, or logits with `from_logits=True`.
        from_logits: whether y_pred holds logits.
        label_smoothing: in [0, 1]; targets become t·(1 - s) + s / classes.
        axis: the class axis; only the last (-1) is supported.

    Returns:
        (batch, ...) float32 losses.

    Raises:
        ValueError: for mismatched shapes or an unsupported `axis`.

    Example:
        >>> import numpy as np
        >>> categorical_crossentropy([[0, 1, 0], [0, 0, 1]],
        ...                          np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]]))
        array([0.05129331, 2.3025851 ], dtype=float32)
    """
    _check_axis(axis)
    y_pred = _tensor(y_pred, "y_pred")
    y_true = _tensor(y_true, "y_true")
    _check_probabilities(y_pred, "categorical_crossentropy")
    _check_same_shape(y_true, y_pred, "categorical_crossentropy")
    if label_smoothing:
        y_true = ops.add(ops.multiply(y_true, _scalar(1.0 - label_smoothing)),
                         _scalar(label_smoothing / y_pred.shape[-1]))
    logits = y_pred if from_logits else ops.softmax_logits(y_pred)
    if logits is not None:
        return _fused(ops.softmax_cross_entropy, logits, y_true)
    return ops.negative(ops.sum(ops.multiply(y_true, _log_probabilities(y_pred)), axis=-1))


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Binary cross-entropy, averaged over the last axis: one value per sample.

    From probabilities: -(t·log(p) + (1 - t)·log(1 - p)) with p clipped to [1e-7, 1 - 1e-7];
    from logits x: max(x, 0) - x·t + log(1 + exp(-|x|)), finite for any finite x.

    Args:
        y_true: (batch, ..., d) targets in [0, 1].
        y_pred: (batch, ..., d) probabilities, or logits with `from_logits=True`.
        from_logits: whether y_pred holds logits.
        label_smoothing: in [0, 1]; targets become t·(1 - s) + s / 2.
        axis: the axis averaged over; only the last (-1) is supported.

    Returns:
        (batch, ...) float32 losses.

    Raises:
        ValueError: for mismatched shapes or an unsupported `axis`.

    Example:
        >>> import numpy as np
        >>> binary_crossentropy([[0, 1], [0, 0]], np.array([[0.6, 0.4], [0.4, 0.6]]))
        array([0.91629076, 0.7135582 ], dtype=float32)
    """
    _check_axis(axis)
    y_pred = _tensor(y_pred, "y_pred")
    y_true = _tensor(y_true, "y_true")
    _check_same_shape(y_true, y_pred, "binary_crossentropy")
    if label_smoothing:
        y_true = ops.add(ops.multiply(y_true, _scalar(1.0 - label_smoothing)),
                         _scalar(0.5 * label_smoothing))
    if from_logits:
        return ops.mean(_sigmoid_cross_entropy(y_pred, y_true), axis=-1)
    p = ops.clip(y_pred, EPSILON, 1.0 - EPSILON)
    one = _scalar(1.0)
    log_likelihood = ops.add(ops.multiply(y_true, ops.log(p)),
                             ops.multiply(ops.subtract(one, y_true), ops.log(ops.subtract(one, p))))
    return ops.negative(ops.mean(log_likelihood, axis=-1))


def mean_squared_error(y_true, y_pred):
    """Mean of (y_true - y_pred)² over the last axis: one value per sample.

    Args:
        y_true: (batch, ..., d) targets; (batch,) is taken as (batch, 1) against y_pred (batch, 1).
        y_pred: (batch, ..., d) predictions.

    Returns:
        (batch, ...) float32 losses.

    Example:
        >>> mean_squared_error([[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]])
        array([0.5, 0.5], dtype=float32)
    """
    y_pred = _tensor(y_pred, "y_pred")
    y_true, y_pred = _squeeze_or_expand(_tensor(y_true, "y_true"), y_pred)
    return ops.mean(ops.square(ops.subtract(y_true, y_pred)), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """Mean of |y_true - y_pred| over the last axis: one value per sample.

    Args:
        y_true: (batch, ..., d) targets; (batch,) is taken as (batch, 1) against y_pred (batch, 1).
        y_pred: (batch, ..., d) predictions.

    Returns:
        (batch, ...) float32 losses.

    Example:
        >>> mean_absolute_error([[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]])
        array([0.5, 0.5], dtype=float32)
    """
    y_pred = _tensor(y_pred, "y_pred")
    y_true, y_pred = _squeeze_or_expand(_tensor(y_true, "y_true"), y_pred)
    return ops.mean(ops.abs(ops.subtract(y_true, y_pred)), axis=-1)


def _check_delta(delta):
    if not isinstance(delta, (int, float, np.floating, np.integer)) or isinstance(delta, bool) \
            or not np.isfinite(delta) or delta <= 0:
        raise ValueError("The `delta` argument must be a positive number. "
                         f"Received: delta={delta!r}")


def huber(y_true, y_pred, delta=1.0):
    """Huber loss, averaged over the last axis: ½e² where |e| <= delta, delta·|e| - ½delta²
    beyond, for the error e = y_pred - y_true.

    Both pieces are one formula, ½m² + delta·(|e| - m) with m = min(|e|, delta), so only ops
    that run on every device are needed; the gradient is e inside and delta·sign(e) outside.

    Args:
        y_true: (batch, ..., d) targets; (batch,) is taken as (batch, 1) against y_pred (batch, 1).
        y_pred: (batch, ..., d) predictions.
        delta: the positive error at which the loss turns from quadratic to linear.

    Returns:
        (batch, ...) float32 losses.

    Raises:
        ValueError: for a `delta` that is not a positive number.

    Example:
        >>> huber([[0.0, 1.0], [0.0, 0.0]], [[0.6, 0.4], [0.4, 0.6]]).round(6)
        array([0.18, 0.13], dtype=float32)
    """
    _check_delta(delta)
    y_pred = _tensor(y_pred, "y_pred")
    y_true, y_pred = _squeeze_or_expand(_tensor(y_true, "y_true"), y_pred)
    error = ops.abs(ops.subtract(y_pred, y_true))
    d = _scalar(delta)
    inside = ops.minimum(error, d)
    values = ops.add(ops.multiply(_scalar(0.5), ops.square(inside)),
                     ops.multiply(d, ops.subtract(error, inside)))
    return ops.mean(values, axis=-1)


def log_cosh(y_true, y_pred):
    """log(cosh(y_pred - y_true)), averaged over the last axis: about ½e² for small errors
    and |e| - log 2 for large ones.

    Computed as |e| + log(1 + exp(-2|e|)) - log 2 (Keras's e + softplus(-2e) - log 2), which
    is finite for any finite error; the gradient is tanh(e).

    Args:
        y_true: (batch, ..., d) targets; (batch,) is taken as (batch, 1) against y_pred (batch, 1).
        y_pred: (batch, ..., d) predictions.

    Returns:
        (batch, ...) float32 losses.

    Example:
        >>> log_cosh([[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [0.0, 0.0]]).round(6)
        array([0.21689, 0.     ], dtype=float32)
    """
    y_pred = _tensor(y_pred, "y_pred")
    y_true, y_pred = _squeeze_or_expand(_tensor(y_true, "y_true"), y_pred)
    error = ops.abs(ops.subtract(y_pred, y_true))
    tail = ops.log(ops.add(ops.exp(ops.multiply(_scalar(-2.0), error)), _scalar(1.0)))
    return ops.mean(ops.subtract(ops.add(error, tail), _scalar(np.log(2.0))), axis=-1)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
bce = BCE = binary_crossentropy


# ---- Loss objects ----------------------------------------------------------------------------

def _reduce_weighted(values, sample_weight, reduction):
    """Keras's reduce_weighted_values: weight the per-sample losses, then reduce them."""
    values = _tensor(values, "losses")
    weight = None
    if sample_weight is not None:
        weight = _same_device(as_float32(sample_weight, "sample_weight"), values)
        values, weight = _squeeze_or_expand(values, weight)
        values = ops.multiply(values, weight)
    if reduction in (None, "none") or values.ndim == 0:
        return values
    if weight is None and reduction in ("sum_over_batch_size", "mean") and values.size:
        return ops.mean(values)
    total = ops.sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and weight is not None:
        divisor = float(np.sum(np.broadcast_to(weight, values.shape), dtype=np.float64))
    else:
        divisor = values.size
    # Keras's divide_no_nan: an empty batch (or all-zero weights) gives 0, not NaN.
    return ops.divide(total, _scalar(divisor)) if divisor else ops.multiply(total, _scalar(0.0))


class Loss:
    """Base class of losses: `call` gives per-sample losses, `__call__` weights and reduces them.

    A subclass writes `call(y_true, y_pred)` with `fastdnn.ops` functions (so that it is
    differentiable) and, if its constructor takes arguments, `get_config`.

    Args:
        name: a name for logs; defaults to the class name in snake_case.
        reduction: "sum_over_batch_size" (or "mean": the sum of the weighted losses divided by
            their number), "sum", "mean_with_sample_weight" (divided by the sum of the weights
            instead) or "none"/None (the weighted per-sample losses).
        dtype: the compute dtype; fastdnn computes losses in float32 only.

    Example:
        >>> import numpy as np, fastdnn
        >>> class Huber(Loss):
        ...     def call(self, y_true, y_pred):
        ...         err = fastdnn.ops.abs(fastdnn.ops.subtract(y_true, y_pred))
        ...         half = np.float32(0.5)
        ...         return fastdnn.ops.where(err < 1, fastdnn.ops.multiply(half, fastdnn.ops.square(err)),
        ...                                  fastdnn.ops.subtract(err, half))
        >>> Huber()(np.zeros(3), np.array([0.5, 2.0, -3.0]))
        array(1.375, dtype=float32)

    Raises:
        ValueError: for an unknown reduction or a dtype other than float32.
    """

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"Invalid value for argument `reduction`. Expected one of "
                             f"{list(_REDUCTIONS)}. Received: reduction={reduction!r}")
        if dtype is not None and np.dtype(dtype) != np.float32:
            raise ValueError(f"fastdnn losses compute in float32. Received: dtype={dtype!r}")
        self.name = name or _snake_case(type(self).__name__)
        self.reduction = reduction
        self.dtype = "float32"

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The reduced loss: a 0-d float32 array (per-sample losses for reduction "none").

        Args:
            y_true: targets.
            y_pred: predictions; on a recording tape the result is differentiable in y_pred.
            sample_weight: optional weights, one per sample (broadcast against the losses).
        """
        if sample_weight is None and self.reduction in ("sum_over_batch_size", "mean"):
            fast = self._fused_mean(y_true, y_pred)
            if fast is not None:
                return fast
        y_pred = _tensor(y_pred, "y_pred")
        y_true = _same_device(_tensor(y_true, "y_true"), y_pred)
        return _reduce_weighted(self.call(y_true, y_pred), sample_weight, self.reduction)

    def _fused_mean(self, y_true, y_pred):
        """The mean loss in one fused native op where this loss allows it, else None."""
        return

    def call(self, y_true, y_pred):
        """Per-sample losses; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement `call(y_true, y_pred)`.")

    def get_config(self):
        """The constructor arguments as a JSON-safe dict."""
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        """Builds the loss from the output of `get_config()`."""
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} reduction={self.reduction!r}>"


class LossFunctionWrapper(Loss):
    """A `Loss` made from a function fn(y_true, y_pred, **kwargs) -> per-sample losses.

    y_true and y_pred are first brought to the same rank where one has an extra trailing 1
    (Keras's squeeze_or_expand_to_same_rank).

    Args:
        fn: the loss function.
        reduction: as for `Loss`.
        name: defaults to the function's name.
        dtype: as for `Loss`.
        **kwargs: passed to fn on every call.

    Example:
        >>> import numpy as np
        >>> LossFunctionWrapper(mean_absolute_error)(np.zeros(2), np.array([1.0, 3.0]))
        array(2., dtype=float32)

    Raises:
        TypeError: if fn is not callable.
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        if not callable(fn):
            raise TypeError(f"`fn` must be a function fn(y_true, y_pred). Received: fn={fn!r}")
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction,
                         dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        y_true, y_pred = _squeeze_or_expand(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def _fused_mean(self, y_true, y_pred):
        """Sparse cross-entropy of 2-D scores from logits (or from a recorded softmax) with
        integer labels: one native call gives the mean loss and its gradient, the training
        step's hot path. Anything else takes the general path."""
        if self.fn is not sparse_categorical_crossentropy or not (isinstance(y_pred, np.ndarray) or on_device(y_pred)):
            return None
        logits = y_pred if self._fn_kwargs.get("from_logits") else ops.softmax_logits(y_pred)
        labels = y_true if isinstance(y_true, np.ndarray) else None
        if logits is None or logits.ndim != 2 or labels is None or labels.dtype.kind not in "iu":
            return None
        if labels.shape != (logits.shape[0],):
            if labels.shape != (logits.shape[0], 1):
                return None
            labels = labels.reshape(-1)
        return ops.sparse_softmax_cross_entropy_mean(logits, labels)

    def get_config(self):
        return {**super().get_config(), "fn": serialize(self.fn), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "fn" in config:
            config["fn"] = deserialize(config["fn"])
        return cls(**config)

    def __repr__(self):
        return f"<LossFunctionWrapper({getattr(self.fn, '__name__', self.fn)}, " \
               f"kwargs={self._fn_kwargs})>"


class _NamedLoss(LossFunctionWrapper):
    """A wrapper around one of this module's functions; its config is its own arguments."""

    _arguments = ()

    def get_config(self):
        return {**Loss.get_config(self), **{k: getattr(self, k) for k in self._arguments}}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    __repr__ = Loss.__repr__


class SparseCategoricalCrossentropy(_NamedLoss):
    """Cross-entropy between integer class labels and predicted class scores.

    Args:
        from_logits: whether y_pred holds logits rather than probabilities.
        ignore_class: not supported; must be None.
        reduction, name, dtype: as for `Loss`.

    Example:
        >>> import numpy as np
        >>> SparseCategoricalCrossentropy()([1, 2], np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]]))
        array(1.1769392, dtype=float32)

    Raises:
        ValueError: on call, for labels out of range (see `sparse_categorical_crossentropy`).
    """

    _arguments = ("from_logits", "ignore_class")

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", dtype=None):
        if ignore_class is not None:
            raise ValueError("`ignore_class` is not supported. "
                             f"Received: ignore_class={ignore_class}")
        super().__init__(sparse_categorical_crossentropy, reduction=reduction, name=name,
                         dtype=dtype, from_logits=from_logits)
        self.from_logits = from_logits
        self.ignore_class = ignore_class


class CategoricalCrossentropy(_NamedLoss):
    """Cross-entropy between target distributions (e.g. one-hot rows) and predictions.

    Args:
        from_logits: whether y_pred holds logits rather than probabilities.
        label_smoothing: in [0, 1]; targets become t·(1 - s) + s / classes.
        axis: the class axis; only -1 is supported.
        reduction, name, dtype: as for `Loss`.

    Example:
        >>> import numpy as np
        >>> CategoricalCrossentropy()([[0, 1, 0], [0, 0, 1]],
        ...                           np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]]))
        array(1.1769392, dtype=float32)

    Raises:
        ValueError: for an unsupported axis; on call, for mismatched shapes.
    """

    _arguments = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy", dtype=None):
        _check_axis(axis)
        super().__init__(categorical_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class BinaryCrossentropy(_NamedLoss):
    """Binary cross-entropy, for one or more independent yes/no targets per sample.

    Args:
        from_logits: whether y_pred holds logits rather than probabilities.
        label_smoothing: in [0, 1]; targets become t·(1 - s) + s / 2.
        axis: the axis averaged over; only -1 is supported.
        reduction, name, dtype: as for `Loss`.

    Example:
        >>> import numpy as np
        >>> BinaryCrossentropy()([[0, 1], [0, 0]], np.array([[0.6, 0.4], [0.4, 0.6]]))
        array(0.8149245, dtype=float32)

    Raises:
        ValueError: for an unsupported axis; on call, for mismatched shapes.
    """

    _arguments = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        _check_axis(axis)
        super().__init__(binary_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class MeanSquaredError(_NamedLoss):
    """Mean of squared errors over the last axis, then over the batch.

    Args:
        reduction, name, dtype: as for `Loss`.

    Example:
        >>> MeanSquaredError()([[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]])
        array(0.5, dtype=float32)
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, reduction=reduction, name=name, dtype=dtype)


class MeanAbsoluteError(_NamedLoss):
    """Mean of absolute errors over the last axis, then over the batch.

    Args:
        reduction, name, dtype: as for `Loss`.

    Example:
        >>> MeanAbsoluteError()([[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]])
        array(0.5, dtype=float32)
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, reduction=reduction, name=name, dtype=dtype)


class Huber(_NamedLoss):
    """Huber loss: squared error for errors up to `delta`, linear beyond.

    Args:
        delta: the positive error at which the loss turns from quadratic to linear.
        reduction, name, dtype: as for `Loss`.

    Its config carries `delta`, so that it round-trips (Keras 3's Huber config leaves it out;
    Keras reads it back all the same).

    Example:
        >>> Huber()([[0.0, 1.0], [0.0, 0.0]], [[0.6, 0.4], [0.4, 0.6]])
        array(0.155, dtype=float32)

    Raises:
        ValueError: for a `delta` that is not a positive number.
    """

    _arguments = ("delta",)

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        _check_delta(delta)
        super().__init__(huber, reduction=reduction, name=name, dtype=dtype, delta=delta)
        self.delta = delta


class LogCosh(_NamedLoss):
    """Logarithm of the hyperbolic cosine of the error, over the last axis, then the batch.

    Args:
        reduction, name, dtype: as for `Loss`.

    Example:
        >>> round(float(LogCosh()([[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [0.0, 0.0]])), 6)
        0.108445
    """

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(log_cosh, reduction=reduction, name=name, dtype=dtype)


# ---- registry --------------------------------------------------------------------------------

_CLASSES = (BinaryCrossentropy, CategoricalCrossentropy, Huber, LogCosh, Loss, LossFunctionWrapper,
            MeanAbsoluteError, MeanSquaredError, SparseCategoricalCrossentropy)
_FUNCTIONS = (binary_crossentropy, categorical_crossentropy, huber, log_cosh, mean_absolute_error,
              mean_squared_error, sparse_categorical_crossentropy)

_REGISTRY = {obj.__name__: obj for obj in _CLASSES + _FUNCTIONS}
_REGISTRY.update({  # Keras 3's aliases
    "bce": binary_crossentropy, "BCE": binary_crossentropy,
    "mae": mean_absolute_error, "MAE": mean_absolute_error,
    "mse": mean_squared_error, "MSE": mean_squared_error,
})
_NAMES = sorted(k for k in _REGISTRY if k not in ("Loss", "LossFunctionWrapper"))


_FAMILY = Registry("loss", Loss, _REGISTRY, "a Loss or a callable(y_true, y_pred)", _NAMES)
_lookup = _FAMILY.lookup
serialize = _FAMILY.serialize
deserialize = _FAMILY.deserialize


def get(identifier):
    """Returns the loss an identifier names, as Keras's `losses.get` does.

    Args:
        identifier: None (returns None); a `Loss` or any callable(y_true, y_pred) (returned as
            is); a Loss class (instantiated); a name: a class name ("MeanSquaredError", giving an
            instance) or a function name or alias ("mean_squared_error", "mse", giving the
            function); or a dict {"class_name": ..., "config": ...}.

    Example:
        >>> get("sparse_categorical_crossentropy").__name__
        'sparse_categorical_crossentropy'

    Raises:
        ValueError: for an unknown name or anything that is not a loss.
    """
    return _FAMILY.get(identifier)


def resolve(identifier):
    """The `Loss` object that `compile(loss=identifier)` trains with (None for None).

    Functions are wrapped in a `LossFunctionWrapper` named after the identifier (so "mse"
    logs as "mse"), as Keras's compile does.

    Args:
        identifier: anything `get` accepts.

    Example:
        >>> resolve("mse").name, resolve("mse").fn is mean_squared_error
        ('mse', True)

    Raises:
        ValueError: as `get`.
    """
    loss = get(identifier)
    if loss is None or isinstance(loss, Loss):
        return loss
    name = identifier if isinstance(identifier, str) else getattr(loss, "__name__", None)
    return LossFunctionWrapper(loss, name=name)
