"""Activation layers: ReLU, LeakyReLU, PReLU, ELU, Softmax and RReLU."""

import warnings

import numpy as np

from .. import activations, constraints, initializers, ops, regularizers
from .. import random as frandom
from .base import Layer, serialize_object


class _Elementwise(Layer):
    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


class ReLU(_Elementwise):
    """max(x, 0), with Keras's optional max_value, negative_slope and threshold."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None and max_value < 0:
            raise ValueError(f"max_value of a ReLU layer cannot be negative. Received: max_value={max_value}")
        if negative_slope < 0:
            raise ValueError(f"negative_slope of a ReLU layer cannot be negative. Received: negative_slope={negative_slope}")
        self.max_value, self.negative_slope, self.threshold = max_value, float(negative_slope), float(threshold)

    def call(self, inputs):
        return activations.relu(inputs, self.negative_slope, self.max_value, self.threshold)

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


class LeakyReLU(_Elementwise):
    """x if x > 0 else negative_slope·x. Keras 3 default slope 0.3; the book's `alpha=` works too."""

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("Argument `alpha` is deprecated. Use `negative_slope` instead.", stacklevel=2)
        super().__init__(**kwargs)
        if negative_slope is None or negative_slope < 0:
            raise ValueError("The negative_slope value of a Leaky ReLU layer cannot be None or negative. "
                             f"Received: negative_slope={negative_slope}")
        self.negative_slope = float(negative_slope)

    def call(self, inputs):
        return ops.leaky_relu(inputs, self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class ELU(_Elementwise):
    """x if x > 0 else alpha·(exp(x) - 1)."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def call(self, inputs):
        return ops.elu(inputs, self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(_Elementwise):
    """Softmax over the last axis."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs):
        return ops.softmax(inputs, axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class PReLU(_Elementwise):
    """Parametric ReLU: max(0, x) + alpha·min(0, x) with a learned alpha per unit, as Keras.

    Args:
        alpha_initializer: initializer of the slopes (default zeros).
        alpha_regularizer, alpha_constraint: accepted and stored in the config.
        shared_axes: axes (1-based, excluding the batch) along which one slope is shared.
    """

    def __init__(self, alpha_initializer="zeros", alpha_regularizer=None, alpha_constraint=None,
                 shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is None or isinstance(shared_axes, (list, tuple)):
            self.shared_axes = None if shared_axes is None else list(shared_axes)
        else:
            self.shared_axes = [shared_axes]

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for axis in self.shared_axes or []:
            shape[axis - 1] = 1
        self.alpha = self.add_weight(tuple(shape), self.alpha_initializer, name="alpha",
                                     regularizer=self.alpha_regularizer, constraint=self.alpha_constraint)
        self.built = True

    def call(self, inputs):
        negative = ops.relu(ops.negative(inputs))  # -min(0, x)
        return ops.subtract(ops.relu(inputs), ops.multiply(self.alpha.value, negative))

    def get_config(self):
        return {**super().get_config(),
                "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": serialize_object(self.alpha_regularizer),
                "alpha_constraint": serialize_object(self.alpha_constraint),
                "shared_axes": self.shared_axes}


class RReLU(_Elementwise):
    """Randomized leaky ReLU (Xu et al., 2015), which Keras lacks.

    In training, each negative element gets its own slope drawn uniformly from [lower, upper];
    at inference the slope is fixed to (lower + upper) / 2.

    Args:
        lower, upper: slope range, 0 <= lower <= upper (defaults 1/8 and 1/3).
        seed: integer seed for reproducible slopes.
    """

    def __init__(self, lower=1.0 / 8, upper=1.0 / 3, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= lower <= upper:
            raise ValueError(f"RReLU expects 0 <= lower <= upper. Received: lower={lower}, upper={upper}")
        self.lower, self.upper, self.seed = float(lower), float(upper), seed
        self._generator = frandom.SeedGenerator(seed) if seed is not None else None

    def call(self, inputs, training=False):
        if not training:
            return ops.leaky_relu(inputs, (self.lower + self.upper) / 2)
        slopes = frandom.uniform(inputs.shape, self.lower, self.upper, seed=self._generator)
        return ops.where(np.asarray(inputs) > 0, inputs, ops.multiply(inputs, slopes))

    def get_config(self):
        return {**super().get_config(), "lower": self.lower, "upper": self.upper, "seed": self.seed}
