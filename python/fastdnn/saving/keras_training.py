"""Compile settings and optimizer state in Keras 3's form, for `.keras` and `.h5` files.

Compile settings: Keras's `compile_config` (`.keras`) or `training_config` (`.h5`, with the
optimizer under "optimizer_config"), each object as {"module", "class_name", "config",
"registered_name"}.

Optimizer state: Keras keeps it as one list of variables, in the order its `build` creates them:

    iteration, learning_rate (absent when it follows a schedule),
    slots: Adam, AdamW, Nadam, Adamax create their two per weight, interleaved
           (m0 v0 m1 v1 ...); SGD, Adagrad, RMSprop one slot over all weights at a time
           (v0 v1 ... then m0 m1 ... then average_gradient ...); AMSGrad's velocity_hat after,
    Nadam's u_product last.

(Checked against Keras 3.15 with `opt.build(model.trainable_variables)` and
`[v.path for v in opt.variables]` for every optimizer here.) fastdnn's book-era `decay=` becomes
Keras's InverseTimeDecay(lr, decay_steps=1, decay_rate=decay), the same learning rates.
"""

import math
import warnings

import numpy as np

from .. import optimizers, schedules
from . import _h5, keras_config
from ._guard import FileFormatError

OPTIMIZERS = ("SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Adamax", "Nadam")
_INTERLEAVED = ("Adam", "AdamW", "Nadam", "Adamax")
_SCHEDULES = ("ExponentialDecay", "PiecewiseConstantDecay", "InverseTimeDecay", "PolynomialDecay",
              "CosineDecay")
# Keras-only optimizer keys and the values under which they change nothing; the ema_* keys only
# matter with use_ema=True.
_OPTIMIZER_NO_OP = {"use_ema": (False,), "loss_scale_factor": (None,),
                    "gradient_accumulation_steps": (None, 1), "is_legacy_optimizer": (False,)}
_OPTIMIZER_IGNORED = {"ema_momentum", "ema_overwrite_frequency", "jit_compile"}
_COMPILE_KEYS = {"optimizer", "loss", "metrics", "loss_weights", "weighted_metrics",
                 "run_eagerly", "steps_per_execution", "jit_compile", "auto_scale_loss",
                 "sample_weight_mode", "optimizer_config"}


def _wrap(module, class_name, config, legacy):
    if legacy:
        return {"class_name": class_name, "config": config}
    return {"module": module, "class_name": class_name, "config": config, "registered_name": None}


def _strip(value):
    """A Keras object config without its module/registered_name keys (names pass as they are)."""
    if isinstance(value, dict):
        return {k: value[k] for k in ("class_name", "config") if k in value}
    return value


# ---- fastdnn -> Keras ---------------------------------------------------------------------------

def optimizer_to_keras(optimizer, legacy=False):
    """Keras 3's config of a fastdnn optimizer.

    Raises:
        ValueError: for an optimizer or learning-rate schedule Keras cannot rebuild.
    """
    name = type(optimizer).__name__
    if name not in OPTIMIZERS or type(optimizer) is not getattr(optimizers, name):
        raise ValueError(f"Optimizer {optimizer!r} has no Keras 3 counterpart; a Keras file can hold "
                         f"{', '.join(OPTIMIZERS)}. Save to fastdnn's own format instead.")
    config = optimizer.get_config()
    config.pop("decay", None)  # expressed as an InverseTimeDecay schedule below
    lr = optimizer.schedule or float(optimizer.learning_rate)
    if optimizer.decay:
        if callable(lr):
            raise ValueError(f"Optimizer '{optimizer.name}' combines a learning-rate schedule with "
                             "`decay=`, which Keras 3 cannot express; drop one of them.")
        lr = schedules.InverseTimeDecay(float(lr), decay_steps=1, decay_rate=optimizer.decay)
    if callable(lr):
        if type(lr).__name__ not in _SCHEDULES or type(lr) is not getattr(schedules, type(lr).__name__):
            raise ValueError(f"The learning rate of optimizer '{optimizer.name}' is {lr!r}; a Keras "
                             f"file can hold a number or one of {', '.join(_SCHEDULES)}.")
        config["learning_rate"] = _wrap("keras.optimizers.schedules", type(lr).__name__,
                                        lr.get_config(), False)  # nested: full form in .h5 too
    return _wrap("keras.optimizers", name, config, legacy)


def _structure(value, leaf):
    """`leaf` applied to every entry of a loss/metric argument (a name, a config, or a list or
    dict of them)."""
    if isinstance(value, list):
        return [_structure(v, leaf) for v in value]
    if isinstance(value, dict) and "class_name" not in value:
        return {k: _structure(v, leaf) for k, v in value.items()}
    return leaf(value)


