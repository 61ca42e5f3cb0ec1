"""CSVLogger: one CSV row per epoch."""

import csv
import os

import numpy as np

from .callback import Callback


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

    chief_only = True  # rank 0 alone, under DataParallel

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
