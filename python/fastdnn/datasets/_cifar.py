"""CIFAR-10 and CIFAR-100 in their Python release: finding, downloading and reading the batches.

Each release is a tar archive of one folder (`cifar-10-batches-py/`, `cifar-100-python/`) of
Python 2 pickles, one per batch of images. Each is a dict with bytes keys: b"data", a uint8
array of shape (n, 3072) whose row is one 32x32 colour image stored as three planes, red, green
then blue, each plane row by row; and the labels, a list of n ints (b"labels" in CIFAR-10,
b"fine_labels" and b"coarse_labels" in CIFAR-100). `read_batch` reads one with `_safe_pickle`,
which can rebuild that and nothing else (no code in the file ever runs), and checks it;
`read_batches` puts batches together as `keras.datasets.cifar10` does, channels last:
x[i, row, column, channel] = data[i, channel * 1024 + row * 32 + column].

Where `find` looks, in this order (see `_places`), for the release's folder:

1. the `path` argument, or else `$FASTDNN_DATA`: the release's folder itself, or a folder
   holding it;
2. Keras's cache, `$KERAS_HOME/datasets/` or `~/.keras/datasets/`: in `<folder>-target/<folder>/`,
   where Keras 3 extracts it, then in `<folder>/`, where Keras 2 did.

When none holds all the batches, `download` fetches the archive into Keras's cache, under the
name Keras 3 gives it (`<folder>-target_archive`), checks its SHA-256, and extracts it into a
temporary folder renamed to `<folder>-target/` once complete: the layout Keras 3 reads, so that
Keras and fastdnn share one copy.

Example:
    >>> from fastdnn.datasets import _cifar
    >>> _cifar.CIFAR10.keras_folder().parts[-2:]
    ('cifar-10-batches-py-target', 'cifar-10-batches-py')
"""

from dataclasses import dataclass

import numpy as np

from . import _download, _places, _safe_pickle

__all__ = [
    "CIFAR10", "CIFAR100", "Release", "download", "find", "read_batch", "read_batches", "search",
]

_PIXELS = 32 * 32 * 3


@dataclass(frozen=True)
class Release:
    """One CIFAR release: its name, its folder and the batch files in it.

    Args:
        title: the dataset's name in messages, e.g. "CIFAR-10".
        dirname: the archive's top folder, e.g. "cifar-10-batches-py".
        archive: the archive's file name on the CIFAR site, e.g. "cifar-10-python.tar.gz".
        train_files: the training batches, in order.
        test_files: the test batches, in order.

    Example:
        >>> from fastdnn.datasets import _cifar
        >>> _cifar.CIFAR100.train_files
        ('train',)
    """

    title: str
    dirname: str
    archive: str
    train_files: tuple
    test_files: tuple

    @property
    def files(self):
        """All the batch files, training then test."""
        return self.train_files + self.test_files

    def keras_target(self):
        """The folder Keras 3 extracts the archive into: `<dirname>-target` in its cache."""
        return _places.keras_datasets_dir() / f"{self.dirname}-target"

    def keras_folder(self):
        """The release's folder as Keras 3 extracts it: `<dirname>-target/<dirname>`."""
        return self.keras_target() / self.dirname

    def keras_archive(self):
        """Where Keras 3 keeps the downloaded archive: `<dirname>-target_archive`."""
        return _places.keras_datasets_dir() / f"{self.dirname}-target_archive"


CIFAR10 = Release(
    title="CIFAR-10",
    dirname="cifar-10-batches-py",
    archive="cifar-10-python.tar.gz",
    train_files=tuple(f"data_batch_{i}" for i in range(1, 6)),
    test_files=("test_batch",),
)
CIFAR100 = Release(
    title="CIFAR-100",
    dirname="cifar-100-python",
    archive="cifar-100-python.tar.gz",
    train_files=("train",),
    test_files=("test",),
)


def _candidates(release, path):
    return _places.given_folders(path, release.dirname) + [
        ("Keras cache", release.keras_folder()),
        ("Keras cache, Keras 2 layout", _places.keras_datasets_dir() / release.dirname),
    ]


