"""Writing a file so that readers see all of it or none of it, and opening
a file of the store for reading only when it is what it claims to be.

The bytes go to a temporary file beside the target (``.<name>.<pid>.<token>.tmp``),
which then replaces the target with ``os.replace``: a kill at any instant
leaves the old file whole, and a temp file left by a killed writer is
removed by ``memento gc``. Not synced to disk: a process kill never loses a
write, a power cut may lose the newest.

:func:`open_regular` opens without following a symlink and without blocking
(a FIFO would otherwise wait forever for a writer), and refuses anything
but a regular file: a FIFO, a device, a directory, a symlink (to
``/dev/zero`` or out of the store). Callers bound what they read by the
sizes they expect, so a huge or sparse file cannot exhaust memory.
Standard library only.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path
from typing import BinaryIO

__all__ = ["TMP_SUFFIX", "NotRegularFile", "atomic_write", "open_regular", "write_all"]

TMP_SUFFIX = ".tmp"
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


class NotRegularFile(OSError):
    """A path of the store is a FIFO, device, directory or symlink."""


def open_regular(path: Path) -> BinaryIO:
    """``path`` opened for reading (buffered), if it is a regular file.

    Raises :class:`NotRegularFile` (a FIFO, device, directory or symlink)
    or another ``OSError``; never blocks, never follows a symlink.
    """
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP or (exc.errno == errno.EMLINK and os.path.islink(path)):
            raise NotRegularFile(errno.ELOOP, "is a symlink, not a regular file; ignored", str(path)) from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a FIFO" if stat.S_ISFIFO(mode) else "a directory" if stat.S_ISDIR(mode) else "a device or socket"
            raise NotRegularFile(errno.EINVAL, f"is {kind}, not a regular file; ignored", str(path))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def write_all(fd: int, chunk: bytes | memoryview) -> None:
    """Write all of ``chunk`` to ``fd`` (``os.write`` may write less)."""
    view = memoryview(chunk).cast("B")
    while view:
        written = os.write(fd, view)
        if not written:
            raise OSError(errno.EIO, "short write")
        view = view[written:]


def atomic_write(path: Path, *chunks: bytes | memoryview) -> None:
    """Write ``chunks``, one after the other, to ``path`` atomically.

    Each chunk is written straight from its memory (a ``memoryview`` of a
    numpy array is not copied). Raises ``OSError`` (the target untouched).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TMP_SUFFIX}")
    try:
        with open(tmp, "wb", buffering=0) as handle:
            for chunk in chunks:
                write_all(handle.fileno(), chunk)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
