"""`Input` and `InputLayer`: where a model's graph starts.

`Input(shape=[28, 28])` makes an `InputLayer` and returns its output, a `KerasTensor` of shape
(None, 28, 28); calling layers on it builds a functional model's graph (models/functional.py),
and as the first entry of a `Sequential` it gives the model its input shape.
"""

from .base import Layer
from .keras_tensor import KerasTensor, Node


class InputLayer(Layer):
    """The entry of a model: a shape and nothing to compute.

    Args:
        shape: the shape of one sample (without the batch dimension).
        batch_size: the batch size, if fixed.
        batch_shape: the whole shape, batch dimension first (instead of shape and batch_size).
        name: the layer's name (default "input_layer", numbered).
        input_tensor: an existing KerasTensor to use as this layer's output.
    """

    def __init__(self, shape=None, batch_size=None, batch_shape=None, input_tensor=None, name=None,
                 **kwargs):
        if batch_shape is None and shape is not None:
            batch_shape = (batch_size,) + tuple(shape)
        if batch_shape is None:
            batch_shape = kwargs.get("batch_input_shape")
        kwargs.setdefault("batch_input_shape", batch_shape)
        super().__init__(name=name, **kwargs)
        self.built = True
        if batch_shape is not None:
            if input_tensor is None:
                input_tensor = KerasTensor(batch_shape, name=self.name)
            Node(self, (), {}, input_tensor)

    @property
    def batch_shape(self):
        return self._batch_input_shape

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        shape = config.pop("batch_input_shape", None)
        config.pop("trainable", None)
        return {"batch_shape": None if shape is None else list(shape), **config}


def Input(shape=None, batch_size=None, dtype=None, name=None, batch_shape=None):  # noqa: N802
    """Declares a model input, as keras.Input: a symbolic tensor of `shape` (without the batch
    dimension) to call layers on.

    Args:
        shape: the shape of one sample, e.g. [28, 28].
        batch_size: the batch size, if fixed (default None: any).
        dtype: only "float32" is supported.
        name: the input's name (and its InputLayer's); it keys the input in a dict of inputs.
        batch_shape: the whole shape, batch dimension first, instead of shape and batch_size.

    Returns:
        A `KerasTensor`.

    Example:
        >>> import fastdnn
        >>> fastdnn.Input(shape=[28, 28]).shape
        (None, 28, 28)

    Raises:
        ValueError: without `shape` or `batch_shape`, or for a dtype other than float32.
    """
    if batch_shape is None:
        if shape is None:
            raise ValueError("Input needs `shape` (without the batch dimension) or `batch_shape`.")
        if isinstance(shape, int):
            shape = (shape,)
        batch_shape = (batch_size,) + tuple(shape)
    layer = InputLayer(batch_shape=batch_shape, name=name, dtype=dtype)
    return layer._inbound_nodes[0].outputs[0]
