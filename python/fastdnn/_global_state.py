"""Process-wide state that `keras.backend.clear_session()` resets: each module that keeps some
(name counters, the global random stream) registers how to reset it, so that this module
depends on none of them.

    on_clear_session(counter.clear)      # at import of the module that owns `counter`
    clear_session()                      # runs every registered reset
"""

_RESETS = []


def on_clear_session(reset):
    """Registers `reset()`, a function of no arguments, to run at each `clear_session()`."""
    _RESETS.append(reset)
    return reset


def clear_session():
    """Runs every registered reset, in registration order."""
    for reset in _RESETS:
        reset()
