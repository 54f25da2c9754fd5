"""The keys under which pytest-memento keeps state in ``config.stash`` and
``item.stash`` (never in module globals or private attributes)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from .checkpoint import Checkpoint
from .matrix import Case
from .session import Decision, MementoSession

SESSION_KEY = pytest.StashKey[MementoSession]()

DECISION_KEY = pytest.StashKey[Decision]()

RESULT_KEY = pytest.StashKey[Any]()

STARTED_KEY = pytest.StashKey[float]()

PHASES_KEY = pytest.StashKey[dict[str, pytest.TestReport]]()

CONFIG_JSON_KEY = pytest.StashKey[dict[str, Any]]()

INVALID_KEY = pytest.StashKey[str]()

METRICS_KEY = pytest.StashKey[Mapping[str, Any]]()

CASE_KEY = pytest.StashKey[Case]()

CHECKPOINT_KEY = pytest.StashKey[Checkpoint]()

SIGTERM_KEY = pytest.StashKey[Callable[[int, Any], None]]()

PARENT_SKIPS_KEY = pytest.StashKey[dict[str, bool]]()

SEED_KEY = pytest.StashKey[int]()

REGRESSED_KEY = pytest.StashKey[bool]()

EXPANDED_KEY = pytest.StashKey[dict[Any, tuple[str, list[Case]]]]()

FROZEN_KEY = pytest.StashKey[bool]()
