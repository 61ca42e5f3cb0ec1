"""Legacy Keras HDF5 files (`.h5`, `.hdf5`), as Keras 3's `model.save("x.h5")` writes them.

Whole model (`save_model`):

    attrs                         model_config, training_config (JSON; the optimizer under
                                  "optimizer_config"), keras_version, backend
    model_weights/                attrs layer_names (every layer, in order), keras_version, backend
        <layer name>/             attrs weight_names: the layer's weights, trainable ones first,
            <model>/<layer>/<w>   as paths, e.g. sequential/dense/kernel
        top_level_model_weights/  attrs weight_names = [] (a Sequential has no weights of its own)
    optimizer_weights/            attrs weight_names: the optimizer's variables, Keras's order

Weights alone (`save_weights`): a `.weights.h5` name gets Keras 3's layout (keras_weights.py),
as Keras 3's `save_weights` writes (it refuses other names); any other `.h5`/`.hdf5` name gets
the layout of `model_weights` above at the file's root, which is what Keras 3's `load_weights`
reads from such a name. `load_weights` reads either layout from either name.
"""

import json

from .._registry import get_registered_object
from . import _h5, keras_config, keras_training, keras_weights, state
from ._atomic import atomic_write
from ._guard import FileFormatError

BACKEND = "fastdnn"


def _what(filepath):
    return f"Keras HDF5 file {filepath!r}"


# ---- legacy layout -----------------------------------------------------------------------------

def _top_prefix(model):
    """Keras names a Sequential's variables under the model ("sequential/dense/kernel") and a
    functional model's under their layers ("dense/kernel")."""
    return f"{model.name}/" if isinstance(model, get_registered_object("Sequential")) else ""


def _paths(model, prefix):
    """{id(variable): its Keras path (model/.../layer/name)} for every weight of `model`."""
    paths = {}
    for layer in model.layers:
        if isinstance(layer, get_registered_object("Model")):
            paths.update(_paths(layer, f"{prefix}{layer.name}/"))
        else:
            for var in layer.weights:
                paths[id(var)] = f"{prefix}{layer.name}/{var.name.rsplit('/', 1)[-1]}"
    return paths


def _legacy_variables(layer):
    return layer.trainable_weights + layer.non_trainable_weights


def _write_legacy(group, model):
    _h5.write_names_attr(group, "layer_names", [layer.name for layer in model.layers])
    group.attrs["backend"] = BACKEND
    group.attrs["keras_version"] = keras_config.KERAS_VERSION
    paths = _paths(model, _top_prefix(model))
    for layer in sorted(model.layers, key=lambda layer: layer.name):
        layer_group = group.create_group(layer.name)
        variables = _legacy_variables(layer)
        names = [paths[id(var)] for var in variables]
        _h5.write_names_attr(layer_group, "weight_names", names)
        for name, var in zip(names, variables):
            layer_group.create_dataset(name, data=var._value)
    _h5.write_names_attr(group.create_group("top_level_model_weights"), "weight_names", [])


def _read_legacy(group, model, what):
    """Reads weights in the legacy layout: the file's layers that hold weights, in order, into
    the model's layers that have weights, as Keras does."""
    found = []
    for name in _h5.read_names_attr(group, "layer_names", what):
        layer_group = _h5.child(group, name, "group", what)
        weight_names = _h5.read_names_attr(layer_group, "weight_names", what)
        if weight_names:
            found.append((name, layer_group, weight_names))
    expected = [layer for layer in model.layers if layer.weights]
    if len(found) != len(expected):
        raise FileFormatError(f"{what} holds weights for {len(found)} layers; the model has "
                              f"{len(expected)} layers with weights.")
    pairs = []
    for (name, layer_group, weight_names), layer in zip(found, expected):
        variables = _legacy_variables(layer)
        if len(weight_names) != len(variables):
            raise FileFormatError(f"{what}: layer '{name}' holds {len(weight_names)} weights; the "
                                  f"model's layer '{layer.name}' has {len(variables)}.")
        for weight_name, var in zip(weight_names, variables):
            dataset = _h5.child(layer_group, weight_name, "dataset", what)
            _h5.check_weight(dataset, var.shape, var.path, what)
            pairs.append((var, dataset))
    values = {id(var): _h5.read_weight(ds, var.shape, var.path, what) for var, ds in pairs}
    state.assign_weights(model, [values[id(w)] for w in model.weights], what)


