"""Inputs declared by hand with ``@memento.matrix(depends=[...])``.

- A path (``str`` or ``os.PathLike``), relative to rootdir or absolute: a
  file counts by the SHA-256 of its bytes, read in 1 MiB chunks; a directory
  by the sorted list of the files under it (relative names and their
  SHA-256), recursively, without following symlinked directories, skipping
  ``__pycache__``, ``.git`` and any directory holding a ``CACHEDIR.TAG``
  (the memento store, pytest's cache). Sockets, FIFOs and devices count by
  name only (they are never opened). One part per path:
  ``input:<path as written, posix>``.
- A module object: its code, by syntax tree (comments and formatting do
  not count); a package: every ``.py`` file under its directory. One part:
  ``module:<name>``.

Every input is read once per process. A path that does not exist is an
:class:`InputError` (the item errors, nothing is stored). Standard library
only.
"""

from __future__ import annotations

import hashlib
import os
import stat
import types
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePath
from typing import Any

from .codetree import ModuleTrees, canonical_tree

__all__ = ["INPUT_PREFIX", "MODULE_PREFIX", "InputError", "InputHasher", "check_depends"]

INPUT_PREFIX = "input:"
MODULE_PREFIX = "module:"
_CHUNK = 1 << 20
_SKIPPED_DIRS = frozenset({"__pycache__", ".git"})


class InputError(ValueError):
    """A declared input is invalid or cannot be read; the message says
    which and why (``where``: the place in the matrix, when invalid)."""

    def __init__(self, message: str, where: str = "depends") -> None:
        super().__init__(message)
        self.where = where


def check_depends(depends: Any) -> tuple[Any, ...]:
    """``depends`` as a tuple of posix path strings and modules; raises
    :class:`InputError` with ``where`` set when it is invalid."""
    if depends is None:
        return ()
    if isinstance(depends, (str, os.PathLike, types.ModuleType)):
        depends = [depends]
    if not isinstance(depends, (list, tuple)):
        raise InputError(f"must be a list of paths or modules, got {type(depends).__name__}", "depends")
    entries: list[Any] = []
    for index, entry in enumerate(depends):
        if isinstance(entry, types.ModuleType):
            entries.append(entry)
            continue
        text = os.fspath(entry) if isinstance(entry, (str, os.PathLike)) else None
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"expected a path (str or os.PathLike) or a module, got {entry!r}", f"depends[{index}]")
        entries.append(PurePath(text).as_posix())
    return tuple(entries)


def _file_digest(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _tree_files(directory: str) -> Iterator[tuple[str, str]]:
    """(relative posix name, full path) of what lies under ``directory``, sorted."""
    for current, dirs, files in os.walk(directory):
        dirs[:] = sorted(
            d for d in dirs if d not in _SKIPPED_DIRS and not os.path.isfile(os.path.join(current, d, "CACHEDIR.TAG"))
        )
        links = [d for d in dirs if os.path.islink(os.path.join(current, d))]
        for name in sorted([*files, *links]):
            full = os.path.join(current, name)
            yield os.path.relpath(full, directory).replace(os.sep, "/"), full


class InputHasher:
    """Parts of declared inputs, each computed once per process."""

    def __init__(self, root: Path, trees: ModuleTrees) -> None:
        self.root = Path(root)
        self.trees = trees
        self._done: dict[Any, tuple[str, str]] = {}

    def parts(self, entries: Sequence[Any]) -> dict[str, str]:
        found: dict[str, str] = {}
        for entry in entries:
            key = entry if isinstance(entry, str) else id(entry)
            part = self._done.get(key)
            if part is None:
                part = self._done[key] = (
                    self._module(entry) if isinstance(entry, types.ModuleType) else self._path(entry)
                )
            found[part[0]] = part[1]
        return found

    def _path(self, text: str) -> tuple[str, str]:
        full = os.path.join(self.root, text)
        try:
            info = os.stat(full)
        except OSError as exc:
            raise InputError(f"depends: {text} cannot be read ({exc.strerror or exc}; looked for {full})") from None
        try:
            if stat.S_ISDIR(info.st_mode):
                digest = hashlib.sha256(b"directory\0")
                for relative, path in _tree_files(full):
                    digest.update(f"{relative}\0{self._entry_digest(path)}\n".encode("utf-8", "surrogateescape"))
                return INPUT_PREFIX + text, digest.hexdigest()
            return INPUT_PREFIX + text, self._entry_digest(full)
        except OSError as exc:
            raise InputError(f"depends: {text} cannot be read ({exc.strerror or exc})") from None

    def _entry_digest(self, path: str) -> str:
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode) and os.path.isdir(path):
            return "link:" + os.readlink(path)
        info = os.stat(path) if stat.S_ISLNK(info.st_mode) else info
        if not stat.S_ISREG(info.st_mode):
            return "special"  # never opened: a FIFO would block
        return _file_digest(path)

    def _module(self, module: types.ModuleType) -> tuple[str, str]:
        name = MODULE_PREFIX + module.__name__
        filename = getattr(module, "__file__", None)
        if not filename:
            return name, "no source"
        if os.path.basename(filename) == "__init__.py":
            directory = os.path.dirname(filename)
            files = [(rel, full) for rel, full in _tree_files(directory) if rel.endswith(".py")]
        else:
            files = [(os.path.basename(filename), filename)]
        digest = hashlib.sha256(b"module\0")
        for relative, full in files:
            tree = self.trees.tree(full)
            text = canonical_tree(tree).encode() if tree is not None else b"unparsable:" + _file_digest(full).encode()
            digest.update(f"{relative}\0".encode() + hashlib.sha256(text).digest())
        return name, digest.hexdigest()
