"""Batches gathered ahead on a background thread.

NumPy's row gathers (`x[indices]`) and fastdnn's kernels both release the GIL, so while the
main thread runs a training step, the next shuffled batch is copied out on another thread. The
queue holds at most `depth` batches; closing the iterator (at the end of an epoch, on
`stop_training`, on an error or Ctrl-C) stops the thread within one batch.

    with Prefetcher(batches, depth=2) as it:
        for batch in it: ...
"""

import queue
import threading

_DONE = object()


class Prefetcher:
    """Runs the iterator `source` on a daemon thread, `depth` items ahead of the consumer.

    An exception raised by `source` is raised again in the consumer, at the item where it
    happened.
    """

    def __init__(self, source, depth=2):
        self._queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(source,), name="fastdnn-prefetch", daemon=True)
        self._thread.start()

    def _run(self, source):
        try:
            for item in source:
                if not self._put((item, None)):
                    return
        except Exception as error:  # handed to the consumer
            self._put((_DONE, error))
            return
        self._put((_DONE, None))

    def _put(self, entry):
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self):
        return self

    def __next__(self):
        item, error = self._queue.get()
        if item is _DONE:
            self._queue.put((_DONE, None))  # a later next() stops too
            if error is not None:
                raise error
            raise StopIteration
        return item

    def close(self):
        """Stops the thread and drops what it gathered."""
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.05)
            except queue.Empty:
                pass
        self._thread.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
