"""The session functions of keras.backend: `clear_session`, and Keras 2's `get_value` and
`set_value` that the book's learning-rate callbacks use (`K.set_value(optimizer.learning_rate,
lr)`)."""

import numpy as np

from .. import _global_state


def clear_session(free_memory=True):
    """Resets what fastdnn keeps between models: layer and metric name counters ("dense",
    "dense_1", ... start over) and the global random state (unseeded draws start a fresh
    stream; call `set_random_seed` after it to make them reproducible), as Keras does.

    Args:
        free_memory: accepted for Keras's signature; fastdnn frees a model's memory when the
            model is no longer referenced.
    """
    del free_memory
    _global_state.clear_session()


def get_value(x):
    """The value of a variable (or array, or number) as NumPy."""
    if hasattr(x, "numpy"):
        return x.numpy()
    return np.asarray(x)


def set_value(x, value):
    """Assigns `value` to the variable `x` (for example `optimizer.learning_rate`).

    Raises:
        TypeError: for an `x` that cannot be assigned.
    """
    assign = getattr(x, "assign", None)
    if assign is None:
        raise TypeError(f"set_value() needs a variable (with `.assign`), such as a layer weight or "
                        f"`optimizer.learning_rate`. Received: {type(x).__name__}")
    assign(np.asarray(value, dtype=getattr(x, "dtype", None)))
