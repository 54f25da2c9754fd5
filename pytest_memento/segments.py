"""The on-disk format of the store's segments: records, their index in
memory, and reading them back. No pytest; nothing here is unpickled.

A segment is a sequence of records. Every record starts with one line of
compact JSON whose last member is its checksum, ``"x"``: the CRC-32 (hex)
of the line without that member (and, for a ``put``, of its metadata line
too), checked on every read::

    {"op":"env","env":{...},"x":"..."}                    who wrote the segment
    {"op":"put","k":KEY,"i":ID,"p":[IDS],...,"x":"..."}   a result: this line,
    {"experiment":...,"config":{...},...}                 its metadata line,
    <n bytes of pickle>\\n                                 and its payload
    {"op":"del","k":KEY,"i":ID,"r":[IDS],"x":"..."}       forget these records
    {"op":"code","f":FP,"about":{...},"x":"..."}          what a fingerprint is made of
    {"op":"current","e":EXP,"f":FP,"i":ID,"p":[IDS],...}  the code a run collected
    {"op":"end","x":"..."}                                the writer closed the segment

Which record of a key is live never depends on a clock. Every ``put`` has
an id (``<writer>.<sequence>``) and names in ``p`` the records of its key
that its writer saw (it supersedes them); a ``del`` names in ``r`` the
records it removes. A record is live when no record present names it.
Two live records of one key were written concurrently (neither writer saw
the other: both are valid results of the configuration), and every reader
picks the same one, the greatest id. ``t`` (the writer's clock) is only
shown, never compared. With a secret, records whose signature does not
verify neither count as live nor supersede or remove anything.

A record whose checksum fails is reported and skipped (its key runs
again); where a damaged record hides where the next one starts, reading
resumes at the next line that starts a record whose checksum holds. Lines
are read with a bound (:data:`MAX_LINE`, :data:`MAX_META`), so a huge,
sparse or foreign file cannot exhaust memory.
"""

from __future__ import annotations

import json
import os
import re
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from .files import NotRegularFile, open_regular
from .signing import Signer

__all__ = [
    "COMPACT",
    "FORMAT",
    "Entry",
    "Raw",
    "Scan",
    "SegmentInfo",
    "blob_of",
    "encode_del",
    "encode_line",
    "encode_put",
    "mtime",
    "number",
    "read_segment",
    "signed_del",
    "signed_parts",
    "valid_key",
]

COMPACT = (",", ":")
#: Written into every metadata line; the store's on-disk format.
FORMAT = "pytest-memento/2"
#: Longest one-line record (index lines, ``code``, ``current``, ``del``).
MAX_LINE = 1 << 20
#: Longest metadata line.
MAX_META = 1 << 26
_KEY = re.compile(r"[0-9a-f]{64}")
_BLOB = re.compile(r"([0-9a-f]{64})\.[0-9a-f]{16}(?:\.[0-9a-f]{12}-[0-9]+)?\.pkl")
_TAIL = len(b',"x":"00000000"}\n')
_START = b'{"op":"'


def valid_key(key: str) -> bool:
    """Whether ``key`` is a config key (and so safe to use in a path)."""
    return bool(_KEY.fullmatch(key))


@dataclass
class Entry:
    """Where one stored result lives, with what listing needs in memory.

    The full metadata stays on disk until :meth:`ResultStore.meta` reads it.
    """

    key: str
    time: float
    metrics: Mapping[str, Any]
    duration: float
    fingerprint: Any
    segment: Path
    meta_offset: int
    payload_offset: int
    size: int
    sha256: str
    blob: str | None
    env: Mapping[str, Any]
    #: Hash of experiment and config without the version (see hashing.config_hash).
    config_hash: str | None = None
    version: Any = None
    signature: str | None = None
    #: This record's id, and the ids of the records of its key it supersedes.
    record_id: str = ""
    supersedes: tuple[str, ...] = ()
    #: Length of the pickled payload (inline or in its blob).
    payload_size: int = 0


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


class _Heads:
    """Live records per group (a key, or an experiment): the chosen one
    (greatest id) and its rivals, with the ids that were superseded."""

    def __init__(self) -> None:
        self.chosen: dict[str, Any] = {}
        self.rivals: dict[str, list[Any]] = {}
        #: Superseded or removed record id -> its group.
        self.dead: dict[str, str] = {}

    def known(self, group: str, record_id: str) -> bool:
        if self.dead.get(record_id) == group:
            return True
        chosen = self.chosen.get(group)
        if chosen is not None and chosen.record_id == record_id:
            return True
        return any(other.record_id == record_id for other in self.rivals.get(group, ()))

    def add(self, group: str, item: Any) -> None:
        current = self.chosen.get(group)
        if current is None:
            self.chosen[group] = item
        elif item.record_id > current.record_id:
            self.rivals.setdefault(group, []).append(current)
            self.chosen[group] = item
        else:
            self.rivals.setdefault(group, []).append(item)

    def kill(self, group: str, record_id: str) -> Any:
        """Mark ``record_id`` dead; returns the live item it was, if any."""
        self.dead[record_id] = group
        return self.drop(group, record_id)

    def drop(self, group: str, record_id: str) -> Any:
        current = self.chosen.get(group)
        if current is not None and current.record_id == record_id:
            rivals = self.rivals.pop(group, [])
            if rivals:
                rivals.sort(key=lambda other: other.record_id)
                self.chosen[group] = rivals.pop()
                if rivals:
                    self.rivals[group] = rivals
            else:
                del self.chosen[group]
            return current
        others = self.rivals.get(group)
        if others:
            for index, other in enumerate(others):
                if other.record_id == record_id:
                    del others[index]
                    if not others:
                        del self.rivals[group]
                    return other
        return None

    def live(self, group: str) -> list[Any]:
        chosen = self.chosen.get(group)
        return [] if chosen is None else [chosen, *self.rivals.get(group, ())]


