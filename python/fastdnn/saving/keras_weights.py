"""Keras 3's weights layout: `model.weights.h5` inside a `.keras` file, and `.weights.h5` files.

    vars                       attrs name=<model name> (a Sequential's own variables: none)
    layers/<key>/vars/<i>      layer variable i: the trainable ones, then the others, each in
                               creation order (Dense: kernel, bias; BatchNormalization: gamma,
                               beta, moving_mean, moving_variance), attrs name=<layer name>
    layers/<key>/layers/...    a nested Sequential's layers, the same way
    optimizer/vars/<i>         the optimizer's variables in Keras's order (keras_training.py)

<key> is the layer's class in snake_case, numbered among the layers of that class in its model
by position: dense, dense_1, batch_normalization, p_re_lu, sequential, ... (as Keras's
saving_lib names them, whatever the layers' own names).
"""

import re

from . import _h5, keras_training, state
from ._guard import FileFormatError


def _snake(name):
    """Keras's naming.to_snake_case."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _variables(layer):
    """A layer's variables in Keras's saving order: trainable ones first, then the others."""
    weights = layer.weights
    return [w for w in weights if w.trainable] + [w for w in weights if not w.trainable]


def plan(model, prefix=""):
    """[(group path, layer or model, variables)] for `model` and its layers, in Keras's layout."""
    entries = [(prefix + "vars", model, [])]
    used = {}
    for layer in model.layers:
        key = _snake(type(layer).__name__)
        used[key] = used.get(key, -1) + 1
        path = f"{prefix}layers/{key}" + (f"_{used[key]}" if used[key] else "")
        if hasattr(layer, "layers"):
            entries += plan(layer, path + "/")
        else:
            entries.append((path + "/vars", layer, _variables(layer)))
    return entries


def write(h5file, model, optimizer=True):
    """Writes the model's variables (and, if it is compiled and `optimizer`, its optimizer's)."""
    for path, owner, variables in plan(model):
        group = h5file.create_group(path)
        group.attrs["name"] = owner.name
        for i, var in enumerate(variables):
            group.create_dataset(str(i), data=var._value)
    if optimizer and getattr(model, "optimizer", None) is not None:
        group = h5file.create_group("optimizer/vars")
        group.attrs["name"] = model.optimizer.name
        arrays = keras_training.optimizer_arrays(model.optimizer, model.trainable_weights)
        for i, (_, value) in enumerate(arrays):
            group.create_dataset(str(i), data=value)


def weight_elements(groups):
    """The floating-point elements the file holds for layers (the load budget), from `_h5.survey`."""
    return sum(elements for path, (_, elements) in groups.items() if path.startswith("layers/"))


def read(h5file, groups, model, what):
    """Reads the layers' weights into `model`, after checking every dataset against it.

    Raises:
        FileFormatError: if the file's layers or their datasets do not match the model.
    """
    entries = [(path, owner, variables) for path, owner, variables in plan(model) if variables]
    held = sorted(p for p, (n, _) in groups.items() if p.startswith("layers/") and n)
    expected = sorted(path for path, _, _ in entries)
    if held != expected:
        raise FileFormatError(
            f"{what} holds weights for {_describe(held)}; the model has weights in "
            f"{_describe(expected)}. The file belongs to another architecture.")
    datasets = []
    for path, owner, variables in entries:
        group = _h5.child(h5file, path, "group", what)
        if groups[path][0] != len(variables):
            raise FileFormatError(f"{what}: '{path}' holds {groups[path][0]} datasets; layer "
                                  f"'{owner.name}' has {len(variables)} weights.")
        for i, var in enumerate(variables):
            dataset = _h5.child(group, str(i), "dataset", what)
            _h5.check_weight(dataset, var.shape, var.path, what)
            datasets.append((var, dataset))
    values = {id(var): _h5.read_weight(ds, var.shape, var.path, what) for var, ds in datasets}
    state.assign_weights(model, [values[id(w)] for w in model.weights], what)


def _describe(paths):
    if not paths:
        return "no layer"
    shown = ", ".join(p[:-len("/vars")] for p in paths[:6])
    return shown + (f" and {len(paths) - 6} more" if len(paths) > 6 else "")


def optimizer_datasets(h5file, groups, what):
    """The datasets of `optimizer/vars` in order (0, 1, ...), or None when there are none."""
    count = groups.get("optimizer/vars", (0, 0))[0]
    if not count:
        return None
    group = _h5.child(h5file, "optimizer/vars", "group", what)
    return [_h5.child(group, str(i), "dataset", what) for i in range(count)]
