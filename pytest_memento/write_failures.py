"""Results a store could not write: :class:`StoreWriteError`, raised when a
flush fails, and :class:`WriteFailures`, the results lost and why, which
workers send to the controller so the run ends by naming them. Standard
library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["StoreWriteError", "WriteFailures", "error_text", "label_of"]


class StoreWriteError(OSError):
    """Buffered results could not be written (they are in ``failures``)."""


@dataclass
class WriteFailures:
    """Results whose record could not be written, and why."""

    #: ``experiment[id]`` (or the key) of each lost result.
    lost: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, labels: Iterable[str], error: str) -> None:
        self.lost.extend(labels)
        if error not in self.errors:
            self.errors.append(error)

    def merge(self, data: Any) -> None:
        """Add what :meth:`to_json` of another process gave."""
        if isinstance(data, dict):
            errors = [str(e) for e in data.get("errors", []) if isinstance(e, str)] or ["unknown error"]
            for error in errors:
                if error not in self.errors:
                    self.errors.append(error)
            self.lost.extend(str(label) for label in data.get("lost", []) if isinstance(label, str))

    def to_json(self) -> dict[str, list[str]]:
        return {"lost": list(self.lost), "errors": list(self.errors)}

    def __bool__(self) -> bool:
        return bool(self.lost)

    def describe(self, root: Path | str, shown: int = 10) -> str:
        names = ", ".join(self.lost[:shown]) + (f" and {len(self.lost) - shown} more" if len(self.lost) > shown else "")
        return (
            f"{len(self.lost)} result(s) could not be stored in {root} ({'; '.join(self.errors)}); "
            f"they run again next time: {names}"
        )


def label_of(meta: Mapping[str, Any], key: str) -> str:
    """How a lost result is named: its node id, else ``experiment[id]``, else its key."""
    nodeid = meta.get("nodeid")
    if isinstance(nodeid, str) and nodeid:
        return nodeid
    experiment, test_id = meta.get("experiment"), meta.get("test_id")
    return f"{experiment}[{test_id}]" if experiment else key[:12]


def error_text(exc: OSError) -> str:
    """Why a write failed, in one line."""
    return f"{type(exc).__name__}: {exc.strerror or exc}" if exc.strerror else f"{type(exc).__name__}: {exc}"
