"""The checks of `fit`, `evaluate` and `predict` arguments, with Keras's style of message."""

import numbers

import numpy as np


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def positive_int(value, name, optional=True):
    """`value` as an int >= 1 (None stays None when `optional`).

    Raises:
        ValueError: otherwise.
    """
    if value is None and optional:
        return None
    if not _is_int(value) or value < 1:
        raise ValueError(f"The `{name}` argument must be a positive integer. Received: {name}={value!r}")
    return int(value)


def non_negative_int(value, name):
    """`value` as an int >= 0.

    Raises:
        ValueError: otherwise.
    """
    if not _is_int(value) or value < 0:
        raise ValueError(f"The `{name}` argument must be a non-negative integer. Received: {name}={value!r}")
    return int(value)


def validation_split(value):
    """The held-out fraction: 0 (none) or a number in (0, 1).

    Raises:
        ValueError: otherwise.
    """
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not 0 <= value < 1:
        raise ValueError(f"The `validation_split` argument must be a number in (0, 1), or 0 for none. "
                         f"Received: validation_split={value!r}")
    return float(value)


def validation_freq(value):
    """An int >= 1 (validate every that many epochs) or a collection of 1-based epochs.

    Raises:
        ValueError: otherwise.
    """
    if _is_int(value) and value >= 1:
        return int(value)
    if isinstance(value, (list, tuple, set, range)) and all(_is_int(v) and v >= 1 for v in value):
        return frozenset(int(v) for v in value)
    raise ValueError(f"The `validation_freq` argument must be a positive integer or a list of epochs (counted "
                     f"from 1). Received: validation_freq={value!r}")


def should_validate(epoch, freq):
    """Whether the 0-based `epoch` is validated under a checked `validation_freq`."""
    return (epoch + 1) % freq == 0 if isinstance(freq, int) else (epoch + 1) in freq


def verbose(value):
    """0, 1 or 2 ("auto" is 1).

    Raises:
        ValueError: otherwise.
    """
    if value == "auto":
        return 1
    if not _is_int(value) or value not in (0, 1, 2):
        raise ValueError(f'The `verbose` argument must be "auto", 0, 1 or 2. Received: verbose={value!r}')
    return int(value)


def no_extras(where, kwargs):
    """Refuses keyword arguments a loop does not know.

    Raises:
        TypeError: naming them.
    """
    if kwargs:
        raise TypeError(f"{where}() got unexpected keyword arguments {sorted(kwargs)}")
