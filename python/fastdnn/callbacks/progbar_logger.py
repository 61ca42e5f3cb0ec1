"""ProgbarLogger: the Keras-style progress bar of fit, evaluate and predict."""

from ..utils.progbar import Progbar
from ._helpers import print_text
from .callback import Callback


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

    chief_only = True  # rank 0 alone, under DataParallel

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
            print_text(f"Epoch {epoch + 1}/{self.epochs}\n")

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
