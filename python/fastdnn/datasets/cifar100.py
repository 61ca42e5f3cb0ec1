"""CIFAR-100: 60,000 32x32 colour images in 100 classes, grouped in 20 superclasses.

Same interface as `keras.datasets.cifar100`: `load_data(label_mode)` returns
`((x_train, y_train), (x_test, y_test))`: images uint8 of shapes (50000, 32, 32, 3) and
(10000, 32, 32, 3), channels last, and labels int64 (the dtype Keras gives) of shapes
(50000, 1) and (10000, 1): the 100 fine classes 0..99 (`label_mode="fine"`) or the 20 coarse
superclasses 0..19 (`label_mode="coarse"`). It reads the Python release Keras downloads, the
folder `cifar-100-python/` with the pickles `train` and `test`, without running anything in
them (see `fastdnn.datasets._safe_pickle`).

Where `load_data` looks, in this order, for that folder:

1. the `path` argument, or else `$FASTDNN_DATA`: the folder itself or a folder holding it;
2. Keras's cache (`~/.keras/datasets/`, or `$KERAS_HOME/datasets/`): in
   `cifar-100-python-target/cifar-100-python/`, where Keras 3 extracts it, then in
   `cifar-100-python/`, where Keras 2 did.

If none holds it, `download` fetches Keras's archive into Keras's cache, checks its SHA-256,
and extracts it there into a temporary folder renamed into place when complete (the layout
Keras 3 reads, so that both share one copy).

Example:
    >>> from fastdnn.datasets import cifar100
    >>> cifar100.load_data(label_mode="medium")
    Traceback (most recent call last):
        ...
    ValueError: `label_mode` must be one of `"fine"`, `"coarse"`. Received: label_mode=medium.
"""

from . import _cifar

__all__ = ["ORIGIN", "SHA256", "download", "load_data"]

#: Where Keras downloads the archive from.
ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
#: SHA-256 of that archive, as Keras checks it.
SHA256 = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"

_RELEASE = _cifar.CIFAR100
_NUM_CLASSES = {"fine": 100, "coarse": 20}


def download(*, fetch=None):
    """Downloads CIFAR-100 into Keras's cache and extracts it, atomically.

    Fetches `ORIGIN` into `cifar-100-python-target_archive` in Keras's cache (unless an
    archive with the right SHA-256 is there already) through a temporary file renamed into
    place once its SHA-256 is `SHA256`, then extracts it into a temporary folder renamed to
    `cifar-100-python-target/`.

    Args:
        fetch: `fetch(url, out)` copies the bytes at `url` into the binary file `out`; default
            `fastdnn.datasets._download.fetch_url` (urllib).

    Returns:
        The folder `cifar-100-python-target/cifar-100-python`, as a `pathlib.Path`.

    Raises:
        OSError: if the archive could not be fetched intact (no network, HTTP error, checksum
            mismatch), is corrupt or lacks a batch, or the cache cannot be written.

    Example:
        >>> from fastdnn.datasets import cifar100
        >>> folder = cifar100.download()  # doctest: +SKIP
    """
    return _cifar.download(_RELEASE, ORIGIN, SHA256, fetch)


def load_data(label_mode="fine", path=None):
    """Loads CIFAR-100, like `keras.datasets.cifar100.load_data()`.

    Searches the places given in the module's docstring, and downloads the archive into
    Keras's cache when none holds the batches.

    Args:
        label_mode: "fine" for the 100 classes, "coarse" for the 20 superclasses.
        path: a folder to search first (`cifar-100-python/` or a folder holding it); default
            `$FASTDNN_DATA` when set. Keras's function has no such argument; leaving it out
            gives Keras's behaviour.

    Returns:
        `((x_train, y_train), (x_test, y_test))`: uint8 images of shapes (50000, 32, 32, 3)
        and (10000, 32, 32, 3) for the real release, channels last; int64 labels of shapes
        (50000, 1) and (10000, 1).

    Raises:
        ValueError: if `label_mode` is neither "fine" nor "coarse" (checked first), or a batch
            is corrupt, truncated or not in the release's format; the message names the file.
        pickle.UnpicklingError: if a batch asks to run anything (`os.system`, ...); refused,
            nothing runs.
        FileNotFoundError: if no place holds the batches and the download failed; the
            message lists the places searched and where to put the files.

    Example:
        >>> from fastdnn.datasets import cifar100
        >>> (x_train, y_train), _ = cifar100.load_data("coarse")  # doctest: +SKIP
    """
    if not isinstance(label_mode, str) or label_mode not in _NUM_CLASSES:
        raise ValueError(
            '`label_mode` must be one of `"fine"`, `"coarse"`. '
            f"Received: label_mode={label_mode}."
        )
    folder = _cifar.find(_RELEASE, path, ORIGIN, lambda: download())
    key, num_classes = f"{label_mode}_labels".encode(), _NUM_CLASSES[label_mode]
    x_train, y_train = _cifar.read_batches(folder, _RELEASE.train_files, key, num_classes,
                                           _RELEASE.title)
    x_test, y_test = _cifar.read_batches(folder, _RELEASE.test_files, key, num_classes,
                                         _RELEASE.title)
    return (x_train, y_train.reshape(-1, 1)), (x_test, y_test.reshape(-1, 1))
