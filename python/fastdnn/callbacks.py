"""Callbacks: hooks that `fit`, `evaluate` and `predict` call at each stage of their loops.

The order the loops follow, as in Keras 3 (`logs` are dicts of floats, `val_` marks validation):

    fit:      on_train_begin, then per epoch: on_epoch_begin, per batch on_train_batch_begin(i)
              and on_train_batch_end(i, running averages), the validation run (evaluate, with the
              same CallbackList), on_epoch_end(epoch, train and val_ averages); on_train_end.
    evaluate: on_test_begin, per batch on_test_batch_begin/end(i, running averages), on_test_end.
    predict:  on_predict_begin, per batch on_predict_batch_begin/end(i, {"outputs": ...}),
              on_predict_end.
"""

import csv
import inspect
import math
import numbers
import os
import sys
import time
import warnings

import numpy as np

from .utils.progbar import Progbar


class Callback:
    """Base class of callbacks: override the hooks for the stages of interest.

    Attributes:
        model: the model being trained, evaluated or run (None until `set_model`); it has
            `stop_training`, `get_weights()` and `set_weights()`.
        params: dict of the loop's settings, e.g. `{"verbose": 1, "epochs": 10, "steps": 100}`.

    Example:
        >>> from fastdnn.callbacks import Callback, CallbackList
        >>> class StopAtLoss(Callback):
        ...     def on_epoch_end(self, epoch, logs=None):
        ...         if logs["loss"] < 0.1:
        ...             self.model.stop_training = True
        >>> class Model:
        ...     stop_training = False
        >>> model = Model()
        >>> CallbackList([StopAtLoss()], model=model).on_epoch_end(0, {"loss": 0.05})
        >>> model.stop_training
        True
    """

    model = None  # class defaults, so that a subclass that skips __init__ still works
    params = None

    def __init__(self):
        self.model = None
        self.params = None

    def set_model(self, model):
        """Sets the model the hooks act on."""
        self.model = model

    def set_params(self, params):
        """Sets the loop's settings (a dict)."""
        self.params = params

    def on_batch_begin(self, batch, logs=None):
        """Keras 2 alias of `on_train_batch_begin`, which calls it."""

    def on_batch_end(self, batch, logs=None):
        """Keras 2 alias of `on_train_batch_end`, which calls it."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of epoch `epoch` (0-based) of `fit`."""

    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of an epoch of `fit`; `logs` holds the epoch's training metrics and,
        when there is validation data, the validation metrics prefixed `val_`."""

    def on_train_batch_begin(self, batch, logs=None):
        """Called before training batch `batch` (0-based within the epoch)."""
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        """Called after a training batch; `logs` holds the metrics averaged over the epoch so
        far."""
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        """Called before a batch of `evaluate`, or of the validation run in `fit`."""

    def on_test_batch_end(self, batch, logs=None):
        """Called after a batch of `evaluate` or validation; `logs` holds the running
        averages."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Called before a batch of `predict`."""

    def on_predict_batch_end(self, batch, logs=None):
        """Called after a batch of `predict`; `logs` holds `{"outputs": ...}`."""

    def on_train_begin(self, logs=None):
        """Called at the start of `fit`."""

    def on_train_end(self, logs=None):
        """Called at the end of `fit`; `logs` is the last epoch's `logs`."""

    def on_test_begin(self, logs=None):
        """Called at the start of `evaluate`, or of the validation run in `fit`."""

    def on_test_end(self, logs=None):
        """Called at the end of `evaluate` or validation; `logs` holds the final metrics."""

    def on_predict_begin(self, logs=None):
        """Called at the start of `predict`."""

    def on_predict_end(self, logs=None):
        """Called at the end of `predict`."""


_HOOKS = tuple(sorted(name for name in vars(Callback) if name.startswith("on_")))


def _pythonify(logs):
    """Batch logs as plain floats (NumPy scalars and 1-element arrays too), sorted by name as
    Keras shows them."""
    result = {}
    for name, value in sorted(logs.items()):
        try:
            result[name] = float(value)
        except (TypeError, ValueError):
            result[name] = value
    return result


