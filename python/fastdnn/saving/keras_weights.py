"""Keras 3's weights layout: `model.weights.h5` inside a `.keras` file, and `.weights.h5` files.

    vars                       attrs name=<model name> (a Sequential's own variables: none)
    layers/<key>/vars/<i>      layer variable i: the trainable ones, then the others, each in
                               creation order (Dense: kernel, bias; BatchNormalization: gamma,
                               beta, moving_mean, moving_variance), attrs name=<layer name>
    layers/<key>/layers/...    a nested Sequential's layers, the same way
    <attribute>/vars           a subclassed model's (or a layer's) sublayer held by an attribute
    optimizer/vars/<i>         the optimizer's variables in Keras's order (keras_training.py)

<key> is the layer's class in snake_case, numbered among the layers of that class in its model
by position: dense, dense_1, batch_normalization, p_re_lu, sequential, ... (as Keras's
saving_lib names them, whatever the layers' own names).
"""

import re

from .._registry import get_registered_object
from . import _h5, keras_training, state
from ._guard import FileFormatError


def _snake(name):
    """Keras's naming.to_snake_case."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _variables(layer):
    """A layer's own variables in Keras's saving order: trainable ones first, then the others
    (a sublayer's are saved under the sublayer's own path)."""
    own = layer._weights
    return [w for w in own if w.trainable] + [w for w in own if not w.trainable]


_INTERNAL = frozenset({"_sublayers", "_layers", "_graph_layers", "_tracked_metrics"})


def _name_key(name):
    return f"~{name}" if name.startswith("_") else name  # Keras visits private attributes last


def _children(obj):
    """(attribute name, value) pairs whose values hold layers, in the order Keras's saving_lib
    walks them: a Sequential's or functional model's `layers` first, then the attributes by
    name (private ones last), a subclassed model's `layers` property among them."""
    graph = isinstance(obj, (get_registered_object("Sequential"), get_registered_object("Functional")))
    attrs = {name: value for name, value in vars(obj).items()
             if name not in _INTERNAL and not name.startswith("__")}
    if isinstance(obj, get_registered_object("Model")):
        attrs["layers"] = obj.layers
    ordered = [("layers", attrs.pop("layers"))] if graph else []
    return ordered + sorted(attrs.items(), key=lambda item: _name_key(item[0]))


def _is_layer(value):
    return hasattr(value, "_weights") and hasattr(value, "_sublayers")


def plan(model, prefix="", visited=None):
    """[(group path, layer or model, variables)] for `model` and everything in it, in Keras's
    layout: each object's own variables at "<path>/vars", a layer held by an attribute at
    "<path>/<attribute>", one in a list at "<path>/<attribute>/<class, numbered>", each once
    (where Keras's walk first reaches it)."""
    visited = set() if visited is None else visited
    visited.add(id(model))
    entries = [(prefix + "vars", model, _variables(model))]
    for attr, value in _children(model):
        if _is_layer(value):
            if id(value) not in visited:
                entries += plan(value, f"{prefix}{attr}/", visited)
        elif isinstance(value, (list, tuple, dict)):
            used = {}
            for item in (value.values() if isinstance(value, dict) else value):
                if not _is_layer(item):
                    continue
                key = _snake(type(item).__name__)
                used[key] = used.get(key, -1) + 1
                path = f"{prefix}{attr}/{key}" + (f"_{used[key]}" if used[key] else "")
                if id(item) not in visited:
                    entries += plan(item, path + "/", visited)
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
    """The floating-point elements the file holds for the model (the load budget: everything but
    the optimizer's), from `_h5.survey`."""
    return sum(elements for path, (_, elements) in groups.items() if not path.startswith("optimizer/"))


def read(h5file, groups, model, what):
    """Reads the layers' weights into `model`, after checking every dataset against it.

    Raises:
        FileFormatError: if the file's layers or their datasets do not match the model.
    """
    entries = [(path, owner, variables) for path, owner, variables in plan(model) if variables]
    held = sorted(p for p, (n, _) in groups.items() if not p.startswith("optimizer/") and n)
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