def search(release, path):
    """`(folder, report)`: the first folder holding every batch file, or `(None, report)`.

    Args:
        release: a `Release`.
        path: the `path` argument of `load_data`, or None.

    Returns:
        A pair; `report` says why each place before was refused.

    Example:
        >>> from fastdnn.datasets import _cifar
        >>> folder, report = _cifar.search(_cifar.CIFAR10, "/no/such/folder")
        >>> report[0]
        '  /no/such/folder (path argument): does not exist'
    """
    folder, _, report = _places.search(
        _candidates(release, path), lambda f: _places.check_folder(f, release.files)
    )
    return folder, report


def download(release, origin, sha256, fetch=None):
    """Downloads and extracts a release into Keras's cache, atomically; returns its folder.

    Reuses an archive already in the cache (`Release.keras_archive`, as Keras 3 leaves it)
    when its SHA-256 is `sha256`; else fetches `origin` into it through a temporary file.
    Then extracts the archive into a temporary folder renamed to `Release.keras_target`.

    Args:
        release: a `Release`.
        origin: the archive's URL.
        sha256: the archive's SHA-256, as 64 hex digits.
        fetch: `fetch(url, out)` copies the bytes at `url` into `out`; default
            `_download.fetch_url`.

    Returns:
        `Release.keras_folder()`, holding every batch file.

    Raises:
        OSError: if the archive could not be fetched intact, is corrupt, lacks a batch file,
            or the cache cannot be written.

    Example:
        >>> from fastdnn.datasets import _cifar
        >>> folder = _cifar.download(_cifar.CIFAR10, "https://...", "...")  # doctest: +SKIP
    """
    archive = release.keras_archive()
    if not (archive.is_file() and _download.sha256_of(archive) == sha256):
        _download.download_file(origin, archive, sha256, fetch)
    _download.extract_tar(archive, release.keras_target(), release.dirname, release.files)
    return release.keras_folder()


def _not_found_message(release, origin, report, download_error):
    target = release.keras_target()
    return "\n".join([
        f"{release.title} not found. Searched, in order:",
        *report,
        f"and the download into {target} failed:\n  " + str(download_error).replace("\n", "\n  "),
        (f"Download {release.archive} from {origin} and extract it into {target}/ (so that "
         f"{release.keras_folder()}/ holds {', '.join(release.files)}), for instance with "
         f"`mkdir -p {target} && tar -xzf {release.archive} -C {target}`; or extract it "
         f"anywhere and pass the folder {release.dirname}/ (or a folder holding it) as "
         f"load_data(path=...), or set ${_places.ENV_VAR} to it."),
    ])


def find(release, path, origin, download_release):
    """The release's folder: the first found, else the one `download_release()` makes.

    Args:
        release: a `Release`.
        path: the `path` argument of `load_data`, or None.
        origin: the archive's URL, for the error message.
        download_release: called without arguments when no place holds the batches; returns
            the folder or raises OSError.

    Returns:
        A `pathlib.Path`.

    Raises:
        FileNotFoundError: if no place holds the batches and the download failed; the
            message lists the places searched and where to put the files.

    Example:
        >>> from fastdnn.datasets import _cifar
        >>> def offline():
        ...     raise OSError("no network")
        >>> _cifar.find(_cifar.CIFAR10, "/nowhere", "https://...", offline)
        Traceback (most recent call last):
            ...
        FileNotFoundError: CIFAR-10 not found. Searched, in order: ...
    """
    folder, report = search(release, path)
    if folder is None:
        try:
            folder = download_release()
        except OSError as err:
            raise FileNotFoundError(_not_found_message(release, origin, report, err)) from err
    return folder


def _fail(title, file, what):
    return ValueError(
        f"{title} file {file} is not a valid batch of the Python release: {what}. Delete the "
        "folder so that load_data() downloads it again, or extract an intact copy there."
    )


