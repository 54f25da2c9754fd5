"""The ``memento`` command: inspect the store without running anything."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    raise SystemExit("memento: not built yet")
