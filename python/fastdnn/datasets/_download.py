"""Downloads that never leave a partial file or folder under its real name.

`write_atomically` writes into a temporary file beside the target, flushes it to disk
(`os.fsync`), lets the caller check it, and only then renames it into place with `os.replace`,
which is atomic within a filesystem; an interrupted or failed download leaves the target as it
was and no temporary file behind. `extract_tar` does the same for a folder: it extracts an
archive into a temporary folder beside the target and renames that into place, extracting
regular files only and only under the archive's expected top folder (no links, no absolute or
`..` paths). `fetch_url` is the one function that touches the network; `download_file` looks it
up here at each call, so tests replace it with `monkeypatch.setattr`.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from fastdnn.datasets import _download
    >>> folder = Path(tempfile.mkdtemp())
    >>> _download.write_atomically(folder / "a.txt", lambda out: out.write(b"hi")).read_bytes()
    b'hi'
    >>> sorted(p.name for p in folder.iterdir())  # no temporary file left
    ['a.txt']
"""

import hashlib
import os
import posixpath
import shutil
import tempfile
import uuid
from pathlib import Path

__all__ = [
    "DOWNLOAD_TIMEOUT",
    "download_file",
    "extract_tar",
    "fetch_url",
    "sha256_of",
    "write_atomically",
]

#: Seconds `fetch_url` waits for a connection or for data before giving up.
DOWNLOAD_TIMEOUT = 30.0
_CHUNK = 1 << 20


def fetch_url(url, out, timeout=None):
    """Copies the bytes served at `url` into the binary file `out`.

    Args:
        url: an http, https or file URL.
        out: a binary file object open for writing.
        timeout: seconds to wait for a connection or for data; default `DOWNLOAD_TIMEOUT`.

    Raises:
        OSError: if the URL cannot be opened or read (no network, HTTP error, timeout, a
            connection cut short).

    Example:
        >>> import io, tempfile
        >>> from pathlib import Path
        >>> from fastdnn.datasets import _download
        >>> file = Path(tempfile.mkdtemp()) / "x"
        >>> _ = file.write_bytes(b"abc")
        >>> out = io.BytesIO()
        >>> _download.fetch_url(file.as_uri(), out)
        >>> out.getvalue()
        b'abc'
    """
    # Imported here, not at the top: urllib.request costs about 30 ms, and `import fastdnn`
    # should not pay it.
    import http.client
    import urllib.request

    timeout = DOWNLOAD_TIMEOUT if timeout is None else timeout
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, out, _CHUNK)
    except http.client.HTTPException as err:  # e.g. IncompleteRead: not an OSError
        raise OSError(f"{type(err).__name__}: {err}") from err


def sha256_of(file):
    """The SHA-256 of the file's bytes, as 64 hex digits.

    Args:
        file: a path.

    Returns:
        A str.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from fastdnn.datasets import _download
        >>> file = Path(tempfile.mkdtemp()) / "empty"
        >>> file.touch()
        >>> _download.sha256_of(file)[:16]
        'e3b0c44298fc1c14'
    """
    digest = hashlib.sha256()
    with open(file, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_folder(folder):
    """Flushes a folder's entries (a rename) to disk, where the system allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open a folder; its renames need no such flush
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomically(target, write, check=None):
    """Writes a file through a temporary file beside it, renamed into place when complete.

    Args:
        target: the file to write (its folder is created if needed).
        write: `write(out)` writes the contents into the binary file object `out`.
        check: `check(tmp)`, called on the complete temporary file before the rename, raises
            to refuse it; default none.

    Returns:
        `target`, as a `pathlib.Path`.

    Raises:
        Whatever `write` or `check` raise, and OSError if the folder cannot be written; the
        target is then left as it was, and the temporary file is removed.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from fastdnn.datasets import _download
        >>> target = Path(tempfile.mkdtemp()) / "b.bin"
        >>> _download.write_atomically(target, lambda out: out.write(b"\\x01")).stat().st_size
        1
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp)
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        if check is not None:
            check(tmp)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_folder(target.parent)
    return target