class CallbackList(Callback):
    """Calls each hook on every callback of a list, in order; what `fit` and friends use.

    Args:
        callbacks: a `Callback`, a list of them, or None.
        add_history: append a `History` unless the list holds one.
        add_progbar: append a `ProgbarLogger` unless the list holds one or
            `params["verbose"]` is 0.
        model: the model, passed on to every callback with `set_model`.
        **params: the loop's settings, passed on with `set_params`; `ProgbarLogger` reads
            `verbose`, `epochs` and `steps`.

    Raises:
        TypeError: if an element of `callbacks` is not a `Callback` instance.

    Example:
        >>> from fastdnn.callbacks import CallbackList, LambdaCallback
        >>> seen = []
        >>> cbs = CallbackList([LambdaCallback(on_epoch_end=lambda e, logs: seen.append(e))],
        ...                    add_history=True, verbose=0, epochs=1, steps=1)
        >>> cbs.on_train_begin(); cbs.on_epoch_end(0, {"loss": 0.5}); cbs.on_train_end()
        >>> seen, cbs.callbacks[-1].history
        ([0], {'loss': [0.5]})
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None,
                 **params):
        super().__init__()
        if callbacks is None:
            callbacks = []
        elif isinstance(callbacks, Callback):
            callbacks = [callbacks]
        self.callbacks = []
        for callback in callbacks:
            self.append(callback)
        self._history = next((c for c in self.callbacks if isinstance(c, History)), None)
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        has_progbar = any(isinstance(c, ProgbarLogger) for c in self.callbacks)
        if add_progbar and not has_progbar and params.get("verbose", 1) != 0:
            self.callbacks.append(ProgbarLogger())
        self.set_model(model)
        self.set_params(params)

    @property
    def wants_train_batches(self):
        """Whether any callback overrides a per-batch training hook. When none does, `fit`
        skips the per-batch calls and the per-batch logs, as Keras does."""
        hooks = ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end")
        # A class override, or an instance attribute (LambdaCallback's functions).
        return any(getattr(type(c), h) is not getattr(Callback, h) or h in vars(c)
                   for c in self.callbacks for h in hooks)

    def append(self, callback):
        """Adds a callback at the end of the list."""
        if not isinstance(callback, Callback):
            raise TypeError("Each callback must be an instance of `fastdnn.callbacks.Callback` "
                            f"(a subclass instance, not the class). Received: {callback!r}")
        self.callbacks.append(callback)

    def set_model(self, model):
        """Sets the model on every callback, and `model.history` to the list's `History`."""
        if model is None:
            return
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for callback in self.callbacks:
            callback.set_model(model)

    def set_params(self, params):
        """Sets the loop's settings on every callback."""
        super().set_params(params)
        if params:
            for callback in self.callbacks:
                callback.set_params(params)

    # Positional `logs` for the epoch and begin/end hooks and `logs=` for the batch hooks, as
    # Keras calls them: LambdaCallback functions rely on it.
    def on_train_begin(self, logs=None):
        for callback in self.callbacks:
            callback.on_train_begin(logs or {})

    def on_train_end(self, logs=None):
        for callback in self.callbacks:
            callback.on_train_end(logs or {})

    def on_epoch_begin(self, epoch, logs=None):
        for callback in self.callbacks:
            callback.on_epoch_begin(epoch, logs or {})

    def on_epoch_end(self, epoch, logs=None):
        # One dict for all: a callback may add to it (as Keras's ReduceLROnPlateau adds
        # "learning_rate") and those after it, History last, see the addition.
        logs = {} if logs is None else logs
        for callback in self.callbacks:
            callback.on_epoch_end(epoch, logs)

    def on_batch_begin(self, batch, logs=None):
        for callback in self.callbacks:
            callback.on_batch_begin(batch, logs=logs or {})

    def on_batch_end(self, batch, logs=None):
        logs = _pythonify(logs or {})
        for callback in self.callbacks:
            callback.on_batch_end(batch, logs=logs)

    def on_train_batch_begin(self, batch, logs=None):
        for callback in self.callbacks:
            callback.on_train_batch_begin(batch, logs=logs or {})

    def on_train_batch_end(self, batch, logs=None):
        logs = _pythonify(logs or {})
        for callback in self.callbacks:
            callback.on_train_batch_end(batch, logs=logs)

    def on_test_begin(self, logs=None):
        for callback in self.callbacks:
            callback.on_test_begin(logs or {})

    def on_test_end(self, logs=None):
        for callback in self.callbacks:
            callback.on_test_end(logs or {})

    def on_test_batch_begin(self, batch, logs=None):
        for callback in self.callbacks:
            callback.on_test_batch_begin(batch, logs=logs or {})

    def on_test_batch_end(self, batch, logs=None):
        logs = _pythonify(logs or {})
        for callback in self.callbacks:
            callback.on_test_batch_end(batch, logs=logs)

    def on_predict_begin(self, logs=None):
        for callback in self.callbacks:
            callback.on_predict_begin(logs or {})

    def on_predict_end(self, logs=None):
        for callback in self.callbacks:
            callback.on_predict_end(logs or {})

    def on_predict_batch_begin(self, batch, logs=None):
        for callback in self.callbacks:
            callback.on_predict_batch_begin(batch, logs=logs or {})

    def on_predict_batch_end(self, batch, logs=None):  # outputs stay arrays: no _pythonify
        for callback in self.callbacks:
            callback.on_predict_batch_end(batch, logs=logs or {})


