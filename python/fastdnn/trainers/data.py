"""The data a trainer takes: x, y and sample weights, each one array or a list/tuple/dict of
arrays (one per model input or output), sliced into batches the same way.

    data = (x, y) or (x, y, sample_weight) or x     # what train_step/test_step receive
"""

import numpy as np

from .._arrays import as_float32
from .._dispatch import on_device
from ..layers.keras_tensor import flatten, pack_like


def unpack_x_y_sample_weight(data):
    """(x, y, sample_weight) from a step's `data`, as keras.utils.unpack_x_y_sample_weight.

    Example:
        >>> unpack_x_y_sample_weight((1, 2))
        (1, 2, None)
    """
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError("Data is expected to be in format `x`, `(x,)`, `(x, y)`, or `(x, y, sample_weight)`. "
                     f"Received a tuple of {len(data)} elements.")


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """The inverse of `unpack_x_y_sample_weight`."""
    if y is None:
        return (x,)
    return (x, y) if sample_weight is None else (x, y, sample_weight)


def _is_structure(value):
    """A list/tuple of arrays or a dict (one entry per model input or output), as opposed to one
    array given as nested Python lists."""
    if isinstance(value, dict):
        return True
    return isinstance(value, (list, tuple)) and bool(value) and all(
        isinstance(v, (np.ndarray, dict, list, tuple)) and not _is_number_list(v) or on_device(v)
        for v in value)


def _is_number_list(v):
    return isinstance(v, (list, tuple)) and not any(isinstance(e, (np.ndarray, dict)) for e in v)


def standardize(value, name, inputs=True):
    """`value` with every array a NumPy array: float32 for inputs, as given otherwise (labels keep
    their integer type). None stays None."""
    if value is None:
        return None
    convert = (lambda v, n: v if on_device(v) else as_float32(v, n)) if inputs else \
        (lambda v, n: v if on_device(v) else np.asarray(v))
    if not _is_structure(value):
        return convert(value, name)
    flat = flatten(value)
    return pack_like(value, [convert(v, f"{name}[{i}]") for i, v in enumerate(flat)])


def num_samples(where, **structures):
    """The number of samples every array of `structures` holds.

    Raises:
        ValueError: for an empty dataset, a scalar, or arrays of different lengths.
    """
    sizes = {}
    for name, value in structures.items():
        if value is None:
            continue
        for i, leaf in enumerate(flatten(value)):
            if np.ndim(leaf) == 0:
                raise ValueError(f"{where}() received a scalar as `{name}`; pass one value per sample.")
            sizes[name if len(flatten(value)) == 1 else f"{name}[{i}]"] = len(leaf)
    if not sizes:
        raise ValueError(f"{where}() needs data: pass x (and y).")
    counts = set(sizes.values())
    if len(counts) > 1:
        listed = ", ".join(f"{k}: {v}" for k, v in sizes.items())
        raise ValueError(f"All arrays must have the same number of samples. Received {listed}.")
    n = counts.pop()
    if n == 0:
        raise ValueError(f"{where}() received an empty dataset (x has no samples).")
    return n


def take(value, index):
    """The rows `index` (a slice or an index array) of every array in `value`."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple, dict)):
        return value[index]
    return pack_like(value, [leaf[index] for leaf in flatten(value)])


def first_array(value):
    """The first array of a structure (its length is the batch size)."""
    return value if type(value) is np.ndarray else flatten(value)[0]
