"""``memento gc``: compact a store's segments and remove what nothing uses,
without ever losing a record written while it runs.

- Only *finished* segments are compacted: sealed ones (their writer closed
  them with an ``end`` record and never appends again), those of a writer
  on this host whose process is gone, and those of another host that
  nothing wrote to for ``max(older_than, SAFE_AGE)`` seconds. A segment
  whose writer may be at work is left alone, whatever ``older_than`` says.
- The records kept are copied byte for byte (ids, checksums and signatures
  unchanged) into one new segment, written atomically, before any old one
  is removed. Kept: every live record (with a secret, refused ones too:
  they may be another secret's), and every record that keeps a record
  outside the compacted set superseded or removed (with what keeps it so).
  A record superseded only by an unsigned one is kept when it is signed.
- Just before removing a segment, gc checks that it is the file it read,
  at the size it read; after unlinking it, bytes a writer appended since
  are copied into a new segment. A writer whose segment was unlinked under
  it writes its records again in a new one (:meth:`.ResultStore._append`);
  the same record read twice counts once.
- Unreferenced blobs and temp files of killed writers go only when older
  than ``max(older_than, SAFE_AGE)`` (a writer names its fresh blob within
  a second or two), and no blob goes while a segment cannot be read.

No pytest in here.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import time
from collections.abc import Iterable
from pathlib import Path

from .files import TMP_SUFFIX, atomic_write, open_regular
from .segment_format import encode_line
from .segment_index import Scan
from .segments import Raw, SegmentInfo, mtime, read_segment
from .store import ResultStore, host_name
from .store_reader import SEGMENT_SUFFIX

__all__ = ["SAFE_AGE", "compact"]

#: Files a writer may still be finishing are never removed younger than this.
SAFE_AGE = 600.0
_WRITER = re.compile(r"(.+)-([0-9]+)-[0-9a-f]+" + re.escape(SEGMENT_SUFFIX))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _finished(info: SegmentInfo, now: float, older_than: float) -> bool:
    if info.sealed or info.path.name.startswith("compacted-"):
        return True
    match = _WRITER.fullmatch(info.path.name)
    if match is not None and match.group(1) == host_name():
        return not _alive(int(match.group(2)))
    return now - mtime(info.path) >= max(older_than, SAFE_AGE)


def _read_all(store: ResultStore, scan: Scan) -> dict[Path, SegmentInfo]:
    infos: dict[Path, SegmentInfo] = {}
    for _ in range(5):  # list again: segments created while we read
        fresh = [path for path in store.segment_paths() if path not in infos]
        if not fresh:
            break
        for path in fresh:
            infos[path] = read_segment(path, scan, store.on_problem, detail=True)
    return infos


def _kept(infos: dict[Path, SegmentInfo], chosen: set[Path], signed_store: bool) -> dict[Path, list[Raw]]:
    """The records of the ``chosen`` segments that must survive."""
    first: dict[str, Raw] = {}
    killers: dict[str, list[tuple[Path, Raw]]] = {}
    outside: set[str] = set()
    for path, info in infos.items():
        for raw in info.raws:
            if raw.record_id:
                first.setdefault(raw.record_id, raw)
                if path not in chosen:
                    outside.add(raw.record_id)
            if raw.kills and raw.verified:
                for victim in raw.kills:
                    killers.setdefault(victim, []).append((path, raw))

    def valid_killers(raw: Raw) -> list[tuple[Path, Raw]]:
        found = killers.get(raw.record_id, [])
        return [(path, k) for path, k in found if k.group == raw.group and (signed_store or k.signed or not raw.signed)]

    keep: set[int] = set()
    work: list[Raw] = []
    for path in chosen:
        for raw in infos[path].raws:
            if raw.op in ("put", "current") and first.get(raw.record_id) is raw and not valid_killers(raw):
                keep.add(id(raw))
            elif raw.op in ("put", "current", "del") and outside.intersection(raw.kills):
                work.append(raw)
    while work:
        raw = work.pop()
        if id(raw) in keep:
            continue
        keep.add(id(raw))
        if raw.op != "del":
            work.extend(k for path, k in valid_killers(raw) if path in chosen)
    return {path: [raw for raw in infos[path].raws if id(raw) in keep] for path in chosen}


def compact(store: ResultStore, *, older_than: float = 86400.0, dry_run: bool = False) -> list[Path]:
    """Merge finished segments into one, keeping what is live; remove
    unreferenced blobs and temp files of killed writers. Returns the files
    removed (or that would be)."""
    store.flush()
    store.refresh()
    scan = Scan(store.signer)
    infos = _read_all(store, scan)
    now = time.time()
    chosen = {
        path for path, info in infos.items() if info.readable and not info.missing and _finished(info, now, older_than)
    }
    kept = _kept(infos, chosen, store.signer is not None)
    fingerprints = {entry.fingerprint for entry in scan.all_live()}
    for path in chosen:  # what the kept results' fingerprints are made of
        seen = set()
        for raw in infos[path].raws:
            if raw.op == "code" and raw.group in fingerprints and raw.group not in seen:
                seen.add(raw.group)
                kept[path].append(raw)
        kept[path].sort(key=lambda raw: raw.start)
    dropped = sum(len([raw for raw in infos[path].raws if raw.op != "env"]) - len(kept[path]) for path in chosen)
    worth = len(chosen) > 1 or dropped or any(not infos[p].sealed or infos[p].damaged for p in chosen)
    doomed: list[Path] = sorted(chosen) if chosen and worth else []
    if doomed and not dry_run:
        _write_compacted(store, infos, kept, doomed)
        doomed = _unlink_unchanged(store, infos, doomed)
    unreadable = any(not info.readable for info in infos.values())
    doomed += _garbage(store, scan, now - max(older_than, SAFE_AGE), unreadable)
    if not dry_run:
        for path in doomed:
            if path.suffix != SEGMENT_SUFFIX:
                with contextlib.suppress(OSError):
                    path.unlink()
                _unpublish(store, path)
        store.refresh()
    return sorted(set(doomed))


def _garbage(store: ResultStore, scan: Scan, cutoff: float, unreadable: bool) -> list[Path]:
    """Unreferenced blobs and temp files older than ``cutoff``."""
    referenced = {entry.blob for entry in scan.all_live() if entry.blob}
    found = store.blob_garbage(referenced, cutoff, unreadable)
    for directory in (store.segments, store.root / "checkpoints"):
        if directory.is_dir():
            # Temp files of segment compactions and checkpoint saves a kill interrupted.
            pattern = "*" + TMP_SUFFIX if directory == store.segments else "*/*" + TMP_SUFFIX
            found.extend(p for p in directory.glob(pattern) if mtime(p) < cutoff)
    return found


def _chunks(path: Path, raws: Iterable[Raw]) -> list[bytes]:
    out: list[bytes] = []
    env: tuple[int, int] | None = None
    with open_regular(path) as handle:

        def piece(start: int, end: int) -> bytes:
            handle.seek(start)
            data: bytes = handle.read(end - start)
            return data

        for raw in raws:
            if raw.op == "env":
                continue
            if raw.op == "put" and raw.env is not None and raw.env != env:
                env = raw.env
                out.append(piece(*env))
            out.append(piece(raw.start, raw.end))
    return out


def _write_compacted(
    store: ResultStore, infos: dict[Path, SegmentInfo], kept: dict[Path, list[Raw]], doomed: list[Path]
) -> None:
    chunks: list[bytes] = []
    for path in doomed:
        if kept[path]:
            chunks += _chunks(path, kept[path])
    if not chunks:
        return
    chunks.append(encode_line({"op": "end"}))
    store.segments.mkdir(parents=True, exist_ok=True)
    target = store.segments / f"compacted-{int(time.time())}-{secrets.token_hex(4)}{SEGMENT_SUFFIX}"
    atomic_write(target, b"".join(chunks))
    store.publish(target)  # a mirrored store: uploaded before any old segment goes


def _unpublish(store: ResultStore, path: Path) -> None:
    try:
        store.unpublish(path)
    except OSError as exc:
        store.on_problem(f"cannot remove {store.where(path)}: {exc.strerror or exc}")


def _unlink_unchanged(store: ResultStore, infos: dict[Path, SegmentInfo], doomed: list[Path]) -> list[Path]:
    """Remove each segment if it is still what was read; copy bytes a
    writer appended since into a new segment. Returns those removed."""
    removed: list[Path] = []
    rescued: list[bytes] = []
    for path in doomed:
        info = infos[path]
        try:
            handle = open_regular(path)
        except OSError:
            continue
        with handle:
            before = os.fstat(handle.fileno())
            if (before.st_dev, before.st_ino, before.st_size) != (info.device, info.inode, info.file_size):
                continue  # a writer appended since it was read: next time
            try:
                path.unlink()
            except OSError as exc:
                store.on_problem(f"cannot remove {path}: {exc.strerror or exc}")
                continue
            removed.append(path)
            _unpublish(store, path)
            after = os.fstat(handle.fileno()).st_size
            if after > info.file_size:
                handle.seek(0)
                header = handle.readline(1 << 20)  # the segment's env record
                handle.seek(info.file_size)
                rescued.append(header + handle.read(after - info.file_size))
    if rescued:
        for data in rescued:
            target = store.segments / f"compacted-{int(time.time())}-{secrets.token_hex(4)}{SEGMENT_SUFFIX}"
            atomic_write(target, data + (encode_line({"op": "end"}) if data.endswith(b"\n") else b""))
            store.publish(target)
    return removed