class History(Callback):
    """Records the `logs` of every epoch; `fit` returns it (and sets it as `model.history`).

    When the logs have no "learning_rate" (no scheduler callback logged it) and the model has an
    optimizer with a learning rate, the rate at the end of the epoch is recorded under that name
    too (a schedule evaluated at `optimizer.iterations`).

    Attributes:
        history: dict from metric name to the list of its values, one per epoch.
        epoch: the indices of the epochs recorded by the latest `fit`.

    Example:
        >>> from fastdnn.callbacks import History
        >>> h = History()
        >>> h.on_train_begin()
        >>> for epoch, loss in enumerate([0.9, 0.5]):
        ...     h.on_epoch_end(epoch, {"loss": loss})
        >>> h.epoch, h.history
        ([0, 1], {'loss': [0.9, 0.5]})
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []  # `history` is kept: a History passed to two fits appends to it

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        logs = logs or {}
        for name, value in logs.items():
            self.history.setdefault(name, []).append(value)
        if "learning_rate" not in logs:  # unless a scheduler callback already logged it
            learning_rate = _learning_rate_of(self.model)
            if learning_rate is not None:
                self.history.setdefault("learning_rate", []).append(learning_rate)
        if self.model is not None:
            self.model.history = self


class ProgbarLogger(Callback):
    """Prints a progress bar per epoch of `fit`, and one for `evaluate` and `predict`.

    Reads `params["verbose"]` (0 silent, 1 live bar, 2 one line per epoch, "auto" = 1),
    `params["epochs"]` (an "Epoch i/n" header is printed when above 1) and `params["steps"]`
    (batches per epoch, None if unknown). The validation run inside `fit` shows no bar of its
    own: its `val_` metrics appear on the epoch's final line.

    Example:
        >>> from fastdnn.callbacks import ProgbarLogger
        >>> logger = ProgbarLogger()
        >>> logger.set_params({"verbose": 2, "epochs": 1, "steps": 2})
        >>> logger.on_train_begin(); logger.on_epoch_begin(0)
        >>> logger.on_epoch_end(0, {"loss": 0.25})  # doctest: +ELLIPSIS
        2/2 - 0s - ...s/step - loss: 0.2500
    """

    def __init__(self):
        super().__init__()
        self.seen = 0
        self.progbar = None
        self.target = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False

    def set_params(self, params):
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else verbose
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def on_train_begin(self, logs=None):
        self._called_in_fit = True  # from here the validation runs of fit stay silent

    def on_train_end(self, logs=None):
        self._called_in_fit = False  # so that a later evaluate with this logger shows its bar

    def on_epoch_begin(self, epoch, logs=None):
        self._reset_progbar()
        if self.verbose and self.epochs > 1:
            _print(f"Epoch {epoch + 1}/{self.epochs}\n")

    def on_epoch_end(self, epoch, logs=None):
        self._finalize_progbar(logs)

    def on_train_batch_end(self, batch, logs=None):
        self._update_progbar(batch, logs)

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset_progbar()

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update_progbar(batch, logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize_progbar(logs)

    def on_predict_begin(self, logs=None):
        self._reset_progbar()

    def on_predict_batch_end(self, batch, logs=None):
        self._update_progbar(batch, None)  # the outputs are not metrics

    def on_predict_end(self, logs=None):
        self._finalize_progbar(logs)

    def _reset_progbar(self):
        self.seen = 0
        # Batch logs are already averages over the epoch so far (the model's metrics keep
        # state), so the bar shows them as given: stateless_metrics=() averages nothing.
        self.progbar = Progbar(target=self.target, verbose=self.verbose, stateless_metrics=())

    def _update_progbar(self, batch, logs):
        if self.progbar is None:
            self._reset_progbar()
        self.seen = batch + 1
        if self.verbose == 1:
            self.progbar.update(self.seen, list((logs or {}).items()), finalize=False)

    def _finalize_progbar(self, logs):
        if self.progbar is None:
            self._reset_progbar()
        if self.target is None:  # learnt in the first epoch, known from then on
            self.target = self.seen
            self.progbar.target = self.target
        self.progbar.update(self.target, list((logs or {}).items()), finalize=True)


def _print(text):
    sys.stdout.write(text)  # looked up at each call: stdout may have been replaced
    sys.stdout.flush()


class LambdaCallback(Callback):
    """A callback made of plain functions, for simple hooks without a subclass.

    `on_epoch_begin`/`on_epoch_end` are called as `f(epoch, logs)`, `on_train_begin`/
    `on_train_end` as `f(logs)`, and the batch hooks as `f(batch, logs=logs)`.

    Args:
        on_epoch_begin, on_epoch_end, on_train_begin, on_train_end, on_train_batch_begin,
        on_train_batch_end: functions for those hooks, or None.
        **kwargs: functions for any other hook of `Callback`, by its name, e.g.
            `on_test_end=f`.

    Raises:
        ValueError: if a keyword argument is not the name of a hook.

    Example:
        >>> from fastdnn.callbacks import LambdaCallback
        >>> losses = []
        >>> cb = LambdaCallback(on_epoch_end=lambda epoch, logs: losses.append(logs["loss"]))
        >>> cb.on_epoch_end(0, {"loss": 0.3}); losses
        [0.3]
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        for name in kwargs:
            if name not in _HOOKS:
                raise ValueError(f"LambdaCallback received an unknown hook `{name}`, expected "
                                 f"one of {', '.join(_HOOKS)}. Received: {name}={kwargs[name]!r}")
        kwargs.update(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                      on_train_begin=on_train_begin, on_train_end=on_train_end,
                      on_train_batch_begin=on_train_batch_begin,
                      on_train_batch_end=on_train_batch_end)
        for name, function in kwargs.items():
            if function is not None:
                setattr(self, name, function)  # an instance attribute hides the method


