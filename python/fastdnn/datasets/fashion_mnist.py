"""Fashion-MNIST: 70,000 28x28 grey-level images of clothes in 10 classes (Zalando Research).

Same interface as `keras.datasets.fashion_mnist`: `load_data()` returns
`((x_train, y_train), (x_test, y_test))`, uint8 arrays of shapes (60000, 28, 28), (60000,),
(10000, 28, 28) and (10000,); labels are 0..9, named by `CLASS_NAMES`.

Where `load_data` looks, in this order, for a folder holding the four IDX files
(`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
`t10k-labels-idx1-ubyte`, each gzipped with `.gz` or not):

1. the `path` argument, or else the environment variable `FASTDNN_DATA`: either the
   fashion-mnist folder itself or a folder that holds `fashion-mnist/`;
2. `~/.keras/datasets/fashion-mnist/` (`$KERAS_HOME/datasets/fashion-mnist/` when KERAS_HOME is
   set), where Keras caches its own download;
3. `/usr/share/datasets/fashion-mnist/`, where Debian's `dataset-fashion-mnist` package puts them.

If none holds them, it downloads the four files from Zalando Research's repository (or a mirror)
into Keras's cache folder. Every file read is checked: its IDX header, its size and
the MD5 of its decompressed bytes; a corrupt or truncated file raises ValueError, never garbage.

The package also ships a small sample, for machines without the dataset and without network:
`load_sample()` returns the first 5,000 training images and the first 1,000 test images of the
real Fashion-MNIST, unchanged, with their labels (between 457 and 556 training images per class,
87 to 115 test images per class). Fashion-MNIST is Copyright (c) 2017 Zalando SE and distributed
under the MIT licence (https://github.com/zalandoresearch/fashion-mnist); the licence text ships
next to the sample, in `fastdnn/datasets/data/FASHION_MNIST_LICENSE.txt`.
`load_data_or_sample()` loads the full dataset when a copy is on this machine and the sample
otherwise, without downloading anything.

Example:
    >>> from fastdnn.datasets import fashion_mnist
    >>> (x_train, y_train), (x_test, y_test) = fashion_mnist.load_sample()
    >>> x_train.shape, x_train.dtype, fashion_mnist.CLASS_NAMES[int(y_train[0])]
    ((5000, 28, 28), dtype('uint8'), 'Ankle boot')
"""

import gzip
import hashlib
import shutil
import zlib
from pathlib import Path

import numpy as np

from . import _download, _places

__all__ = [
    "CLASS_NAMES",
    "download",
    "load_data",
    "load_data_or_sample",
    "load_sample",
    "locate",
]

#: The 10 class names, in label order (label i is CLASS_NAMES[i]).
CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

#: Environment variable naming a folder that holds the data (or holds `fashion-mnist/`).
ENV_VAR = _places.ENV_VAR
#: Name of the dataset's folder, in Keras's cache and in Debian's package alike.
DIRNAME = "fashion-mnist"
#: Debian's `dataset-fashion-mnist` package installs the files here.
SYSTEM_DIR = Path("/usr/share/datasets") / DIRNAME

#: Base URLs tried in turn for each missing file, by `download`.
MIRRORS = (
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
)
#: Seconds a download waits for a connection or for data before trying the next mirror.
DOWNLOAD_TIMEOUT = 10.0

# (file name without .gz, IDX magic number, dimensions, MD5 of the decompressed bytes).
# Checksums of the decompressed bytes, not of the .gz files: Debian recompressed the files,
# so the .gz checksums vary between copies while the contents do not.
_TRAIN_IMAGES = ("train-images-idx3-ubyte", 0x00000803, (60000, 28, 28),
                 "f4a8712d7a061bf5bd6d2ca38dc4d50a")
_TRAIN_LABELS = ("train-labels-idx1-ubyte", 0x00000801, (60000,),
                 "9018921c3c673c538a1fc5bad174d6f9")
_TEST_IMAGES = ("t10k-images-idx3-ubyte", 0x00000803, (10000, 28, 28),
                "8181f5470baa50b63fa0f6fddb340f0a")
_TEST_LABELS = ("t10k-labels-idx1-ubyte", 0x00000801, (10000,),
                "15d484375f8d13e6eb1aabb0c3f46965")
_FILES = (_TRAIN_IMAGES, _TRAIN_LABELS, _TEST_IMAGES, _TEST_LABELS)
_BY_NAME = {f[0]: f for f in _FILES}
#: The four file names, without `.gz`.
FILE_NAMES = tuple(f[0] for f in _FILES)

