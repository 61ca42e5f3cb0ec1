"""Translation between fastdnn's model configs and Keras 3's, for `.keras` and `.h5` files.

fastdnn's layers take Keras's arguments, so a layer's config carries over almost as it is.

* Out (`to_keras`): adds what Keras writes around a config (module, registered_name, the
  float32 dtype policy, build_config) and refuses, before anything is written, whatever Keras
  could not rebuild: a layer Keras lacks (RReLU, user layers), or a custom activation,
  initializer, regularizer or constraint.
* In (`from_keras`): strips Keras's additions again. A Keras-only key (quantization_config,
  renorm, lora_rank, a dtype policy, ...) is accepted when it holds a value under which it
  changes nothing; any other value, or a key fastdnn's layer does not take, raises a
  FileFormatError that names the key and the layer.

    fastdnn:  {"class_name": "Dense", "config": {"units": 3, "dtype": "float32", ...}}
    Keras 3:  {"module": "keras.layers", "class_name": "Dense", "registered_name": None,
               "config": {"units": 3, "dtype": {"class_name": "DTypePolicy", ...}, ...},
               "build_config": {"input_shape": [None, 4]}}
"""

import inspect
import numbers

from .. import activations, constraints, initializers, layers, regularizers
from .._registry import get_registered_name, get_registered_object
from ._guard import FileFormatError

KERAS_VERSION = "3.15.1"  # the Keras release whose file layouts fastdnn writes

SHARED_LAYERS = ("InputLayer", "Dense", "Flatten", "Activation", "BatchNormalization", "Dropout",
                 "AlphaDropout", "GaussianDropout", "GaussianNoise", "ReLU", "LeakyReLU", "PReLU",
                 "ELU", "Softmax", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
                 "Concatenate", "Dot", "Reshape", "Identity", "Lambda", "Normalization", "Rescaling",
                 "UnitNormalization", "LayerNormalization")
MODELS = ("Sequential", "Functional")

POLICY = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
          "registered_name": None}

# Config keys whose values are objects of a family: (suffix, module, Keras module, the classes
# Keras 3 has too).
_FAMILIES = (
    ("_initializer", initializers, "keras.initializers", initializers._CLASSES),
    ("_regularizer", regularizers, "keras.regularizers",
     (regularizers.L1, regularizers.L2, regularizers.L1L2, regularizers.OrthogonalRegularizer)),
    ("_constraint", constraints, "keras.constraints",
     (constraints.MaxNorm, constraints.MinMaxNorm, constraints.NonNeg, constraints.UnitNorm)),
)

# Keras-only layer keys and the values under which they change nothing. A key in _IGNORED_WITH
# only matters when another key is set (lora_alpha without lora_rank, renorm_* without renorm).
_NO_OP = {
    "Dense": {"quantization_config": (None,), "lora_rank": (None, 0)},
    "BatchNormalization": {"renorm": (False,)},
    "InputLayer": {"sparse": (False, None), "ragged": (False, None), "optional": (False, None)},
    "Flatten": {"data_format": ("channels_last", None)},
}
_IGNORED_WITH = {"lora_alpha", "renorm_clipping", "renorm_momentum"}
_ALIASES = {"LeakyReLU": {"alpha"}}  # the Keras 2 spelling, which fastdnn's LeakyReLU takes too
_ENTRY_KEYS = {"module", "class_name", "config", "registered_name", "build_config",
               "shared_object_id", "compile_config", "keras_version", "backend", "name", "inbound_nodes"}
_INITIALIZER_AXES = ("input_axes", "output_axes")  # Keras 3.1x's VarianceScaling additions


# ---- fastdnn -> Keras ---------------------------------------------------------------------------

