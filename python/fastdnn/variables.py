"""`Variable`: a named, mutable float array that layers own and optimizers update in place."""

import numpy as np

from . import autodiff
from ._dispatch import on_device


class Variable:
    """A model weight: a NumPy array with a name, a trainable flag and in-place updates.

    Updates (`assign`, `assign_add`, `assign_sub`) write into the same array, so every reference
    to `.value` sees them. A model placed on a GPU (`model.to("cuda")`) holds its values there. Ops read a Variable through `.value`; on a recording GradientTape a
    trainable Variable is watched automatically.

    Args:
        initializer: an array-like initial value, or a callable(shape, dtype) with `shape`.
        shape: the shape when `initializer` is a callable.
        dtype: "float32" by default.
        trainable: whether optimizers update it.
        name: a name for summaries and saved models; a layer's weight is named within the layer
            ("kernel") and its `path` names the layer too ("dense/kernel"), as in Keras 3.

    Example:
        >>> import numpy as np, fastdnn
        >>> v = fastdnn.Variable(np.zeros(3), name="b")
        >>> v.assign_add(np.ones(3)); v.numpy()
        array([1., 1., 1.], dtype=float32)
    """

    _is_variable = True  # how the tape (autodiff.py) tells a Variable, without importing this module

    def __init__(self, initializer, shape=None, dtype="float32", trainable=True, name=None):
        if callable(initializer):
            if shape is None:
                raise ValueError("A Variable built from a callable initializer needs `shape`.")
            value = initializer(tuple(shape), dtype=dtype)
        else:
            value = initializer
        self._value = np.array(value, dtype=dtype, copy=True, order="C")
        self.trainable = bool(trainable)
        self.name = name or "variable"
        self.path = self.name  # a layer's weight: "<layer name>/<name>" (set by add_weight)

    @property
    def value(self):
        tape = autodiff.recording()
        if tape is not None:
            tape._watch_variable(self)
        return self._value

    @property
    def shape(self):
        return self._value.shape

    @property
    def dtype(self):
        return self._value.dtype

    @property
    def size(self):
        return self._value.size

    def numpy(self):
        """A copy of the current value (in host memory, also for a variable on the GPU)."""
        return self._value.numpy() if on_device(self._value) else self._value.copy()

    def assign(self, value):
        """Writes `value` into the variable (same shape required), in place, on its device."""
        if on_device(value):
            value = value.numpy()
        value = np.asarray(value, dtype=self._value.dtype)
        if value.shape != self._value.shape:
            raise ValueError(f"Cannot assign a value of shape {value.shape} to variable '{self.path}' "
                             f"of shape {self._value.shape}.")
        if on_device(self._value):
            self._value.upload(np.ascontiguousarray(value))
        else:
            self._value[...] = value

    def assign_add(self, delta):
        if on_device(self._value):
            return self.assign(self.numpy() + np.asarray(delta, dtype=self.dtype))
        self._value += np.asarray(delta, dtype=self._value.dtype)

    def assign_sub(self, delta):
        if on_device(self._value):
            return self.assign(self.numpy() - np.asarray(delta, dtype=self.dtype))
        self._value -= np.asarray(delta, dtype=self._value.dtype)

    def __array__(self, dtype=None, copy=None):
        value = self.numpy() if on_device(self._value) else self._value
        return value if dtype is None else value.astype(dtype)

    def __repr__(self):
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}>"

    # Arithmetic and comparisons read the current value, as with Keras variables: `lr * 0.5`,
    # `float(lr)`, `lr == 0.001`. Between two variables, equality is identity, so that
    # variables stay usable as dict keys and list members.

    __hash__ = object.__hash__

    def __eq__(self, other):
        if isinstance(other, Variable):
            return self is other
        return np.ndarray.__eq__(self.numpy(), other)

    def __ne__(self, other):
        if isinstance(other, Variable):
            return self is not other
        return np.ndarray.__ne__(self.numpy(), other)

    def __float__(self):
        return float(self.numpy())

    def __int__(self):
        return int(self.numpy())

    def __bool__(self):
        return bool(self.numpy())

    def __format__(self, spec):
        return format(self.numpy(), spec) if spec else repr(self)

    def __neg__(self):
        return -self.numpy()

    def __abs__(self):
        return abs(self.numpy())


def _binary(name):
    op = getattr(np.ndarray, name)

    def method(self, other):
        return op(self.numpy(), other.numpy() if isinstance(other, Variable) else other)

    method.__name__ = name
    return method


for _name in ("add", "sub", "mul", "truediv", "floordiv", "pow", "mod"):
    setattr(Variable, f"__{_name}__", _binary(f"__{_name}__"))
    setattr(Variable, f"__r{_name}__", _binary(f"__r{_name}__"))
for _name in ("lt", "le", "gt", "ge"):
    setattr(Variable, f"__{_name}__", _binary(f"__{_name}__"))
