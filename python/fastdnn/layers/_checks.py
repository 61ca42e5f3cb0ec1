"""Checks shared by the normalization and preprocessing layers: their `axis` arguments and the
placement of their inputs (they compute on the CPU only)."""

import operator

from .._dispatch import on_device


def check_axis(axis, name="axis"):
    """`axis` as Keras's normalization layers keep it: an int, or a list of ints.

    Raises:
        TypeError: for anything else (a float, a string, a bool, a list holding one).
    """
    items = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    try:
        values = [None if isinstance(a, bool) else operator.index(a) for a in items]
    except TypeError:
        values = [None]
    if None in values:
        raise TypeError(f"The `{name}` argument must be an int or a list/tuple of ints. Received: {name}={axis!r}")
    return values if isinstance(axis, (list, tuple)) else values[0]


def resolve_axes(axes, ndim, layer):
    """The sorted non-negative form of `axes` (an int or a list of ints) for inputs of rank `ndim`.

    Raises:
        ValueError: for an axis outside [-ndim, ndim) or one given twice.
    """
    items = list(axes) if isinstance(axes, (list, tuple)) else [axes]
    if any(not -ndim <= a < ndim for a in items):
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}): every `axis` value must be in "
                         f"[-{ndim}, {ndim}) for inputs of rank {ndim}. Received: axis={axes!r}")
    resolved = sorted(a % ndim for a in items)
    if len(set(resolved)) != len(resolved):
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) received a repeated axis. "
                         f"Received: axis={axes!r}")
    return resolved


def require_host(layer, *arrays):
    """Raises NotImplementedError when `layer`, which has no CUDA path, receives GPU arrays."""
    if any(on_device(a) for a in arrays if a is not None):
        raise NotImplementedError(
            f"Layer '{layer.name}' ({type(layer).__name__}) runs on the CPU only: fastdnn has no CUDA "
            "kernel for it. Keep this model on the CPU (leave out model.to('cuda')), or apply the layer "
            "to the data on the CPU before it reaches the GPU model.")
