"""`PyDataset`: a dataset written in Python, batch by batch, as `keras.utils.PyDataset`
(`Sequence` is its Keras 2 name).

    class Batches(PyDataset):
        def __init__(self, x, y, batch_size, **kwargs):
            super().__init__(**kwargs)          # workers=, use_multiprocessing=, max_queue_size=
            self.x, self.y, self.batch_size = x, y, batch_size
        def __len__(self):
            return math.ceil(len(self.x) / self.batch_size)
        def __getitem__(self, i):
            s = slice(i * self.batch_size, (i + 1) * self.batch_size)
            return self.x[s], self.y[s]

    model.fit(Batches(x, y, 64, workers=4), epochs=5)
"""

import itertools


class PyDataset:
    """Base class of Python datasets: `__getitem__(index)` returns a batch `x`, `(x, y)` or
    `(x, y, sample_weight)`; `__len__` (or `num_batches`) says how many there are per epoch.

    Args:
        workers: threads fetching batches ahead (1: fetched in line).
        use_multiprocessing: Keras's processes; fastdnn uses threads, and `fit` refuses True.
        max_queue_size: batches fetched ahead at most.

    Raises:
        ValueError: for a bad `workers` or `max_queue_size`.
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        for name, value, low in (("workers", workers, 0), ("max_queue_size", max_queue_size, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"The `{name}` argument must be an integer >= {low}. Received: {name}={value!r}")
        self._workers = workers
        self._use_multiprocessing = bool(use_multiprocessing)
        self._max_queue_size = max_queue_size

    @property
    def workers(self):
        return getattr(self, "_workers", 1)

    @workers.setter
    def workers(self, value):
        self._workers = value

    @property
    def use_multiprocessing(self):
        return getattr(self, "_use_multiprocessing", False)

    @use_multiprocessing.setter
    def use_multiprocessing(self, value):
        self._use_multiprocessing = value

    @property
    def max_queue_size(self):
        return getattr(self, "_max_queue_size", 10)

    @max_queue_size.setter
    def max_queue_size(self, value):
        self._max_queue_size = value

    def __getitem__(self, index):
        """The batch at position `index`."""
        raise NotImplementedError("A PyDataset must implement __getitem__(index), returning a batch.")

    @property
    def num_batches(self):
        """Batches per epoch (`len(self)`), or None for an endless dataset."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError("A PyDataset must implement __len__ (or a `num_batches` property; None "
                                  "for an endless one).")

    def __iter__(self):
        count = self.num_batches
        for index in itertools.count() if count is None else range(count):
            yield self[index]

    def on_epoch_begin(self):
        """Called at the beginning of every epoch."""

    def on_epoch_end(self):
        """Called at the end of every epoch."""


Sequence = PyDataset
