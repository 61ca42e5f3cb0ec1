"""Bounds on what a model file may make fastdnn allocate, shared by layers and saving.

A file's config says which layers to build, and building allocates their weights before the
file's arrays are read into them. While a file is loaded (`budget(n)`), `Layer.add_weight` asks
`claim(shape, name)` first: the weights the config declares may not add up to more elements
than the file actually holds, so a hostile config (Dense(units=10**12)) is refused before any
memory is taken, and the new weights start as zeros instead of running their initializers.

It lives outside `fastdnn.saving` so that layers never import the saving package.
"""

import contextlib
import contextvars
import math

_REMAINING = contextvars.ContextVar("fastdnn_load_budget", default=None)


class FileFormatError(ValueError):
    """A model or weights file that cannot be read: truncated, corrupt, hostile, or not a
    fastdnn/Keras file at all. The message says which file and what is wrong."""

    __module__ = "fastdnn.saving"  # where users import it from (and how tracebacks name it)


@contextlib.contextmanager
def budget(elements):
    """Within the block, layers may create at most `elements` weight elements in all."""
    token = _REMAINING.set([int(elements)])
    try:
        yield
    finally:
        _REMAINING.reset(token)


def loading():
    """True inside `budget(...)`: weights are about to be overwritten from a file."""
    return _REMAINING.get() is not None


def remaining():
    """The weight elements the current budget still allows, or None outside `budget(...)`."""
    left = _REMAINING.get()
    return None if left is None else left[0]


def claim(shape, name):
    """Takes prod(shape) elements from the budget, or raises FileFormatError (no budget: no-op)."""
    left = _REMAINING.get()
    if left is None:
        return
    size = math.prod(int(d) for d in shape)
    if size > left[0]:
        raise FileFormatError(
            f"The file's config declares weight '{name}' of shape {tuple(shape)} ({size:,} "
            f"elements), but the file holds only {left[0]:,} more weight elements: the config "
            "and the weights disagree (a corrupt or hostile file).")
    left[0] -= size
