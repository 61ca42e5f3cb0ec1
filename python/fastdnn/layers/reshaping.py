"""Reshape: each sample viewed with a new shape (Flatten is in core.py)."""

import math

from .. import ops
from .base import Layer


class Reshape(Layer):
    """Reshapes each sample to `target_shape` (the batch dimension is kept).

    Args:
        target_shape: the new shape of one sample; one entry may be -1 (inferred).

    Example:
        >>> import numpy as np, fastdnn
        >>> fastdnn.layers.Reshape((2, 3))(np.zeros((4, 6))).shape
        (4, 2, 3)

    Raises:
        ValueError: for a target shape with more than one -1 or other non-positive sizes, or one
            whose size differs from the input's.
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        try:
            shape = tuple(int(d) for d in target_shape)
        except (TypeError, ValueError):
            raise ValueError("Received an invalid value for `target_shape`, expected a tuple of "
                             f"integers. Received: target_shape={target_shape!r}") from None
        if shape.count(-1) > 1 or any(d < 1 and d != -1 for d in shape):
            raise ValueError("Received an invalid value for `target_shape`: positive sizes, and at most "
                             f"one -1. Received: target_shape={target_shape!r}")
        self.target_shape = shape

    def _resolved(self, input_shape):
        rest = input_shape[1:]
        known = None if any(d is None for d in rest) else math.prod(rest)
        shape = list(self.target_shape)
        fixed = math.prod(d for d in shape if d != -1)
        if -1 in shape:
            if known is not None:
                if fixed == 0 or known % fixed:
                    self._mismatch(input_shape)
                shape[shape.index(-1)] = known // fixed
            else:
                shape[shape.index(-1)] = None
        elif known is not None and known != fixed:
            self._mismatch(input_shape)
        return tuple(shape)

    def _mismatch(self, input_shape):
        raise ValueError(f"Layer '{self.name}' (Reshape) cannot reshape inputs of shape {tuple(input_shape)} "
                         f"to {self.target_shape}: the sizes differ.")

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self._resolved(input_shape)

    def call(self, inputs):
        shape = self._resolved(inputs.shape)
        return ops.reshape(inputs, (inputs.shape[0],) + shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}