_SAMPLE_FILE = "fashion_mnist_sample.npz"
_HOW_TO_FIX = (
    f"Put intact copies of the four files there again: from {MIRRORS[0]}, or delete the file so "
    f"that load_data() downloads it again into Keras's cache, or reinstall "
    f"Debian's dataset-fashion-mnist package if the file came from {SYSTEM_DIR}."
)


def _expected_size(spec):
    _, _, dims, _ = spec
    return 4 + 4 * len(dims) + int(np.prod(dims))


def _md5(data):
    try:
        h = hashlib.md5(usedforsecurity=False)
    except TypeError:  # Python < 3.9 has no usedforsecurity
        h = hashlib.md5()
    h.update(data)
    return h.hexdigest()


def _keras_dir():
    return _places.keras_datasets_dir() / DIRNAME


def _candidates(path):
    """The places to search, in order, as (description, folder) pairs."""
    return _places.given_folders(path, DIRNAME) + [
        ("Keras cache", _keras_dir()),
        ("Debian's dataset-fashion-mnist", SYSTEM_DIR),
    ]


def _file_in(folder, name):
    """The file for `name` in `folder` (gzipped preferred), or None."""
    for candidate in (folder / (name + ".gz"), folder / name):
        if candidate.is_file():
            return candidate
    return None


def _check_folder(folder):
    """(dict name -> file, None) if `folder` holds all four files, else (None, why not)."""
    return _places.check_folder(folder, FILE_NAMES, _file_in)


def _search(path):
    """(folder, files, report): the first place holding all four files, or (None, None, report)."""
    return _places.search(_candidates(path), _check_folder)


def locate(path=None):
    """Returns the first folder, in `load_data`'s search order, that holds the four files.

    Only looks for the files' names; `load_data` checks their contents.

    Args:
        path: a folder to search first (the fashion-mnist folder or a parent of it), else
            $FASTDNN_DATA; then ~/.keras/datasets/fashion-mnist and
            /usr/share/datasets/fashion-mnist.

    Returns:
        A `pathlib.Path`, or None when no place holds all four files.

    Example:
        >>> from fastdnn.datasets import fashion_mnist
        >>> folder = fashion_mnist.locate()  # None when the dataset is not on this machine
    """
    folder, _, _ = _search(path)
    return folder


def _read(file, spec, gzipped=None, name=None, hint=_HOW_TO_FIX):
    """The decompressed bytes of `file`, bounded by the expected size; ValueError if unreadable.

    `gzipped` defaults to whether the name ends in .gz; `name` is what error messages call it.
    """
    limit = _expected_size(spec) + 1  # one byte more shows a file that is too long
    if gzipped is None:
        gzipped = file.name.endswith(".gz")
    opener = gzip.open if gzipped else open
    try:
        with opener(file, "rb") as fh:
            return fh.read(limit)
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise ValueError(
            f"Fashion-MNIST file {name or file} is corrupt or truncated: it cannot be decompressed "
            f"({type(err).__name__}: {err}). {hint}".rstrip()
        ) from err


def _parse(file, data, spec, hint=_HOW_TO_FIX):
    """Checks the IDX header, size and checksum of `data` and returns it as a uint8 array."""
    name, magic, dims, md5 = spec
    kind = "images" if len(dims) == 3 else "labels"
    header_len = 4 + 4 * len(dims)
    if len(data) < header_len:
        raise ValueError(
            f"Fashion-MNIST file {file} is truncated: {len(data)} bytes, shorter than the "
            f"{header_len}-byte IDX header of {name}. {hint}".rstrip()
        )
    found_magic = int.from_bytes(data[:4], "big")
    if found_magic != magic:
        raise ValueError(
            f"Fashion-MNIST file {file} is not an IDX file of uint8 {kind}: its magic number is "
            f"0x{found_magic:08x}, expected 0x{magic:08x}. {hint}".rstrip()
        )
    found_dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(len(dims)))
    if found_dims != dims:
        raise ValueError(
            f"Fashion-MNIST file {file} has the wrong dimensions: its header says "
            f"{found_dims}, expected {dims}. {hint}".rstrip()
        )
    expected = header_len + int(np.prod(dims))
    if len(data) != expected:
        size = f"more than {expected}" if len(data) > expected else f"{len(data)}"
        state = "too long" if len(data) > expected else "truncated"
        raise ValueError(
            f"Fashion-MNIST file {file} is {state}: its decompressed contents are {size} bytes, "
            f"expected {expected} (a {header_len}-byte header and {expected - header_len} bytes of "
            f"{kind}). {hint}".rstrip()
        )
    actual = _md5(data)
    if actual != md5:
        raise ValueError(
            f"Fashion-MNIST file {file} fails its checksum: the MD5 of its decompressed bytes is "
            f"{actual}, expected {md5}. The file is corrupt or is not the Fashion-MNIST release. "
            f"{hint}".rstrip()
        )
    # A copy, so that the array owns writable memory (np.frombuffer over bytes is read-only).
    return np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(dims).copy()


