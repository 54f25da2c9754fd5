"""The store directory itself: created with a ``CACHEDIR.TAG`` (so backup
tools skip it), a ``.gitignore`` of ``*`` and a short README, like
pytest's own cache directory. Standard library only.

The plugin creates the directory only when a run first needs it (a matrix
item or a checkpoint): :func:`check_store_dir` says up front whether it could.
"""

from __future__ import annotations

import os
from pathlib import Path

from .files import atomic_write

__all__ = ["StoreError", "check_store_dir", "ensure_store_dir"]

CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by pytest-memento.\n"
    "# For information about cache directory tags, see:\n"
    "#\thttps://bford.info/cachedir/spec.html\n"
)
GITIGNORE = "# Created by pytest-memento automatically.\n*\n"
README = (
    "# pytest-memento store\n\n"
    "Results of experiments, one entry per configuration key, in append-only\n"
    "segments. Inspect it with `memento list`; do not edit it by hand.\n"
)


class StoreError(Exception):
    """The store directory cannot be used (it is a file, unwritable, ...)."""


def ensure_store_dir(root: Path) -> None:
    """Create ``root`` with its ``CACHEDIR.TAG``, ``.gitignore`` and README."""
    if root.exists() and not root.is_dir():
        raise StoreError(f"{root} exists and is not a directory")
    try:
        root.mkdir(parents=True, exist_ok=True)
        for name, text in ((".gitignore", GITIGNORE), ("CACHEDIR.TAG", CACHEDIR_TAG), ("README.md", README)):
            target = root / name
            if not target.exists():
                atomic_write(target, text.encode())
    except OSError as exc:
        raise StoreError(f"cannot create the store at {root}: {exc.strerror or exc}") from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise StoreError(f"the store at {root} is not writable")


def check_store_dir(root: Path) -> None:
    """Raise :class:`StoreError` when ``root`` is a file or could not be
    created (its nearest existing parent is no writable directory); creates
    nothing. An existing directory passes, writable or not (a read-only
    store can still be read; writes to it are reported as they fail)."""
    if root.exists():
        if not root.is_dir():
            raise StoreError(f"{root} exists and is not a directory")
        return
    for parent in root.parents:
        if parent.exists():
            if not parent.is_dir():
                raise StoreError(f"cannot create the store at {root}: {parent} is not a directory")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise StoreError(f"cannot create the store at {root}: {parent} is not writable")
            return
