"""Activation functions, resolved by name through one registry.

Each function is a differentiable op (native forward and backward). `get` maps a name, None or
a callable to a function; Dense fuses the ones in `FUSED` into its product's epilogue.

    >>> import fastdnn
    >>> fastdnn.activations.get("elu") is fastdnn.activations.elu
    True
"""

import numpy as np

from . import ops


def linear(x):
    """Identity: returns x."""
    return x


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """max(x, 0); with Keras's optional negative_slope, max_value and threshold."""
    if max_value is None and threshold == 0.0:
        return ops.relu(x) if negative_slope == 0.0 else ops.leaky_relu(x, negative_slope)
    x = ops._x(x, "x")
    below = ops.multiply(ops.subtract(x, np.float32(threshold)), np.float32(negative_slope))
    y = ops.where(x >= threshold, x, below)
    return y if max_value is None else ops.minimum(y, np.float32(max_value))


def leaky_relu(x, negative_slope=0.2):
    """x if x > 0 else negative_slope·x."""
    return ops.leaky_relu(x, negative_slope)


def elu(x, alpha=1.0):
    """x if x > 0 else alpha·(exp(x) - 1)."""
    return ops.elu(x, alpha)


def selu(x):
    """Scaled ELU with the self-normalizing constants."""
    return ops.selu(x)


def sigmoid(x):
    """1 / (1 + exp(-x))."""
    return ops.sigmoid(x)


def tanh(x):
    """Hyperbolic tangent."""
    return ops.tanh(x)


def softmax(x, axis=-1):
    """exp(x) / Σ exp(x) along the last axis."""
    return ops.softmax(x, axis=axis)


def swish(x):
    """x · sigmoid(x) (also called silu)."""
    return ops.multiply(x, ops.sigmoid(x))


silu = swish


def gelu(x, approximate=False):
    """Gaussian error linear unit: x·Φ(x) (Keras 3's `activations.gelu` default), or its tanh
    approximation with `approximate=True` (the default of `fastdnn.ops.gelu`, as `keras.ops`)."""
    return ops.gelu(x, approximate=approximate)


_REGISTRY = {f.__name__: f for f in (linear, relu, leaky_relu, elu, selu, sigmoid, tanh, softmax,
                                      swish, gelu)}
_REGISTRY["silu"] = swish

# Functions the dense kernel applies in its epilogue, by the name the native op knows.
FUSED = {linear: None, relu: "relu", leaky_relu: "leaky_relu", elu: "elu", selu: "selu",
         sigmoid: "sigmoid", tanh: "tanh", softmax: "softmax"}


def get(identifier):
    """Resolves an activation: None or "linear" -> linear, a name -> its function, a callable -> itself.

    Raises:
        ValueError: for an unknown name.
        TypeError: for anything else.
    """
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        try:
            return _REGISTRY[identifier]
        except KeyError:
            raise ValueError(f"Unknown activation {identifier!r}. Expected one of {sorted(_REGISTRY)} "
                             "or a callable.") from None
    if isinstance(identifier, dict):  # Keras serialization
        return get(identifier.get("config", identifier.get("class_name")))
    if callable(identifier):
        return identifier
    raise TypeError(f"Could not interpret activation: {identifier!r}")


def serialize(activation):
    """The registry name of an activation function (or the callable's __name__)."""
    return getattr(activation, "__name__", str(activation))


def deserialize(name):
    return get(name)