def read_batch(file, label_key, num_classes, title="CIFAR"):
    """Reads one batch file, checked: `(data, labels)`.

    Args:
        file: the pickle file.
        label_key: the key of the labels, e.g. b"labels".
        num_classes: labels must lie in 0 .. num_classes - 1.
        title: the dataset's name in messages.

    Returns:
        `data`, uint8 of shape (n, 3072) as stored, and `labels`, int64 of shape (n,).

    Raises:
        pickle.UnpicklingError: (`_safe_pickle.RefusedGlobalError`) if the pickle names any
            global but the three a NumPy array needs; nothing in it has run.
        ValueError: if the file is corrupt, truncated or not a batch (no dict, a key missing,
            data not uint8 of shape (n, 3072), labels not n ints in range).

    Example:
        >>> import pickle, tempfile
        >>> from pathlib import Path
        >>> import numpy as np
        >>> from fastdnn.datasets import _cifar
        >>> file = Path(tempfile.mkdtemp()) / "batch"
        >>> batch = {b"data": np.zeros((2, 3072), np.uint8), b"labels": [3, 9]}
        >>> _ = file.write_bytes(pickle.dumps(batch, protocol=4))
        >>> data, labels = _cifar.read_batch(file, b"labels", 10)
        >>> data.shape, labels.tolist()
        ((2, 3072), [3, 9])
    """
    try:
        with open(file, "rb") as fh:
            batch = _safe_pickle.load(fh, encoding="bytes")
    except _safe_pickle.RefusedGlobalError as err:
        raise _safe_pickle.RefusedGlobalError(f"{title} file {file}: {err}") from None
    except OSError:
        raise
    except Exception as err:  # a corrupt pickle raises any of a dozen types
        raise _fail(title, file, f"it cannot be unpickled ({type(err).__name__}: {err})") from err
    if not isinstance(batch, dict):
        raise _fail(title, file, f"it holds a {type(batch).__name__}, not a dict")
    batch = {k.decode("utf-8", "replace") if isinstance(k, bytes) else k: v
             for k, v in batch.items()}
    key = label_key.decode("utf-8")
    for needed in ("data", key):
        if needed not in batch:
            raise _fail(title, file, f"it has no {needed!r} entry")
    data = batch["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != _PIXELS:
        what = (f"dtype {data.dtype} and shape {data.shape}" if isinstance(data, np.ndarray)
                else f"a {type(data).__name__}")
        raise _fail(title, file, f"its data is {what}, expected uint8 of shape (n, {_PIXELS})")
    labels = np.asarray(batch[key])
    if labels.shape != (len(data),) or (labels.size and labels.dtype.kind not in "iu"):
        raise _fail(title, file, f"its {key!r} are not {len(data)} ints to match its data")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = int(labels.min() if labels.min() < 0 else labels.max())
        raise _fail(title, file, f"its {key!r} hold {bad}, outside 0..{num_classes - 1}")
    return data, labels.astype(np.int64)


def read_batches(folder, names, label_key, num_classes, title="CIFAR"):
    """Reads and joins batch files: `(x, y)`, images channels last.

    Args:
        folder: the release's folder.
        names: the batch files in it, in order.
        label_key, num_classes, title: as for `read_batch`.

    Returns:
        `x`, uint8 of shape (n, 32, 32, 3) (n the total over the batches), and `y`, int64 of
        shape (n,).

    Raises:
        As `read_batch`.

    Example:
        >>> import pickle, tempfile
        >>> from pathlib import Path
        >>> import numpy as np
        >>> from fastdnn.datasets import _cifar
        >>> folder = Path(tempfile.mkdtemp())
        >>> data = (np.arange(3072) // 1024).astype(np.uint8)[None]  # planes of 0, 1 and 2
        >>> _ = (folder / "b").write_bytes(pickle.dumps({b"data": data, b"labels": [1]}))
        >>> x, y = _cifar.read_batches(folder, ["b"], b"labels", 10)
        >>> x.shape, x[0, 31, 5].tolist(), y.tolist()
        ((1, 32, 32, 3), [0, 1, 2], [1])
    """
    parts = [read_batch(folder / name, label_key, num_classes, title) for name in names]
    x = np.empty((sum(len(d) for d, _ in parts), 32, 32, 3), dtype=np.uint8)
    start = 0
    for data, _ in parts:
        x[start:start + len(data)] = data.reshape(len(data), 3, 32, 32).transpose(0, 2, 3, 1)
        start += len(data)
    y = np.concatenate([labels for _, labels in parts]) if parts else np.empty(0, np.int64)
    return x, y
