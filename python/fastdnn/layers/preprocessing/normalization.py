"""Normalization: inputs shifted and scaled by per-feature statistics, as
keras.layers.Normalization (Keras 3).

The statistics are given (`mean=`, `variance=`) or computed by `adapt(data)` from an array or
from batches, in float64, each batch combined into the running totals with Chan et al.'s
parallel formula (a batch of n_b values with mean m_b and centred sum of squares M_b joins n
values with mean m and M as  m += δ·n_b/(n + n_b),  M += M_b + δ²·n·n_b/(n + n_b),  δ = m_b − m);
the variance is the population variance M/n, as Keras's. The output is
(x − mean) / max(sqrt(variance), 1e-7), Keras's `backend.epsilon()` floor, and `invert=True`
gives mean + x · max(sqrt(variance), 1e-7).
"""

import math
import operator

import numpy as np

from ... import ops
from ..._dispatch import host, on_device
from ...variables import Variable
from .. import call_context
from .._checks import require_host
from ..base import Layer

EPSILON = 1e-7  # keras.backend.epsilon(): the smallest standard deviation divided by


class _Statistic(Variable):
    """A Normalization weight that tells its layer when a value is written into it: by `adapt`,
    `set_weights` or a model file, after which the layer has statistics to normalize with."""

    _owner = None

    def assign(self, value):
        super().assign(value)
        if self._owner is not None:
            self._owner._has_statistics = True


def _axes(axis):
    """Keras's form of `axis`: a tuple of ints (None: the empty tuple, one statistic overall),
    or None when `axis` is not ints."""
    items = () if axis is None else tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
    try:
        return tuple(None if isinstance(a, bool) else operator.index(a) for a in items)
    except TypeError:
        return None


