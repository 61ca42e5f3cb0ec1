"""Reading pickles that can rebuild plain data and NumPy arrays, and nothing else: never code.

A pickle can name any importable function and have the unpickler call it (`os.system`
included), so a tampered dataset file would run code on load. Every such name goes through
`Unpickler.find_class`; `RestrictedUnpickler` answers it from a fixed table holding the three
globals a NumPy array needs (`numpy.ndarray`, `numpy.dtype` and `multiarray._reconstruct`,
spelled `numpy.core` by NumPy 1 and `numpy._core` by NumPy 2) and refuses every other name with
`RefusedGlobalError`, before anything is imported. Dicts, lists, tuples, bytes, str, ints and
floats need no global at all. The table hands back the objects themselves, so even the allowed
names import nothing.

Example:
    >>> import io, pickle
    >>> import numpy as np
    >>> from fastdnn.datasets import _safe_pickle
    >>> data = pickle.dumps({b"data": np.arange(3, dtype=np.uint8)}, protocol=4)
    >>> _safe_pickle.load(io.BytesIO(data))[b"data"]
    array([0, 1, 2], dtype=uint8)
    >>> _safe_pickle.load(io.BytesIO(pickle.dumps(print)))
    Traceback (most recent call last):
        ...
    fastdnn.datasets._safe_pickle.RefusedGlobalError: The pickle asks for `builtins.print`, ...
"""

import pickle

import numpy as np

__all__ = ["ALLOWED_GLOBALS", "RefusedGlobalError", "RestrictedUnpickler", "load"]

# The function NumPy pickles arrays with (protocols 0 to 4), taken from an array's own
# __reduce__ rather than imported by a private module name that differs between versions.
_RECONSTRUCT = np.empty(0).__reduce__()[0]

#: (module, name) -> object: the only globals a pickle may name.
ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
}


class RefusedGlobalError(pickle.UnpicklingError):
    """A pickle named a global outside `ALLOWED_GLOBALS`; nothing was imported or called."""


class RestrictedUnpickler(pickle.Unpickler):
    """A `pickle.Unpickler` whose `find_class` only hands out `ALLOWED_GLOBALS`.

    Args:
        file: a binary file object to read the pickle from.
        **kwargs: passed to `pickle.Unpickler` (`encoding="bytes"` to read Python 2 pickles
            with their str as bytes).

    Example:
        >>> import io, pickle
        >>> from fastdnn.datasets import _safe_pickle
        >>> _safe_pickle.RestrictedUnpickler(io.BytesIO(pickle.dumps([1, b"a"]))).load()
        [1, b'a']
    """

    def find_class(self, module, name):
        """Returns the allowed global `module.name`.

        Raises:
            RefusedGlobalError: for every global outside `ALLOWED_GLOBALS`.
        """
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise RefusedGlobalError(
                f"The pickle asks for `{module}.{name}`, but only NumPy arrays and plain data "
                "(dicts, lists, bytes, str, numbers) may be loaded; refused, so that nothing in "
                "the file runs. The file is corrupt, not the expected format, or malicious."
            ) from None


def load(file, encoding="bytes"):
    """Unpickles one object from the binary file `file` with `RestrictedUnpickler`.

    Args:
        file: a binary file object.
        encoding: how to decode Python 2 str objects; "bytes" (the default) keeps them bytes.

    Returns:
        The object.

    Raises:
        RefusedGlobalError: if the pickle names a global outside `ALLOWED_GLOBALS`.
        pickle.UnpicklingError, EOFError, ValueError: if the pickle is corrupt or truncated.

    Example:
        >>> import io, pickle
        >>> from fastdnn.datasets import _safe_pickle
        >>> _safe_pickle.load(io.BytesIO(pickle.dumps({b"labels": [3, 1]})))
        {b'labels': [3, 1]}
    """
    return RestrictedUnpickler(file, encoding=encoding).load()
