"""What pytest-memento keeps in pytest's stashes: one session object in
``config.stash``, one :class:`ItemState` per item in ``item.stash`` (never
in module globals or private attributes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from .cases import Case
from .checkpoint import Checkpoint
from .decide import Decision
from .session import MementoSession

__all__ = ["GUARDS_KEY", "ITEM_KEY", "SESSION_KEY", "Guards", "ItemState", "item_state"]


@dataclass
class ItemState:
    """One item's state through its run."""

    #: Its configuration (matrix items only).
    case: Case | None = None
    #: Run, cached or skipped, and why (matrix items, once decided).
    decision: Decision | None = None
    #: Why the item cannot be keyed (it errors at setup with this).
    invalid: str | None = None
    #: The return value, pickled (at the end of the call), until it is stored.
    result: bytes | None = None
    has_result: bool = False
    started: float | None = None
    metrics: dict[str, int | float] = field(default_factory=dict)
    seed: int | None = None
    #: The report of each phase so far.
    phases: dict[str, pytest.TestReport] = field(default_factory=dict)
    #: The config made JSON-safe (computed once).
    config_json: dict[str, Any] | None = None
    checkpoint: Checkpoint | None = None
    #: The baseline failed it; its result is still stored.
    regressed: bool = False


@dataclass
class Guards:
    """What pytest-memento changed in the process, to undo at the end."""

    sigterm: Callable[[int, Any], None] | None = None
    gc_frozen: bool = False


SESSION_KEY = pytest.StashKey[MementoSession]()
ITEM_KEY = pytest.StashKey[ItemState]()
GUARDS_KEY = pytest.StashKey[Guards]()


def item_state(item: pytest.Item) -> ItemState:
    """The item's state, created on first use."""
    found = item.stash.get(ITEM_KEY, None)
    if found is None:
        found = item.stash[ITEM_KEY] = ItemState()
    return found
