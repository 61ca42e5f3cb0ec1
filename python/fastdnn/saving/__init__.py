"""Saving and loading models: Keras 3's `.keras` zip, legacy Keras `.h5`, and fastdnn's own
format for any other suffix (NumPy only).

One dispatch point by file name: `save_model`, `load_model`, `save_weights` and `load_weights`
pick the format from the suffix; every format holds the architecture (config), the weights
and, for whole models, the compile settings and the optimizer state, so training resumes where
it stopped. Writes are atomic. Loading never runs code from the file (no pickle), and a file's
config may not make fastdnn allocate more than the file's own weights (`_guard.py`).
"""

import os

from .._registry import (CustomObjectScope, custom_object_scope, get_custom_objects, get_registered_name,
                         get_registered_object, register_keras_serializable, safe_mode_scope)
from ._guard import FileFormatError

__all__ = ["CustomObjectScope", "FileFormatError", "custom_object_scope", "get_custom_objects",
           "get_registered_name", "get_registered_object", "load_model", "load_weights", "model_from_json",
           "model_to_keras_config", "register_keras_serializable", "safe_mode_scope", "save_model",
           "save_weights"]


def _format(path, weights_only):
    name = os.fspath(path).lower()
    if name.endswith(".keras"):
        if weights_only:
            raise ValueError("A `.keras` file holds a whole model; save weights alone to a "
                             f"`.weights.h5` file or a fastdnn weights file. Received: {path!r}")
        from . import keras_zip as module
    elif name.endswith((".h5", ".hdf5")):
        from . import keras_h5 as module
    else:
        from . import native as module
    return module


def _path(filepath):
    if not isinstance(filepath, (str, os.PathLike)):
        raise TypeError(f"Expected a file path (str or os.PathLike). Received: {filepath!r}")
    return os.fspath(filepath)


def save_model(model, filepath, overwrite=True, include_optimizer=True):
    """Saves `model` (config, weights, compile settings, optimizer state) to `filepath`.

    Args:
        model: a fastdnn model.
        filepath: `.keras` (Keras 3's format), `.h5`/`.hdf5` (legacy Keras HDF5; both need
            h5py), or any other name for fastdnn's own format.
        overwrite: replace an existing file (False raises FileExistsError).
        include_optimizer: also save the optimizer and its state.

    Raises:
        ValueError: for a layer the chosen format cannot hold (e.g. RReLU in a Keras file).
        ImportError: for an HDF5-based format without h5py.

    Example:
        >>> import os, tempfile, fastdnn
        >>> model = fastdnn.Sequential([fastdnn.Input(shape=[3]), fastdnn.layers.Dense(2)])
        >>> path = os.path.join(tempfile.mkdtemp(), "model.fdnn")
        >>> model.save(path)
        >>> fastdnn.models.load_model(path).count_params()
        8
    """
    filepath = _path(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{filepath!r} exists; pass overwrite=True to replace it.")
    _format(filepath, False).save_model(model, filepath, include_optimizer=include_optimizer)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Loads a model saved by `save_model` (or by Keras 3 as `.keras` / `.h5`).

    Args:
        filepath: the file.
        custom_objects: dict name -> class or function, for user-defined layers and losses.
        compile: compile the model with the saved settings and restore the optimizer state.
        safe_mode: refuse to rebuild a `Lambda` layer's function from the file (the default, as
            Keras); fastdnn runs no other code from a file.

    Raises:
        FileFormatError (a ValueError): for a truncated, corrupt or hostile file.
        FileNotFoundError: if there is no such file.
    """
    filepath = _path(filepath)
    if not os.path.isfile(filepath):
        raise FileNotFoundError(f"No model file at {filepath!r}.")
    with safe_mode_scope(safe_mode):
        return _format(filepath, False).load_model(filepath, custom_objects=custom_objects,
                                                   compile=compile)


def save_weights(model, filepath, overwrite=True):
    """Saves the weights of `model` alone (`.weights.h5`/`.h5`: Keras 3's layout; otherwise
    fastdnn's format)."""
    filepath = _path(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{filepath!r} exists; pass overwrite=True to replace it.")
    _format(filepath, True).save_weights(model, filepath)


def load_weights(model, filepath):
    """Loads weights saved by `save_weights` (or by `save_model`) into `model`, which must have
    the same architecture.

    Raises:
        FileFormatError (a ValueError): for a corrupt file or weights that do not match.
    """
    filepath = _path(filepath)
    if not os.path.isfile(filepath):
        raise FileNotFoundError(f"No weights file at {filepath!r}.")
    _format(filepath, False).load_weights(model, filepath)  # a `.keras` file's weights load too


def model_to_keras_config(model):
    """The model's architecture in Keras 3's form (what `model.to_json()` writes and a `.keras`
    file's config.json holds).

    Raises:
        ValueError: for a layer or an object Keras 3 cannot rebuild.
    """
    from . import keras_config
    return keras_config.to_keras(model)


def model_from_json(json_string, custom_objects=None, safe_mode=True):
    """The model a `model.to_json()` string (fastdnn's or Keras's) describes, with fresh weights.

    Raises:
        FileFormatError (a ValueError): for malformed JSON or a config that cannot be rebuilt.
    """
    from . import _guard, keras_config, state
    what = "the model JSON"
    config = _guard.parse_json(json_string.encode() if isinstance(json_string, str) else json_string, what)
    if not isinstance(config, dict):
        raise FileFormatError(f"{what} is not a JSON object.")
    with safe_mode_scope(safe_mode):
        return state.build_model(keras_config.from_keras(config, custom_objects, what), custom_objects, None,
                                 what)