# ---- learning-rate scheduling, early stopping, checkpoints, logging -----------------------------
# The optimizer contract these rely on: `optimizer.learning_rate` is a float or a schedule (any
# callable of the step count), `optimizer.iterations` the step count, and `momentum` (SGD) or
# `beta_1` (Adam family) a float that the update reads at each step.


def _learning_rate_of(model):
    """The model's current learning rate as a float (a schedule evaluated at the optimizer's step
    count), or None when the model has no optimizer with a learning rate."""
    optimizer = getattr(model, "optimizer", None)
    learning_rate = getattr(optimizer, "learning_rate", None)
    if learning_rate is None:
        return None
    if callable(learning_rate):
        learning_rate = learning_rate(getattr(optimizer, "iterations", 0))
    return float(learning_rate)


def _optimizer_of(callback):
    """The optimizer a learning-rate callback acts on.

    Raises:
        ValueError: if the model has no optimizer with a `learning_rate`.
    """
    optimizer = getattr(callback.model, "optimizer", None)
    if not hasattr(optimizer, "learning_rate"):
        raise ValueError(f"{type(callback).__name__} needs a compiled model: the optimizer must "
                         f'have a "learning_rate" attribute. Received: optimizer={optimizer!r}')
    return optimizer


def _set_learning_rate(optimizer, value):
    """Assigns a float learning rate.

    Raises:
        TypeError: if the optimizer's learning rate is a schedule, as in Keras 3.
    """
    if callable(optimizer.learning_rate):
        raise TypeError("This optimizer was created with a `LearningRateSchedule` object as its "
                        "`learning_rate` constructor argument, hence its learning rate is not "
                        "settable. Pass a float learning rate to use this callback.")
    optimizer.learning_rate = float(value)


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _monitor_mode(callback, monitor, mode):
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


def _check_mode(callback, mode):
    if mode not in ("auto", "min", "max"):
        warnings.warn(f"{type(callback).__name__} mode {mode} is unknown, fallback to auto mode.",
                      stacklevel=3)
        return "auto"
    return mode


