"""What every file format stores and restores: a model's config, its weights, its compile
settings and its optimizer state, in format-neutral form.

    config   {"class_name": "Sequential", "config": {...}}  (the model's get_config)
    weights  [array per model.weights], float32
    compile  {"optimizer": {...}, "loss": ..., "metrics": [...]} or None
    optimizer_state  Optimizer.get_state(model.trainable_weights) or None
"""

import numpy as np

from . import _guard
from ._guard import FileFormatError


def model_config(model):
    return {"class_name": type(model).__name__, "config": model.get_config()}


def compile_config(model):
    """The settings `compile` received, serialized, or None for an uncompiled model."""
    if getattr(model, "optimizer", None) is None or getattr(model, "loss", None) is None:
        return None
    from .. import losses, metrics, optimizers
    loss = model._compile_args["loss"]
    return {"optimizer": optimizers.serialize(model.optimizer),
            "loss": loss if isinstance(loss, str) else losses.serialize(loss),
            "metrics": [m if isinstance(m, str) else metrics.serialize(m)
                        for m in model._compile_args["metrics"] or []]}


def build_model(config, custom_objects, weight_elements, what):
    """The model `config` describes, built with at most `weight_elements` weight elements.

    Raises:
        FileFormatError: for a malformed config, an unknown class or a config that declares
            more weights than the file holds.
    """
    from .. import models
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise FileFormatError(f"{what}: the model config is not a {{'class_name', 'config'}} dict.")
    classes = {"Sequential": models.Sequential, **(custom_objects or {})}
    cls = classes.get(config.get("class_name"))
    if cls is None:
        raise FileFormatError(f"{what}: unknown model class {config.get('class_name')!r}; fastdnn "
                              "loads Sequential models (pass custom_objects for your own classes).")
    try:
        with _guard.budget(weight_elements):
            inner = config["config"]
            for entry in inner.get("layers", []):
                if isinstance(entry, dict) and entry.get("class_name") == "InputLayer":
                    cfg = entry.get("config") or {}
                    _guard.check_input_shape(cfg.get("batch_shape") or cfg.get("batch_input_shape"), what)
            model = cls.from_config(inner, custom_objects=custom_objects)
            if not model.built and model._input_shape is not None:
                model.build(model._input_shape)
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
    checked = [as_weight(a, v.shape, v.name, what) for a, v in zip(arrays, variables)]
    for var, value in zip(variables, checked):
        var.assign(value)


def restore_compile(model, config, what):
    """Compiles `model` with saved settings from `compile_config` (nothing for None)."""
    if config is None:
        return
    if not isinstance(config, dict):
        raise FileFormatError(f"{what}: the compile settings are not a dict.")
    try:
        model.compile(optimizer=config.get("optimizer", "rmsprop"), loss=config.get("loss"),
                      metrics=config.get("metrics"))
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
