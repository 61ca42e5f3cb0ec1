"""MNIST: 70,000 28x28 grey-level images of handwritten digits 0 to 9 (LeCun, Cortes, Burges).

Same interface as `keras.datasets.mnist`: `load_data()` returns
`((x_train, y_train), (x_test, y_test))`, uint8 arrays of shapes (60000, 28, 28), (60000,),
(10000, 28, 28) and (10000,), read from the same file Keras uses, `mnist.npz` (arrays
`x_train`, `y_train`, `x_test`, `y_test`, stored without pickles).

Where `load_data(path)` looks, in this order:

1. when `path` names a file or folder (it holds a `/`, or is `~`-relative): that file, or
   `mnist.npz` in that folder;
2. when `path` is a bare file name, as Keras takes it (default "mnist.npz"): that name in the
   folder `$FASTDNN_DATA`, when set;
3. that name (or `mnist.npz`) in Keras's cache, `~/.keras/datasets/` (`$KERAS_HOME/datasets/`
   when KERAS_HOME is set), where `keras.datasets.mnist.load_data()` downloads it.

If none holds it, `download` fetches Keras's file into Keras's cache, checks its SHA-256 and
only then renames it into place. Every file read is checked: the four arrays, their dtypes
(uint8) and their shapes; a file that fails raises ValueError, never garbage.

MNIST is made available by Yann LeCun and Corinna Cortes under the Creative Commons
Attribution-Share Alike 3.0 licence.

Example:
    >>> from fastdnn.datasets import mnist
    >>> (x_train, y_train), (x_test, y_test) = mnist.load_data()  # doctest: +SKIP
    >>> x_train.shape, y_train.dtype  # doctest: +SKIP
    ((60000, 28, 28), dtype('uint8'))
"""

import os
import zipfile
import zlib

import numpy as np

from . import _download, _places

__all__ = ["FILE_NAME", "ORIGIN", "SHA256", "download", "load_data", "locate"]

#: The file's name, in Keras's cache and by default.
FILE_NAME = "mnist.npz"
#: Where Keras downloads the file from.
ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
#: SHA-256 of that file, as Keras checks it.
SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

_KEYS = ("x_train", "y_train", "x_test", "y_test")
_IMAGE_SHAPE = (28, 28)


def _is_bare_name(path):
    return os.path.dirname(os.fspath(path)) == "" and not os.fspath(path).startswith("~")


def _name(path):
    """The file name to look for in $FASTDNN_DATA and in Keras's cache."""
    return os.fspath(path) if _is_bare_name(path) else FILE_NAME


def _candidates(path):
    """The files to try, in order, as (description, file) pairs."""
    if not isinstance(path, (str, os.PathLike)) or os.fspath(path) in ("", ".", ".."):
        raise ValueError(
            "The `path` argument must be a file name (looked for in $FASTDNN_DATA and Keras's "
            f"cache), a file or a folder. Received: path={path!r}"
        )
    places = []
    if not _is_bare_name(path):
        file = _places.expand(path)
        places.append(("path argument", file / FILE_NAME if file.is_dir() else file))
    elif os.environ.get(_places.ENV_VAR):
        folder = _places.expand(os.environ[_places.ENV_VAR])
        places.append((f"${_places.ENV_VAR}", folder / _name(path)))
    places.append(("Keras cache", _places.keras_datasets_dir() / _name(path)))
    return places


def locate(path=FILE_NAME):
    """Returns the first file, in `load_data`'s search order, that exists.

    Only looks for the file; `load_data` checks its contents.

    Args:
        path: as for `load_data`.

    Returns:
        A `pathlib.Path`, or None when no place holds the file.

    Raises:
        ValueError: if `path` is empty or not a str or path-like.

    Example:
        >>> from fastdnn.datasets import mnist
        >>> file = mnist.locate()  # None when MNIST is not on this machine
    """
    file, _, _ = _places.search(_candidates(path), _places.check_file)
    return file


def _fail(file, what):
    return ValueError(
        f"MNIST file {file} is not a valid mnist.npz: {what}. Delete it so that load_data() "
        f"downloads it again, or put an intact copy from {ORIGIN} in its place."
    )


