"""Replicate groups of an experiment's cases: which parameters are
replicates (seeds), what the configurations of one group share, and how
many configurations the grid gives each group. No pytest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from .cases import Case
from .hashing import UnstableValueError, encode, encode_config

__all__ = ["ReplicateError", "count_groups", "mark_groups", "replicate_axes"]


class ReplicateError(ValueError):
    """``replicates=`` names no parameter; the expander says where."""


class AxisValue(Protocol):
    """One value on one axis, as expansion made it: its values and their encodings."""

    values: tuple[Any, ...]
    encodings: tuple[bytes, ...]


def replicate_axes(replicates: Any, names: Sequence[str], settings: Mapping[str, Any]) -> tuple[str, ...]:
    """The replicate parameters: as declared, else ``seed`` when it is one."""
    if replicates is None:
        return ("seed",) if "seed" in names else ()
    chosen = (replicates,) if isinstance(replicates, str) else replicates
    if not isinstance(chosen, (tuple, list)) or not all(isinstance(name, str) for name in chosen):
        raise ReplicateError(f"expected a parameter name or a tuple of names, got {replicates!r}")
    for name in chosen:
        if name in settings:
            raise ReplicateError(f"{name!r} is a setting; replicates must be parameters")
        if name not in names:
            raise ReplicateError(f"{name!r} is not a parameter (parameters: {', '.join(names) or 'none'})")
    return tuple(dict.fromkeys(chosen))


def mark_groups(
    cases: Sequence[Case],
    axes: Sequence[tuple[tuple[str, ...], Sequence[AxisValue]]],
    replicates: tuple[str, ...],
    shared: bytes,
) -> None:
    """Give each case its replicate axes and what its group shares,
    reusing the encodings made for the axes (the values are the same objects)."""
    codes = {
        (name, id(value)): code
        for names, entries in axes
        if not set(names) <= set(replicates)
        for entry in entries
        for name, value, code in zip(names, entry.values, entry.encodings, strict=True)
    }
    for case in cases:
        case.replicates = replicates
        others = {
            name: codes.get((name, id(value))) or _group_code(value)
            for name, value in case.params.items()
            if name not in replicates
        }
        case.group = encode_config(others) + shared


def count_groups(cases: Sequence[Case]) -> None:
    """Tell each case how many configurations of the grid its group has."""
    sizes = Counter(case.group for case in cases if case.group)
    for case in cases:
        if case.group:
            case.group_size = sizes[case.group]


def _group_code(value: Any) -> bytes:
    """A value's identity for counting replicate groups within this process
    (never stored): a value without a stable identity stands for itself."""
    try:
        return encode(value)
    except UnstableValueError:
        return b"#" + str(id(value)).encode()
