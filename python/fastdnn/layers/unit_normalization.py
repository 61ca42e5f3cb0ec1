"""UnitNormalization: each sample scaled to unit L2 norm, as keras.layers.UnitNormalization."""

from .. import ops
from ._checks import check_axis, require_host, resolve_axes
from .base import Layer

# Keras's floor of the norm (ops.normalize(..., epsilon=1e-12)): x / max(‖x‖, 1e-12), written as
# x / sqrt(max(Σx², 1e-24)) so that the gradient stays finite at x = 0.
NORM_FLOOR = 1e-12


class UnitNormalization(Layer):
    """Divides its inputs by their L2 norm over `axis`, as keras.layers.UnitNormalization
    (Keras 3): x / max(‖x‖, 1e-12). It has no weights.

    Args:
        axis: the axis (an int) or axes (a list or tuple of ints) the norm is taken over,
            default -1 (the features of each sample).

    Example:
        >>> import numpy as np, fastdnn
        >>> fastdnn.layers.UnitNormalization()(np.array([[3.0, 4.0]]))
        array([[0.6, 0.8]], dtype=float32)

    Raises:
        TypeError: for an `axis` that is not an int or a list/tuple of ints.
        ValueError: for an axis outside the inputs' rank (when the layer meets its inputs).
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = check_axis(axis)
        self.built = True  # nothing to build, as in Keras

    def call(self, inputs):
        require_host(self, inputs)
        axes = tuple(resolve_axes(self.axis, inputs.ndim, self))
        return ops.l2_normalize(inputs, axis=axes, epsilon=NORM_FLOOR * NORM_FLOOR)

    def compute_output_shape(self, input_shape):
        resolve_axes(self.axis, len(input_shape), self)
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
