"""Bounds on what a model file may make fastdnn allocate.

A file's config says which layers to build, and building allocates their weights before the
file's arrays are read into them. While a file is loaded (`budget(n)`), `Layer.add_weight` asks
`claim(shape, name)` first: the weights the config declares may not add up to more elements
than the file actually holds, so a hostile config (Dense(units=10**12)) is refused before any
memory is taken, and the new weights start as zeros instead of running their initializers.
"""

import contextlib
import contextvars
import json
import math

_REMAINING = contextvars.ContextVar("fastdnn_load_budget", default=None)

MAX_CONFIG_BYTES = 64 << 20  # a model config is a few KB; refuse to parse more than 64 MB


class FileFormatError(ValueError):
    """A model or weights file that cannot be read: truncated, corrupt, hostile, or not a
    fastdnn/Keras file at all. The message says which file and what is wrong."""


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


def claim(shape, name):
    """Takes prod(shape) elements from the budget, or raises FileFormatError (no budget: no-op)."""
    remaining = _REMAINING.get()
    if remaining is None:
        return
    size = math.prod(int(d) for d in shape)
    if size > remaining[0]:
        raise FileFormatError(
            f"The file's config declares weight '{name}' of shape {tuple(shape)} ({size:,} "
            f"elements), but the file holds only {remaining[0]:,} more weight elements: the config "
            "and the weights disagree (a corrupt or hostile file).")
    remaining[0] -= size


def check_input_shape(shape, what):
    """Refuses a declared per-sample input size that no weight in the file could consume."""
    remaining = _REMAINING.get()
    if remaining is None or shape is None:
        return
    dims = [d for d in tuple(shape)[1:] if d is not None]
    if any(not isinstance(d, int) or d < 0 for d in dims):
        raise FileFormatError(f"{what}: the declared input shape {tuple(shape)} is not a list of "
                              "non-negative integers.")
    if math.prod(dims) > max(remaining[0], 1 << 24):
        raise FileFormatError(f"{what}: the declared input shape {tuple(shape)} is larger than "
                              "anything the file's weights could process (a corrupt or hostile file).")


def parse_json(data, what):
    """json.loads for bytes from a file, with a size limit and FileFormatError for any failure."""
    if len(data) > MAX_CONFIG_BYTES:
        raise FileFormatError(f"{what} is {len(data):,} bytes; a model config is at most "
                              f"{MAX_CONFIG_BYTES:,}. The file is corrupt or hostile.")
    try:
        return json.loads(data)
    except (ValueError, RecursionError, UnicodeDecodeError) as e:
        raise FileFormatError(f"{what} is not valid JSON ({type(e).__name__}: {e}).") from None