def _read(file):
    """The four arrays of an mnist.npz file, checked; ValueError names the file if not valid."""
    if not zipfile.is_zipfile(file):
        raise _fail(file, "it is not a .npz (zip) archive")
    try:
        with np.load(file, allow_pickle=False) as npz:
            found = {k: npz[k] for k in _KEYS if k in npz.files}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as err:
        raise _fail(file, f"it cannot be read ({type(err).__name__}: {err})") from err
    missing = [k for k in _KEYS if k not in found]
    if missing:
        raise _fail(file, "it lacks the array(s) " + ", ".join(missing))
    arrays = [found[k] for k in _KEYS]
    for key, array in zip(_KEYS, arrays):
        if array.dtype != np.uint8:
            raise _fail(file, f"{key} has dtype {array.dtype}, expected uint8")
    x_train, y_train, x_test, y_test = arrays
    for x, y, kx, ky in ((x_train, y_train, "x_train", "y_train"),
                         (x_test, y_test, "x_test", "y_test")):
        if x.ndim != 3 or x.shape[1:] != _IMAGE_SHAPE:
            raise _fail(file, f"{kx} has shape {x.shape}, expected (n, 28, 28)")
        if y.shape != (len(x),):
            raise _fail(file, f"{ky} has shape {y.shape}, expected ({len(x)},) to match {kx}")
        if y.size and y.max() > 9:
            raise _fail(file, f"{ky} holds the label {int(y.max())}, outside 0..9")
    return (x_train, y_train), (x_test, y_test)


def download(file=None, *, fetch=None):
    """Downloads Keras's mnist.npz into `file`, checking its SHA-256 before renaming it there.

    The bytes go to a temporary file beside `file`, flushed to disk, and are renamed into
    place (`os.replace`) only once their SHA-256 is `SHA256`, so that an interrupted or failed
    download never leaves a partial file under the real name.

    Args:
        file: where to put it; default `mnist.npz` in Keras's cache (`~/.keras/datasets/`, or
            `$KERAS_HOME/datasets/`), created if needed.
        fetch: `fetch(url, out)` copies the bytes at `url` into the binary file `out`; default
            `fastdnn.datasets._download.fetch_url` (urllib).

    Returns:
        The file, as a `pathlib.Path`.

    Raises:
        OSError: if the file could not be fetched intact (no network, HTTP error, checksum
            mismatch) or cannot be written.

    Example:
        >>> from fastdnn.datasets import mnist
        >>> file = mnist.download()  # doctest: +SKIP
    """
    file = _places.keras_datasets_dir() / FILE_NAME if file is None else _places.expand(file)
    return _download.download_file(ORIGIN, file, SHA256, fetch)


def _not_found_message(report, target, download_error):
    return "\n".join([
        "MNIST not found. Searched, in order:",
        *report,
        f"and the download into {target} failed:\n  " + str(download_error).replace("\n", "\n  "),
        (f"Put the file {FILE_NAME} (from {ORIGIN}) at {target}, or in a folder named by "
         f"${_places.ENV_VAR}, or pass its path as load_data(path=...)."),
    ])


def load_data(path=FILE_NAME):
    """Loads MNIST, like `keras.datasets.mnist.load_data()`.

    Searches the places given in the module's docstring and downloads Keras's file into
    Keras's cache when none holds it.

    Args:
        path: a bare file name, looked for in $FASTDNN_DATA and in Keras's cache (the meaning
            Keras gives it; default "mnist.npz"), or the path of the file or of a folder holding
            `mnist.npz` (a path with a folder part, such as "./mnist.npz" or "/data").

    Returns:
        `((x_train, y_train), (x_test, y_test))`: uint8 arrays of shapes (60000, 28, 28),
        (60000,), (10000, 28, 28) and (10000,) for the real file; labels are 0..9.

    Raises:
        ValueError: if `path` is empty, or the file found is not a valid mnist.npz (missing
            arrays, other dtypes or shapes, labels above 9); the message names the file.
        FileNotFoundError: if no place holds the file and the download failed; the message
            lists every place searched and where to put the file.

    Example:
        >>> from fastdnn.datasets import mnist
        >>> mnist.load_data(path="")
        Traceback (most recent call last):
            ...
        ValueError: The `path` argument must be a file name ... Received: path=''
    """
    file, _, report = _places.search(_candidates(path), _places.check_file)
    if file is None:
        target = _places.keras_datasets_dir() / _name(path)
        try:
            file = download(target)
        except OSError as err:
            raise FileNotFoundError(_not_found_message(report, target, err)) from err
    return _read(file)
