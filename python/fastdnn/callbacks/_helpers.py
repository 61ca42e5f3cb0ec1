"""What the callbacks share: printing, and the optimizer and monitor contracts they rely on.

The optimizer contract: `optimizer.learning_rate` is the rate (a float or a variable holding
one; settable unless `optimizer.schedule` is a schedule), `optimizer.last_learning_rate` the
rate the latest step used (schedule and `decay=` applied), `optimizer.iterations` the step
count, and `momentum` (SGD) or `beta_1` (Adam family) a float that the update reads at each
step.
"""

import numbers
import sys
import warnings


def print_text(text):
    sys.stdout.write(text)  # looked up at each call: stdout may have been replaced
    sys.stdout.flush()


def learning_rate_of(model):
    """The model's current learning rate as a float (a schedule evaluated at the optimizer's step
    count; `decay=` not applied), or None when the model has no optimizer with a learning rate."""
    optimizer = getattr(model, "optimizer", None)
    learning_rate = getattr(optimizer, "learning_rate", None)
    if learning_rate is None:
        return None
    if callable(learning_rate):  # an optimizer of another kind, holding its schedule there
        learning_rate = learning_rate(getattr(optimizer, "iterations", 0))
    return float(learning_rate)


def used_learning_rate_of(model):
    """The rate the model's latest training step used (schedule and `decay=` applied), or None
    when the model has no optimizer with a learning rate."""
    last = getattr(getattr(model, "optimizer", None), "last_learning_rate", None)
    return float(last) if last is not None else learning_rate_of(model)


def optimizer_of(callback):
    """The optimizer a learning-rate callback acts on.

    Raises:
        ValueError: if the model has no optimizer with a `learning_rate`.
    """
    optimizer = getattr(callback.model, "optimizer", None)
    if not hasattr(optimizer, "learning_rate"):
        raise ValueError(f"{type(callback).__name__} needs a compiled model: the optimizer must "
                         f'have a "learning_rate" attribute. Received: optimizer={optimizer!r}')
    return optimizer


def set_learning_rate(optimizer, value):
    """Assigns a float learning rate.

    Raises:
        TypeError: if the optimizer's learning rate is a schedule, as in Keras 3.
    """
    if getattr(optimizer, "schedule", None) is not None or callable(optimizer.learning_rate):
        raise TypeError("This optimizer was created with a `LearningRateSchedule` object as its "
                        "`learning_rate` constructor argument, hence its learning rate is not "
                        "settable. Pass a float learning rate to use this callback.")
    optimizer.learning_rate = float(value)


def is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def monitor_mode(callback, monitor, mode):
    """'min' or 'max' for `monitor`: `mode` unless "auto", then from the metric's name (loss and
    error-like names are minimized, accuracy-like ones maximized) or the metric's `_direction`.

    Raises:
        ValueError: in "auto" mode, for a metric whose direction cannot be told.
    """
    if mode in ("min", "max"):
        return mode
    name = monitor[4:] if monitor.startswith("val_") else monitor
    model_metrics = getattr(callback.model, "compiled_metrics", None) or []
    for metric in model_metrics:
        if getattr(metric, "name", None) == name and hasattr(metric, "_direction"):
            return "max" if metric._direction == "up" else "min"
    lowered = name.lower()
    if lowered.endswith("loss") or any(s in lowered for s in ("error", "crossentropy", "hinge",
                                                               "divergence", "mse", "mae")):
        return "min"
    if any(s in lowered for s in ("acc", "auc", "precision", "recall", "f1", "fmeasure")):
        return "max"
    raise ValueError(f"{type(callback).__name__} callback received monitor={monitor} but fastdnn "
                     "isn't able to automatically determine whether that metric should be "
                     "maximized or minimized. Pass `mode='max'` in order to use the highest "
                     "metric value, or `mode='min'` in order to use the lowest value.")


def check_mode(callback, mode):
    if mode not in ("auto", "min", "max"):
        warnings.warn(f"{type(callback).__name__} mode {mode} is unknown, fallback to auto mode.",
                      stacklevel=3)
        return "auto"
    return mode
