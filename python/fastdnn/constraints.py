"""Weight constraints, as keras.constraints: projections applied to a weight after each
optimizer step.

`constraint(w)` returns the constrained weights (NumPy, float32, Keras 3's formulas with its
ε = 1e-7, evaluated in float64). In training, every constrained weight of a model is projected in place by one native
call right after the optimizer update (`fastdnn.penalties`); a plain function `f(w) -> w`
works too and is applied in Python.

For a Dense kernel of shape (inputs, units), `axis=0` takes the norm of each unit's incoming
weight vector (each column), as max-norm regularization in the chapter.

    >>> import numpy as np, fastdnn
    >>> w = np.array([[3.0], [4.0]], np.float32)  # one unit with incoming norm 5
    >>> fastdnn.constraints.max_norm(1.0)(w).round(4)
    array([[0.6],
           [0.8]], dtype=float32)
"""

import math
import operator

import numpy as np

from ._codes import CONSTRAINT
from ._registry import Registry

EPSILON = 1e-7  # keras.backend.epsilon()
# Kinds of the native constraint kernels (csrc/core/codes.h, through fastdnn._C.ConstraintKind).
_MAX_NORM, _NON_NEG, _UNIT_NORM, _MIN_MAX_NORM = (
    CONSTRAINT[k] for k in ("max_norm", "non_neg", "unit_norm", "min_max_norm"))


def _number(name, value, low=0.0, high=None):
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and value >= low and (high is None or value <= high)
    if not ok:
        bounds = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"Received an invalid value for `{name}`, expected a finite number {bounds}. "
                         f"Received: {name}={value!r}")
    return float(value)


def _axis(axis):
    """An int or a list of ints (Keras accepts both)."""
    try:
        return operator.index(axis) if not isinstance(axis, bool) else None
    except TypeError:
        pass
    if isinstance(axis, (list, tuple)) and axis and all(
            isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axis):
        return [int(a) for a in axis]
    raise ValueError("Received an invalid value for `axis`, expected an integer or a list of "
                     f"integers. Received: axis={axis!r}")


def _layout(shape, axis):
    """(outer, red, inner) when the norm axes are one contiguous run of `shape`; else None."""
    ndim = len(shape)
    axes = sorted({a % ndim if -ndim <= a < ndim else None for a in
                   (axis if isinstance(axis, list) else [axis])} - {None}) if ndim else []
    if not axes or len(axes) != len(axis if isinstance(axis, list) else [axis]):
        return None
    if axes != list(range(axes[0], axes[-1] + 1)):
        return None
    return (math.prod(shape[:axes[0]]), math.prod(shape[axes[0]:axes[-1] + 1]),
            math.prod(shape[axes[-1] + 1:]))


class Constraint:
    """Base class of weight constraints: `__call__(w)` returns the projected weights.

    `native_spec(shape)` describes the projection to the native kernel; a subclass without one
    (or any plain function) is applied in Python after each step.
    """

    def __call__(self, w):
        return w

    def native_spec(self, shape):
        """(kind, min_value, max_value, rate, outer, red, inner) for the native kernel, or None."""
        return None

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class _NormConstraint(Constraint):
    """w · desired(‖w‖) / (ε + ‖w‖), norms over `axis`; subclasses give desired()."""

    _kind = None

    def __init__(self, axis):
        self.axis = _axis(axis)

    def _desired(self, norms):
        raise NotImplementedError

    def __call__(self, w):
        # Computed in float64 and rounded once, as the native kernel does.
        w = np.asarray(w, dtype=np.float32).astype(np.float64)
        axis = tuple(self.axis) if isinstance(self.axis, list) else self.axis
        norms = np.sqrt(np.sum(np.square(w), axis=axis, keepdims=True))
        return (w * (self._desired(norms) / (EPSILON + norms))).astype(np.float32)

    def native_spec(self, shape):
        # A subclass that rewrites the formula is applied in Python instead.
        cls = type(self)
        base = next(c for c in cls.__mro__ if c in _NATIVE)
        if cls.__call__ is not _NormConstraint.__call__ or cls._desired is not base._desired:
            return None
        layout = _layout(tuple(shape), self.axis)
        if layout is None:
            return None
        return (self._kind,) + self._bounds() + layout


