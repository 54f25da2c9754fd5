"""Where a run's settings come from, and what every resolver shares: the
:class:`SettingsError` that names the option, variable or ini key at fault,
true/false parsing, and the command line, then environment, then ini file
lookup. Pure: no pytest; the plugin hands in plain values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["SettingsError", "Sources", "layered", "parse_bool"]

_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "off", "n", "f"})


class SettingsError(Exception):
    """An option, ini key or environment variable has a bad value."""


@dataclass(frozen=True)
class Sources:
    """Where settings come from. ``cli`` maps option names (``memento_dir``)
    to their values (None: not given); ``ini`` maps ini keys to their values
    (missing or empty: not set)."""

    cli: Mapping[str, Any]
    ini: Mapping[str, Any]
    env: Mapping[str, str]
    rootdir: Path
    invocation_dir: Path

    def option(self, name: str) -> Any:
        return self.cli.get(name)

    def ini_text(self, name: str) -> str:
        value = self.ini.get(name)
        return "" if value is None else str(value).strip()


def parse_bool(value: str | bool, where: str) -> bool:
    """``true/false``, ``yes/no``, ``on/off``, ``1/0`` (any case) as a bool."""
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise SettingsError(f"{where}: expected true or false, got {value!r}")


def layered(sources: Sources, option: str, variable: str, ini: str) -> tuple[str, str] | None:
    """(where, text) from the command line, then the environment, then the ini file."""
    cli = sources.option(option)
    if cli is not None:
        return "--" + option.replace("_", "-"), str(cli).strip()
    if sources.env.get(variable, "").strip():
        return variable, sources.env[variable].strip()
    if sources.ini_text(ini):
        return f"{ini} (ini)", sources.ini_text(ini)
    return None
