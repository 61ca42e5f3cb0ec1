"""CallbackList: calls each hook on every callback of a list; what `fit` and friends use."""

from .callback import Callback
from .history import History
from .progbar_logger import ProgbarLogger


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
        chief: False on a data-parallel rank other than 0: callbacks marked `chief_only`
            (the progress bar, those that write files) are left out.
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

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, chief=True,
                 **params):
        super().__init__()
        if callbacks is None:
            callbacks = []
        elif isinstance(callbacks, Callback):
            callbacks = [callbacks]
        self.callbacks = []
        for callback in callbacks:
            self.append(callback)
        if not chief:  # a data-parallel rank other than 0: no progress bar, no files
            self.callbacks = [c for c in self.callbacks if not c.chief_only]
        self._history = next((c for c in self.callbacks if isinstance(c, History)), None)
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        has_progbar = any(isinstance(c, ProgbarLogger) for c in self.callbacks)
        if add_progbar and not has_progbar and params.get("verbose", 1) != 0 and chief:
            self.callbacks.append(ProgbarLogger())
        self.set_model(model)
        self.set_params(params)

    @property
    def step_hooks(self):
        """The `StepHook` of each callback that has one, in list order: what the built-in
        training step runs around each weight update."""
        hooks = (callback.step_hook() for callback in self.callbacks)
        return [hook for hook in hooks if hook is not None]

    def resume_epoch(self):
        """The latest epoch any callback resumes at, or None."""
        epochs = [e for e in (callback.resume_epoch() for callback in self.callbacks) if e is not None]
        return max(epochs) if epochs else None

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
