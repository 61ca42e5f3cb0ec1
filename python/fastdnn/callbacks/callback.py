"""The Callback base class: hooks that `fit`, `evaluate` and `predict` call at each stage of
their loops.

The order the loops follow, as in Keras 3 (`logs` are dicts of floats, `val_` marks validation):

    fit:      on_train_begin, then per epoch: on_epoch_begin, per batch on_train_batch_begin(i)
              and on_train_batch_end(i, running averages), the validation run (evaluate, with the
              same CallbackList), on_epoch_end(epoch, train and val_ averages); on_train_end.
    evaluate: on_test_begin, per batch on_test_batch_begin/end(i, running averages), on_test_end.
    predict:  on_predict_begin, per batch on_predict_batch_begin/end(i, {"outputs": ...}),
              on_predict_end.

Inside each training step a callback may also act through its `step_hook()` (step_hook.py).
"""


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
    # Under a DataParallel distribution, a chief-only callback (the progress bar, and those that
    # write files) runs on rank 0 alone; the others run on every rank, with the global logs.
    chief_only = False

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

    def resume_epoch(self):
        """The epoch `fit` starts at instead of its `initial_epoch`, asked once after
        `on_train_begin`, or None (the default): how a callback that restored an interrupted
        run (BackupAndRestore) resumes it."""
        return None

    def step_hook(self):
        """The `StepHook` this callback runs inside each step of `fit`'s built-in training step,
        or None (the default): what a callback needs to see or change between a step's forward
        pass and its weight update (callbacks/step_hook.py)."""
        return None


_HOOKS = tuple(sorted(name for name in vars(Callback) if name.startswith("on_")))
