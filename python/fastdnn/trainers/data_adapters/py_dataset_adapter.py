"""A `keras.utils.PyDataset` (or its old name, `Sequence`): batches by index, `len()` of them
per epoch (None: endless), `on_epoch_begin`/`on_epoch_end` called around each epoch. With
`workers` > 1, a pool of threads fetches the next batches ahead, in order.
"""

import concurrent.futures
import itertools
from collections import deque

import numpy as np

from .data_adapter import DataAdapter
from .data_adapter_utils import standardize_batch


def num_batches_of(dataset):
    """The `num_batches` of a PyDataset (its `len()`), or None for an endless one."""
    try:
        count = dataset.num_batches
    except (AttributeError, NotImplementedError):
        count = len(dataset) if hasattr(dataset, "__len__") else None
    if count is not None and (isinstance(count, bool) or int(count) != count or count < 0):
        raise ValueError(f"A PyDataset's `num_batches` (or `len()`) must be a non-negative integer or None. "
                         f"Received: {count!r}")
    return None if count is None else int(count)


class PyDatasetAdapter(DataAdapter):
    """Batches of the PyDataset `dataset`, in shuffled batch order when `shuffle` (finite ones).

    Raises:
        NotImplementedError: for `use_multiprocessing=True` (threads only).
    """

    def __init__(self, dataset, class_weight=None, shuffle=False):
        self._dataset = dataset
        self._class_weight = class_weight
        self._shuffle = shuffle
        if getattr(dataset, "use_multiprocessing", False):
            raise NotImplementedError("PyDataset(use_multiprocessing=True) is not supported: fastdnn fetches "
                                      "batches on threads; pass workers=N with use_multiprocessing=False.")
        workers = getattr(dataset, "workers", 1)
        self._workers = 1 if workers is None else int(workers)
        self._queue_size = max(int(getattr(dataset, "max_queue_size", 10) or 10), self._workers)

    @property
    def num_batches(self):
        return num_batches_of(self._dataset)

    def on_epoch_begin(self):
        hook = getattr(self._dataset, "on_epoch_begin", None)
        if hook is not None:
            hook()

    def on_epoch_end(self):
        hook = getattr(self._dataset, "on_epoch_end", None)
        if hook is not None:
            hook()

    def _indices(self):
        count = self.num_batches
        if count is None:
            return itertools.count()
        return np.random.permutation(count).tolist() if self._shuffle else range(count)

    def get_numpy_iterator(self):
        indices = self._indices()
        fetch = self._dataset.__getitem__
        if self._workers <= 1:
            for i in indices:
                yield standardize_batch(fetch(i), "PyDataset.__getitem__()", self._class_weight)
            return
        with concurrent.futures.ThreadPoolExecutor(self._workers, thread_name_prefix="fastdnn-pydataset") as pool:
            pending = deque()
            indices = iter(indices)
            try:
                for i in itertools.islice(indices, self._queue_size):
                    pending.append(pool.submit(fetch, i))
                while pending:
                    batch = pending.popleft().result()
                    for i in itertools.islice(indices, 1):
                        pending.append(pool.submit(fetch, i))
                    yield standardize_batch(batch, "PyDataset.__getitem__()", self._class_weight)
            finally:
                for future in pending:
                    future.cancel()