def _values(value, name):
    """A given mean or variance as a float64 array (it must be finite)."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"The `{name}` argument must be a number or an array of numbers. "
                        f"Received: {name}={value!r:.200}") from None
    if not np.all(np.isfinite(array)):
        raise ValueError(f"The `{name}` argument must hold finite numbers. Received: {name}={value!r:.200}")
    return array


def _batch(batch, layer):
    """One batch of adapt data as a float64 array (x of an (x, y) or (x, y, w) tuple)."""
    if isinstance(batch, tuple):
        batch = batch[0] if batch else None
    if isinstance(batch, Variable):
        batch = batch.numpy()
    batch = host(batch)
    try:
        array = np.asarray(batch)
    except (TypeError, ValueError):
        array = None
    if array is None or array.dtype.kind not in "biuf":
        raise TypeError(f"Layer '{layer.name}' (Normalization): adapt() needs batches of real numbers "
                        f"(arrays or nested lists). Received a batch of type {type(batch).__name__}.")
    return array.astype(np.float64, copy=False)


class Normalization(Layer):
    """Shifts and scales inputs to mean 0 and variance 1 per feature, as
    keras.layers.Normalization (Keras 3).

    The statistics are either given or learned with `adapt(data)`, which must then run before
    the layer is used (before `fit`, `evaluate` or `predict`). The map is a constant affine one:
    the gradient flows through it to the inputs, and nothing in it is trained.

    Args:
        axis: the axis or axes that keep one mean and variance per index (an int, a tuple or
            list of ints); the others are averaged over. None gives one mean and variance for
            every element. Default -1: one per feature of the last axis.
        mean, variance: the statistics to use, given together (numbers or arrays that broadcast
            to the kept axes, aligned from the right). Without them the layer holds `mean`,
            `variance` and `count` weights (non-trainable) that `adapt` fills.
        invert: apply the inverse map, turning normalized values back into the original scale.

    Example:
        >>> import numpy as np, fastdnn
        >>> layer = fastdnn.layers.Normalization()
        >>> layer.adapt(np.array([[0.0, 7.0], [2.0, 9.0]]))
        >>> layer(np.array([[0.0, 7.0]]))
        array([[-1., -1.]], dtype=float32)

    Raises:
        TypeError: for an `axis` that is not ints, or statistics that are not numbers.
        ValueError: for `mean` without `variance` (or the reverse), statistics of different
            shapes or of higher rank than the kept axes, a negative variance, axes outside the
            inputs' rank, or using the layer before it has statistics.
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        axes = _axes(axis)
        if axes is None or None in axes:
            raise TypeError("The `axis` argument must be an int, a tuple or list of ints, or None. "
                            f"Received: axis={axis!r}")
        self.axis = axes
        self.invert = bool(invert)
        if (mean is None) != (variance is None):
            raise ValueError("When setting values directly, both `mean` and `variance` must be set. "
                             f"Received: mean={mean!r:.200} and variance={variance!r:.200}")
        if mean is not None:
            m, v = _values(mean, "mean"), _values(variance, "variance")
            if m.shape != v.shape:
                raise ValueError("When setting values directly, `mean` and `variance` must have the same "
                                 f"shape. Received: mean shape {m.shape} and variance shape {v.shape}")
            if m.ndim > len(self.axis):
                raise ValueError(f"The rank of `mean` must be less than or equal to the number of axes "
                                 f"({len(self.axis)}). Received: mean shape {m.shape} for axis {self.axis}")
            if np.any(v < 0):
                raise ValueError(f"The `variance` argument must be >= 0. Received: variance={variance!r:.200}")
        self.input_mean, self.input_variance = mean, variance
        self.adapt_mean = self.adapt_variance = self.count = None
        self._has_statistics = mean is not None
        self._constants = None  # (mean, max(std, eps)) as float32 arrays, for given statistics

    # ---- shapes -----------------------------------------------------------------------------

    def build(self, input_shape):
        shape = tuple(input_shape)
        ndim = len(shape)
        if any(not -ndim <= a < ndim for a in self.axis):
            raise ValueError(f"All `axis` values must be in the range [-ndim, ndim). Received inputs with "
                             f"ndim={ndim}, while axis={self.axis}")
        self._keep_axis = tuple(sorted({a % ndim for a in self.axis}))
        for d in self._keep_axis:
            if shape[d] is None:
                raise ValueError(f"All `axis` values to be kept must have a known shape. Received "
                                 f"axis={self.axis}, inputs.shape={shape}, with unknown axis at index {d}")
        self._reduce_axis = tuple(d for d in range(ndim) if d not in self._keep_axis)
        self._broadcast_shape = tuple(int(shape[d]) if d in self._keep_axis else 1 for d in range(ndim))
        self._stats_shape = tuple(int(shape[d]) for d in self._keep_axis)
        self._ndim = ndim
        if self.input_mean is None:
            self.adapt_mean = self._statistic("mean", "zeros")
            self.adapt_variance = self._statistic("variance", "ones")
            # Keras 3 keeps `count` for the file layout of older models and never updates it.
            self.count = self._statistic("count", "zeros", shape=())
        else:
            mean = self._broadcast(_values(self.input_mean, "mean"), "mean")
            std = np.sqrt(self._broadcast(_values(self.input_variance, "variance"), "variance"))
            self._constants = (mean, np.maximum(std, np.float32(EPSILON)))
        self.built = True

    def _statistic(self, name, initializer, shape=None):
        var = self.add_weight(self._stats_shape if shape is None else shape, initializer, name=name,
                              trainable=False)
        var.__class__ = _Statistic
        var._owner = self
        return var

    def _broadcast(self, values, name):
        """Given statistics as float32 arrays of the broadcast shape: a scalar everywhere, else
        its axes matched to the kept axes from the right."""
        expanded = [1] * self._ndim
        for i in range(1, values.ndim + 1):
            expanded[self._keep_axis[-i]] = values.shape[-i]
        try:
            out = np.broadcast_to(values.reshape(expanded), self._broadcast_shape)
        except ValueError:
            raise ValueError(f"Layer '{self.name}' (Normalization): `{name}` of shape {values.shape} does "
                             f"not broadcast to the kept axes {self._keep_axis} of size "
                             f"{self._stats_shape}.") from None
        return np.ascontiguousarray(out, dtype=np.float32)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def _check_shape(self, shape, what):
        if len(shape) != self._ndim or any(shape[d] != self._broadcast_shape[d] for d in self._keep_axis):
            raise ValueError(f"Layer '{self.name}' (Normalization) was built for inputs of rank {self._ndim} "
                             f"with sizes {self._stats_shape} on axes {self._keep_axis}; {what} has shape "
                             f"{tuple(shape)}.")

    # ---- statistics -------------------------------------------------------------------------

    @property
    def mean(self):
        """The mean in use, broadcast to the inputs' rank (None before the layer is built)."""
        return None if not self.built else np.array(self._current()[0])

    @property
    def variance(self):
        """The variance in use, broadcast to the inputs' rank (None before the layer is built)."""
        if not self.built:
            return None
        if self._constants is not None:
            return self._broadcast(_values(self.input_variance, "variance"), "variance")
        return self.adapt_variance.numpy().reshape(self._broadcast_shape)

    def _current(self):
        """(mean, max(sqrt(variance), eps)), float32 arrays of the broadcast shape."""
        if self._constants is not None:
            return self._constants
        mean = self.adapt_mean._value
        variance = self.adapt_variance._value
        require_host(self, mean, variance)
        if np.any(variance < 0):
            raise ValueError(f"Layer '{self.name}' (Normalization) holds a negative variance; its "
                             "`variance` weight must be >= 0.")
        denominator = np.maximum(np.sqrt(variance), np.float32(EPSILON))
        return mean.reshape(self._broadcast_shape), denominator.reshape(self._broadcast_shape)

    def adapt(self, data):
        """Computes the mean and variance of `data` over the axes not kept, and stores them.

        Args:
            data: a NumPy array (or array-like tensor), or an iterable of batches: a list of
                arrays, a generator, a `fastdnn.utils.PyDataset`, or any iterable yielding
                arrays or (x, y) / (x, y, sample_weight) tuples (x is used).

        Raises:
            TypeError: for data of another kind, or batches that are not real numbers.
            ValueError: for empty data, batches whose shape does not fit the layer, values
                that are not finite, or a layer given `mean` and `variance`.
        """
        if self.input_mean is not None:
            raise ValueError(f"Layer '{self.name}' (Normalization) was given `mean` and `variance`; adapt() "
                             "cannot replace them. Create the layer without them to adapt it.")
        batches = self._batches(data)
        first = next(batches, None)
        if first is None:
            raise ValueError("adapt() received an empty iterable (no batches). Expected at least one batch: "
                             "pass an array, or a non-empty iterable of arrays, e.g. layer.adapt([x]).")
        if not self.built:
            if first.ndim == 0:
                raise ValueError(f"Layer '{self.name}' (Normalization): adapt() needs batches with at least "
                                 "one axis. Received a scalar.")
            self.build(first.shape)
        count, mean, m2 = 0, np.zeros(self._stats_shape), np.zeros(self._stats_shape)
        batch = first
        while batch is not None:
            self._check_shape(batch.shape, "an adapt() batch")
            n = math.prod(batch.shape[d] for d in self._reduce_axis)
            if n:
                batch_mean = batch.mean(axis=self._reduce_axis)
                centred = batch - batch_mean.reshape(self._broadcast_shape)
                batch_m2 = np.square(centred).sum(axis=self._reduce_axis)
                total = count + n
                delta = batch_mean - mean
                mean = mean + delta * (n / total)
                m2 = m2 + batch_m2 + np.square(delta) * (count * n / total)
                count = total
            batch = next(batches, None)
        if count == 0:
            raise ValueError(f"Layer '{self.name}' (Normalization): adapt() received no values (every batch "
                             "is empty), so there is no mean or variance to compute.")
        variance = m2 / count
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(variance))):
            raise ValueError(f"Layer '{self.name}' (Normalization): adapt() received values that are NaN or "
                             "infinite (or so large that their variance overflows).")
        self.adapt_mean.assign(mean)
        self.adapt_variance.assign(variance)

    def _batches(self, data):
        """An iterator over the batches of `data` as float64 arrays."""
        whole = (isinstance(data, (np.ndarray, Variable)) or on_device(data) or (
            hasattr(data, "__array__") and not isinstance(data, (list, tuple))))
        if whole:
            return iter([_batch(data, self)])
        if isinstance(data, (str, bytes, dict)) or not hasattr(data, "__iter__"):
            raise TypeError(f"Unsupported data type: {type(data).__name__}. `adapt` supports NumPy arrays and "
                            "iterables of batches (a list of arrays, a generator, a PyDataset).")
        return (_batch(b, self) for b in data)

    # ---- calling ----------------------------------------------------------------------------

    def call(self, inputs):
        require_host(self, inputs)
        self._check_shape(inputs.shape, "the input")
        if not self._has_statistics and not call_context.state.probing:
            raise ValueError(f"Layer '{self.name}' (Normalization) has no statistics yet: call "
                             "`layer.adapt(data)` before using it (before fit, evaluate or predict), or "
                             "create it with `mean=` and `variance=`.")
        mean, denominator = self._current()
        if self.invert:
            return ops.add(mean, ops.multiply(inputs, denominator))
        return ops.divide(ops.subtract(inputs, mean), denominator)

    # ---- config -----------------------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update({
            "axis": self.axis,
            "invert": self.invert,
            "mean": np.array(self.input_mean).tolist(),
            "variance": np.array(self.input_variance).tolist(),
        })
        return config
