"""Find the project a ``memento`` command is run in, as pytest would.

pytest picks its configuration file by walking up from the current
directory and taking, in the first directory that has one, ``pytest.toml``,
``.pytest.toml``, ``pytest.ini``, ``.pytest.ini``, ``pyproject.toml`` (with
a ``[tool.pytest]`` or ``[tool.pytest.ini_options]`` table), ``tox.ini``
(with ``[pytest]``) or ``setup.cfg`` (with ``[tool:pytest]``); its directory
is the rootdir. :func:`find_project` follows the same order and returns the
rootdir and the ``memento_*`` values of that file, so the command resolves
the store and the secret exactly as the plugin does. Without a
configuration file, the rootdir is the nearest directory upwards holding a
``.memento`` store, else the current directory. Pure: no pytest.
"""

from __future__ import annotations

import configparser
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - pytest depends on tomli before 3.11
    import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]

__all__ = ["Project", "find_project"]


@dataclass(frozen=True)
class Project:
    rootdir: Path
    #: The configuration file found, or None.
    inifile: Path | None = None
    #: Its ``memento_*`` keys (strings, or TOML values).
    ini: dict[str, Any] = field(default_factory=dict)


def _memento_keys(values: Any) -> dict[str, Any]:
    if not isinstance(values, dict):
        return {}
    return {str(k): v for k, v in values.items() if str(k).startswith("memento_")}


def _read(path: Path) -> dict[str, Any] | None:
    """The pytest section of ``path``, or None when it has none."""
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            if path.name == "pyproject.toml":
                tool = data.get("tool", {}).get("pytest")
                if not isinstance(tool, dict):
                    return None
                # pytest 9 reads [tool.pytest] natively, older ones [tool.pytest.ini_options].
                options = tool.get("ini_options")
                return _memento_keys(options if isinstance(options, dict) else tool)
            return _memento_keys(data.get("pytest", data))
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    except (OSError, UnicodeDecodeError, ValueError, configparser.Error):
        return None
    section = "tool:pytest" if path.name == "setup.cfg" else "pytest"
    if path.name in ("pytest.ini", ".pytest.ini"):
        return _memento_keys(dict(parser[section])) if parser.has_section(section) else {}
    return _memento_keys(dict(parser[section])) if parser.has_section(section) else None


_CANDIDATES = ("pytest.toml", ".pytest.toml", "pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")


def find_project(start: Path) -> Project:
    start = start.resolve()
    for directory in (start, *start.parents):
        for name in _CANDIDATES:
            path = directory / name
            if path.is_file():
                values = _read(path)
                if values is not None:
                    return Project(directory, path, values)
    for directory in (start, *start.parents):
        if (directory / ".memento" / "CACHEDIR.TAG").is_file():
            return Project(directory)
    return Project(start)
