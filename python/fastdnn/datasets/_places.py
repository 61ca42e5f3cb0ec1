"""Where the dataset loaders look for their files: one search order for every dataset.

Each loader searches, in order:

1. the `path` argument when it is given, or else the folder named by the environment variable
   `FASTDNN_DATA`: that folder itself, then its child named after the dataset;
2. Keras's cache, `$KERAS_HOME/datasets/` (`~/.keras/datasets/` when KERAS_HOME is unset or
   empty), so that a copy Keras downloaded is used as it is, and a copy fastdnn downloads is
   found by Keras;
3. any further place the loader adds (Debian's package folder, for Fashion-MNIST).

A place is a `(description, pathlib.Path)` pair. `search` walks the places with a loader's own
check and returns the first one accepted, with a report of why each earlier one was not, for
the error message. Nothing here reads a file's contents.

Example:
    >>> from fastdnn.datasets import _places
    >>> [what for what, _ in _places.given_folders("/data", "mnist")]
    ['path argument', 'path argument']
"""

import os
from pathlib import Path

__all__ = [
    "ENV_VAR",
    "check_file",
    "check_folder",
    "expand",
    "given_folders",
    "keras_datasets_dir",
    "keras_home",
    "search",
]

#: Environment variable naming a folder that holds the data (or holds a folder per dataset).
ENV_VAR = "FASTDNN_DATA"


def expand(path):
    """`path` (str or path-like, `~` expanded) as a `pathlib.Path`.

    Args:
        path: a str or an `os.PathLike`.

    Returns:
        A `pathlib.Path`.

    Raises:
        TypeError: if `path` is neither a str nor path-like.

    Example:
        >>> from fastdnn.datasets import _places
        >>> _places.expand("/data/x").name
        'x'
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"The `path` argument must be a str or a path-like object. Received: path={path!r}"
        )
    return Path(os.path.expanduser(os.fspath(path)))


def keras_home():
    """Keras's home folder: `$KERAS_HOME` when set and not empty, else `~/.keras`.

    Read at each call, so that a change of the environment takes effect at once.

    Returns:
        A `pathlib.Path` (which need not exist).

    Example:
        >>> from pathlib import Path
        >>> from fastdnn.datasets import _places
        >>> isinstance(_places.keras_home(), Path)
        True
    """
    home = os.environ.get("KERAS_HOME")
    if home:
        return expand(home)
    return Path(os.path.expanduser("~")) / ".keras"


def keras_datasets_dir():
    """The folder where Keras caches its datasets: `keras_home() / "datasets"`.

    Returns:
        A `pathlib.Path` (which need not exist).

    Example:
        >>> from fastdnn.datasets import _places
        >>> _places.keras_datasets_dir().name
        'datasets'
    """
    return keras_home() / "datasets"


def given_folders(path, dirname):
    """The places named by the user: `path` when given, else `$FASTDNN_DATA` when set.

    Args:
        path: a folder, or None.
        dirname: the dataset's folder name; the child `dirname` of the folder is searched
            too, unless the folder already bears that name.

    Returns:
        A list of `(description, pathlib.Path)` pairs, empty when neither is given.

    Example:
        >>> from fastdnn.datasets import _places
        >>> [str(p) for _, p in _places.given_folders("/data/mnist", "mnist")]
        ['/data/mnist']
    """
    if path is not None:
        base, what = expand(path), "path argument"
    elif os.environ.get(ENV_VAR):
        base, what = expand(os.environ[ENV_VAR]), f"${ENV_VAR}"
    else:
        return []
    places = [(what, base)]
    if base.name != dirname:
        places.append((what, base / dirname))
    return places


def check_file(file):
    """`(file, None)` when `file` is a regular file, else `(None, why not)`.

    Args:
        file: a `pathlib.Path`.

    Returns:
        A pair, as `search` expects from a check.

    Example:
        >>> from pathlib import Path
        >>> from fastdnn.datasets import _places
        >>> _places.check_file(Path("/no/such/file"))
        (None, 'does not exist')
    """
    if file.is_file():
        return file, None
    if file.exists():
        return None, "is not a file"
    return None, "does not exist"


def check_folder(folder, names, find=None):
    """`({name: file}, None)` when `folder` holds a file for every name, else `(None, why not)`.

    Args:
        folder: a `pathlib.Path`.
        names: the file names the folder must hold.
        find: `find(folder, name)` returns the file standing for `name`, or None; default: the
            regular file `folder / name`.

    Returns:
        A pair, as `search` expects from a check.

    Example:
        >>> from pathlib import Path
        >>> from fastdnn.datasets import _places
        >>> _places.check_folder(Path("/no/such/folder"), ["a"])
        (None, 'does not exist')
    """
    if not folder.exists():
        return None, "does not exist"
    if not folder.is_dir():
        return None, "is not a folder"
    if find is None:
        def find(folder, name):
            return folder / name if (folder / name).is_file() else None
    found = {name: find(folder, name) for name in names}
    missing = [name for name, file in found.items() if file is None]
    if len(missing) == len(found):
        return None, "holds none of the files"
    if missing:
        return None, "lacks " + ", ".join(missing)
    return found, None


def search(places, check):
    """The first place that `check` accepts.

    Args:
        places: `(description, pathlib.Path)` pairs, in search order.
        check: `check(path)` returns `(found, None)` to accept a place, `(None, why)` to refuse.

    Returns:
        `(path, found, report)`: the place accepted and what `check` found there, or
        `(None, None, report)` when none is; `report` has a line per place refused before,
        "  <path> (<description>): <why>".

    Example:
        >>> from pathlib import Path
        >>> from fastdnn.datasets import _places
        >>> _places.search([("test", Path("/no/such/file"))], _places.check_file)
        (None, None, ['  /no/such/file (test): does not exist'])
    """
    report = []
    for what, place in places:
        found, why = check(place)
        if found is not None:
            return place, found, report
        report.append(f"  {place} ({what}): {why}")
    return None, None, report