class MaxNorm(_NormConstraint):
    """Caps the L2 norm of the weights along `axis` at `max_value`:
    w · clip(‖w‖, 0, max_value) / (ε + ‖w‖).

    Args:
        max_value: the largest norm allowed (default 2).
        axis: the axis (or list of axes) the norm runs over; 0 for a Dense kernel bounds each
            unit's incoming weights.

    Example:
        >>> import fastdnn
        >>> layer = fastdnn.layers.Dense(100, activation="elu", kernel_initializer="he_normal",
        ...                              kernel_constraint=fastdnn.constraints.max_norm(1.))

    Raises:
        ValueError: for a negative or non-finite `max_value` or a malformed `axis`.
    """

    _kind = _MAX_NORM

    def __init__(self, max_value=2, axis=0):
        super().__init__(axis)
        self.max_value = _number("max_value", max_value)

    def _desired(self, norms):
        return np.clip(norms, 0, self.max_value)

    def _bounds(self):
        return (0.0, self.max_value, 1.0)

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class UnitNorm(_NormConstraint):
    """Scales the weights along `axis` to unit L2 norm: w / (ε + ‖w‖).

    Args:
        axis: the axis (or list of axes) the norm runs over (default 0).
    """

    _kind = _UNIT_NORM

    def __init__(self, axis=0):
        super().__init__(axis)

    def _desired(self, norms):
        return 1.0

    def _bounds(self):
        return (0.0, 0.0, 1.0)

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(_NormConstraint):
    """Keeps the L2 norm along `axis` between `min_value` and `max_value`, moving it `rate` of
    the way there each step: w · (rate·clip(‖w‖, min, max) + (1 − rate)·‖w‖) / (ε + ‖w‖).

    Args:
        min_value: the smallest norm (default 0).
        max_value: the largest norm (default 1).
        rate: 1 enforces the bounds at once, smaller values approach them gradually; in [0, 1].
        axis: the axis (or list of axes) the norm runs over (default 0).

    Raises:
        ValueError: for negative bounds, `min_value > max_value`, a rate outside [0, 1] or a
            malformed `axis`.
    """

    _kind = _MIN_MAX_NORM

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        super().__init__(axis)
        self.min_value = _number("min_value", min_value)
        self.max_value = _number("max_value", max_value)
        if self.min_value > self.max_value:
            raise ValueError("`min_value` must not exceed `max_value`. Received: "
                             f"min_value={min_value!r}, max_value={max_value!r}")
        self.rate = _number("rate", rate, 0.0, 1.0)

    def _desired(self, norms):
        return self.rate * np.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms

    def _bounds(self):
        return (self.min_value, self.max_value, self.rate)

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


class NonNeg(Constraint):
    """Zeroes the negative weights: w · (w >= 0)."""

    def __call__(self, w):
        w = np.asarray(w, dtype=np.float32)
        return w * (w >= 0).astype(np.float32)

    def native_spec(self, shape):
        if type(self).__call__ is not NonNeg.__call__:
            return None
        return (_NON_NEG, 0.0, 0.0, 1.0, 1, 1, math.prod(shape))


_NATIVE = (MaxNorm, UnitNorm, MinMaxNorm)

# Keras 3 spellings: keras.constraints.max_norm is the class MaxNorm, and so on.
max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm

_CLASSES = (Constraint, MaxNorm, NonNeg, UnitNorm, MinMaxNorm)
_REGISTRY = {cls.__name__: cls for cls in _CLASSES}
_REGISTRY.update({"constraint": Constraint, "max_norm": MaxNorm, "non_neg": NonNeg,
                  "unit_norm": UnitNorm, "min_max_norm": MinMaxNorm})
_FAMILY = Registry("constraint", Constraint, _REGISTRY, "a Constraint or a callable(weights)")
serialize = _FAMILY.serialize
deserialize = _FAMILY.deserialize


def get(identifier):
    """Returns the constraint an identifier names.

    Args:
        identifier: None (returns None); a `Constraint` or any callable(w) -> w (returned as
            is); a constraint class (instantiated with its defaults); a name ("max_norm",
            "MaxNorm", "non_neg"); or a dict {"class_name": ..., "config": {...}}.

    Example:
        >>> get({"class_name": "MaxNorm", "config": {"max_value": 1.0, "axis": 0}})
        MaxNorm(max_value=1.0, axis=0)

    Raises:
        ValueError: for an unknown name or anything that is not a constraint.
    """
    return _FAMILY.get(identifier)


__all__ = ["Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "deserialize", "get",
           "max_norm", "min_max_norm", "non_neg", "serialize", "unit_norm"]
