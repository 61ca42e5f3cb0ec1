"""The one conversion of an op's array inputs."""

import numpy as np

from .._arrays import as_float32
from ..autodiff import record
from ..variables import Variable


def _x(x, name):
    """An op input as a float32 array: a Variable's own array (watched on a tape), else converted.
    A converted copy of an array the tape follows is recorded too, so gradients reach the original."""
    if type(x) is np.ndarray and x.dtype == np.float32 and x.flags.c_contiguous:
        return x
    if isinstance(x, Variable):
        return x.value
    arr = as_float32(x, name)
    if arr is not x and isinstance(x, np.ndarray):
        record(arr, (x,), lambda g, needs: (np.asarray(g, np.float32).reshape(x.shape),))
    return arr
