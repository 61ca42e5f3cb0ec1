"""A Python generator or iterator yielding batches `x`, `(x, y)` or `(x, y, sample_weight)`.

It is read on the caller's thread, as Keras reads it: a generator may not be safe to advance
from another one. Without `steps_per_epoch` an epoch lasts until it is exhausted.
"""

from .data_adapter import DataAdapter
from .data_adapter_utils import standardize_batch


class GeneratorDataAdapter(DataAdapter):
    """Batches from the iterator `generator` (each epoch continues where the last one stopped)."""

    def __init__(self, generator):
        self._generator = generator

    def get_numpy_iterator(self):
        for batch in self._generator:
            yield standardize_batch(batch, "A generator")
