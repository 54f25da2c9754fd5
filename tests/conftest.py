"""Shared helpers for the end-to-end tests.

Every end-to-end test runs pytest in a subprocess (``runpytest_subprocess``)
so the plugin is loaded exactly as users load it: through its entry point.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy  # noqa: F401  # imported once here: pytester's sys.modules snapshot cannot unload it
import pytest

#: The ways a run can be spread: no xdist at all, xdist loaded but off, two workers.
MODES = {"no-xdist": ["-p", "no:xdist"], "n0": ["-n", "0"], "n2": ["-n", "2"]}


@pytest.fixture(params=list(MODES))
def mode(request: pytest.FixtureRequest) -> list[str]:
    """Command-line arguments of one distribution mode (each test runs in all)."""
    return MODES[request.param]


@pytest.fixture
def run(pytester: pytest.Pytester, mode: list[str]) -> Callable[..., pytest.RunResult]:
    """Run pytest in a subprocess in ``pytester.path`` under the current mode."""

    def runner(*args: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess(*mode, "-p", "no:randomly", *args)

    return runner


@pytest.fixture
def run_plain(pytester: pytest.Pytester) -> Callable[..., pytest.RunResult]:
    """Run pytest in a subprocess without xdist (for tests about one mode)."""

    def runner(*args: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess("-p", "no:xdist", "-p", "no:randomly", *args)

    return runner


def memento_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the ``memento`` command (as ``python -m pytest_memento``)."""
    return subprocess.run([sys.executable, "-m", "pytest_memento", *args], cwd=cwd, capture_output=True, text=True)


def stored(cwd: Path, store: str = ".memento") -> list[dict[str, Any]]:
    """Metadata of every stored result, read through the command line."""
    result = memento_cli(cwd, "--dir", str(cwd / store), "list", "--json")
    assert result.returncode == 0, result.stderr
    records: list[dict[str, Any]] = json.loads(result.stdout)
    return records


def calls(path: Path) -> list[str]:
    """Lines an experiment appended to a log file (one per call)."""
    return path.read_text().split() if path.exists() else []


def outcomes(result: pytest.RunResult) -> dict[str, int]:
    parsed: dict[str, int] = result.parseoutcomes()
    return parsed


def lines_with(result: pytest.RunResult, text: str) -> Sequence[str]:
    return [line for line in result.outlines if text in line]
