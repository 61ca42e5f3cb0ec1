"""ReduceLROnPlateau: the book's performance scheduling."""

import warnings

import numpy as np

from ._helpers import learning_rate_of, used_learning_rate_of, optimizer_of, set_learning_rate, check_mode, print_text
from .callback import Callback


class ReduceLROnPlateau(Callback):
    """Multiplies the learning rate by `factor` when `monitor` has not improved for `patience`
    epochs (the book's performance scheduling). Logs the epoch's rate as "learning_rate", and as
    "lr" where the book reads it.

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
        self.mode = check_mode(self, mode)
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
        learning_rate = used_learning_rate_of(self.model)
        if learning_rate is not None:  # the rate this epoch used; "lr" as the book's era logged it
            logs["learning_rate"] = logs["lr"] = learning_rate
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
                optimizer = optimizer_of(self)
                old_lr = learning_rate_of(self.model)
                if old_lr > np.float32(self.min_lr):
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    set_learning_rate(optimizer, new_lr)
                    if self.verbose > 0:
                        print_text(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate "
                               f"to {new_lr}.\n")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0
