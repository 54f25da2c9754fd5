"""Writing a file so that readers see all of it or none of it.

The bytes go to a temporary file beside the target (``.<name>.<pid>.<token>.tmp``),
which then replaces the target with ``os.replace``: a kill at any instant
leaves the old file whole, and a temp file left by a killed writer is
removed by ``memento gc``. Not synced to disk: a process kill never loses a
write, a power cut may lose the newest. Standard library only.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

__all__ = ["TMP_SUFFIX", "atomic_write"]

TMP_SUFFIX = ".tmp"


def atomic_write(path: Path, *chunks: bytes | memoryview) -> None:
    """Write ``chunks``, one after the other, to ``path`` atomically.

    Each chunk is written straight from its memory (a ``memoryview`` of a
    numpy array is not copied). Raises ``OSError`` (the target untouched).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TMP_SUFFIX}")
    try:
        with open(tmp, "wb", buffering=0) as handle:
            for chunk in chunks:
                view = memoryview(chunk).cast("B")
                while view:
                    written = handle.write(view)
                    if not written:
                        raise OSError(f"short write to {tmp}")
                    view = view[written:]
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
