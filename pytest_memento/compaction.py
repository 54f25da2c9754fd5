"""``memento gc``: compact a store's segments and remove what nothing uses.

Segments no writer touched for ``older_than`` seconds are merged into one
new segment (written atomically beside them, only then are they removed),
keeping only live entries, deletions, code records and the newest
"current code" of each experiment. Unreferenced blobs and temp files of
killed writers go too. Younger files may belong to a writer still at work
and are left alone. No pytest in here.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .files import TMP_SUFFIX, atomic_write
from .segments import COMPACT, Entry, mtime, raw_record
from .store import SEGMENT_SUFFIX, ResultStore

__all__ = ["compact"]


def compact(store: ResultStore, *, older_than: float = 86400.0, dry_run: bool = False) -> list[Path]:
    """Merge segments no writer touched for ``older_than`` seconds into
    one, keeping only live entries; remove unreferenced blobs and temp
    files of killed writers. Returns the files removed (or that would be).

    Younger files may belong to a writer still at work and are left alone.
    """
    store.refresh()
    scan = store.scan()
    cutoff = time.time() - older_than
    idle = [path for path in store.segment_paths() if mtime(path) < cutoff]
    idle_set = set(idle)
    live = [entry for entry in scan.entries.values() if entry.segment in idle_set]
    records = sum(scan.records.get(path, 0) for path in idle)
    doomed: list[Path] = []
    if len(idle) > 1 or records > len(live):
        doomed.extend(idle)
        if not dry_run:
            _write_compacted(store, live, scan.deleted, scan.code, scan.current)
    referenced = {entry.blob for entry in scan.entries.values() if entry.blob}
    if store.blobs.is_dir():
        for path in store.blobs.rglob("*"):
            unused = path.suffix == ".pkl" and path.name not in referenced
            if path.is_file() and (unused or path.name.endswith(TMP_SUFFIX)) and mtime(path) < cutoff:
                doomed.append(path)
    if store.segments.is_dir():
        doomed.extend(p for p in store.segments.iterdir() if p.name.endswith(TMP_SUFFIX) and mtime(p) < cutoff)
    checkpoints = store.root / "checkpoints"
    if checkpoints.is_dir():
        # Temp files of checkpoint saves that a kill interrupted.
        doomed.extend(p for p in checkpoints.glob("*/*" + TMP_SUFFIX) if mtime(p) < cutoff)
    if not dry_run:
        for path in doomed:
            with contextlib.suppress(OSError):
                path.unlink()
        store.refresh()
    return sorted(set(doomed))


def _write_compacted(
    store: ResultStore,
    live: list[Entry],
    deleted: Mapping[str, float],
    code: Mapping[str, Any],
    current: Mapping[str, tuple[str, float]],
) -> None:
    # Deletions are kept (they are one short line each): a put of the
    # same key may sit in a segment that was not compacted.
    live_keys = {entry.key for entry in live}
    chunks = [
        json.dumps({"op": "del", "k": key, "t": when}, separators=COMPACT).encode() + b"\n"
        for key, when in sorted(deleted.items())
        if key not in live_keys
    ]
    fingerprints = sorted(
        {entry.fingerprint for entry in live if isinstance(entry.fingerprint, str) and entry.fingerprint in code}
    )
    chunks += [
        json.dumps({"op": "code", "f": fingerprint, "about": code[fingerprint]}, separators=COMPACT).encode() + b"\n"
        for fingerprint in fingerprints
    ]
    chunks += [
        json.dumps({"op": "current", "e": experiment, "f": fingerprint, "t": when}, separators=COMPACT).encode() + b"\n"
        for experiment, (fingerprint, when) in sorted(current.items())
    ]
    if not live and not chunks:
        return
    store.segments.mkdir(parents=True, exist_ok=True)
    target = store.segments / f"compacted-{int(time.time())}-{secrets.token_hex(4)}{SEGMENT_SUFFIX}"
    env: Mapping[str, Any] | None = None
    for entry in sorted(live, key=lambda item: item.key):
        if entry.env is not env:
            env = entry.env
            chunks.append(json.dumps({"op": "env", "env": env}, separators=COMPACT).encode() + b"\n")
        chunks.append(raw_record(entry))
    atomic_write(target, b"".join(chunks))