@dataclass
class _Current:
    record_id: str
    #: One fingerprint, or those of every configuration the run collected.
    fingerprint: str | tuple[str, ...]


class Scan:
    """The result of reading every segment once.

    ``entries`` holds the live, verified entry of each key (what runs use,
    list and export). With a ``signer``, records whose signature does not
    verify are kept apart in ``refused``: they are never live and never
    supersede or remove anything.
    """

    def __init__(self, signer: Signer | None = None) -> None:
        self.signer = signer
        self._heads = _Heads()
        self.entries: dict[str, Entry] = self._heads.chosen
        self.refused: dict[str, list[Entry]] = {}
        #: Entries found live whose payload turned out missing or damaged.
        self.unusable: dict[str, list[Entry]] = {}
        self.bad: dict[str, str] = {}
        self._current = _Heads()
        #: Fingerprint -> what it is made of (parts, packages), from "code" records.
        self.code: dict[str, dict[str, Any]] = {}
        #: An entry per config_hash: the same configuration at any version.
        self.by_config: dict[str, Entry] = {}

    # -- results -----------------------------------------------------------

    def verified(self, entry: Entry) -> bool:
        if self.signer is None:
            return True
        parts = signed_parts(
            entry.key, entry.sha256, entry.metrics, entry.fingerprint, entry.record_id, entry.supersedes
        )
        return self.signer.verify(entry.signature, *parts)

    def put(self, entry: Entry, *, verified: bool | None = None) -> None:
        key = entry.key
        trusted = self.verified(entry) if verified is None else verified
        if trusted:
            # Even a record read after whatever superseded it still supersedes
            # what it names (segments are read in no particular order).
            for victim in entry.supersedes:
                self.kill(key, victim)
        if self._heads.known(key, entry.record_id) or any(
            other.record_id == entry.record_id for other in self.refused.get(key, ())
        ):
            return  # superseded already, or the same record twice (a copy gc made)
        if not trusted:
            self.refused.setdefault(key, []).append(entry)
            return
        self._heads.add(key, entry)
        self.bad.pop(key, None)
        if entry.config_hash:
            self.by_config[entry.config_hash] = entry

    def kill(self, key: str, record_id: str) -> None:
        self._heads.kill(key, record_id)
        for group in (self.refused, self.unusable):
            found = group.get(key)
            if found:
                found[:] = [other for other in found if other.record_id != record_id]
                if not found:
                    del group[key]

    def delete(self, key: str, record_ids: Sequence[str]) -> None:
        for record_id in record_ids:
            self.kill(key, record_id)

    def set_aside(self, entry: Entry, reason: str) -> None:
        """``entry`` is live but unusable (its payload is gone or damaged)."""
        if self._heads.drop(entry.key, entry.record_id) is not None:
            self.unusable.setdefault(entry.key, []).append(entry)
        if entry.key not in self.entries:
            self.bad[entry.key] = reason

    def seen(self, key: str) -> list[str]:
        """Ids of every record of ``key`` a new record supersedes."""
        records = [*self._heads.live(key), *self.refused.get(key, ()), *self.unusable.get(key, ())]
        return [entry.record_id for entry in records]

    def all_live(self) -> list[Entry]:
        """Every entry no record supersedes: chosen, rivals, refused, unusable."""
        found = list(self.entries.values())
        for group in (self._heads.rivals, self.refused, self.unusable):
            for entries in group.values():
                found.extend(entries)
        return found

    def refused_entry(self, key: str) -> Entry | None:
        found = self.refused.get(key)
        return max(found, key=lambda entry: entry.record_id) if found else None

    def find(self, key: str, record_id: str) -> Entry | None:
        candidates: list[Entry] = [*self._heads.live(key), *self.refused.get(key, ())]
        for entry in candidates:
            if entry.record_id == record_id:
                return entry
        return None

    # -- the code runs collected ------------------------------------------------

    def note_current(
        self, experiment: str, record_id: str, fingerprint: str | tuple[str, ...], supersedes: Sequence[str]
    ) -> None:
        for victim in supersedes:
            self._current.kill(experiment, victim)
        if self._current.known(experiment, record_id):
            return
        self._current.add(experiment, _Current(record_id, fingerprint))

    def current(self, experiment: str) -> str | tuple[str, ...] | None:
        """The fingerprint(s) of the newest run that collected ``experiment``."""
        found = self._current.chosen.get(experiment)
        return None if found is None else found.fingerprint

    def current_ids(self, experiment: str) -> list[str]:
        return [item.record_id for item in self._current.live(experiment)]


