"""Rescaling: inputs · scale + offset, as keras.layers.Rescaling (Keras 3)."""

import numpy as np

from ... import ops
from .._checks import require_host
from ..base import Layer

# How Keras 3 serializes an array argument (keras.saving.serialize_keras_object): "__numpy__"
# for a NumPy array, "__tensor__" for a backend tensor (which its NumPy backend also writes).
_ARRAY_CLASSES = ("__numpy__", "__tensor__")


def _checked(value, name):
    """A scale or offset as the layer keeps it: a real number, a list, or a NumPy array (which
    Keras's config form {"class_name": "__numpy__", ...} also gives), with finite values."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, bytes)):
        raise TypeError(f"The `{name}` argument must be a number or an array of numbers. Received: {name}={value!r}")
    try:
        if isinstance(value, dict):
            if value.get("class_name") not in _ARRAY_CLASSES:
                raise TypeError
            inner = value.get("config")
            if not isinstance(inner, dict):
                raise TypeError
            value = np.asarray(inner.get("value"), dtype=np.dtype(inner.get("dtype") or "float32"))
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise TypeError
    except (TypeError, ValueError):
        raise TypeError(f"The `{name}` argument must be a number or an array of numbers. "
                        f"Received: {name}={value!r:.200}") from None
    if not np.all(np.isfinite(array)):
        raise ValueError(f"The `{name}` argument must hold finite numbers. Received: {name}={value!r:.200}")
    return value


def _serialize(value):
    """A JSON-safe form of `value`, as Keras writes it: numbers and lists as they are, a NumPy
    array (or NumPy scalar) as {"class_name": "__numpy__", "config": {"value", "dtype"}}."""
    if isinstance(value, (np.ndarray, np.generic)):
        return {"class_name": "__numpy__", "config": {"value": value.tolist(), "dtype": str(value.dtype)}}
    return value


class Rescaling(Layer):
    """Multiplies its inputs by `scale` and adds `offset`, as keras.layers.Rescaling (Keras 3).

    `scale=1 / 255` maps [0, 255] to [0, 1]; `scale=1 / 127.5, offset=-1` maps it to [-1, 1].
    Applied in training and inference alike; the gradient flows through it.

    Args:
        scale: a number, or an array broadcast against the inputs (one value per channel of the
            last axis, for instance).
        offset: a number or an array, added after scaling.

    Example:
        >>> import numpy as np, fastdnn
        >>> fastdnn.layers.Rescaling(1 / 127.5, offset=-1.0)(np.array([[0.0, 127.5, 255.0]]))
        array([[-1.,  0.,  1.]], dtype=float32)

    Raises:
        TypeError: for a scale or offset that is not numeric.
        ValueError: for one with non-finite values, or one that does not broadcast against the
            inputs (at the call).
    """

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = _checked(scale, "scale")
        self.offset = _checked(offset, "offset")
        self._scale32 = np.asarray(self.scale, dtype=np.float32)
        self._offset32 = np.asarray(self.offset, dtype=np.float32)

    def call(self, inputs):
        require_host(self, inputs)
        try:
            np.broadcast_shapes(inputs.shape, self._scale32.shape, self._offset32.shape)
        except ValueError:
            raise ValueError(f"Layer '{self.name}' (Rescaling) cannot broadcast `scale` of shape "
                             f"{self._scale32.shape} and `offset` of shape {self._offset32.shape} against "
                             f"inputs of shape {inputs.shape}.") from None
        return ops.add(ops.multiply(inputs, self._scale32), self._offset32)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"scale": _serialize(self.scale), "offset": _serialize(self.offset)})
        return config

