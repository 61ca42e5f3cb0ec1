"""LearningRateScheduler: the learning rate of each epoch from a function of the epoch."""

import inspect

import numpy as np

from ._helpers import learning_rate_of, used_learning_rate_of, optimizer_of, set_learning_rate, is_number, print_text
from .callback import Callback


class LearningRateScheduler(Callback):
    """Sets the optimizer's learning rate at the start of each epoch to `schedule(epoch, lr)` or
    `schedule(epoch)`, and logs it as "learning_rate" (and "lr", where the book reads it) at the
    end of the epoch.

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
        optimizer = optimizer_of(self)
        if self._takes_lr is None:  # Keras's way: try the new signature, then the old
            try:
                learning_rate = self.schedule(epoch, learning_rate_of(self.model))
            except TypeError:
                learning_rate = self.schedule(epoch)
        elif self._takes_lr:
            learning_rate = self.schedule(epoch, learning_rate_of(self.model))
        else:
            learning_rate = self.schedule(epoch)
        if not is_number(learning_rate) and not (isinstance(learning_rate, np.ndarray)
                                                  and learning_rate.ndim == 0):
            raise ValueError("The output of the `schedule` function should be a float. "
                             f"Got: {learning_rate!r}")
        set_learning_rate(optimizer, learning_rate)
        if self.verbose > 0:
            print_text(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                   f"{float(learning_rate)}.\n")

    def on_epoch_end(self, epoch, logs=None):
        learning_rate = used_learning_rate_of(self.model)
        if logs is not None and learning_rate is not None:  # the rate this epoch used; "lr" as the book's era logged it
            logs["learning_rate"] = logs["lr"] = learning_rate
