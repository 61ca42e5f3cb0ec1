"""CIFAR-10: 60,000 32x32 colour images in 10 classes (Krizhevsky, Nair and Hinton).

Same interface as `keras.datasets.cifar10`: `load_data()` returns
`((x_train, y_train), (x_test, y_test))`, uint8 arrays of shapes (50000, 32, 32, 3), (50000, 1),
(10000, 32, 32, 3) and (10000, 1), images channels last; labels are 0..9, named by
`CLASS_NAMES`. It reads the Python release Keras downloads, the folder `cifar-10-batches-py/`
with the pickles `data_batch_1` .. `data_batch_5` and `test_batch`, and reads them without
running anything in them (see `fastdnn.datasets._safe_pickle`).

Where `load_data` looks, in this order, for that folder:

1. the `path` argument, or else `$FASTDNN_DATA`: the folder itself or a folder holding it;
2. Keras's cache (`~/.keras/datasets/`, or `$KERAS_HOME/datasets/`): in
   `cifar-10-batches-py-target/cifar-10-batches-py/`, where Keras 3 extracts it, then in
   `cifar-10-batches-py/`, where Keras 2 did.

If none holds it, `download` fetches Keras's archive into Keras's cache, checks its SHA-256,
and extracts it there into a temporary folder renamed into place when complete (the layout
Keras 3 reads, so that both share one copy). Every batch is checked; a corrupt one raises
ValueError, a pickle naming anything but NumPy's array rebuilding raises
`pickle.UnpicklingError`.

Example:
    >>> from fastdnn.datasets import cifar10
    >>> cifar10.CLASS_NAMES[3]
    'cat'
    >>> (x_train, y_train), (x_test, y_test) = cifar10.load_data()  # doctest: +SKIP
    >>> x_train.shape, y_train.shape, y_train.dtype  # doctest: +SKIP
    ((50000, 32, 32, 3), (50000, 1), dtype('uint8'))
"""

import numpy as np

from . import _cifar

__all__ = ["CLASS_NAMES", "ORIGIN", "SHA256", "download", "load_data"]

#: The 10 class names, in label order (label i is CLASS_NAMES[i]).
CLASS_NAMES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
#: Where Keras downloads the archive from.
ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
#: SHA-256 of that archive, as Keras checks it.
SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"

_RELEASE = _cifar.CIFAR10


def download(*, fetch=None):
    """Downloads CIFAR-10 into Keras's cache and extracts it, atomically.

    Fetches `ORIGIN` into `cifar-10-batches-py-target_archive` in Keras's cache (unless an
    archive with the right SHA-256 is there already) through a temporary file renamed into
    place once its SHA-256 is `SHA256`, then extracts it into a temporary folder renamed to
    `cifar-10-batches-py-target/`.

    Args:
        fetch: `fetch(url, out)` copies the bytes at `url` into the binary file `out`; default
            `fastdnn.datasets._download.fetch_url` (urllib).

    Returns:
        The folder `cifar-10-batches-py-target/cifar-10-batches-py`, as a `pathlib.Path`.

    Raises:
        OSError: if the archive could not be fetched intact (no network, HTTP error, checksum
            mismatch), is corrupt or lacks a batch, or the cache cannot be written.

    Example:
        >>> from fastdnn.datasets import cifar10
        >>> folder = cifar10.download()  # doctest: +SKIP
    """
    return _cifar.download(_RELEASE, ORIGIN, SHA256, fetch)


def load_data(path=None):
    """Loads CIFAR-10, like `keras.datasets.cifar10.load_data()`.

    Searches the places given in the module's docstring, and downloads the archive into
    Keras's cache when none holds the batches.

    Args:
        path: a folder to search first (`cifar-10-batches-py/` or a folder holding it); default
            `$FASTDNN_DATA` when set. Keras's function has no such argument; leaving it out
            gives Keras's behaviour.

    Returns:
        `((x_train, y_train), (x_test, y_test))`: uint8 arrays of shapes (50000, 32, 32, 3),
        (50000, 1), (10000, 32, 32, 3) and (10000, 1) for the real release; images channels
        last, labels 0..9.

    Raises:
        ValueError: if a batch is corrupt, truncated or not in the release's format; the
            message names the file.
        pickle.UnpicklingError: if a batch asks to run anything (`os.system`, ...); refused,
            nothing runs.
        FileNotFoundError: if no place holds the batches and the download failed; the
            message lists the places searched and where to put the files.

    Example:
        >>> from fastdnn.datasets import cifar10
        >>> (x_train, y_train), _ = cifar10.load_data()  # doctest: +SKIP
    """
    folder = _cifar.find(_RELEASE, path, ORIGIN, lambda: download())
    x_train, y_train = _cifar.read_batches(folder, _RELEASE.train_files, b"labels", 10,
                                           _RELEASE.title)
    x_test, y_test = _cifar.read_batches(folder, _RELEASE.test_files, b"labels", 10,
                                         _RELEASE.title)
    return ((x_train, y_train.astype(np.uint8).reshape(-1, 1)),
            (x_test, y_test.astype(np.uint8).reshape(-1, 1)))