def download_file(url, target, sha256, fetch=None):
    """Downloads `url` into `target` atomically, refusing it unless its SHA-256 is `sha256`.

    Args:
        url: where to fetch the file.
        target: the file to write.
        sha256: the expected SHA-256, as 64 hex digits.
        fetch: `fetch(url, out)` copies the bytes at `url` into the binary file `out`; default
            this module's `fetch_url`, looked up at the call.

    Returns:
        `target`, as a `pathlib.Path`.

    Raises:
        OSError: if the fetch fails or the file's SHA-256 differs; nothing is then written
            under `target`.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from fastdnn.datasets import _download
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "src").write_bytes(b"")
        >>> digest = _download.sha256_of(folder / "src")
        >>> _download.download_file((folder / "src").as_uri(), folder / "dst", digest).name
        'dst'
    """
    fetch = fetch_url if fetch is None else fetch

    def check(tmp):
        actual = sha256_of(tmp)
        if actual != sha256:
            raise ValueError(
                f"the file received has SHA-256 {actual}, expected {sha256}: it is incomplete, "
                "corrupt or not the expected release"
            )

    try:
        return write_atomically(target, lambda out: fetch(url, out), check)
    except (OSError, ValueError) as err:
        raise OSError(f"Could not download {url} into {target}: {err}") from err


def _member_parts(name, top):
    """The path parts of a tar member named `name` if it lies under `top/`, else None."""
    if name.startswith("/") or "\\" in name or ":" in name:
        return None
    parts = posixpath.normpath(name).split("/")
    if len(parts) < 2 or parts[0] != top or any(p in ("", ".", "..") for p in parts):
        return None
    return parts


def _replace_folder(new, target):
    """Renames folder `new` to `target`, moving an existing `target` aside first."""
    aside = None
    if target.exists():
        aside = target.with_name(f".{target.name}.old-{uuid.uuid4().hex}")
        os.rename(target, aside)
    try:
        os.rename(new, target)
    except OSError:
        if aside is not None:
            os.rename(aside, target)
        raise
    _fsync_folder(target.parent)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def extract_tar(archive, target, top, required=()):
    """Extracts the regular files under `top/` in a tar archive into `target/top/`, atomically.

    The files go into a temporary folder beside `target`, each flushed to disk; when all are
    there the folder is renamed to `target` (an existing `target`, perhaps left incomplete
    before, is replaced). Members that are not regular files (links, devices) or that lie
    outside `top/` are skipped, so nothing is written outside the temporary folder.

    Args:
        archive: the tar file (compressed or not).
        target: the folder to create.
        top: the name of the archive's top folder.
        required: file names that `top/` must hold, else nothing is renamed into place.

    Returns:
        `target`, as a `pathlib.Path`.

    Raises:
        OSError: if the archive is corrupt or truncated, lacks a required file, or the folder
            cannot be written; `target` is then left as it was.

    Example:
        >>> import io, tarfile, tempfile
        >>> from pathlib import Path
        >>> from fastdnn.datasets import _download
        >>> folder = Path(tempfile.mkdtemp())
        >>> with tarfile.open(folder / "a.tar", "w") as tar:
        ...     info = tarfile.TarInfo("top/x.txt"); info.size = 2
        ...     tar.addfile(info, io.BytesIO(b"ok"))
        >>> (_download.extract_tar(folder / "a.tar", folder / "out", "top") / "top" / "x.txt").read_bytes()
        b'ok'
    """
    import tarfile  # imported here: only a download needs it
    import zlib

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                for member in tar:
                    parts = _member_parts(member.name, top)
                    if parts is None or not member.isfile():
                        continue
                    dest = tmp.joinpath(*parts)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    with tar.extractfile(member) as src, open(dest, "wb") as out:
                        shutil.copyfileobj(src, out, _CHUNK)
                        out.flush()
                        os.fsync(out.fileno())
        except (tarfile.TarError, EOFError, zlib.error) as err:
            raise OSError(
                f"The archive {archive} is corrupt or truncated ({type(err).__name__}: {err})"
            ) from err
        missing = [name for name in required if not (tmp / top / name).is_file()]
        if missing:
            raise OSError(f"The archive {archive} lacks {top}/" + f", {top}/".join(missing))
        _fsync_folder(tmp / top)
        _replace_folder(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
