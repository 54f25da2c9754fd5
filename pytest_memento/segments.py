"""Reading a store's segments back into a :class:`Scan`, record by record.
No pytest; nothing here is unpickled (the record format is
:mod:`segment_format`).

A record whose checksum fails is reported and skipped (its key runs
again); where a damaged record hides where the next one starts, reading
resumes at the next line that starts a record whose checksum holds. Lines
are read with a bound (:data:`MAX_LINE`, :data:`MAX_META`), so a huge,
sparse or foreign file cannot exhaust memory.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from .files import NotRegularFile, open_regular
from .segment_format import MAX_LINE, MAX_META, Entry, blob_of, checked, number, signed_del, valid_key
from .segment_index import Scan

__all__ = ["Raw", "SegmentInfo", "mtime", "read_segment"]

_START = b'{"op":"'


@dataclass
class Raw:
    """One record as ``memento gc`` sees it: its bytes and what it names."""

    op: str
    group: str
    record_id: str
    kills: tuple[str, ...]
    start: int
    end: int
    verified: bool
    signed: bool
    #: Byte range of the ``env`` record in effect (for ``put``).
    env: tuple[int, int] | None = None


@dataclass
class SegmentInfo:
    """What reading one segment found."""

    path: Path
    #: Bytes read (a writer may append after them), and the file's size then.
    size: int = 0
    file_size: int = 0
    #: The writer closed it: nothing is appended after an ``end`` record.
    sealed: bool = False
    device: int = 0
    inode: int = 0
    missing: bool = False
    readable: bool = True
    damaged: bool = False
    raws: list[Raw] = field(default_factory=list)


def read_segment(
    path: Path, scan: Scan, on_problem: Callable[[str], None], *, detail: bool = False, limit: int | None = None
) -> SegmentInfo:
    """Index every record of one segment into ``scan``; problems go to
    ``on_problem``. With ``detail``, also list every record's bytes (gc).
    With ``limit``, the segment is read as if it ended after that many
    bytes (a snapshot of it; records appended since are not seen)."""
    info = SegmentInfo(path)
    try:
        handle = open_regular(path)
    except FileNotFoundError:
        info.missing = True
        return info
    except NotRegularFile as exc:
        info.readable = False
        on_problem(f"{path}: {exc.strerror}")
        return info
    except OSError as exc:
        info.readable = False
        on_problem(f"cannot read {path}: {exc.strerror or exc}; its results are ignored")
        return info
    with handle:
        status = os.fstat(handle.fileno())
        info.device, info.inode, info.file_size = status.st_dev, status.st_ino, status.st_size
        size = status.st_size if limit is None else min(limit, status.st_size)
        reader: Any = handle if size == status.st_size else _Bounded(handle, size)
        try:
            _Reader(path, reader, scan, info, on_problem, detail, size).run()
        except (ValueError, OverflowError, RecursionError, MemoryError, OSError) as exc:
            info.damaged = True
            on_problem(f"{path.name}: unreadable ({type(exc).__name__}: {exc}); later results in it are ignored")
    return info


class _Bounded:
    """A binary file read as if it ended at ``size`` (what :class:`_Reader` uses of it)."""

    def __init__(self, handle: BinaryIO, size: int) -> None:
        self.handle, self.size = handle, size

    def _left(self, wanted: int) -> int:
        left = max(0, self.size - self.handle.tell())
        return left if wanted < 0 else min(wanted, left)

    def readline(self, limit: int = -1) -> bytes:
        return self.handle.readline(self._left(limit))

    def read(self, count: int = -1) -> bytes:
        return self.handle.read(self._left(count))

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_END:
            return self.handle.seek(self.size + offset)
        return self.handle.seek(offset, whence)

    def tell(self) -> int:
        return self.handle.tell()


class _Reader:
    def __init__(
        self,
        path: Path,
        handle: BinaryIO,
        scan: Scan,
        info: SegmentInfo,
        on_problem: Callable[[str], None],
        detail: bool,
        size: int,
    ) -> None:
        self.path, self.handle, self.scan, self.info = path, handle, scan, info
        self.on_problem, self.detail, self.size = on_problem, detail, size
        self.env: Mapping[str, Any] = {}
        self.env_range: tuple[int, int] | None = None
        self.damage: list[int] = []

    def run(self) -> None:
        handle = self.handle
        while True:
            start = handle.tell()
            line = handle.readline(MAX_LINE)
            if not line:
                break
            if not line.endswith(b"\n"):
                if len(line) >= MAX_LINE:
                    self._resync(start, "a line longer than any record")
                    continue
                self._partial(start)
                break
            self.info.sealed = False
            outcome = self._record(start, line)
            if outcome == "partial":
                self._partial(start)
                break
            if outcome:
                self._resync(start, outcome)
        self.info.size = handle.tell()
        if self.damage:
            self.info.damaged = True
            where = ", ".join(str(offset) for offset in self.damage[:5]) + (" ..." if len(self.damage) > 5 else "")
            self.on_problem(
                f"{self.path}: damaged record(s) at byte {where} (checksum or structure); "
                "ignored, the configurations they held run again"
            )

    def _record(self, start: int, line: bytes) -> str | None:
        """Read one record whose first line is ``line``; returns None, or
        why reading must resume further on, or "partial"."""
        try:
            head = json.loads(line)
        except (ValueError, RecursionError):
            return "unreadable record"
        if not isinstance(head, dict) or not isinstance(head.get("op"), str):
            return "unreadable record"
        if "x" not in head and start == 0:
            self.on_problem(
                f"{self.path}: written by an older pytest-memento (no checksums); its results are ignored and run again"
            )
            self.handle.seek(0, os.SEEK_END)
            return None
        op = head["op"]
        if op != "put":
            if not checked(line):
                self.damage.append(start)
                return None  # one line: the next record starts right after it
            self._line_record(op, head, start, start + len(line))
            return None
        return self._put(head, start, line)

    def _line_record(self, op: str, head: dict[str, Any], start: int, end: int) -> None:
        scan = self.scan
        if op == "env":
            env = head.get("env")
            self.env = env if isinstance(env, dict) else {}
            self.env_range = (start, end)
            self._raw("env", "", "", (), start, end)
        elif op == "end":
            self.info.sealed = True
        elif op == "code":
            if isinstance(head.get("f"), str) and isinstance(head.get("about"), dict):
                scan.code[head["f"]] = head["about"]
                self._raw("code", head["f"], "", (), start, end)
        elif op == "current":
            experiment, fingerprint, record_id = head.get("e"), head.get("f"), head.get("i")
            if isinstance(fingerprint, list):
                fingerprint = _ids(fingerprint)
            if isinstance(experiment, str) and isinstance(fingerprint, (str, tuple)) and isinstance(record_id, str):
                kills = _ids(head.get("p"))
                scan.note_current(experiment, record_id, fingerprint, kills)
                self._raw("current", experiment, record_id, kills, start, end)
        elif op == "del":
            key, record_id = head.get("k"), head.get("i")
            if isinstance(key, str) and valid_key(key) and isinstance(record_id, str):
                targets = _ids(head.get("r"))
                signature = head.get("s")
                verified = scan.signer is None or scan.signer.verify(signature, *signed_del(key, record_id, targets))
                if verified:
                    scan.delete(key, targets)
                self._raw("del", key, record_id, targets, start, end, verified=verified, signed=signature is not None)
            else:
                self.damage.append(start)
        else:
            self.damage.append(start)  # an op this version does not know

    def _put(self, head: dict[str, Any], start: int, line: bytes) -> str | None:
        handle = self.handle
        meta_offset = handle.tell()
        meta_line = handle.readline(MAX_META)
        if not meta_line.endswith(b"\n"):
            return "partial" if len(meta_line) < MAX_META and handle.tell() >= self.size else "a metadata line too long"
        size, key, record_id = head.get("n"), head.get("k"), head.get("i")
        if not isinstance(size, int) or size < 0:
            return "a record with no payload size"
        payload_offset = handle.tell()
        if size >= self.size - payload_offset:  # the payload and its newline must fit
            return "partial" if checked(line, meta_line) else "a payload size beyond the file"
        handle.seek(size, os.SEEK_CUR)
        if handle.read(1) != b"\n":
            return "a payload that does not end where its record says"
        end = handle.tell()
        if not checked(line, meta_line) or not isinstance(key, str) or not valid_key(key):
            if isinstance(key, str) and valid_key(key):
                self.scan.bad[key] = "its record is damaged (checksum)"
            self.damage.append(start)
            return None
        blob = head.get("b")
        if not isinstance(record_id, str) or (blob is not None and not (isinstance(blob, str) and blob_of(key, blob))):
            self.scan.bad[key] = "its record names a foreign payload"
            self.damage.append(start)
            return None
        metrics = head.get("m")
        payload_size = head.get("z")
        entry = Entry(
            key=key,
            time=number(head.get("t")),
            metrics=metrics if isinstance(metrics, dict) else {},
            duration=number(head.get("d")),
            fingerprint=head.get("f"),
            segment=self.path,
            meta_offset=meta_offset,
            payload_offset=payload_offset,
            size=size,
            sha256=str(head.get("h", "")),
            blob=blob,
            env=self.env,
            config_hash=head.get("c") if isinstance(head.get("c"), str) else None,
            version=head.get("v"),
            signature=head.get("s") if isinstance(head.get("s"), str) else None,
            record_id=record_id,
            supersedes=_ids(head.get("p")),
            payload_size=payload_size if isinstance(payload_size, int) and payload_size >= 0 else size,
        )
        verified = self.scan.verified(entry)
        self.scan.put(entry, verified=verified)
        self._raw("put", key, record_id, entry.supersedes, start, end, verified, entry.signature is not None)
        return None

    def _raw(
        self,
        op: str,
        group: str,
        record_id: str,
        kills: tuple[str, ...],
        start: int,
        end: int,
        verified: bool = True,
        signed: bool = False,
    ) -> None:
        if self.detail:
            env = self.env_range if op == "put" else None
            self.info.raws.append(Raw(op, group, record_id, kills, start, end, verified, signed, env))

    def _resync(self, start: int, why: str) -> None:
        """Continue where the next record seems to start (its checksum then
        tells whether it is one; the newline before it may be the damage)."""
        self.damage.append(start)
        handle = self.handle
        handle.seek(start + 1)
        position, carry = start + 1, b""
        while True:
            chunk = handle.read(1 << 20)
            if not chunk:
                handle.seek(0, os.SEEK_END)
                return
            data = carry + chunk
            found = data.find(_START)
            if found >= 0:
                handle.seek(position - len(carry) + found)
                return
            carry = data[-len(_START) :]
            position += len(chunk)

    def _partial(self, start: int) -> None:
        # A writer still at work may be between the bytes of one write; only a
        # segment left alone for a while with a partial tail is worth a warning.
        self.handle.seek(start)
        if time.time() - mtime(self.path) >= 60:
            self.on_problem(
                f"{self.path.name}: partial record at byte {start} (a writer was killed mid-write); "
                "the configuration it held runs again"
            )


def _ids(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return float("inf")