class LearningRateScheduler(Callback):
    """Sets the optimizer's learning rate at the start of each epoch to `schedule(epoch, lr)` or
    `schedule(epoch)`, and logs it as "learning_rate" at the end of the epoch.

    Args:
        schedule: a function of the epoch index (0-based) and, optionally, the current learning
            rate (a float), returning the new learning rate. Whether it takes the rate is read
            from its signature (as Keras, a function whose signature can't be read is tried
            with both arguments first, then with the epoch alone on a TypeError).
        verbose: 1 to print a message at each update.

    Raises:
        ValueError (at epoch begin): if the model has no optimizer with a learning rate, or the
            schedule returns something that is not a number.
        TypeError (at epoch begin): if the optimizer's learning rate is a schedule object.

    Example:
        >>> import fastdnn as keras
        >>> def exponential_decay_fn(epoch):
        ...     return 0.01 * 0.1 ** (epoch / 20)
        >>> lr_scheduler = keras.callbacks.LearningRateScheduler(exponential_decay_fn)
        >>> # history = model.fit(X_train, y_train, epochs=30, callbacks=[lr_scheduler])
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise ValueError("Received an invalid value for `schedule`, expected a function "
                             f"schedule(epoch) or schedule(epoch, lr). Received: {schedule!r}")
        self.schedule = schedule
        self.verbose = verbose
        self._takes_lr = self._arity(schedule)

    @staticmethod
    def _arity(schedule):
        """True if `schedule` accepts (epoch, lr), False if only (epoch), None if unknown."""
        try:
            signature = inspect.signature(schedule)
        except (TypeError, ValueError):
            return None
        try:
            signature.bind(0, 0.0)
            return True
        except TypeError:
            return False

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = _optimizer_of(self)
        if self._takes_lr is None:  # Keras's way: try the new signature, then the old
            try:
                learning_rate = self.schedule(epoch, _learning_rate_of(self.model))
            except TypeError:
                learning_rate = self.schedule(epoch)
        elif self._takes_lr:
            learning_rate = self.schedule(epoch, _learning_rate_of(self.model))
        else:
            learning_rate = self.schedule(epoch)
        if not _is_number(learning_rate) and not (isinstance(learning_rate, np.ndarray)
                                                  and learning_rate.ndim == 0):
            raise ValueError("The output of the `schedule` function should be a float. "
                             f"Got: {learning_rate!r}")
        _set_learning_rate(optimizer, learning_rate)
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                   f"{float(learning_rate)}.\n")

    def on_epoch_end(self, epoch, logs=None):
        learning_rate = _learning_rate_of(self.model)
        if logs is not None and learning_rate is not None:
            logs["learning_rate"] = learning_rate


class ReduceLROnPlateau(Callback):
    """Multiplies the learning rate by `factor` when `monitor` has not improved for `patience`
    epochs (the book's performance scheduling). Logs the epoch's rate as "learning_rate".

    Args:
        monitor: the log entry to watch.
        factor: the factor the rate is multiplied by, below 1.
        patience: number of epochs with no improvement after which the rate is reduced.
        verbose: 1 to print a message at each reduction.
        mode: "min", "max", or "auto" (max when "acc" is in the monitor's name, as in Keras).
        min_delta: the change that counts as an improvement.
        cooldown: number of epochs to wait after a reduction before counting again.
        min_lr: the rate is never reduced below this.

    Raises:
        ValueError: if `factor >= 1`.

    Example:
        >>> import fastdnn as keras
        >>> lr_scheduler = keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=5)
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0, **kwargs):
        super().__init__()
        if factor >= 1.0:
            raise ValueError("ReduceLROnPlateau does not support a factor >= 1.0. "
                             f"Received factor={factor}")
        if "epsilon" in kwargs:  # Keras 2's name of min_delta
            min_delta = kwargs.pop("epsilon")
        if kwargs:
            raise TypeError(f"ReduceLROnPlateau received unknown arguments: {sorted(kwargs)}")
        self.monitor = monitor
        self.factor = factor
        self.min_lr = min_lr
        self.min_delta = min_delta
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.mode = _check_mode(self, mode)
        self._reset()

    def _reset(self):
        """Resets the counters and the best value."""
        if self.mode == "min" or (self.mode == "auto" and "acc" not in self.monitor):
            self.monitor_op = lambda a, b: np.less(a, b - self.min_delta)
            self.best = np.inf
        else:
            self.monitor_op = lambda a, b: np.greater(a, b + self.min_delta)
            self.best = -np.inf
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def in_cooldown(self):
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch, logs=None):
        logs = {} if logs is None else logs
        learning_rate = _learning_rate_of(self.model)
        if learning_rate is not None:
            logs["learning_rate"] = learning_rate  # the rate this epoch used
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` "
                          "which is not available. Available metrics are: "
                          f"{','.join(logs)}.", stacklevel=2)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self.monitor_op(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                optimizer = _optimizer_of(self)
                old_lr = _learning_rate_of(self.model)
                if old_lr > np.float32(self.min_lr):
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    _set_learning_rate(optimizer, new_lr)
                    if self.verbose > 0:
                        _print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate "
                               f"to {new_lr}.\n")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class EarlyStopping(Callback):
    """Stops training when `monitor` has stopped improving for `patience` epochs.

    Args:
        monitor: the log entry to watch.
        min_delta: the smallest change that counts as an improvement (its sign is ignored).
        patience: number of epochs with no improvement after which training stops.
        verbose: 1 to print a message when stopping or restoring.
        mode: "min", "max", or "auto" (from the metric: losses and errors down, accuracies up).
        baseline: the value to beat; training stops if the monitor does not beat it within
            `patience` epochs.
        restore_best_weights: at the end of training, set the model's weights back to those of
            the best epoch (once an epoch at or after `start_from_epoch` has been seen).
        start_from_epoch: number of warm-up epochs before improvement is watched.

    Raises:
        ValueError (at the first epoch end): in "auto" mode, for a monitor whose direction can't
            be told.

    Example:
        >>> import fastdnn as keras
        >>> early_stopping_cb = keras.callbacks.EarlyStopping(patience=10,
        ...                                                   restore_best_weights=True)
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor = monitor
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.min_delta = abs(min_delta)
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.mode = _check_mode(self, mode)
        self.monitor_op = None
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def _set_monitor_op(self):
        if _monitor_mode(self, self.monitor, self.mode) == "min":
            self.monitor_op, self._delta = np.less, -self.min_delta
        else:
            self.monitor_op, self._delta = np.greater, self.min_delta

    def on_train_begin(self, logs=None):
        self.wait = 0  # so that an instance can be reused
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()  # never set: the current ones are best
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # Only restart the wait on beating both the baseline and the previous best.
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            _print(f"Epoch {self.stopped_epoch + 1}: early stopping\n")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                _print("Restoring model weights from the end of the best epoch: "
                       f"{self.best_epoch + 1}.\n")
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        """`logs[monitor]`, or None with a warning when it is missing."""
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is not "
                          f"available. Available metrics are: {','.join(logs)}", stacklevel=2)
        return value

    def _is_improvement(self, value, reference):
        if reference is None:
            return True
        return bool(self.monitor_op(value - self._delta, reference))


class OneCycleScheduler(Callback):
    """The book's 1cycle schedule, set at each training batch, with cyclical momentum.

    Over `iterations` batches, with `half = (iterations - last_iterations) // 2`, the rate rises
    linearly from `start_rate` to `max_rate` over the first `half` batches, falls back linearly
    to `start_rate` over the next `half`, then falls linearly to `last_rate` over the remaining
    ones (and stays there if training goes on). When the optimizer has a nonzero `momentum`
    (SGD) or a `beta_1` (Adam family), that goes the other way: from `max_momentum` down to
    `min_momentum` while the rate rises, back up while it falls, then `max_momentum`.

    Args:
        iterations: total number of training batches, usually
            `math.ceil(len(X_train) / batch_size) * epochs`.
        max_rate: the peak learning rate (`max_lr` is accepted too, as in the book's 3rd
            edition).
        start_rate: the first and middle rate; default `max_rate / 10`.
        last_iterations: length of the final phase; default `iterations // 10 + 1`.
        last_rate: the final rate; default `start_rate / 1000`.
        max_momentum, min_momentum: the momentum's range; None for either leaves the momentum
            alone.

    Attributes:
        iteration: the number of batches seen so far (kept across `fit` calls, as in the book).

    Raises:
        ValueError: for a non-positive `iterations` or `max_rate`, or `last_iterations` outside
            [1, iterations].

    Example:
        >>> from fastdnn.callbacks import OneCycleScheduler
        >>> onecycle = OneCycleScheduler(iterations=100, max_rate=0.1)
        >>> onecycle.rate_at(0), onecycle.rate_at(44), onecycle.rate_at(88)
        (0.01, 0.1, 0.01)
        >>> onecycle.momentum_at(44)
        0.85
    """

    def __init__(self, iterations, max_rate=None, start_rate=None, last_iterations=None,
                 last_rate=None, max_momentum=0.95, min_momentum=0.85, *, max_lr=None,
                 start_lr=None, last_lr=None):
        super().__init__()
        max_rate = max_rate if max_rate is not None else max_lr if max_lr is not None else 1e-3
        start_rate = start_rate if start_rate is not None else start_lr
        last_rate = last_rate if last_rate is not None else last_lr
        if not (isinstance(iterations, numbers.Integral) and iterations > 0):
            raise ValueError("Received an invalid value for `iterations`, expected a positive "
                             f"integer. Received: iterations={iterations!r}")
        if not (_is_number(max_rate) and max_rate > 0):
            raise ValueError("Received an invalid value for `max_rate`, expected a positive "
                             f"float. Received: max_rate={max_rate!r}")
        self.iterations = int(iterations)
        self.max_rate = float(max_rate)
        self.start_rate = float(start_rate) if start_rate else self.max_rate / 10
        self.last_iterations = int(last_iterations or self.iterations // 10 + 1)
        if not 1 <= self.last_iterations <= self.iterations:
            raise ValueError("Received an invalid value for `last_iterations`, expected an "
                             f"integer in [1, iterations={self.iterations}]. Received: "
                             f"last_iterations={last_iterations!r}")
        self.half_iteration = (self.iterations - self.last_iterations) // 2
        self.last_rate = float(last_rate) if last_rate else self.start_rate / 1000
        self.max_momentum = max_momentum
        self.min_momentum = min_momentum
        self.iteration = 0
        self._momentum_name = None

    @staticmethod
    def _interpolate(iteration, iter1, iter2, value1, value2):
        return (value2 - value1) * (iteration - iter1) / (iter2 - iter1) + value1

    def rate_at(self, iteration):
        """The learning rate of batch `iteration` (0-based, counted over the whole training)."""
        half = self.half_iteration
        if iteration < half:
            return self._interpolate(iteration, 0, half, self.start_rate, self.max_rate)
        if iteration < 2 * half:
            return self._interpolate(iteration, half, 2 * half, self.max_rate, self.start_rate)
        iteration = min(iteration, self.iterations)
        return self._interpolate(iteration, 2 * half, self.iterations, self.start_rate,
                                 self.last_rate)

    def momentum_at(self, iteration):
        """The momentum of batch `iteration`: the mirror image of the rate's cycle."""
        half = self.half_iteration
        if iteration < half:
            return self._interpolate(iteration, 0, half, self.max_momentum, self.min_momentum)
        if iteration < 2 * half:
            return self._interpolate(iteration, half, 2 * half, self.min_momentum,
                                     self.max_momentum)
        return self.max_momentum

    def on_train_begin(self, logs=None):
        optimizer = _optimizer_of(self)
        self._momentum_name = None
        if self.max_momentum is not None and self.min_momentum is not None:
            if getattr(optimizer, "momentum", 0):  # plain SGD (momentum 0) stays plain
                self._momentum_name = "momentum"
            elif hasattr(optimizer, "beta_1"):
                self._momentum_name = "beta_1"

    def on_train_batch_begin(self, batch, logs=None):
        optimizer = _optimizer_of(self)
        _set_learning_rate(optimizer, self.rate_at(self.iteration))
        if self._momentum_name is not None:
            setattr(optimizer, self._momentum_name, float(self.momentum_at(self.iteration)))
        self.iteration += 1


