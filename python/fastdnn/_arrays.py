"""How arrays enter fastdnn.

The native kernels take C-contiguous float32 arrays. Inputs that already are such arrays pass
through without a copy. Other real-valued inputs (float64, float16, integers, booleans, lists,
non-contiguous views) are converted to a new C-contiguous float32 array, as Keras casts inputs to
its float type. Anything else (complex, strings, objects) raises TypeError. Output arrays
(`out=`) are never converted: they must already be writable, C-contiguous float32 of the right
shape, since a converted copy would silently drop the result. float32 GPU arrays
(fastdnn.cuda) pass through as they are: ops run them on the GPU.
"""

import numpy as np

_REAL_KINDS = frozenset("biuf")


def as_float32(x, name):
    """Returns `x` as a C-contiguous float32 ndarray, copying only when it must.

    Args:
        x: array-like of real numbers.
        name: the argument's name, used in error messages.

    Raises:
        TypeError: if `x` does not hold real numbers.

    Example:
        >>> as_float32([[1, 2]], "x").dtype
        dtype('float32')
    """
    if type(x) is np.ndarray and x.dtype == np.float32 and x.flags.c_contiguous:
        return x
    if getattr(type(x), "_fastdnn_device", None) == "cuda":  # a GPU array stays on the GPU
        if x.dtype != np.float32:
            raise TypeError(f"`{name}` must be a float32 CUDA array. Received dtype={x.dtype}.")
        return x
    arr = np.asarray(x)
    if arr.dtype.kind not in _REAL_KINDS:
        raise TypeError(
            f"`{name}` must hold real numbers (float or integer). Received dtype={arr.dtype}."
        )
    return np.asarray(arr, dtype=np.float32, order="C")  # keeps 0-d arrays 0-d
