"""Core layers: Dense, Flatten, Activation, Identity (Input/InputLayer: input_layer.py; Dropout:
regularization.py)."""

import math

from .. import activations, constraints, initializers, ops, regularizers
from .._checks import check_integer
from .base import Layer, serialize_object


class Dense(Layer):
    """Densely connected layer: activation(inputs · kernel + bias).

    Built-in activations run fused into the product's epilogue (native forward and backward).

    Args:
        units: output features, a positive integer.
        activation: a name ("relu", "elu", ...), a callable, or None (linear).
        use_bias: whether to add a bias.
        kernel_initializer, bias_initializer: initializers or their names (Keras defaults
            "glorot_uniform" and "zeros").
        kernel_regularizer, bias_regularizer: penalties on the weights (a regularizer, its
            name or config, or a callable), added to the training loss.
        activity_regularizer: a penalty on the layer's outputs, added to the training loss.
        kernel_constraint, bias_constraint: projections applied to the weights after each
            optimizer step (e.g. `fastdnn.constraints.max_norm(1.)`).

    Example:
        >>> import fastdnn
        >>> layer = fastdnn.layers.Dense(300, activation="elu", kernel_initializer="he_normal")
        >>> layer([[0.0] * 784]).shape
        (1, 300)
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.units = check_integer("units", units)
        self.activation = activations.get(activation)
        self._fused = activations.FUSED.get(self.activation, False)  # name for ops.dense, or False
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    def build(self, input_shape):
        self.kernel = self.add_weight((input_shape[-1], self.units), self.kernel_initializer,
                                      name="kernel", regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = self.add_weight((self.units,), self.bias_initializer, name="bias",
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        self.built = True

    def call(self, inputs):
        bias = self.bias.value if self.bias is not None else None
        if self._fused is not False:
            return ops.dense(inputs, self.kernel.value, bias, self._fused)
        return self.activation(ops.dense(inputs, self.kernel.value, bias))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": serialize_object(self.kernel_regularizer),
            "bias_regularizer": serialize_object(self.bias_regularizer),
            "activity_regularizer": serialize_object(self.activity_regularizer),
            "kernel_constraint": serialize_object(self.kernel_constraint),
            "bias_constraint": serialize_object(self.bias_constraint),
        })
        return config


class Flatten(Layer):
    """Flattens each sample: (batch, d1, d2, ...) -> (batch, d1·d2·...).

    Example:
        >>> import fastdnn, numpy as np
        >>> fastdnn.layers.Flatten(input_shape=[28, 28])(np.zeros((2, 28, 28))).shape
        (2, 784)
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format

    def call(self, inputs):
        return ops.flatten(inputs)

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        return (input_shape[0], None if any(d is None for d in rest) else math.prod(rest))

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class Activation(Layer):
    """Applies an activation function (a name or a callable)."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Identity(Layer):
    """Returns its inputs unchanged (a placeholder in a graph, as keras.layers.Identity)."""

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape
