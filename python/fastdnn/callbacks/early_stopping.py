"""EarlyStopping: stops training when a monitored value stops improving."""

import warnings

import numpy as np

from ._helpers import monitor_mode, check_mode, print_text
from .callback import Callback


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
        self.mode = check_mode(self, mode)
        self.monitor_op = None
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def _set_monitor_op(self):
        if monitor_mode(self, self.monitor, self.mode) == "min":
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
            print_text(f"Epoch {self.stopped_epoch + 1}: early stopping\n")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print_text("Restoring model weights from the end of the best epoch: "
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