def _load_folder(files):
    arrays = []
    for spec in _FILES:
        file = files[spec[0]]
        arrays.append(_parse(file, _read(file, spec), spec))
    x_train, y_train, x_test, y_test = arrays
    return (x_train, y_train), (x_test, y_test)


def _urlopen(url, timeout):
    """Opens `url`; tests replace this to keep off the network."""
    import urllib.request  # imported here: it costs `import fastdnn` about 30 ms

    return urllib.request.urlopen(url, timeout=timeout)


def download(directory=None, *, mirrors=None, timeout=None):
    """Downloads the missing Fashion-MNIST files into `directory`, checking each one.

    Each of the four `.gz` files that `directory` lacks is fetched from the first mirror that
    serves an intact copy, written to a temporary file in `directory`, checked (IDX header, size
    and MD5 of the decompressed bytes), and only then renamed into place (`os.replace`), so that
    an interrupted or failed download never leaves a partial file under the real name.

    Args:
        directory: where to put the files; default ~/.keras/datasets/fashion-mnist, or
            $KERAS_HOME/datasets/fashion-mnist when KERAS_HOME is set (created if
            needed).
        mirrors: base URLs to try in turn, each ending in '/'; default `MIRRORS`.
        timeout: seconds to wait for a connection or for data before giving up on a mirror;
            default `DOWNLOAD_TIMEOUT`.

    Returns:
        The folder, as a `pathlib.Path`.

    Raises:
        OSError: if a file could not be fetched intact from any mirror (no network, HTTP error,
            corrupt download) or the folder cannot be written; the message gives each mirror's
            error.

    Example:
        >>> from fastdnn.datasets import fashion_mnist
        >>> folder = fashion_mnist.download()  # doctest: +SKIP
    """
    if directory is None:
        directory = _keras_dir()
    else:
        directory = _places.expand(directory)
    mirrors = MIRRORS if mirrors is None else tuple(mirrors)
    timeout = DOWNLOAD_TIMEOUT if timeout is None else timeout
    directory.mkdir(parents=True, exist_ok=True)
    for spec in _FILES:
        name = spec[0]
        if _file_in(directory, name) is not None:
            continue
        target = directory / (name + ".gz")
        errors = []
        for base in mirrors:
            url = base + name + ".gz"

            def write(out, url=url):
                with _urlopen(url, timeout) as response:
                    shutil.copyfileobj(response, out, 1 << 20)

            def check(tmp, url=url, spec=spec):
                _parse(url, _read(tmp, spec, gzipped=True, name=url, hint=""), spec, hint="")

            try:
                _download.write_atomically(target, write, check)
                break
            except (OSError, ValueError) as err:  # URLError and socket timeouts are OSErrors
                errors.append(f"{url}: {err}")
        else:
            raise OSError(
                f"Could not download the Fashion-MNIST file {name}.gz into {directory}:\n  "
                + "\n  ".join(errors)
            )
    return directory


def _not_found_message(report, download_error=None):
    lines = ["Fashion-MNIST not found. Searched, in order:", *report]
    if download_error is not None:
        lines.append(
            f"and the download into {_keras_dir()} failed:\n  "
            + str(download_error).replace("\n", "\n  ")
        )
    lines.append(
        "Put the four files (" + ", ".join(n + ".gz" for n in FILE_NAMES) + "; gzipped or not) "
        f"in a folder and pass it as load_data(path=...) or set ${ENV_VAR} to it (or to a folder "
        f"holding {DIRNAME}/); or copy them to {_keras_dir()}/; or, on Debian and "
        f"Ubuntu, install the package dataset-fashion-mnist (sudo apt install "
        f"dataset-fashion-mnist), which puts them in {SYSTEM_DIR}/. The files are at "
        f"{MIRRORS[0]}"
    )
    return "\n".join(lines)