def to_keras(model, legacy=False):
    """Keras 3's config of a fastdnn model: Sequential, functional, or a subclassed model (whose
    class Keras must know too: register it on both sides with
    `register_keras_serializable`).

    Args:
        model: a fastdnn model.
        legacy: the `.h5` form (entries hold class_name and config only, as Keras writes them
            into `model_config`) instead of the `.keras` form.

    Example:
        >>> import fastdnn
        >>> model = fastdnn.Sequential([fastdnn.Input(shape=[4]), fastdnn.layers.Dense(2)])
        >>> config = to_keras(model)
        >>> [entry["class_name"] for entry in config["config"]["layers"]]
        ['InputLayer', 'Dense']
        >>> config["config"]["layers"][1]["config"]["dtype"]["class_name"]
        'DTypePolicy'

    Raises:
        ValueError: for a layer or an object Keras 3 cannot rebuild, or repeated layer names.
    """
    _check_names(model)
    return _model_to_keras(model, legacy)


def _builtin(name):
    return get_registered_object(name)


def _model_to_keras(model, legacy):
    if isinstance(model, _builtin("Sequential")):
        return _sequential(model, legacy)
    if isinstance(model, _builtin("Functional")):
        return _functional(model, legacy)
    return _subclassed(model, legacy)


def _is_model(layer):
    return isinstance(layer, _builtin("Model"))


def _entry(class_name, module, config, legacy, input_shape=None):
    if legacy:
        return {"class_name": class_name, "config": config}
    entry = {"module": module, "class_name": class_name, "config": config, "registered_name": None}
    if input_shape is not None:
        entry["build_config"] = {"input_shape": list(input_shape)}
    return entry


def _check_names(model):
    seen = set()
    for layer in model.layers:
        if layer.name in seen:
            raise ValueError(f"Model '{model.name}' has two layers named '{layer.name}'; Keras files "
                             "identify layers by name, so give each a unique `name=`.")
        seen.add(layer.name)
        if hasattr(layer, "layers"):
            _check_names(layer)


def _sequential(model, legacy):
    shape = model.input_shape
    if shape is None and model.weights:
        raise ValueError(f"Model '{model.name}' has weights but no known input shape, which a Keras "
                         "file needs to rebuild it: call it on data, or model.build(input_shape), "
                         "before saving.")
    shapes = [None] * len(model.layers)
    if model.built and model.layers:  # each layer's input shape, for its build_config
        shapes = [tuple(shape)]
        for layer in model.layers[:-1]:
            shapes.append(tuple(layer.compute_output_shape(shapes[-1])))
    entries = []
    if shape is not None:
        entries.append(_entry("InputLayer", "keras.layers", {
            "batch_shape": list(shape), "dtype": "float32", "sparse": False, "ragged": False,
            "name": "input_layer", "optional": False}, legacy))
    for layer, input_shape in zip(model.layers, shapes):
        if _is_model(layer):
            entries.append(_model_to_keras(layer, legacy))
        else:
            entries.append(_layer_entry(layer, legacy, input_shape if layer.weights else None))
    config = {"name": model.name, "trainable": model.trainable, "dtype": dict(POLICY),
              "layers": entries}
    if shape is not None:
        config["build_input_shape"] = list(shape)
    return _entry("Sequential", "keras", config, legacy, shape)


def _functional(model, legacy):
    """Keras's "Functional" entry: the graph of `model.get_config()`, each layer in Keras's form."""
    config = model.get_config()
    by_name = {layer.name: layer for layer in model.layers}
    entries = []
    for item in config["layers"]:
        layer = by_name[item["name"]]
        if _is_model(layer):
            entry = _model_to_keras(layer, legacy)
        elif type(layer).__name__ == "InputLayer" and type(layer) is layers.InputLayer:
            entry = _entry("InputLayer", "keras.layers", {
                "batch_shape": list(layer.batch_shape), "dtype": "float32", "sparse": False,
                "ragged": False, "name": layer.name, "optional": False}, legacy)
        else:
            entry = _layer_entry(layer, legacy, _build_shape(layer))
        entry["name"] = layer.name
        entry["inbound_nodes"] = item["inbound_nodes"]
        entries.append(entry)
    inner = {"name": config["name"], "trainable": config["trainable"], "layers": entries,
             "input_layers": config["input_layers"], "output_layers": config["output_layers"]}
    if legacy:
        return {"class_name": "Functional", "config": inner}
    return {"module": "keras.src.models.functional", "class_name": "Functional", "config": inner,
            "registered_name": "Functional", "build_config": {"input_shape": None}}


