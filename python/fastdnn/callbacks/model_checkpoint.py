"""ModelCheckpoint: saves the model during training, atomically."""

import numbers
import os
import warnings

import numpy as np

from ._helpers import monitor_mode, check_mode, print_text
from .callback import Callback


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

    chief_only = True  # rank 0 alone, under DataParallel

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
        self.mode = check_mode(self, mode)
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
                print_text(f"\nEpoch {epoch + 1}: saving model to {filepath}\n")
            return True
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available, skipping.",
                          stacklevel=2)
            return False
        if self.monitor_op is None:
            mode = monitor_mode(self, self.monitor, self.mode)
            self.monitor_op = np.less if mode == "min" else np.greater
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self.best is None or self.monitor_op(current, self.best):
            if self.verbose > 0:
                print_text(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                       f"{current:.5f}, saving model to {filepath}\n")
            self.best = current
            return True
        if self.verbose > 0:
            print_text(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}\n")
        return False

    def _save_model(self, epoch, batch, logs):
        filepath = self._get_file_path(epoch, batch, logs)
        if self._should_save(epoch, logs, filepath):
            if self.save_weights_only:
                self.model.save_weights(filepath)
            else:
                self.model.save(filepath)
