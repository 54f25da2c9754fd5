"""The store directory itself: created with a ``CACHEDIR.TAG`` (so backup
tools skip it), a ``.gitignore`` of ``*`` and a short README, like
pytest's own cache directory. Standard library only.
"""

from __future__ import annotations

import os
from pathlib import Path

from .files import atomic_write

__all__ = ["StoreError", "ensure_store_dir"]

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
