"""Weight regularizers, as keras.regularizers: penalties added to the training loss.

A regularizer is a callable `penalty = regularizer(weights)` returning a scalar. Written with
`fastdnn.ops`, it is differentiable on a GradientTape (activity regularization uses that). For
the weight regularizers of a model, training does not go through the tape: `L1`, `L2` and
`L1L2` penalties and their gradients, l1·sign(w) + 2·l2·w, are computed for every regularized
weight in one native call (`fastdnn.penalties`); any other regularizer is differentiated on the
tape.

    >>> import numpy as np, fastdnn
    >>> reg = fastdnn.regularizers.l2(0.5)
    >>> float(reg(np.array([[1.0, 2.0]], np.float32)))
    2.5
"""

import math

import numpy as np

from . import ops
from ._registry import Registry


def _factor(name, value):
    """A regularization factor: a finite float >= 0 (Keras's validate_float_arg)."""
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value < 0:
        raise ValueError(f"Invalid value for argument {name}: expected a non-negative float. "
                         f"Received: {name}={value!r}")
    return float(value)


class Regularizer:
    """Base class of regularizers: `__call__(x)` returns the penalty of weights `x`.

    Subclasses implement `__call__` (with `fastdnn.ops`, so the tape can differentiate it) and
    `get_config`. A plain function `f(x) -> scalar` works wherever a regularizer does.
    """

    def __call__(self, x):
        return 0.0

    def get_config(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement get_config().")

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def native_factors(self):
        """(l1, l2) when the penalty is l1·Σ|x| + l2·Σx², computed natively in training; None
        for any other penalty (differentiated on the tape instead)."""
        return None


class L1L2(Regularizer):
    """Penalty l1·Σ|x| + l2·Σx².

    Args:
        l1: the L1 factor, a float >= 0 (default 0).
        l2: the L2 factor, a float >= 0 (default 0).

    Example:
        >>> import numpy as np, fastdnn
        >>> reg = fastdnn.regularizers.l1_l2(l1=0.01, l2=0.01)
        >>> round(float(reg(np.array([-1.0, 2.0], np.float32))), 6)
        0.08

    Raises:
        ValueError: for a negative, infinite or non-numeric factor.
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor("l1", 0.0 if l1 is None else l1)
        self.l2 = _factor("l2", 0.0 if l2 is None else l2)

    def __call__(self, x):
        penalty = np.float32(0.0)
        if self.l1:
            penalty = ops.add(penalty, ops.multiply(np.float32(self.l1), ops.sum(ops.abs(x))))
        if self.l2:
            penalty = ops.add(penalty, ops.multiply(np.float32(self.l2), ops.sum(ops.square(x))))
        return penalty

    def native_factors(self):
        # A subclass that rewrites the formula is differentiated on the tape instead.
        return (self.l1, self.l2) if type(self).__call__ is _L1L2_CALL else None

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}

    def __repr__(self):
        return f"{type(self).__name__}(l1={self.l1}, l2={self.l2})"


_L1L2_CALL = L1L2.__call__


class L1(L1L2):
    """Penalty l1·Σ|x|.

    Args:
        l1: the factor, a float >= 0 (default 0.01).

    Example:
        >>> import numpy as np, fastdnn
        >>> float(fastdnn.regularizers.L1(0.5)(np.array([-1.0, 2.0], np.float32)))
        1.5
    """

    def __init__(self, l1=0.01):
        super().__init__(l1=0.01 if l1 is None else l1)

    def get_config(self):
        return {"l1": self.l1}

    def __repr__(self):
        return f"L1(l1={self.l1})"


class L2(L1L2):
    """Penalty l2·Σx², as in the chapter's `keras.regularizers.l2(0.01)`.

    Args:
        l2: the factor, a float >= 0 (default 0.01).

    Example:
        >>> import numpy as np, fastdnn
        >>> float(fastdnn.regularizers.L2(0.5)(np.array([-1.0, 2.0], np.float32)))
        2.5
    """

    def __init__(self, l2=0.01):
        super().__init__(l2=0.01 if l2 is None else l2)

    def get_config(self):
        return {"l2": self.l2}

    def __repr__(self):
        return f"L2(l2={self.l2})"


class OrthogonalRegularizer(Regularizer):
    """Encourages the rows (or columns) of a 2-D weight matrix to be orthogonal to each other:
    factor · 0.5 · Σ_{i≠j} |n_i·n_j| / (size·(size−1)/2), where n_i are the L2-normalized rows
    ("rows") or columns ("columns"), as Keras 3's. Differentiated on the gradient tape.

    Args:
        factor: a float >= 0 (default 0.01).
        mode: "rows" or "columns".

    Example:
        >>> import numpy as np, fastdnn
        >>> reg = fastdnn.regularizers.OrthogonalRegularizer(factor=1.0)
        >>> float(reg(np.eye(3, dtype=np.float32)))
        0.0

    Raises:
        ValueError: for a negative factor, an unknown mode, or inputs that are not 2-D.
    """

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _factor("factor", factor)
        if mode not in ("rows", "columns"):
            raise ValueError("Invalid value for argument `mode`, expected one of {'rows', 'columns'}. "
                             f"Received: mode={mode!r}")
        self.mode = mode

    def __call__(self, inputs):
        shape = np.shape(getattr(inputs, "value", inputs))
        if len(shape) != 2:
            raise ValueError("OrthogonalRegularizer applies to 2-D weights. "
                             f"Received inputs of shape {tuple(shape)}.")
        axis = 1 if self.mode == "rows" else 0
        norms = ops.sqrt(ops.maximum(ops.sum(ops.square(inputs), axis=axis, keepdims=True), 1e-12))
        unit = ops.divide(inputs, norms)
        rows = self.mode == "rows"
        product = ops.matmul(unit, unit, transpose_a=not rows, transpose_b=rows)
        size = shape[0] if rows else shape[1]
        if size < 2:
            return np.float32(0.0)
        off_diagonal = ops.multiply(product, 1.0 - np.eye(size, dtype=np.float32))
        pairs = size * (size - 1.0) / 2.0
        return ops.multiply(np.float32(self.factor * 0.5 / pairs), ops.sum(ops.abs(off_diagonal)))

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


# Keras 3 spellings: keras.regularizers.l1 is the class L1, and so on.
l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer

_CLASSES = (Regularizer, L1, L2, L1L2, OrthogonalRegularizer)
_REGISTRY = {cls.__name__: cls for cls in _CLASSES}
_REGISTRY.update({"regularizer": Regularizer, "l1": L1, "l2": L2, "l1_l2": L1L2,
                  "orthogonal_regularizer": OrthogonalRegularizer})
_FAMILY = Registry("regularizer", Regularizer, _REGISTRY, "a Regularizer or a callable(weights)")
serialize = _FAMILY.serialize
deserialize = _FAMILY.deserialize


def get(identifier):
    """Returns the regularizer an identifier names.

    Args:
        identifier: None (returns None); a `Regularizer` or any callable(weights) (returned as
            is); a regularizer class (instantiated with its defaults); a name ("l2", "L1L2",
            "l1_l2"); or a dict {"class_name": ..., "config": {...}}.

    Example:
        >>> get({"class_name": "L2", "config": {"l2": 0.1}})
        L2(l2=0.1)

    Raises:
        ValueError: for an unknown name or anything that is not a regularizer.
    """
    return _FAMILY.get(identifier)


__all__ = ["L1", "L1L2", "L2", "OrthogonalRegularizer", "Regularizer", "deserialize", "get", "l1",
           "l1_l2", "l2", "orthogonal_regularizer", "serialize"]