def _write_optimizer(h5file, model):
    optimizer, variables = model.optimizer, model.trainable_weights
    paths = _paths(model, _top_prefix(model))
    names = []
    arrays = keras_training.optimizer_arrays(optimizer, variables)
    for (slot, index), _ in arrays:
        names.append(f"{optimizer.name}/{slot}" if index is None else
                     f"{optimizer.name}/{paths[id(variables[index])].replace('/', '_')}_{slot}")
    group = h5file.create_group("optimizer_weights")
    _h5.write_names_attr(group, "weight_names", names)
    for name, (_, value) in zip(names, arrays):
        group.create_dataset(name, data=value)


def _optimizer_datasets(h5file, what):
    group = _h5.child(h5file, "optimizer_weights", "group", what, required=False)
    if group is None:
        return None
    return [_h5.child(group, name, "dataset", what)
            for name in _h5.read_names_attr(group, "weight_names", what)]


# ---- the format's four functions ---------------------------------------------------------------

def save_model(model, filepath, include_optimizer=True):
    """Writes `model` as a legacy Keras `.h5` file (see the module docstring)."""
    h5py = _h5.require_h5py()
    config = keras_config.to_keras(model, legacy=True)  # refuses what Keras lacks, before writing
    compiled = include_optimizer and getattr(model, "optimizer", None) is not None
    training = keras_training.compile_to_keras(model, legacy=True) if compiled else None
    with atomic_write(filepath) as f, h5py.File(f, "w") as h5file:
        h5file.attrs["backend"] = BACKEND
        h5file.attrs["keras_version"] = keras_config.KERAS_VERSION
        h5file.attrs["model_config"] = json.dumps(config).encode("utf-8")
        if training is not None:
            h5file.attrs["training_config"] = json.dumps(training).encode("utf-8")
        _write_legacy(h5file.create_group("model_weights"), model)
        if compiled:
            _write_optimizer(h5file, model)


def load_model(filepath, custom_objects=None, compile=True):
    """Reads a legacy `.h5` model file: the model, its weights and (with `compile`) its training
    settings and optimizer state."""
    what = _what(filepath)
    with open(filepath, "rb") as f, _h5.open_file(f, what) as h5file:
        with _h5.reading(what):
            if "model_config" not in h5file.attrs:
                raise FileFormatError(f"{what} holds no model config (a weights file?): build the "
                                      "model, then call model.load_weights(path).")
        config = _h5.read_json_attr(h5file, "model_config", what)
        groups = _h5.survey(h5file, what)
        budget = sum(e for path, (_, e) in groups.items() if path.startswith("model_weights/"))
        model = state.build_model(keras_config.from_keras(config, custom_objects, what),
                                  custom_objects, budget, what)
        _read_legacy(_h5.child(h5file, "model_weights", "group", what), model, what)
        training = _h5.read_json_attr(h5file, "training_config", what, required=False) \
            if compile else None
        training = keras_training.compile_from_keras(training, what)
        if training is not None and training["optimizer"] is not None:
            state.restore_compile(model, training, what)
            datasets = _optimizer_datasets(h5file, what)
            if datasets is not None:
                keras_training.restore_state(model, datasets, what)
        return model


def save_weights(model, filepath):
    """Writes the weights (and a compiled model's optimizer state, for `.weights.h5`)."""
    h5py = _h5.require_h5py()
    keras_config.to_keras(model)  # the same layers as a whole-model file
    with atomic_write(filepath) as f, h5py.File(f, "w") as h5file:
        if str(filepath).lower().endswith(".weights.h5"):
            keras_weights.write(h5file, model)
        else:
            _write_legacy(h5file, model)


def load_weights(model, filepath):
    """Reads weights from a Keras 3 weights file, a legacy weights file or a legacy model file."""
    what = _what(filepath)
    with open(filepath, "rb") as f, _h5.open_file(f, what) as h5file:
        groups = _h5.survey(h5file, what)
        with _h5.reading(what):
            legacy_root = "layer_names" in h5file.attrs
            legacy_model = not legacy_root and "model_weights" in h5file
            keras3 = "layers" in h5file or "vars" in h5file
        if legacy_root:
            _read_legacy(h5file, model, what)
        elif legacy_model:
            _read_legacy(_h5.child(h5file, "model_weights", "group", what), model, what)
        elif keras3:
            keras_weights.read(h5file, groups, model, what)
            datasets = keras_weights.optimizer_datasets(h5file, groups, what)
            if datasets is not None and getattr(model, "optimizer", None) is not None:
                keras_training.restore_state(model, datasets, what, strict=False)
        else:
            raise FileFormatError(f"{what} holds neither Keras 3 weights (layers/...) nor legacy "
                                  "Keras weights (layer_names): not a Keras weights file.")