def _subclassed(model, legacy):
    """A subclassed model's entry: its class, registered name and `get_config()`."""
    cls = type(model)
    registered = get_registered_name(cls)
    if legacy:
        raise ValueError(f"Model '{model.name}' is a subclassed model ({cls.__name__}); a legacy `.h5` file "
                         "holds Sequential and functional models only, as in Keras. Save it to a `.keras` "
                         "file (with its class registered by @keras.saving.register_keras_serializable()), "
                         "or to fastdnn's own format.")
    config = _custom_config(model)
    entry = {"module": None if registered != cls.__name__ else cls.__module__, "class_name": cls.__name__,
             "config": config, "registered_name": registered if registered != cls.__name__ else None}
    shape = getattr(model, "_build_input_shape", None)
    if shape is not None:
        entry["build_config"] = {"input_shape": list(shape)}
    return entry


def _custom_config(layer):
    config = layer.get_config()
    config.pop("batch_input_shape", None)
    if config.get("dtype") in (None, "float32"):
        config["dtype"] = dict(POLICY)
    return config


def _build_shape(layer):
    """The input shape(s) a layer was built for, as Keras's build_config holds them, or None."""
    if not layer.weights and type(layer).__name__ in ("Dropout", "Activation", "Flatten"):
        return None
    build = layer.get_build_config()
    return None if build is None else build["input_shape"]


def _layer_entry(layer, legacy, input_shape=None):
    """One (non-model) layer's entry: fastdnn's own layers in Keras's form, or a registered
    class of the user's with its own config."""
    cls = type(layer)
    registered = get_registered_name(cls)
    if registered != cls.__name__:
        entry = {"class_name": cls.__name__, "config": _custom_config(layer)}
        if not legacy:
            entry = {"module": cls.__module__, **entry, "registered_name": registered}
            if input_shape is not None:
                entry["build_config"] = {"input_shape": _to_lists(input_shape)}
        return entry
    entry = _entry(cls.__name__, "keras.layers", _layer_to_keras(layer), legacy)
    if not legacy and input_shape is not None:
        entry["build_config"] = {"input_shape": _to_lists(input_shape)}
    return entry


def _to_lists(shape):
    return [_to_lists(s) if isinstance(s, (list, tuple)) else s for s in shape]


def _layer_to_keras(layer):
    cls = type(layer).__name__
    if cls not in SHARED_LAYERS or type(layer) is not getattr(layers, cls):
        raise ValueError(
            f"Layer '{layer.name}' ({cls}) has no Keras 3 counterpart, so it cannot be saved to a "
            f"Keras `.keras` or `.h5` file. Keras files hold {', '.join(SHARED_LAYERS)}, nested "
            "models, and your own classes registered with @keras.saving.register_keras_serializable() "
            "(on both sides); save to fastdnn's own format (any other suffix, e.g. `model.fdnn`) "
            "instead.")
    config = layer.get_config()
    config.pop("batch_input_shape", None)
    config["dtype"] = dict(POLICY)
    for key in list(config):
        if key == "activation":
            config[key] = _activation_to_keras(layer.activation, layer)
        elif key == "activity_regularizer" or key.endswith(tuple(f[0] for f in _FAMILIES)):
            config[key] = _object_to_keras(getattr(layer, key), key, layer)
        elif key == "seed":
            config[key] = _seed_to_keras(config[key], f"layer '{layer.name}' ({cls})")
    if cls == "Dense" and config.get("activity_regularizer") is None:
        config.pop("activity_regularizer", None)  # Keras's Dense config has no such key
    if cls == "Flatten" and config.get("data_format") is None:
        config["data_format"] = "channels_last"
    return config


