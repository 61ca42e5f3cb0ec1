"""Merging layers, as keras.layers: Add, Subtract, Multiply, Average, Maximum, Minimum,
Concatenate and Dot, with their functional forms (`add([a, b])`, ...).

Each takes a list of inputs. The element-wise ones need shapes that agree on every axis (a
size of 1 broadcasts, as in Keras); Concatenate needs equal sizes off its axis; Dot takes two
(batch, n) inputs and gives (batch, 1), their cosine similarity with `normalize=True`.
"""

from functools import reduce

import numpy as np

from .. import ops
from .base import Layer


class Merge(Layer):
    """Base of the merging layers: a list of inputs, one output."""

    _min_inputs = 1
    _max_inputs = None

    def _check_inputs(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or not input_shape or \
                not all(isinstance(s, (list, tuple)) for s in input_shape):
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) must be called on a list "
                             f"of inputs. Received input shape: {input_shape}")
        count = len(input_shape)
        if count < self._min_inputs or (self._max_inputs is not None and count > self._max_inputs):
            wanted = (f"exactly {self._min_inputs}" if self._min_inputs == self._max_inputs
                      else f"at least {self._min_inputs}")
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) takes {wanted} inputs. "
                             f"Received {count}: {list(input_shape)}")
        return [tuple(s) for s in input_shape]

    def build(self, input_shape):
        self.compute_output_shape(input_shape)  # checks the shapes
        self.built = True

    def compute_output_shape(self, input_shape):
        shapes = self._check_inputs(input_shape)
        out = shapes[0]
        for shape in shapes[1:]:
            out = self._broadcast(out, shape, shapes)
        return out

    def _broadcast(self, a, b, shapes):
        """Keras's element-wise merge shape: per axis equal sizes, a 1, or an unknown size."""
        if len(a) != len(b):
            self._mismatch(shapes)
        out = []
        for i, (m, n) in enumerate(zip(a, b)):
            if m is None or n is None:
                out.append(None if i else (m if n is None else n))
            elif m == n or n == 1:
                out.append(m)
            elif m == 1:
                out.append(n)
            else:
                self._mismatch(shapes)
        return tuple(out)

    def _mismatch(self, shapes):
        raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) needs inputs of the same shape "
                         f"(sizes of 1 broadcast). Received shapes: {shapes}")

    def call(self, inputs):
        return reduce(self._merge, inputs[1:], inputs[0])

    def _merge(self, a, b):
        raise NotImplementedError


class Add(Merge):
    """The sum of its inputs.

    Example:
        >>> import numpy as np, fastdnn
        >>> fastdnn.layers.Add()([np.ones((2, 3)), np.ones((2, 3))])[0]
        array([2., 2., 2.], dtype=float32)
    """

    _merge = staticmethod(ops.add)


class Subtract(Merge):
    """The first input minus the second."""

    _min_inputs = _max_inputs = 2
    _merge = staticmethod(ops.subtract)


class Multiply(Merge):
    """The element-wise product of its inputs."""

    _merge = staticmethod(ops.multiply)


class Maximum(Merge):
    """The element-wise maximum of its inputs."""

    _merge = staticmethod(ops.maximum)


class Minimum(Merge):
    """The element-wise minimum of its inputs."""

    _merge = staticmethod(ops.minimum)


class Average(Merge):
    """The element-wise mean of its inputs."""

    def call(self, inputs):
        total = reduce(ops.add, inputs[1:], inputs[0])
        return ops.multiply(total, np.array(1.0 / len(inputs), np.float32))