def load_data(path=None):
    """Loads Fashion-MNIST, like `keras.datasets.fashion_mnist.load_data()`.

    Searches `path` (or $FASTDNN_DATA), ~/.keras/datasets/fashion-mnist and
    /usr/share/datasets/fashion-mnist in that order, and downloads the files into
    ~/.keras/datasets/fashion-mnist when none holds them (see the module's docstring).

    Args:
        path: a folder holding the four IDX files (gzipped or not), or a folder holding
            `fashion-mnist/`; default $FASTDNN_DATA when set. When it lacks the files the
            search goes on to the other places.

    Returns:
        `((x_train, y_train), (x_test, y_test))`: uint8 arrays of shapes (60000, 28, 28),
        (60000,), (10000, 28, 28) and (10000,); the labels are 0..9 (see `CLASS_NAMES`).

    Raises:
        ValueError: if a file found is corrupt, truncated or fails its checksum; the message
            names the file, and the expected and actual checksum where it is a checksum.
        FileNotFoundError: if no place holds the files and the download failed; the message
            lists every place searched and where to put the files.

    Example:
        >>> from fastdnn.datasets import fashion_mnist
        >>> (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()  # doctest: +SKIP
        >>> x_train.shape, y_test.shape  # doctest: +SKIP
        ((60000, 28, 28), (10000,))
    """
    return _load(path, allow_download=True)[0]


def _load(path, allow_download):
    """((data), folder) from the first place holding the files; downloads if allowed.

    Returns (None, None) when nothing is found and downloading is not allowed.
    """
    folder, files, report = _search(path)
    if folder is None:
        if not allow_download:
            return None, None
        try:
            folder = download(_keras_dir())
        except OSError as err:
            raise FileNotFoundError(_not_found_message(report, err)) from err
        files, why = _check_folder(folder)
        if files is None:  # only a misbehaving download() gets here
            raise FileNotFoundError(_not_found_message(report + [f"  {folder}: {why}"]))
    return _load_folder(files), folder


def load_sample():
    """Loads the small Fashion-MNIST sample shipped with fastdnn (no file or network needed).

    The sample is the first 5,000 training and the first 1,000 test images of the real
    Fashion-MNIST, with their labels, unchanged (MIT licence, Zalando Research).

    Returns:
        `((x_train, y_train), (x_test, y_test))`: uint8 arrays of shapes (5000, 28, 28),
        (5000,), (1000, 28, 28) and (1000,).

    Raises:
        FileNotFoundError: if the sample file is missing from the installed package.

    Example:
        >>> from fastdnn.datasets import fashion_mnist
        >>> (x_train, y_train), (x_test, y_test) = fashion_mnist.load_sample()
        >>> x_test.shape, y_test.dtype
        ((1000, 28, 28), dtype('uint8'))
    """
    file = Path(__file__).resolve().parent / "data" / _SAMPLE_FILE
    if not file.is_file():
        raise FileNotFoundError(
            f"The Fashion-MNIST sample {file} is missing from this installation of fastdnn; "
            "reinstall fastdnn."
        )
    with np.load(file, allow_pickle=False) as npz:
        arrays = [np.ascontiguousarray(npz[k], dtype=np.uint8)
                  for k in ("x_train", "y_train", "x_test", "y_test")]
    x_train, y_train, x_test, y_test = arrays
    return (x_train, y_train), (x_test, y_test)


def load_data_or_sample(path=None):
    """Loads the full Fashion-MNIST when it is on this machine, else the shipped sample.

    Searches like `load_data` but never downloads: when no place holds the files it returns
    `load_sample()`. A copy that is found but corrupt still raises, rather than being replaced
    silently by the sample.

    Args:
        path: as for `load_data`.

    Returns:
        `(data, source)`: `data` is `((x_train, y_train), (x_test, y_test))` as from
        `load_data` or `load_sample`; `source` is the folder the files came from, as a string,
        or "sample".

    Raises:
        ValueError: if a copy is found but a file is corrupt, truncated or fails its checksum.

    Example:
        >>> from fastdnn.datasets import fashion_mnist
        >>> ((x_train, y_train), _), source = fashion_mnist.load_data_or_sample()
        >>> source == "sample" or len(x_train) == 60000
        True
    """
    data, folder = _load(path, allow_download=False)
    if data is None:
        return load_sample(), "sample"
    return data, str(folder)
