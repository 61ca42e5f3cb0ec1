"""Keras-shaped layers. Each computes with `fastdnn.ops`, so the gradient tape trains it."""

from .activation_layers import ELU, LeakyReLU, PReLU, ReLU, RReLU, Softmax
from .base import Layer
from .core import Activation, Dense, Flatten, Input, InputLayer, KerasTensor
from .normalization import BatchNormalization
from .regularization import AlphaDropout, Dropout, GaussianDropout, GaussianNoise

_CLASSES = {cls.__name__: cls for cls in (Activation, BatchNormalization, Dense, Dropout, ELU, Flatten,
                                          InputLayer, LeakyReLU, PReLU, ReLU, RReLU, Softmax,
                                          AlphaDropout, GaussianDropout, GaussianNoise)}


def serialize(layer):
    """{"class_name": ..., "config": ...} for a layer."""
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize(config, custom_objects=None):
    """Rebuilds a layer from `serialize`'s output (custom classes via `custom_objects`)."""
    classes = {**_CLASSES, **(custom_objects or {})}
    name = config["class_name"]
    if name not in classes:
        raise ValueError(f"Unknown layer class {name!r}; pass it in custom_objects.")
    return classes[name].from_config(dict(config["config"]))


__all__ = sorted(_CLASSES) + ["Input", "KerasTensor", "Layer", "deserialize", "serialize"]