def _where(layer):
    return f"layer '{layer.name}' ({type(layer).__name__})"


def _seed_to_keras(seed, where):
    if seed is None or isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        return seed
    raise ValueError(f"The seed of {where} is {seed!r}; a Keras file holds integer seeds or None.")


def _activation_to_keras(fn, layer):
    name = getattr(fn, "__name__", None)
    try:
        known = activations.get(name) is fn
    except (ValueError, TypeError):
        known = False
    if not known:
        raise ValueError(f"The activation of {_where(layer)} is {fn!r}, not one of fastdnn's named "
                         "activations, so Keras could not rebuild it from a file.")
    return name


def _object_to_keras(value, key, layer):
    if key == "activity_regularizer":
        _, family, module, classes = _FAMILIES[1]
    else:
        _, family, module, classes = next(f for f in _FAMILIES if key.endswith(f[0]))
    obj = family.get(value)
    if obj is None:
        return None
    if type(obj) not in classes:
        raise ValueError(f"`{key}` of {_where(layer)} is {obj!r}, which Keras 3 cannot rebuild from a "
                         f"file (it knows the built-in {', '.join(c.__name__ for c in classes)}). "
                         "Save to fastdnn's own format instead.")
    config = obj.get_config()
    if "seed" in config:
        config["seed"] = _seed_to_keras(config["seed"], f"`{key}` of {_where(layer)}")
    return {"module": module, "class_name": type(obj).__name__, "config": config,
            "registered_name": None}


# ---- Keras -> fastdnn ---------------------------------------------------------------------------

def from_keras(entry, custom_objects, what):
    """fastdnn's {"class_name", "config"} for a Keras 3 (or legacy `.h5`) model config.

    Args:
        entry: the model's Keras config (config.json, or the `model_config` attribute).
        custom_objects: dict name -> class for layers and models of the user's own.
        what: the file, for messages.

    Example:
        >>> bn = {"module": "keras.layers", "class_name": "BatchNormalization",
        ...       "config": {"name": "bn", "renorm": True}, "registered_name": None}
        >>> from_keras({"class_name": "Sequential", "config": {"layers": [bn]}}, None, "f")
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        fastdnn.saving.FileFormatError: f: layer 'bn' (BatchNormalization) sets renorm=True, ...

    Raises:
        FileFormatError: for a malformed config, a Keras class fastdnn lacks, or a Keras-only
            setting that asks for behaviour fastdnn does not have.
    """
    try:
        return _model(entry, custom_objects or {}, what, set())
    except RecursionError:
        raise FileFormatError(f"{what}: the model config nests Sequential models too deeply.") from None


def _unwrap(entry, what, where):
    if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str) \
            or not isinstance(entry.get("config", {}), (dict, type(None))):
        raise FileFormatError(f"{what}: {where} is not a {{'class_name', 'config'}} dict.")
    extra = set(entry) - _ENTRY_KEYS
    if extra:
        raise FileFormatError(f"{what}: {where} has keys fastdnn does not know: {sorted(extra)}.")
    return entry["class_name"], dict(entry.get("config") or {})


def _custom_class(class_name, registered, custom_objects):
    """The user's class a config entry names (custom_objects, a scope, or the registry), or None
    for fastdnn's own classes and unknown names."""
    found = get_registered_object(class_name, custom_objects, registered)
    if found is None or found is _builtin(class_name) and class_name in (SHARED_LAYERS + MODELS + ("Model",)):
        return None
    return found


def _custom_entry(entry, class_name, config, where, what):
    config = dict(config)
    config["dtype"] = _policy(config.get("dtype"), where, what) if "dtype" in config else "float32"
    out = {"class_name": class_name, "config": config}
    if entry.get("registered_name"):
        out["registered_name"] = entry["registered_name"]
    if isinstance(entry.get("build_config"), dict):
        out["build_config"] = entry["build_config"]
    return out


