"""Argument checks shared by layers, presets and helpers, with Keras-style messages."""

import operator


def check_integer(name, value, minimum=1):
    """Returns `value` as an int if it is an integer (not a bool) >= `minimum`.

    Raises:
        ValueError: naming the argument, what was expected and what was received.
    """
    try:
        number = None if isinstance(value, bool) else operator.index(value)
    except TypeError:
        number = None
    if number is None or number < minimum:
        expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"Received an invalid value for `{name}`, expected {expected}. "
                         f"Received: {name}={value!r}")
    return number