# -- reading -------------------------------------------------------------------


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
            if not _checked(line):
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
            return "partial" if _checked(line, meta_line) else "a payload size beyond the file"
        handle.seek(size, os.SEEK_CUR)
        if handle.read(1) != b"\n":
            return "a payload that does not end where its record says"
        end = handle.tell()
        if not _checked(line, meta_line) or not isinstance(key, str) or not valid_key(key):
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


def _checked(line: bytes, extra: bytes = b"") -> bool:
    """Whether ``line`` ends with the checksum of its other members (and ``extra``)."""
    if len(line) <= _TAIL or line[-_TAIL : -_TAIL + 6] != b',"x":"' or line[-3:] != b'"}\n':
        return False
    try:
        expected = int(line[-11:-3], 16)
    except ValueError:
        return False
    crc = zlib.crc32(line[:-_TAIL])
    crc = zlib.crc32(b"}", crc)
    return zlib.crc32(extra, crc) == expected if extra else crc == expected


# -- writing -------------------------------------------------------------------


def encode_line(body: Mapping[str, Any], extra: bytes = b"") -> bytes:
    """One record line: compact JSON, its checksum (over it and ``extra``) last."""
    text = json.dumps(body, separators=COMPACT).encode()
    return text[:-1] + b',"x":"%08x"}\n' % zlib.crc32(extra, zlib.crc32(text))


def encode_put(
    key: str,
    meta: Mapping[str, Any],
    inline: bytes,
    digest: str,
    blob: str | None,
    *,
    segment: Path,
    env: Mapping[str, Any],
    signer: Signer | None,
    record_id: str = "",
    supersedes: Sequence[str] = (),
    payload_size: int | None = None,
) -> tuple[Entry, bytes]:
    """The ``put`` record of a result (index line, metadata line, payload)
    and its entry, with offsets relative to the record's start."""
    now = time.time()
    metrics = dict(meta.get("metrics") or {})
    duration = number(meta.get("duration"))
    fingerprint = meta.get("fingerprint")
    config_hash, version = meta.get("config_hash"), meta.get("version")
    size = len(inline) if payload_size is None else payload_size
    head: dict[str, Any] = {"op": "put", "k": key, "i": record_id}
    if supersedes:
        head["p"] = list(supersedes)
    head.update(
        {
            "t": now,
            "m": metrics,
            "d": duration,
            "f": fingerprint,
            "n": len(inline),
            "z": size,
            "h": digest,
            "b": blob,
            "c": config_hash,
            "v": version,
        }
    )
    signature = None
    if signer is not None:
        parts = signed_parts(key, digest, metrics, fingerprint, record_id, tuple(supersedes))
        signature = head["s"] = signer.sign(*parts)
    meta_line = json.dumps({**meta, "format": FORMAT}, separators=COMPACT).encode() + b"\n"
    head_line = encode_line(head, meta_line)
    entry = Entry(
        key=key,
        time=now,
        metrics=metrics,
        duration=duration,
        fingerprint=fingerprint,
        segment=segment,
        meta_offset=len(head_line),
        payload_offset=len(head_line) + len(meta_line),
        size=len(inline),
        sha256=digest,
        blob=blob,
        env=env,
        config_hash=config_hash,
        version=version,
        signature=signature,
        record_id=record_id,
        supersedes=tuple(supersedes),
        payload_size=size,
    )
    return entry, head_line + meta_line + inline + b"\n"


def encode_del(key: str, record_id: str, targets: Sequence[str], signer: Signer | None) -> bytes:
    body: dict[str, Any] = {"op": "del", "k": key, "i": record_id, "r": list(targets), "t": time.time()}
    if signer is not None:
        body["s"] = signer.sign(*signed_del(key, record_id, targets))
    return encode_line(body)


def signed_parts(
    key: str,
    digest: str,
    metrics: Mapping[str, Any],
    fingerprint: Any,
    record_id: str = "",
    supersedes: Sequence[str] = (),
) -> tuple[str, ...]:
    metrics_text = json.dumps(dict(metrics), sort_keys=True, separators=COMPACT)
    return (key, digest, metrics_text, str(fingerprint), record_id, ",".join(supersedes))


def signed_del(key: str, record_id: str, targets: Sequence[str]) -> tuple[str, ...]:
    return ("del", key, record_id, ",".join(targets))


def number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def blob_of(key: str, name: str) -> bool:
    match = _BLOB.fullmatch(name)
    return match is not None and match.group(1) == key


def mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return float("inf")
