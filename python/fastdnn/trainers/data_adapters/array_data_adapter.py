"""NumPy arrays (or nested lists, or lists and dicts of arrays, one per model input or output)
cut into batches, shuffled per epoch as Keras 3's ArrayDataAdapter: `shuffle=True` draws a
permutation of all samples, `shuffle="batch"` shuffles within each batch.

Large batches are gathered ahead on a background thread (prefetch.py); small ones cost less to
gather than to hand over between threads, so they are gathered in line.

Under data parallelism (`shard=` a Communicator) the batches stay global: every rank walks the
same permutation (rank 0's, broadcast each epoch) and keeps its np.array_split share of each
global batch, a `ShardBatch` that says where its rows sit in the global batch.
"""

import math

import numpy as np

from ..._dispatch import on_device
from ...distribution.data_parallel import shard_bounds
from ...layers.keras_tensor import flatten
from .. import data as data_utils
from .data_adapter import DataAdapter
from .data_adapter_utils import class_weight_to_sample_weights
from .prefetch import Prefetcher

# Batches of at least this many bytes are gathered on the background thread. Measured on a
# 2-core EPYC: handing a batch over costs about 20 µs, gathering 32 rows of 784 floats about
# 14 µs in line and 256 rows about 180 µs.
PREFETCH_MIN_BYTES = 256 * 1024


class ShardBatch(tuple):
    """One rank's (x, y, sample_weight) share of a global batch; `window` is (first global
    row, rows of this share, rows in the global batch)."""

    window = None


class ArrayDataAdapter(DataAdapter):
    """Batches of arrays `x`, `y`, `sample_weight` (already standardized, see trainers/data.py).

    Args:
        x, y, sample_weight: arrays or structures of arrays with the same number of rows.
        batch_size: rows per batch; None: 32, or enough for `steps` batches when given.
        steps: the batches per epoch the caller asked for (sizes the default batch).
        shuffle: False, True (a new permutation every epoch) or "batch".
        class_weight: {class: weight}, turned into sample weights (one output only).
        shard: None, or the Communicator whose rank's share of each global batch to yield.

    Raises:
        ValueError: for class and sample weights together, mismatched lengths, empty data, or,
            sharded for training, a global batch with fewer rows than there are ranks.
    """

    def __init__(self, x, y=None, sample_weight=None, batch_size=None, steps=None, shuffle=False,
                 class_weight=None, where="fit", shard=None):
        if class_weight is not None:
            if sample_weight is not None:
                raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
            if y is None:
                raise ValueError("`class_weight` needs targets `y` to weigh.")
            sample_weight = class_weight_to_sample_weights(y, class_weight)
        if shuffle not in (True, False, "batch"):
            raise ValueError(f'`shuffle` must be True, False or "batch". Received: shuffle={shuffle!r}')
        self._n = data_utils.num_samples(where, x=x, y=y, sample_weight=sample_weight)
        self._data = data_utils.pack_x_y_sample_weight(x, y, sample_weight)
        if not batch_size:
            batch_size = math.ceil(self._n / steps) if steps else 32
        self._batch_size = batch_size
        self._size = math.ceil(self._n / batch_size)
        self._shuffle = shuffle
        self._shard = shard
        if shard is not None and where == "fit":  # evaluate skips an empty share (trainer.py)
            last = self._n - (self._size - 1) * batch_size
            if min(batch_size, last) < shard.size:
                raise ValueError(f"{where}(): a global batch of {min(batch_size, last)} rows cannot be shared by "
                                 f"{shard.size} processes ({self._n} samples, batch_size={batch_size}). Every "
                                 "global batch needs at least one row per process: choose a batch_size (and a "
                                 "number of samples) that leaves no batch smaller than the number of processes.")
        leaves = flatten(list(self._data))
        self._plain = len(leaves) == len(self._data) and all(type(a) is np.ndarray for a in self._data)
        row_bytes = sum(a.nbytes // max(len(a), 1) for a in leaves if not on_device(a))
        self._prefetch = (row_bytes * batch_size >= PREFETCH_MIN_BYTES
                          and not any(on_device(a) for a in leaves))

    @property
    def num_batches(self):
        return self._size

    @property
    def batch_size(self):
        return self._batch_size

    @property
    def num_samples(self):
        return self._n

    @property
    def data(self):
        """The (x,), (x, y) or (x, y, sample_weight) arrays the batches are cut from."""
        return self._data

    def get_numpy_iterator(self):
        # The permutation is drawn here, on the caller's thread, so that seeding NumPy's global
        # generator fixes the order whether or not the batches are prefetched.
        order = np.random.permutation(self._n) if self._shuffle is True else None
        if self._shuffle == "batch":
            order = np.concatenate([np.random.permutation(min(self._batch_size, self._n - lo)) + lo
                                    for lo in range(0, self._n, self._batch_size)])
        if self._shard is not None and order is not None:  # every rank walks rank 0's order
            order = self._shard.broadcast_array(np.ascontiguousarray(order, np.int64), what="epoch's permutation")
        batches = self._batches(order) if self._shard is None else self._shard_batches(order)
        return Prefetcher(batches) if self._prefetch else batches

    def _batches(self, order):
        n, size, data = self._n, self._batch_size, self._data
        plain = self._plain
        for lo in range(0, n, size):
            idx = slice(lo, min(lo + size, n)) if order is None else order[lo:lo + size]
            if plain:
                yield tuple(a[idx] for a in data)
            else:
                yield tuple(data_utils.take(part, idx) for part in data)

    def _shard_batches(self, order):
        n, size, data = self._n, self._batch_size, self._data
        rank, ranks = self._shard.rank, self._shard.size
        for lo in range(0, n, size):
            rows = min(size, n - lo)
            a, b = shard_bounds(rows, rank, ranks)
            idx = slice(lo + a, lo + b) if order is None else order[lo + a:lo + b]
            batch = ShardBatch(data_utils.take(part, idx) for part in data)
            batch.window = (a, b - a, rows)
            yield batch