def _model(entry, custom_objects, what, shared_ids):
    class_name, config = _unwrap(entry, what, "the model config")
    if _custom_class(class_name, entry.get("registered_name"), custom_objects) is not None:
        return _custom_entry(entry, class_name, config, f"model '{config.get('name')}' ({class_name})", what)
    if class_name in ("Functional", "Model"):
        return _functional_from_keras(config, custom_objects, what, shared_ids)
    if class_name != "Sequential":
        raise FileFormatError(f"{what} holds a Keras {class_name} model; fastdnn reads Sequential and "
                              "functional models, and subclassed models whose class is registered with "
                              "@keras.saving.register_keras_serializable() or passed in custom_objects.")
    where = f"Sequential model '{config.get('name')}'"
    extra = set(config) - {"name", "trainable", "dtype", "layers", "build_input_shape"}
    if extra:
        raise FileFormatError(f"{what}: {where} sets {sorted(extra)}, which fastdnn does not support.")
    _policy(config.get("dtype"), where, what)
    entries = config.get("layers")
    if not isinstance(entries, list):
        raise FileFormatError(f"{what}: {where} has no list of layers.")
    out = [_entry_from_keras(layer_entry, custom_objects, what, shared_ids) for layer_entry in entries]
    shape = config.get("build_input_shape")
    if shape is not None and not any(e["class_name"] == "InputLayer" for e in out):
        out.insert(0, {"class_name": "InputLayer", "config": {"batch_shape": shape}})
    return {"class_name": "Sequential",
            "config": {"name": config.get("name"), "trainable": config.get("trainable", True),
                       "layers": out}}


def _entry_from_keras(entry, custom_objects, what, shared_ids):
    """A layer entry of a Keras model: a nested model, or a layer."""
    if isinstance(entry, dict) and (entry.get("class_name") in MODELS + ("Model",) or (
            isinstance(entry.get("config"), dict) and "input_layers" in entry["config"])):
        return _model(entry, custom_objects, what, shared_ids)
    return _layer(entry, custom_objects, what, shared_ids)


def _functional_from_keras(config, custom_objects, what, shared_ids):
    """fastdnn's functional config from Keras's (3, or 2 from a legacy `.h5`): each layer's entry
    translated, the graph (inbound nodes, input and output layers) kept."""
    where = f"functional model '{config.get('name')}'"
    extra = set(config) - {"name", "trainable", "layers", "input_layers", "output_layers", "dtype"}
    if extra:
        raise FileFormatError(f"{what}: {where} sets {sorted(extra)}, which fastdnn does not support.")
    entries = config.get("layers")
    if not isinstance(entries, list) or "input_layers" not in config or "output_layers" not in config:
        raise FileFormatError(f"{what}: {where} lacks its layers, input_layers or output_layers.")
    out = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise FileFormatError(f"{what}: a layer entry of {where} is not a dict.")
        nodes = entry.get("inbound_nodes", [])
        if not isinstance(nodes, list):
            raise FileFormatError(f"{what}: the inbound nodes of layer '{entry.get('name')}' are not a list.")
        translated = _entry_from_keras({k: v for k, v in entry.items() if k not in ("name", "inbound_nodes")},
                                       custom_objects, what, shared_ids)
        translated["name"] = entry.get("name") or (entry.get("config") or {}).get("name")
        translated["inbound_nodes"] = nodes
        out.append(translated)
    return {"class_name": "Functional",
            "config": {"name": config.get("name"), "trainable": config.get("trainable", True), "layers": out,
                       "input_layers": config["input_layers"], "output_layers": config["output_layers"]}}


def pop_settings(config, no_op, ignored, owner, what):
    """Removes from `config` the Keras settings fastdnn lacks: those in `no_op` (key -> the
    values that change nothing) and the `ignored` keys that never matter.

    Raises:
        FileFormatError: for a setting of `no_op` at a value that would change something.
    """
    for key, values in no_op.items():
        if key in config:
            value = config.pop(key)
            if not any(value is v or value == v and type(value) is type(v) for v in values):
                raise FileFormatError(f"{what}: {owner} sets {key}={value!r:.200}, which fastdnn "
                                      f"does not support (it supports {key}={values[0]!r}).")
    for key in ignored & set(config):
        config.pop(key)

