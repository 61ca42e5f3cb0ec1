"""Bounds on what a model file may make fastdnn allocate: the load budget (fastdnn/_load_budget.py,
which layers consult while a file builds them), the declared input shape, and the size of a
config before it is parsed.
"""

import json
import math

from .._load_budget import FileFormatError, budget, claim, loading, remaining  # noqa: F401

MAX_CONFIG_BYTES = 64 << 20  # a model config is a few KB; refuse to parse more than 64 MB


def check_input_shape(shape, what):
    """Refuses a declared per-sample input size that no weight in the file could consume."""
    left = remaining()
    if left is None or shape is None:
        return
    dims = [d for d in tuple(shape)[1:] if d is not None]
    if any(not isinstance(d, int) or d < 0 for d in dims):
        raise FileFormatError(f"{what}: the declared input shape {tuple(shape)} is not a list of "
                              "non-negative integers.")
    if math.prod(dims) > max(left, 1 << 24):
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
