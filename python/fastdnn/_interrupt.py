"""Ctrl-C during training takes effect between steps, so the model is never left half-updated.

`fit` runs its loop inside `deferred_interrupt()`. A first SIGINT is noted, and
`KeyboardInterrupt` is raised at the next `check()`, which fit calls after each completed step:
weights, optimizer slots, step counts and BatchNormalization statistics then all agree. A second
SIGINT before that point raises at once (the user insists). Outside the main thread, or when
SIGINT has a handler other than Python's default, nothing changes.
"""

import contextlib
import signal
import threading


class _Deferred:
    def __init__(self):
        self.pending = False

    def check(self):
        """Raises the KeyboardInterrupt noted since the last call, if any."""
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt

    def _handler(self, signum, frame):
        if self.pending:
            raise KeyboardInterrupt
        self.pending = True


@contextlib.contextmanager
def deferred_interrupt(signals=None):
    """Defers SIGINT (and the other `signals`, e.g. the SIGTERM an MPI launcher sends when it is
    interrupted) to the next `check()`."""
    deferred = _Deferred()
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield deferred
        return
    others = [s for s in (signals or ()) if s != signal.SIGINT]
    previous = [signal.getsignal(s) for s in others]
    signal.signal(signal.SIGINT, deferred._handler)
    for s in others:
        signal.signal(s, deferred._handler)
    try:
        yield deferred
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for s, handler in zip(others, previous):
            signal.signal(s, handler)
    deferred.check()  # an interrupt that came after the last step