class ModelCheckpoint(Callback):
    """Saves the model's weights at the end of each epoch (or every `save_freq` batches).

    The file is written by `model.save` (or `model.save_weights` with `save_weights_only`), so
    its suffix picks the format (`.keras`, `.h5`, or fastdnn's own for any other name), and
    atomically: a temporary file in the same directory is renamed over it, so that an
    interrupted save never leaves a half-written checkpoint.

    Args:
        filepath: where to save; may hold `{epoch}` (1-based, e.g. `{epoch:02d}`), `{batch}`
            (with an integer `save_freq`) and log entries (e.g. `{val_loss:.2f}`), formatted as
            `str.format`.
        monitor: the log entry that `save_best_only` compares.
        verbose: 1 to print a message at each save.
        save_best_only: save only when `monitor` improves on the best value so far (when the
            monitor is missing from the logs, skip with a warning).
        save_weights_only: save the weights alone instead of the whole model (with its
            optimizer state).
        mode: "min", "max", or "auto" (from the metric: losses down, accuracies up).
        save_freq: "epoch", or an integer number of batches between saves.
        initial_value_threshold: the value the monitor must beat for the first save.

    Raises:
        ValueError: for a `save_freq` that is neither "epoch" nor a positive integer.
        KeyError (when saving): if `filepath` names a key the logs do not have.

    Example:
        >>> import fastdnn as keras
        >>> checkpoint_cb = keras.callbacks.ModelCheckpoint("ckpt_{epoch:02d}.keras",
        ...                                                 save_best_only=True)
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__()
        if save_freq != "epoch" and not (isinstance(save_freq, numbers.Integral)
                                         and save_freq > 0):
            raise ValueError(f"Unrecognized save_freq: {save_freq}. Expected save_freq are "
                             "'epoch' or a positive integer (a number of batches).")
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.mode = _check_mode(self, mode)
        self.save_freq = save_freq
        self.best = initial_value_threshold
        self.monitor_op = None
        self._current_epoch = 0
        self._batches_seen_since_last_saving = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_seen_since_last_saving += 1
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            self._save_model(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs)

    def _get_file_path(self, epoch, batch, logs):
        try:
            if batch is None or "batch" not in self.filepath:
                return self.filepath.format(epoch=epoch + 1, **(logs or {}))
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **(logs or {}))
        except KeyError as e:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". '
                           f"Reason: {e}") from e

    def _should_save(self, epoch, logs, filepath):
        if not self.save_best_only:
            if self.verbose > 0:
                _print(f"\nEpoch {epoch + 1}: saving model to {filepath}\n")
            return True
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available, skipping.",
                          stacklevel=2)
            return False
        if self.monitor_op is None:
            mode = _monitor_mode(self, self.monitor, self.mode)
            self.monitor_op = np.less if mode == "min" else np.greater
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self.best is None or self.monitor_op(current, self.best):
            if self.verbose > 0:
                _print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                       f"{current:.5f}, saving model to {filepath}\n")
            self.best = current
            return True
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}\n")
        return False

    def _save_model(self, epoch, batch, logs):
        filepath = self._get_file_path(epoch, batch, logs)
        if self._should_save(epoch, logs, filepath):
            if self.save_weights_only:
                self.model.save_weights(filepath)
            else:
                self.model.save(filepath)


class TerminateOnNaN(Callback):
    """Stops training as soon as a batch's loss is NaN or infinite.

    Unlike Keras, the model keeps its last good weights: while this callback is attached, a
    step whose loss is not finite updates nothing (fastdnn's `Sequential.train_step` skips the
    optimizer and puts back the BatchNormalization statistics that step's forward pass moved).

    Example:
        >>> from fastdnn.callbacks import TerminateOnNaN
        >>> class Model:
        ...     stop_training = False
        >>> cb = TerminateOnNaN(); cb.set_model(Model())
        >>> cb.on_batch_end(3, {"loss": float("nan")})
        Batch 3: Invalid loss, terminating training
        >>> cb.model.stop_training
        True
    """

    def on_train_begin(self, logs=None):
        if self.model is not None:
            self.model._keep_last_good = True

    def on_train_end(self, logs=None):
        if self.model is not None and "_keep_last_good" in vars(self.model):
            del self.model._keep_last_good

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            _print(f"Batch {batch}: Invalid loss, terminating training\n")
            self.model.stop_training = True


class CSVLogger(Callback):
    """Writes one CSV row per epoch: the epoch index (0-based) and the logs, by sorted name.

    The columns are fixed by the first epoch's logs; when those have no `val_` entries, `val_`
    columns are added for each of them (as in Keras, for validation that starts later), and a
    missing value is written "NA". The file is flushed after each row.

    Args:
        filename: the CSV file.
        separator: the field separator.
        append: append to an existing file (writing the header only if it is empty) instead of
            overwriting it.

    Example:
        >>> import fastdnn as keras
        >>> csv_logger = keras.callbacks.CSVLogger("training.log")
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = append
        self.writer = None
        self.keys = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename, newline="") as f:
                    self.append_header = not f.readline()
            mode = "a"
        else:
            mode = "w"
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, mode, newline="")
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}

        def handle_value(value):
            if isinstance(value, str):
                return value
            if isinstance(value, np.ndarray) and value.ndim == 0:
                return value.item()
            if isinstance(value, (list, tuple, np.ndarray)):
                return f"\"[{', '.join(map(str, value))}]\""
            return value

        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(key.startswith("val_") for key in self.keys):
                self.keys.extend(["val_" + key for key in self.keys])
        if self.writer is None:
            class Dialect(csv.excel):
                delimiter = self.sep

            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys,
                                         dialect=Dialect)
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, handle_value(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


class EpochTimer(Callback):
    """Records the wall time of each epoch's training steps, validation excluded (fastdnn's own).

    Attributes:
        times: seconds per epoch, in order.

    Example:
        >>> timer = EpochTimer()  # model.fit(x, y, callbacks=[timer]); timer.times
    """

    def __init__(self):
        super().__init__()
        self.times = []
        self._start = self._stop = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start, self._stop = time.perf_counter(), None

    def on_test_begin(self, logs=None):  # fit's validation starts: the training steps are done
        if self._start is not None and self._stop is None:
            self._stop = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append((self._stop or time.perf_counter()) - self._start)


from .monitoring import GradientMonitor  # noqa: E402,F401  (its own module: monitoring.py)
