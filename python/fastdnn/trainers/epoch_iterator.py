"""The batches of each epoch, as Keras 3's EpochIterator:

* without `steps_per_epoch`, an epoch is one pass over the data (a generator: until it is
  exhausted);
* with it, an epoch is that many batches, and the data continue from one epoch to the next,
  starting over (reshuffled) once they are used up; a source that runs out before the steps
  are done ends training with a warning, as in Keras.

    iterator = EpochIterator(adapter, steps_per_epoch)
    for epoch in ...:
        for step, batch in iterator.enumerate_epoch():
            ...
"""

import warnings


class EpochIterator:
    """Epochs of batches from a data adapter (trainers/data_adapters).

    Args:
        adapter: the data adapter.
        steps_per_epoch: batches per epoch, or None for one pass over the data.
    """

    def __init__(self, adapter, steps_per_epoch=None):
        self.adapter = adapter
        self.steps_per_epoch = steps_per_epoch
        self._num_batches = adapter.num_batches
        self._current = None  # carried across epochs when steps_per_epoch is set
        self._seen = 0
        self.exhausted = False  # the source ran out before steps_per_epoch batches

    @property
    def num_batches(self):
        """Batches per epoch, None when unknown before the data run out."""
        return self.steps_per_epoch or self._num_batches

    def _warn_out_of_data(self):
        self.exhausted = True
        warnings.warn("Your input ran out of data; interrupting training. Make sure that your dataset or "
                      "generator can generate at least `steps_per_epoch * epochs` batches.", stacklevel=3)

    def _fresh(self):
        self._close()
        self._current = iter(self.adapter.get_numpy_iterator())
        self._seen = 0
        return self._current

    def _close(self):
        close = getattr(self._current, "close", None)
        if close is not None:
            close()
        self._current = None

    def enumerate_epoch(self):
        """Yields (step, batch) for one epoch; the caller may stop early (the rest of the epoch's
        batches stay for the next one when steps_per_epoch is set)."""
        self.adapter.on_epoch_begin()
        steps = self.steps_per_epoch
        try:
            if steps is None:
                iterator = self._fresh()
                step = -1
                for step, batch in enumerate(iterator):
                    yield step, batch
                if self._num_batches is None:
                    self._num_batches = step + 1
                self._close()
            else:
                iterator = self._current or self._fresh()
                for step in range(steps):
                    if self._num_batches and self._seen >= self._num_batches:
                        self._warn_out_of_data()
                        break
                    try:
                        batch = next(iterator)
                    except StopIteration:
                        if self._num_batches is None:
                            self._num_batches = self._seen
                        self._warn_out_of_data()
                        self._close()
                        break
                    self._seen += 1
                    yield step, batch
                if self._num_batches and self._seen >= self._num_batches:
                    self._close()
        except BaseException:
            self._close()
            raise
        self.adapter.on_epoch_end()

    def close(self):
        """Stops any background prefetching."""
        self._close()
