"""What every file format stores and restores: a model's config, its weights, its compile
settings and its optimizer state, in format-neutral form.

    config   {"class_name": "Sequential" | "Functional" | a registered class, "config": {...},
              "registered_name"?, "build_config"?: {"input_shape": ...}}
    weights  [array per model.weights], float32
    compile  model.get_compile_config(): {"optimizer": {...}, "loss": ..., "metrics": ...} or None
    optimizer_state  Optimizer.get_state(model.trainable_weights) or None

Models are found by class name through fastdnn's registry (fastdnn/_registry.py), never by
importing `fastdnn.models`, and used only through their public methods.
"""

import contextlib

import numpy as np

from .. import layers
from .._registry import get_registered_object
from . import _guard
from ._guard import FileFormatError


def model_config(model):
    """The model's entry: its class, registered name, config and (for a subclassed model) the
    input shape it was built for."""
    entry = layers.serialize(model)
    build = model.get_build_config()
    if build is not None:
        entry["build_config"] = build
    return entry


def compile_config(model):
    """The settings `compile` received, serialized, or None for an uncompiled model."""
    get = getattr(model, "get_compile_config", None)
    config = get() if get is not None else None
    if config is None or config.get("loss") is None:
        return None
    return config


def build_model(config, custom_objects, weight_elements, what):
    """The model `config` describes, built with at most `weight_elements` weight elements (None:
    a config alone, whose weights are initialised as usual).

    Raises:
        FileFormatError: for a malformed config, an unknown class or a config that declares
            more weights than the file holds.
    """
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise FileFormatError(f"{what}: the model config is not a {{'class_name', 'config'}} dict.")
    cls = get_registered_object(config.get("class_name"), custom_objects, config.get("registered_name"))
    if cls is None or not hasattr(cls, "compile"):
        raise FileFormatError(f"{what}: unknown model class {config.get('class_name')!r}; fastdnn loads "
                              "Sequential and functional models, and subclassed models registered with "
                              "@keras.saving.register_keras_serializable() or passed in custom_objects.")
    try:
        with _guard.budget(weight_elements) if weight_elements is not None else contextlib.nullcontext():
            inner = config["config"]
            _check_input_shapes(inner, what)
            model = layers.deserialize(config, custom_objects)
            build = config.get("build_config") or {}
            if not model.built and build.get("input_shape") is not None:
                _guard.check_input_shape(build["input_shape"], what)
                model.build_from_config(build)
    except FileFormatError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as e:
        raise FileFormatError(f"{what}: the model config cannot be rebuilt "
                              f"({type(e).__name__}: {e}).") from None
    return model


def as_weight(value, expected_shape, name, what):
    """`value` from a file as a float32 array of `expected_shape`.

    Raises:
        FileFormatError: for a non-float dtype or another shape.
    """
    value = np.asarray(value)
    if value.dtype.kind != "f":
        raise FileFormatError(f"{what}: weight '{name}' has dtype {value.dtype}; weights are "
                              "floating-point arrays.")
    if tuple(value.shape) != tuple(expected_shape):
        raise FileFormatError(f"{what}: weight '{name}' has shape {tuple(value.shape)}; the "
                              f"model expects {tuple(expected_shape)}.")
    return value.astype(np.float32, copy=False)


def assign_weights(model, arrays, what):
    """Writes `arrays` (one per model.weights) into the model, after checking all of them."""
    variables = model.weights
    arrays = list(arrays)
    if len(arrays) != len(variables):
        raise FileFormatError(f"{what}: the file holds {len(arrays)} weight arrays; the model "
                              f"has {len(variables)}.")
    checked = [as_weight(a, v.shape, v.path, what) for a, v in zip(arrays, variables)]
    for var, value in zip(variables, checked):
        var.assign(value)


def restore_compile(model, config, what):
    """Compiles `model` with saved settings from `compile_config` (nothing for None)."""
    if config is None:
        return
    if not isinstance(config, dict):
        raise FileFormatError(f"{what}: the compile settings are not a dict.")
    try:
        model.compile_from_config(config)
    except (TypeError, ValueError, KeyError) as e:
        raise FileFormatError(f"{what}: the saved compile settings are invalid "
                              f"({type(e).__name__}: {e}).") from None


def restore_optimizer(model, state, what):
    """Puts a saved optimizer state back (after `restore_compile`)."""
    if state is None or getattr(model, "optimizer", None) is None:
        return
    try:
        model.optimizer.set_state(model.trainable_weights, state)
    except (TypeError, ValueError, KeyError) as e:
        raise FileFormatError(f"{what}: the saved optimizer state does not fit the model "
                              f"({e}).") from None


def _check_input_shapes(config, what):
    """Every InputLayer a (nested) model config declares stays within the load budget."""
    for entry in config.get("layers", []) if isinstance(config.get("layers"), list) else []:
        if not isinstance(entry, dict):
            continue
        inner = entry.get("config") or {}
        if entry.get("class_name") == "InputLayer":
            _guard.check_input_shape(inner.get("batch_shape") or inner.get("batch_input_shape"), what)
        elif isinstance(inner, dict) and isinstance(inner.get("layers"), list):
            _check_input_shapes(inner, what)

