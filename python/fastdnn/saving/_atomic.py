"""Atomic file writes: a temporary file in the target's directory, flushed to disk, then renamed
over the target, so that a crash leaves the previous file or the new one, never a partial one."""

import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_write(path):
    """Opens a temporary binary file beside `path`; on a clean exit it replaces `path`.

    Example:
        >>> import os, tempfile
        >>> target = os.path.join(tempfile.mkdtemp(), "model.bin")
        >>> with atomic_write(target) as f:
        ...     _ = f.write(b"weights")
        >>> open(target, "rb").read()
        b'weights'
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.",
                                     suffix=".tmp")
    try:
        with os.fdopen(fd, "w+b") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
