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

import ast
import configparser
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - pytest depends on tomli before 3.11
    import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]

__all__ = ["Project", "experiment_exists", "find_project", "identity_root", "misread_options"]


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


def _defines(body: list[ast.stmt], names: list[str]) -> bool:
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == names[0]:
            if len(names) == 1:
                return True
            if isinstance(node, ast.ClassDef) and _defines(node.body, names[1:]):
                return True
        elif isinstance(node, (ast.If, ast.Try)) and _defines([*node.body, *getattr(node, "orelse", [])], names):
            return True
    return False


def experiment_exists(rootdir: Path, experiment: str) -> bool | None:
    """Whether the experiment ``<module path>::<qualname>`` is still defined
    under ``rootdir`` (read from its source, never imported); None when it
    cannot be told (not an experiment id, an unreadable module)."""
    path_text, separator, qualname = experiment.partition("::")
    if not separator or not path_text or not qualname:
        return None
    module = rootdir / path_text
    if not module.is_file():
        return False
    try:
        tree = ast.parse(module.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return None
    return _defines(tree.body, qualname.split("."))


def identity_root(rootdir: Path, inifile: Path | None, test_paths: Sequence[Path] = ()) -> Path:
    """The directory experiment keys are relative to. With a configuration
    file, pytest's rootdir (its directory). Without one, pytest picks the
    rootdir from the arguments and the current directory, so it moves; the
    parent of the nearest store (``.memento`` with its ``CACHEDIR.TAG``) at
    or above the test paths (else the rootdir) stays put, and is used when
    there is one."""
    if inifile is not None:
        return rootdir
    for start in (*test_paths, rootdir):
        for directory in (start, *start.parents):
            if (directory / ".memento" / "CACHEDIR.TAG").is_file():
                return directory
    return rootdir


def misread_options(args: list[str], options: tuple[str, ...]) -> list[str]:
    """Options of ours given with a space before their value: while pytest
    looks for its configuration file it does not know them yet, so it takes
    their values for test paths (and may pick another rootdir)."""
    found = []
    for index, arg in enumerate(args[:-1]):
        if arg in options and not args[index + 1].startswith("-"):
            found.append(f"{arg} {args[index + 1]}")
    return found