def _loss_to_keras(config, legacy):
    """Keras's form of one serialized loss (a name stays a name)."""
    if config is None or isinstance(config, str):
        return config
    if config["class_name"] == "function":
        return config if legacy else {"module": "builtins", **config, "registered_name": "function"}
    return _wrap("keras.losses", config["class_name"], config["config"], legacy)


def _metric_to_keras(config, legacy):
    """Keras's form of one serialized metric."""
    if config is None or isinstance(config, str):
        return config
    if config["class_name"] == "function":
        return config if legacy else {"module": "builtins", **config, "registered_name": "function"}
    inner = dict(config["config"])
    if inner.get("dtype") is None:
        inner["dtype"] = "float32"
    return _wrap("keras.metrics", config["class_name"], inner, legacy)


def compile_to_keras(model, legacy=False):
    """Keras's compile_config (legacy: training_config) of a compiled model, or None, from its
    `get_compile_config()`.

    Raises:
        ValueError: for an optimizer Keras cannot rebuild.
    """
    settings = model.get_compile_config() if hasattr(model, "get_compile_config") else None
    if settings is None or settings.get("loss") is None:
        return None
    metrics_of = lambda key: _structure(settings.get(key), lambda m: _metric_to_keras(m, legacy))  # noqa: E731
    config = {"loss": _structure(settings["loss"], lambda l: _loss_to_keras(l, legacy)),
              "loss_weights": settings.get("loss_weights"),
              "metrics": metrics_of("metrics") or [], "weighted_metrics": metrics_of("weighted_metrics"),
              "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}
    optimizer = optimizer_to_keras(model.optimizer, legacy)
    if legacy:
        return {**config, "optimizer_config": optimizer}
    return {"optimizer": optimizer, **config}


# ---- Keras -> fastdnn ---------------------------------------------------------------------------

def optimizer_from_keras(value, what):
    """fastdnn's {"class_name", "config"} (or a name) for a Keras optimizer config.

    Raises:
        FileFormatError: for an optimizer fastdnn lacks or a Keras-only setting in use.
    """
    if isinstance(value, str):
        return value
    if not isinstance(value, dict) or not isinstance(value.get("config"), dict):
        raise FileFormatError(f"{what}: the optimizer config is not a {{'class_name', 'config'}} dict.")
    name = value.get("class_name")
    if name not in OPTIMIZERS:
        raise FileFormatError(f"{what}: the file's optimizer is {name!r:.100}; fastdnn has "
                              f"{', '.join(OPTIMIZERS)}.")
    config = dict(value["config"])
    keras_config.pop_settings(config, _OPTIMIZER_NO_OP, _OPTIMIZER_IGNORED, f"optimizer {name}", what)
    if isinstance(config.get("learning_rate"), dict):
        config["learning_rate"] = _strip(config["learning_rate"])
    return {"class_name": name, "config": config}


def compile_from_keras(config, what):
    """fastdnn's compile settings (`Model.compile_from_config`'s input) for Keras's
    compile_config or training_config, or None.

    Raises:
        FileFormatError: for a malformed config or settings fastdnn does not support.
    """
    if config is None:
        return None
    if not isinstance(config, dict):
        raise FileFormatError(f"{what}: the compile settings are not a dict.")
    extra = set(config) - _COMPILE_KEYS
    if extra:
        raise FileFormatError(f"{what}: the compile settings hold {sorted(extra)}, which fastdnn "
                              "does not support.")
    if config.get("sample_weight_mode") not in (None, [], {}):
        raise FileFormatError(f"{what}: the model was compiled with sample_weight_mode="
                              f"{config['sample_weight_mode']!r:.100}, which fastdnn does not support.")

    def entries(key):
        value = config.get(key)
        if value is not None and not isinstance(value, (str, list, dict)):
            raise FileFormatError(f"{what}: the compiled `{key}` {value!r:.200} is not a name, a config, "
                                  "or a list or dict of them.")
        return _structure(value, _strip)

    weights = config.get("loss_weights")
    if weights is not None and not isinstance(weights, (int, float, list, dict)):
        raise FileFormatError(f"{what}: the compiled loss_weights {weights!r:.200} are not numbers.")
    optimizer = config.get("optimizer", config.get("optimizer_config"))
    return {"optimizer": None if optimizer is None else optimizer_from_keras(optimizer, what),
            "loss": entries("loss"), "loss_weights": weights, "metrics": entries("metrics") or [],
            "weighted_metrics": entries("weighted_metrics")}


# ---- optimizer variables ------------------------------------------------------------------------

def _has_lr_variable(optimizer):
    return optimizer.schedule is None and not optimizer.decay


def layout(optimizer, count):
    """Keras's optimizer variables for `count` trainable weights, in order: ("iteration", None),
    ("learning_rate", None), (slot name, weight index) ..., ("u_product", None).

    Example:
        >>> from fastdnn import optimizers
        >>> layout(optimizers.Nadam(), 2)  # doctest: +NORMALIZE_WHITESPACE
        [('iteration', None), ('learning_rate', None), ('momentum', 0), ('velocity', 0),
         ('momentum', 1), ('velocity', 1), ('u_product', None)]
        >>> layout(optimizers.RMSprop(momentum=0.9), 2)[2:]
        [('velocity', 0), ('velocity', 1), ('momentum', 0), ('momentum', 1)]
    """
    entries = [("iteration", None)]
    if _has_lr_variable(optimizer):
        entries.append(("learning_rate", None))
    names = list(optimizer.slot_names())
    paired = names[:2] if type(optimizer).__name__ in _INTERLEAVED else []
    entries += [(slot, i) for i in range(count) for slot in paired]
    entries += [(slot, i) for slot in names[len(paired):] for i in range(count)]
    if isinstance(optimizer, optimizers.Nadam):
        entries.append(("u_product", None))
    return entries


def optimizer_arrays(optimizer, variables):
    """[(entry, array)] of the optimizer's state over `variables`, in Keras's order."""
    state = optimizer.get_state(variables)
    out = []
    for slot, index in layout(optimizer, len(variables)):
        if slot == "iteration":
            value = np.array(state["iterations"], np.int64)
        elif slot == "learning_rate":  # float64 (Keras: float32) so fastdnn resumes bit for bit;
            value = np.array(float(optimizer.learning_rate), np.float64)  # Keras casts on loading
        elif slot == "u_product":
            value = np.array(state["extra"]["u_product"], np.float64)
        else:
            value = state["slots"][slot][index]
        out.append(((slot, index), value))
    return out


def restore_state(model, datasets, what, strict=True):
    """Puts an optimizer state read from a Keras file (h5py datasets in Keras's order) into the
    compiled `model`'s optimizer, checking every dataset before reading any.

    A list of only `iteration` (and `learning_rate`) is what Keras saves before the first
    training step: the step count is restored and the slots start fresh.

    Raises:
        FileFormatError: if the datasets do not fit this optimizer and model (with strict=False,
            a warning instead, and the optimizer is left as it is, as Keras's load_weights does).
    """
    optimizer, variables = model.optimizer, model.trainable_weights
    entries = layout(optimizer, len(variables))
    header = 2 if _has_lr_variable(optimizer) else 1
    if len(datasets) not in (len(entries), header):
        message = (f"{what}: the file holds {len(datasets)} optimizer variables; a "
                   f"{type(optimizer).__name__} over these {len(variables)} trainable weights has "
                   f"{len(entries)} ({header} before its first step). Was it saved with another "
                   "optimizer?")
        if strict:
            raise FileFormatError(message)
        warnings.warn(message + " The optimizer state was not loaded.", stacklevel=3)
        return
    entries = entries[:len(datasets)]
    for (slot, index), dataset in zip(entries, datasets):  # check everything before reading
        if index is not None:
            _h5.check_weight(dataset, variables[index].shape, f"{slot} of {variables[index].path}",
                             what)
    state = optimizer.get_state(variables)
    learning_rate = None
    for (slot, index), dataset in zip(entries, datasets):
        if slot == "iteration":
            state["iterations"] = _h5.read_scalar(dataset, "iu", "the optimizer's step count", what)
        elif slot == "learning_rate":
            learning_rate = _h5.read_scalar(dataset, "f", "the learning rate", what)
        elif slot == "u_product":
            state["extra"] = {"u_product": _h5.read_scalar(dataset, "f", "Nadam's u_product", what)}
        else:
            state["slots"][slot][index] = _h5.read_weight(
                dataset, variables[index].shape, f"{slot} of {variables[index].path}", what)
    if learning_rate is not None and not (math.isfinite(learning_rate) and learning_rate > 0):
        raise FileFormatError(f"{what}: the saved learning rate is {learning_rate}; expected a "
                              "positive number.")
    try:
        optimizer.set_state(variables, state)
    except ValueError as e:
        raise FileFormatError(f"{what}: the saved optimizer state does not fit the model "
                              f"({e}).") from None
    if learning_rate is not None:
        optimizer.learning_rate = learning_rate
