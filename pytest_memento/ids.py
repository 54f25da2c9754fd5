"""Test ids of configurations: readable, deterministic, never mistakable.

An id is built from the values, joined by ``-``: numbers and short strings
as themselves, classes and functions by ``__name__``, enum members by name,
paths by file name, anything else as ``<name><index>``, or the ``id=`` of a
``pytest.param``. Nothing depends on hash seeds or memory addresses, so every
xdist worker collects the same items. Pure: no pytest.
"""

from __future__ import annotations

import enum
import inspect
import pathlib
import sys
from collections.abc import Sequence
from typing import Any

from .hashing import qualified_name

__all__ = ["MAX_ID_TEXT", "auto_id", "disambiguate", "display_label", "is_param_set", "unique_ids"]

#: Longest string used verbatim in an id.
MAX_ID_TEXT = 40


def is_param_set(value: object) -> bool:
    """Whether ``value`` is what ``pytest.param(...)`` returns."""
    return (
        isinstance(value, tuple)
        and type(value).__name__ == "ParameterSet"
        and hasattr(value, "values")
        and hasattr(value, "marks")
        and hasattr(value, "id")
    )


def auto_id(value: Any, name: str, index: int) -> str:
    if value is None or (isinstance(value, (bool, int)) and not isinstance(value, enum.Enum)):
        return str(value)
    if isinstance(value, float):
        return repr(float(value))  # 0.0001, not np.float64(0.0001)
    if isinstance(value, str):
        if 0 < len(value) <= MAX_ID_TEXT and value.isprintable() and not any(c.isspace() for c in value):
            return value
        return f"{name}{index}"
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, pathlib.PurePath) and value.name:
        return value.name
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.generic):
        return auto_id(value.item(), name, index)
    if (isinstance(value, type) or inspect.isfunction(value) or inspect.isbuiltin(value)) and qualified_name(value):
        return str(value.__name__)
    if hasattr(value, "get_params") and not isinstance(value, type):
        return type(value).__name__
    return f"{name}{index}"


def display_label(value: Any) -> str | None:
    """The short name a value has in ids (``SVC``, ``load_iris``, ``0.1``),
    or None when it has none of its own."""
    label = auto_id(value, "\0", 0)
    return None if label.startswith("\0") else label


def _suffixed(value_id: str, index: int) -> str:
    # "1" + 0 would read "10", another value's id: keep a separator after digits.
    return f"{value_id}_{index}" if value_id[-1:].isdigit() else f"{value_id}{index}"


def disambiguate(ids: Sequence[str], values: Sequence[Any] | None = None) -> list[str]:
    """Ids of one axis made distinct and unmistakable: a string whose id is
    another value's (``"1"`` beside ``1``) is shown quoted (``'1'``); other
    values sharing an id get their index (``train.csv0``, ``1_0``); no
    result equals another value's id."""
    result = list(ids)

    def collisions() -> dict[str, list[int]]:
        where: dict[str, list[int]] = {}
        for position, value_id in enumerate(result):
            where.setdefault(value_id, []).append(position)
        return {value_id: positions for value_id, positions in where.items() if len(positions) > 1}

    if values is not None:
        for positions in collisions().values():
            if any(not isinstance(values[p], str) for p in positions):
                for p in positions:
                    if isinstance(values[p], str):
                        result[p] = repr(values[p])
    changed: set[int] = set()
    for _ in range(len(result) + 1):
        clashing = collisions()
        if not clashing:
            return result
        for positions in clashing.values():
            # A value whose id was unique keeps it; the numbered ones move on.
            movable = [p for p in positions if p in changed] or positions
            for p in movable:
                result[p] = f"{result[p]}_{p}" if p in changed else _suffixed(result[p], p)
                changed.add(p)
    return [f"{value_id}_{p}" for p, value_id in enumerate(result)]  # pragma: no cover - unreachable


def unique_ids(ids: Sequence[str]) -> list[str]:
    """Different configurations with one id (stacked matrices with other
    settings, includes, equal names) get ``-2``, ``-3``... in order."""
    taken = set(ids)
    if len(taken) == len(ids):
        return list(ids)
    seen: set[str] = set()
    result = []
    for value_id in ids:
        if value_id in seen:
            number = 2
            while f"{value_id}-{number}" in taken:
                number += 1
            value_id = f"{value_id}-{number}"
            taken.add(value_id)
        seen.add(value_id)
        result.append(value_id)
    return result