class Concatenate(Merge):
    """Joins its inputs along `axis` (the last by default).

    Args:
        axis: the axis to join along; the inputs' other sizes must be equal.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ValueError(f"Received an invalid value for `axis`, expected an integer. Received: axis={axis!r}")
        self.axis = int(axis)

    def compute_output_shape(self, input_shape):
        shapes = self._check_inputs(input_shape)
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes) or not -rank <= self.axis < rank or rank < 2:
            raise ValueError(f"Layer '{self.name}' (Concatenate) needs inputs of the same rank, at least "
                             f"2, with axis={self.axis} in range. Received shapes: {shapes}")
        axis = self.axis % rank
        out = list(shapes[0])
        for shape in shapes[1:]:
            for i, (m, n) in enumerate(zip(out, shape)):
                if i == axis:
                    out[i] = None if m is None or n is None else m + n
                elif m is not None and n is not None and m != n and i:
                    raise ValueError(f"Layer '{self.name}' (Concatenate) needs the same sizes on every "
                                     f"axis but axis {self.axis}. Received shapes: {shapes}")
                elif m is None:
                    out[i] = n
        return tuple(out)

    def call(self, inputs):
        return ops.concatenate(inputs, axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Dot(Merge):
    """The dot product of two (batch, n) inputs, per sample: shape (batch, 1).

    Args:
        axes: the axis to sum over, 1 (or -1) for (batch, n) inputs, or a pair of them.
        normalize: L2-normalize both inputs first, so the result is their cosine similarity.

    Example:
        >>> import numpy as np, fastdnn
        >>> a, b = np.array([[3.0, 4.0]]), np.array([[6.0, 8.0]])
        >>> fastdnn.layers.Dot(axes=1, normalize=True)([a, b])
        array([[1.]], dtype=float32)

    Raises:
        ValueError: for axes other than the feature axis, or inputs that are not (batch, n).
    """

    _min_inputs = _max_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        pair = tuple(axes) if isinstance(axes, (list, tuple)) else (axes, axes)
        if len(pair) != 2 or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in pair):
            raise ValueError("Received an invalid value for `axes`, expected an integer or a pair of "
                             f"integers. Received: axes={axes!r}")
        if any(int(a) not in (1, -1) for a in pair):
            raise ValueError(f"fastdnn's Dot sums over the feature axis of (batch, n) inputs: axes=1 "
                             f"(or -1). Received: axes={axes!r}")
        self.axes = axes if isinstance(axes, int) else list(axes)
        self.normalize = bool(normalize)

    def compute_output_shape(self, input_shape):
        shapes = self._check_inputs(input_shape)
        if any(len(s) != 2 for s in shapes):
            raise ValueError(f"Layer '{self.name}' (Dot) takes two (batch, n) inputs. Received shapes: "
                             f"{shapes}")
        n, m = shapes[0][1], shapes[1][1]
        if n is not None and m is not None and n != m:
            raise ValueError(f"Layer '{self.name}' (Dot) needs inputs with the same number of features. "
                             f"Received shapes: {shapes}")
        return (shapes[0][0], 1)

    def call(self, inputs):
        a, b = inputs
        if self.normalize:
            a, b = ops.l2_normalize(a, axis=1), ops.l2_normalize(b, axis=1)
        return ops.sum(ops.multiply(a, b), axis=1, keepdims=True)

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def _functional(cls, doc):
    def merge(inputs, **kwargs):
        return cls(**kwargs)(inputs)

    merge.__name__ = cls.__name__.lower()
    merge.__doc__ = f"{doc} (the functional form of `{cls.__name__}`): `{cls.__name__}(**kwargs)(inputs)`."
    return merge


add = _functional(Add, "The sum of `inputs`")
subtract = _functional(Subtract, "inputs[0] - inputs[1]")
multiply = _functional(Multiply, "The element-wise product of `inputs`")
average = _functional(Average, "The element-wise mean of `inputs`")
maximum = _functional(Maximum, "The element-wise maximum of `inputs`")
minimum = _functional(Minimum, "The element-wise minimum of `inputs`")


def concatenate(inputs, axis=-1, **kwargs):
    """`inputs` joined along `axis` (the functional form of `Concatenate`)."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, normalize=False, **kwargs):
    """The per-sample dot product of two inputs (the functional form of `Dot`)."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
