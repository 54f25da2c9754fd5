"""A read-only view of a store as it was at one moment: what xdist workers
decide cached items from, so that every worker (replacement workers too)
decides the same. No pytest.

A snapshot is the name and size of every segment when it was taken
(:meth:`.ResultStore.snapshot`). Segments are append-only, so reading each
one up to its recorded size gives the same records however many writers
append meanwhile; segments created since are not read. When gc compacted a
segment of the snapshot away, its live records are in a ``compacted-``
segment gc wrote, which is then read whole (gc copies finished segments
only, so it holds nothing written after the snapshot that matters).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .segment_index import Scan
from .segments import SegmentInfo, read_segment
from .signing import Signer
from .store import ResultStore

__all__ = ["SnapshotStore"]

_COMPACTED = "compacted-"


class SnapshotStore(ResultStore):
    """The store at ``root`` as the snapshot ``sizes`` saw it; never writes."""

    def __init__(
        self,
        root: Path,
        sizes: Mapping[str, int],
        on_problem: Callable[[str], None] | None = None,
        signer: Signer | None = None,
    ) -> None:
        super().__init__(root, on_problem=on_problem, signer=signer)
        self.sizes = dict(sizes)

    def _segment_paths(self) -> list[Path]:
        present = super()._segment_paths()
        names = {path.name for path in present}
        chosen = [self.segments / name for name in sorted(self.sizes) if name in names]
        if len(chosen) < len(self.sizes):  # gc compacted some away: read what replaced them
            chosen += [p for p in present if p.name.startswith(_COMPACTED) and p.name not in self.sizes]
        return chosen

    def _read_segment(self, path: Path, scan: Scan) -> SegmentInfo:
        return read_segment(path, scan, self.on_problem, limit=self.sizes.get(path.name))

    def put(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("a snapshot of the store is read-only")

    def remove_many(self, *args: Any, **kwargs: Any) -> int:
        raise TypeError("a snapshot of the store is read-only")

    def note_current(self, *args: Any, **kwargs: Any) -> None:
        return None  # the live store records the current code
