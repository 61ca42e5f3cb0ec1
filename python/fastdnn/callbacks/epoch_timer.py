"""EpochTimer: the wall time of each epoch's training steps."""

import time

from .callback import Callback


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