def _layer(entry, custom_objects, what, shared_ids):
    class_name, config = _unwrap(entry, what, "a layer entry")
    where = f"layer '{config.get('name')}' ({class_name})"
    shared = entry.get("shared_object_id")
    if class_name == "__shared_object__" or shared is not None and shared in shared_ids:
        raise FileFormatError(f"{what}: a layer object appears in two places of the config (shared "
                              "between nested models), which fastdnn does not read; a layer shared within "
                              "one functional model (called twice) is read.")
    shared_ids.add(shared)
    config["dtype"] = _policy(config.get("dtype"), where, what)
    if _custom_class(class_name, entry.get("registered_name"), custom_objects) is not None:
        return _custom_entry(entry, class_name, config, where, what)
    if class_name not in SHARED_LAYERS:
        raise FileFormatError(f"{what}: {where} is a Keras layer fastdnn does not have. fastdnn "
                              f"reads {', '.join(SHARED_LAYERS)} and nested models (pass your own layer "
                              "classes in custom_objects, or register them).")
    pop_settings(config, _NO_OP.get(class_name, {}), _IGNORED_WITH, where, what)
    unknown = set(config) - _accepted(class_name)
    if unknown:
        raise FileFormatError(f"{what}: {where} sets {sorted(unknown)}, which fastdnn's "
                              f"{class_name} does not support.")
    for key in list(config):
        if key == "activation":
            config[key] = _activation(config[key], where, what)
        elif key == "activity_regularizer" or key.endswith(tuple(f[0] for f in _FAMILIES)):
            config[key] = _object(config[key], key, where, what)
    return {"class_name": class_name, "config": config}


_ACCEPTED = {}


def _accepted(class_name):
    """The keyword arguments fastdnn's layer class takes (its and its bases' __init__)."""
    if class_name not in _ACCEPTED:
        names = set(_ALIASES.get(class_name, ()))
        for klass in getattr(layers, class_name).__mro__:
            init = klass.__dict__.get("__init__")
            if init is not None:
                names |= {p.name for p in inspect.signature(init).parameters.values()
                          if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)} - {"self"}
        _ACCEPTED[class_name] = names
    return _ACCEPTED[class_name]


def _policy(value, where, what):
    """"float32" for a float32 dtype or dtype policy; FileFormatError for any other."""
    name = value
    if isinstance(value, dict):
        inner = value.get("config")
        name = inner.get("name") if isinstance(inner, dict) and value.get("class_name") in (
            "DTypePolicy", "FloatDTypePolicy") and set(inner) <= {"name"} else value
    if name in (None, "float32"):
        return "float32"
    raise FileFormatError(f"{what}: {where} uses dtype (policy) {name!r:.200}; fastdnn computes in "
                          "float32 only.")


def _activation(value, where, what):
    if isinstance(value, dict) and value.get("class_name") == "function" \
            and isinstance(value.get("config"), str):
        value = value["config"]
    if value is None:
        return None
    if not isinstance(value, str):
        raise FileFormatError(f"{what}: the activation of {where} is {value!r:.200}; fastdnn reads "
                              "activations given by name.")
    try:
        activations.get(value)
    except ValueError:
        raise FileFormatError(f"{what}: {where} uses activation {value!r:.100}, which fastdnn does "
                              "not have.") from None
    return value


def _object(value, key, where, what):
    """An initializer/regularizer/constraint config without Keras's wrapping keys."""
    if value is None or isinstance(value, str):
        return value
    class_name, config = _unwrap(value, what, f"`{key}` of {where}")
    if key.endswith("_initializer"):
        for axes in _INITIALIZER_AXES:
            if config.pop(axes, None) is not None:
                raise FileFormatError(f"{what}: `{key}` of {where} sets {axes}, which fastdnn's "
                                      "initializers do not support.")
    return {"class_name": class_name, "config": config}
