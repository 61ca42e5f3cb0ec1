"""Keras-shaped layers. Each computes with `fastdnn.ops`, so the gradient tape trains it; called on
symbolic tensors (`Input`), layers make a functional model's graph."""

import inspect

from .. import _registry
from .activation_layers import ELU, LeakyReLU, PReLU, ReLU, RReLU, Softmax
from .base import Layer
from .core import Activation, Dense, Flatten, Identity
from .input_layer import Input, InputLayer
from .keras_tensor import KerasTensor
from .lambda_layer import Lambda
from .layer_normalization import LayerNormalization
from .merging import (Add, Average, Concatenate, Dot, Maximum, Merge, Minimum, Multiply, Subtract, add,
                      average, concatenate, dot, maximum, minimum, multiply, subtract)
from .normalization import BatchNormalization
from .preprocessing import Normalization, Rescaling
from .regularization import AlphaDropout, Dropout, GaussianDropout, GaussianNoise
from .reshaping import Reshape
from .unit_normalization import UnitNormalization

_CLASSES = {cls.__name__: cls for cls in (
    Activation, Add, AlphaDropout, Average, BatchNormalization, Concatenate, Dense, Dot, Dropout, ELU,
    Flatten, GaussianDropout, GaussianNoise, Identity, InputLayer, Lambda, LeakyReLU, Maximum, Minimum, Multiply,
    PReLU, ReLU, RReLU, Reshape, Softmax, Subtract)}
_CLASSES.update({cls.__name__: cls for cls in (LayerNormalization, Normalization, Rescaling, UnitNormalization)})
for _cls in _CLASSES.values():
    _registry.register_builtin(_cls)


def serialize(layer):
    """{"class_name": ..., "config": ...} for a layer (and "registered_name" for a class
    registered with `register_keras_serializable`)."""
    entry = {"class_name": type(layer).__name__, "config": layer.get_config()}
    registered = _registry.get_registered_name(type(layer))
    if registered != type(layer).__name__:
        entry["registered_name"] = registered
    return entry


def deserialize(config, custom_objects=None):
    """Rebuilds a layer (or a model) from `serialize`'s output. Classes are found in
    `custom_objects`, then among the registered ones, then fastdnn's own.

    Raises:
        ValueError: for a malformed entry or a class that cannot be found.
    """
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise ValueError("A layer config must be a dict with a 'class_name' string and a 'config' "
                         f"dict. Received: {config!r:.200}")
    name = config["class_name"]
    cls = _registry.get_registered_object(name, custom_objects, config.get("registered_name"))
    if cls is None:
        raise ValueError(f"Unknown layer class {name!r}: pass it in custom_objects, or register it with "
                         "@keras.saving.register_keras_serializable().")
    inner = dict(config.get("config") or {})
    if "custom_objects" in inspect.signature(cls.from_config).parameters:  # models and containers
        return cls.from_config(inner, custom_objects=custom_objects)
    return cls.from_config(inner)


__all__ = sorted(_CLASSES) + [
    "Input", "KerasTensor", "Layer", "Merge", "add", "average", "concatenate", "deserialize", "dot",
    "maximum", "minimum", "multiply", "serialize", "subtract"]
