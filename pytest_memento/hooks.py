"""Hooks pytest-memento adds (registered through ``pytest_addhooks``)."""

from __future__ import annotations

from typing import Any


def pytest_memento_run_finished(summary: dict[str, Any]) -> None:
    """Called once at the end of a run (on the xdist controller), before the
    built-in notifiers, with a JSON-safe summary::

        {"session": "pytest experiments -n 8", "duration": 123.4, "exitstatus": 0,
         "counts": {"ran": 10, "cached": 80, "failed": 2, "error": 0, "skipped": 0, "crashed": 0},
         "failures": [{"experiment", "id", "config", "error"}, ...],
         "best": [{"experiment", "metric", "goal", "value", "id", "config"}, ...]}

    Implement it in a ``conftest.py`` or a plugin to send the news anywhere.
    """
