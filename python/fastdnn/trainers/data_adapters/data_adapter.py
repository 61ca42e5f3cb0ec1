"""The interface every source of training data offers the trainer's loops.

    adapter.get_numpy_iterator()   one epoch of batches: (x,), (x, y) or (x, y, sample_weight)
    adapter.num_batches            batches per epoch, None when unknown (a generator)
    adapter.on_epoch_begin() / on_epoch_end()
"""


class DataAdapter:
    """Base class of the data adapters (arrays, generators, PyDataset, tf.data, PyTorch)."""

    def get_numpy_iterator(self):
        """An iterator over one epoch of batches, each a tuple of NumPy structures."""
        raise NotImplementedError

    @property
    def num_batches(self):
        """Batches per epoch, or None when the source does not say."""
        return None

    @property
    def batch_size(self):
        """Samples per batch, or None when the source decides."""
        return None

    def on_epoch_begin(self):
        """Called before each epoch's batches are drawn."""

    def on_epoch_end(self):
        """Called after each epoch."""
