"""Callbacks: hooks that `fit`, `evaluate` and `predict` call at each stage of their loops.

The order the loops follow, as in Keras 3 (`logs` are dicts of floats, `val_` marks validation):

    fit:      on_train_begin, then per epoch: on_epoch_begin, per batch on_train_batch_begin(i)
              and on_train_batch_end(i, running averages), the validation run (evaluate, with the
              same CallbackList), on_epoch_end(epoch, train and val_ averages); on_train_end.
    evaluate: on_test_begin, per batch on_test_batch_begin/end(i, running averages), on_test_end.
    predict:  on_predict_begin, per batch on_predict_batch_begin/end(i, {"outputs": ...}),
              on_predict_end.
"""

import sys

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
        return any(getattr(type(c), h) is not getattr(Callback, h) for c in self.callbacks for h in hooks)

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
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(value)
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
