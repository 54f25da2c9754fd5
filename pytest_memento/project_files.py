"""Which files are the project's code: ``.py`` files under the project
root, outside the running interpreter's prefixes and site directories and
outside virtual or conda environments under the root; and paths as the
project sees them (relative to the root; outside it, not code at all).
Standard library only.
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
from typing import Any

__all__ = ["OUTSIDE", "ProjectFiles"]

#: A path outside the project: machine-specific, not code.
OUTSIDE = ("outside path", "")


def _excluded_prefixes() -> list[str]:
    """Where installed code lives: the interpreter's prefixes and site directories."""
    found = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix}
    found.update(
        path for key in ("purelib", "platlib", "stdlib", "platstdlib") if (path := sysconfig.get_paths().get(key))
    )
    try:
        found.update(site.getsitepackages())
        found.add(site.getusersitepackages())
    except AttributeError:  # pragma: no cover - a virtualenv's old site.py
        pass
    found.add(os.path.dirname(os.path.abspath(__file__)))  # pytest-memento itself
    return sorted({os.path.realpath(path) for path in found if path})


class ProjectFiles:
    """The project under ``root``; every directory looked at once."""

    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)
        inside = self.root + os.sep
        # A prefix that holds the project itself (a project under /usr/local
        # with the system Python) cannot be excluded: its site directories are.
        self._excluded = [p for p in _excluded_prefixes() if not (inside.startswith(p + os.sep) or p == self.root)]
        self._dirs: dict[str, bool] = {}

    def in_project(self, filename: str | None) -> bool:
        """Whether ``filename`` is project code: a ``.py`` file under rootdir
        (resolved), not inside the running interpreter's prefix or site
        directories, nor inside a virtual environment or conda environment
        under rootdir (a directory holding ``pyvenv.cfg`` or ``conda-meta``)."""
        if not filename or not filename.endswith(".py"):
            return False
        directory = os.path.dirname(filename)
        known = self._dirs.get(directory)
        if known is None:
            known = self._dirs[directory] = self._directory_in_project(directory)
        return known

    def _directory_in_project(self, directory: str) -> bool:
        real = os.path.realpath(directory)
        if real != self.root and not real.startswith(self.root + os.sep):
            return False
        if any(real == prefix or real.startswith(prefix + os.sep) for prefix in self._excluded):
            return False
        current = real
        while len(current) > len(self.root):
            if os.path.isfile(os.path.join(current, "pyvenv.cfg")) or os.path.isdir(
                os.path.join(current, "conda-meta")
            ):
                return False
            current = os.path.dirname(current)
        return True

    def relative(self, filename: str) -> str:
        return os.path.relpath(os.path.realpath(filename), self.root).replace(os.sep, "/")

    def class_in_project(self, cls: type) -> bool:
        return self.in_project(getattr(sys.modules.get(cls.__module__), "__file__", None))

    def portable_text(self, text: str) -> Any:
        """An absolute path counts relative to the project; outside it, not at all."""
        if not os.path.isabs(text):
            return text
        real = os.path.realpath(text)
        if real == self.root or real.startswith(self.root + os.sep):
            return ("project path", os.path.relpath(real, self.root).replace(os.sep, "/"))
        return OUTSIDE
