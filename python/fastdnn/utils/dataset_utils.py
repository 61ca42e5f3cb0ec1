"""split_dataset: `keras.utils.split_dataset` for in-memory NumPy data."""

import numbers
import random

import numpy as np


def _check_type(name, size):
    if size is not None and (isinstance(size, bool) or not isinstance(size, numbers.Real)):
        raise TypeError(f"Invalid `{name}` Type. Expected: int or float or None, "
                        f"Received: type({name})={type(size)}.")


def _check_range(name, size, total):
    """Keras 3's range of one split size: an int in [1, total) or a float in (0, 1)."""
    if size is None:
        return None
    integral = isinstance(size, numbers.Integral)
    if (integral and not 0 < size < total) or (not integral and not 0 < size < 1):
        raise ValueError(f"`{name}` should be either a positive integer smaller than {total}, "
                         f"or a float within the range `[0, 1]`. Received: {name}={size}")
    return int(size) if integral else float(size)


def _split_sizes(left_size, right_size, total):
    """The two split lengths, validated in Keras 3's order and rounded as Keras does (`round`
    of a fraction of `total`; the missing side is the complement of the other)."""
    if left_size is None and right_size is None:
        raise ValueError("At least one of the `left_size` or `right_size` must be specified. "
                         "Received: left_size=None and right_size=None")
    _check_type("left_size", left_size)
    _check_type("right_size", right_size)
    if left_size == 0 and right_size == 0:
        raise ValueError("Both `left_size` and `right_size` are zero. At least one of the split "
                         "sizes must be non-zero.")
    left = _check_range("left_size", left_size, total)
    right = _check_range("right_size", right_size, total)
    if isinstance(left, float) and isinstance(right, float) and left + right > 1:
        raise ValueError("The sum of `left_size` and `right_size` is greater than 1. It must be "
                         "less than or equal to 1.")
    if isinstance(left, float):
        left = round(left * total)
    if isinstance(right, float):
        right = round(right * total)
    if left is None:
        left = total - right
    elif right is None:
        right = total - left
    if left + right > total:
        raise ValueError(f"The sum of `left_size` and `right_size` should be smaller than the "
                         f"{total}. Received: left_size + right_size = {left + right} and "
                         f"total_length = {total}")
    for split, side in ((left, "left"), (right, "right")):
        if split == 0:
            raise ValueError(f"With `dataset` of length={total}, `left_size`={left} and "
                             f"`right_size`={right}. Resulting {side} side dataset split will be "
                             "empty. Adjust any of the aforementioned parameters")
    return left, right


def _arrays(dataset):
    """The dataset's arrays as a flat list, and a function that rebuilds its structure."""
    if isinstance(dataset, np.ndarray):
        if dataset.ndim == 0:
            raise ValueError("The `dataset` argument must have a first (sample) axis. Received: "
                             "a 0-dimensional array")
        return [dataset], lambda arrays: arrays[0]
    if isinstance(dataset, dict):
        keys = list(dataset)
        arrays = [dataset[key] for key in keys]
        def rebuild(arrays):
            return dict(zip(keys, arrays))
        kind = "dict"
    elif isinstance(dataset, (list, tuple)):
        arrays = list(dataset)
        rebuild = tuple  # as Keras, a list comes back as a tuple
        kind = type(dataset).__name__
    else:
        raise TypeError("The `dataset` argument must be a NumPy array, or a list, tuple or dict "
                        f"of NumPy arrays. Received: dataset={dataset!r} of type {type(dataset)}")
    if not arrays:
        raise ValueError(f"Received an empty {kind} dataset. Please provide a non-empty {kind} "
                         "of arrays.")
    for i, array in enumerate(arrays):
        if not isinstance(array, np.ndarray) or array.ndim == 0:
            raise ValueError(f"Expected a {kind} of `numpy.ndarray` objects with a sample axis. "
                             f"Received: {type(array)} at index {i}.")
        if array.shape[0] != arrays[0].shape[0]:
            raise ValueError(f"Received a {kind} of NumPy arrays with different lengths. Mismatch "
                             f"found at index {i}, Expected shape={arrays[0].shape} Received "
                             f"shape={array.shape}. Please provide a {kind} of NumPy arrays of "
                             "the same length.")
    return arrays, rebuild


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None):
    """Splits in-memory data into a left and a right part (e.g. train and test), as
    `keras.utils.split_dataset`.

    The sizes follow Keras 3's rules: an int is a number of samples (at least 1, less than
    the dataset's length), a float a fraction (strictly between 0 and 1) rounded with Python's
    `round`; the size left None is the complement of the other. When both are given and add up
    to less than the whole, the left part is the first `left_size` samples and the right part
    the last `right_size` ones (those between are in neither), as in Keras.

    With `shuffle`, the samples are permuted first with Python's `random.shuffle` seeded with
    `seed` (or, when `seed` is None, a seed drawn from Python's global `random`, as in Keras, so
    `fastdnn.utils.set_random_seed` makes it reproducible); the order is Keras's for the same
    seed, but Python's global random state is left as it was.

    Unlike Keras, which returns two `tf.data.Dataset` (or PyTorch) datasets, fastdnn returns the
    data itself: NumPy arrays, or tuples or dicts of them. A list comes back as a tuple (as in
    Keras's datasets); a dict, which Keras does not take, comes back as a dict.

    Args:
        dataset: a NumPy array, or a list, tuple or dict of NumPy arrays of the same length
            (split along their first axis, all with the same permutation).
        left_size: the left part's size: an int (samples), a float (fraction) or None.
        right_size: the right part's size: an int (samples), a float (fraction) or None.
        shuffle: whether to shuffle the samples before splitting.
        seed: the seed of the shuffle (anything `random.seed` takes), or None.

    Returns:
        A `(left, right)` pair with the structure of `dataset`.

    Raises:
        TypeError: if `dataset` is not an array, list, tuple or dict of arrays, or a size is
            not an int, a float or None.
        ValueError: for empty data, arrays of different lengths, both sizes None or zero, a
            size out of range, sizes adding up to more than the whole, or a split that would be
            empty.

    Example:
        >>> import numpy as np
        >>> from fastdnn.utils import split_dataset
        >>> x, y = np.arange(20).reshape(10, 2), np.arange(10)
        >>> (x_left, y_left), (x_right, y_right) = split_dataset((x, y), left_size=0.8)
        >>> x_left.shape, y_right
        ((8, 2), array([8, 9]))
    """
    arrays, rebuild = _arrays(dataset)
    total = arrays[0].shape[0]
    if total == 0:
        raise ValueError("Received an empty dataset. Argument `dataset` must be a non-empty "
                         "NumPy array, or list, tuple or dict of them.")
    left, right = _split_sizes(left_size, right_size, total)
    order = list(range(total))
    if shuffle:
        if seed is None:
            seed = random.randint(0, int(1e6))
        random.Random(seed).shuffle(order)
    order = np.asarray(order, dtype=np.intp)
    left_index, right_index = order[:left], order[total - right:]
    return (rebuild([array[left_index] for array in arrays]),
            rebuild([array[right_index] for array in arrays]))
