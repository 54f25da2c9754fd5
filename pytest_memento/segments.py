"""The on-disk format of the store's segments: records, their index in
memory, and reading them back. No pytest; nothing here is unpickled.

A segment is a sequence of one-line JSON records (``env``, ``code``,
``current``, ``del``), and of ``put`` records, which are an index line, a
metadata line and the pickled payload (see :mod:`.store`).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from .signing import Signer

__all__ = [
    "COMPACT",
    "FORMAT",
    "Entry",
    "Scan",
    "blob_of",
    "encode_put",
    "mtime",
    "number",
    "raw_record",
    "read_segment",
    "signed_parts",
    "valid_key",
]

COMPACT = (",", ":")
#: Written into every metadata line; the store's on-disk format.
FORMAT = "pytest-memento/1"
_KEY = re.compile(r"[0-9a-f]{64}")
_BLOB = re.compile(r"([0-9a-f]{64})\.[0-9a-f]{16}\.pkl")


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


class Scan:
    """The result of reading every segment once."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self.deleted: dict[str, float] = {}
        self.bad: dict[str, str] = {}
        #: Experiment -> (fingerprint, time) of the newest run that collected it.
        self.current: dict[str, tuple[str, float]] = {}
        #: Fingerprint -> what it is made of (parts, packages), from "code" records.
        self.code: dict[str, dict[str, Any]] = {}
        #: Newest entry per config_hash: the same configuration at any version.
        self.by_config: dict[str, Entry] = {}
        #: put and del records read per segment (to tell garbage from live).
        self.records: dict[Path, int] = {}

    def put(self, entry: Entry) -> None:
        current = self.entries.get(entry.key)
        if current is not None and current.time > entry.time:
            return
        if self.deleted.get(entry.key, -1.0) > entry.time:
            return
        self.entries[entry.key] = entry
        self.bad.pop(entry.key, None)
        if entry.config_hash:
            other = self.by_config.get(entry.config_hash)
            if other is None or other.time <= entry.time:
                self.by_config[entry.config_hash] = entry

    def delete(self, key: str, when: float) -> None:
        current = self.entries.get(key)
        if current is None or current.time <= when:
            self.entries.pop(key, None)
        self.deleted[key] = max(when, self.deleted.get(key, when))


def read_segment(path: Path, scan: Scan, on_problem: Callable[[str], None]) -> None:
    """Index every record of one segment into ``scan``; damage ends the
    reading of that segment with a message to ``on_problem``."""
    try:
        handle = open(path, "rb")  # noqa: SIM115  # closed by the with below
    except OSError as exc:
        on_problem(f"cannot read {path}: {exc.strerror or exc}; its results are ignored")
        return
    with handle:
        try:
            problem = _read_records(path, handle, scan)
        except (ValueError, OverflowError, RecursionError, OSError) as exc:
            problem = f"unreadable ({type(exc).__name__}: {exc})"
    if problem:
        on_problem(f"{path.name}: {problem}; later results in it are ignored (they will run again)")


def _read_records(path: Path, handle: BinaryIO, scan: Scan) -> str | None:
    env: Mapping[str, Any] = {}
    size_of_file = os.fstat(handle.fileno()).st_size
    while True:
        start = handle.tell()
        line = handle.readline()
        if not line:
            return None
        if not line.endswith(b"\n"):
            return _partial(path, start)
        try:
            head = json.loads(line)
            op = head["op"]
        except (ValueError, TypeError, KeyError, RecursionError):
            return f"unreadable record at byte {start}"
        if op == "env":
            env = head.get("env") if isinstance(head.get("env"), dict) else {}
            continue
        if op == "code":
            # What a fingerprint is made of, written once per segment.
            if isinstance(head.get("f"), str) and isinstance(head.get("about"), dict):
                scan.code[head["f"]] = head["about"]
            continue
        if op == "current":
            # The code an experiment had when a run last collected it.
            experiment, when = head.get("e"), number(head.get("t"))
            fresh = isinstance(experiment, str) and when >= scan.current.get(experiment, ("", -1.0))[1]
            if fresh and isinstance(head.get("f"), str):
                scan.current[str(experiment)] = (head["f"], when)
            continue
        key = head.get("k")
        if not isinstance(key, str) or not valid_key(key):
            return f"record at byte {start} has no valid key"
        if op == "del":
            scan.delete(key, number(head.get("t")))
            continue
        if op != "put":
            return f"unknown record {op!r} at byte {start}"
        meta_offset = handle.tell()
        meta_line = handle.readline()
        size = head.get("n")
        if not meta_line.endswith(b"\n") or not isinstance(size, int) or size < 0:
            scan.bad[key] = "its record is truncated"
            return _partial(path, start) if not meta_line.endswith(b"\n") else f"bad record at byte {start}"
        payload_offset = handle.tell()
        if size > size_of_file - payload_offset:
            scan.bad[key] = "its payload is truncated"
            return _partial(path, start)
        if size:
            handle.seek(size, os.SEEK_CUR)
        if handle.read(1) != b"\n":
            scan.bad[key] = "its payload is truncated"
            return _partial(path, start)
        blob = head.get("b")
        if blob is not None and not (isinstance(blob, str) and blob_of(key, blob)):
            scan.bad[key] = "its record names a foreign payload"
            continue
        metrics = head.get("m")
        scan.records[path] = scan.records.get(path, 0) + 1
        scan.put(
            Entry(
                key=key,
                time=number(head.get("t")),
                metrics=metrics if isinstance(metrics, dict) else {},
                duration=number(head.get("d")),
                fingerprint=head.get("f"),
                segment=path,
                meta_offset=meta_offset,
                payload_offset=payload_offset,
                size=size,
                sha256=str(head.get("h", "")),
                blob=blob,
                env=env,
                config_hash=head.get("c") if isinstance(head.get("c"), str) else None,
                version=head.get("v"),
                signature=head.get("s") if isinstance(head.get("s"), str) else None,
            )
        )


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
) -> tuple[Entry, bytes]:
    """The ``put`` record of a result (index line, metadata line, payload)
    and its entry, with offsets relative to the record's start."""
    now = time.time()
    metrics = dict(meta.get("metrics") or {})
    duration = number(meta.get("duration"))
    fingerprint = meta.get("fingerprint")
    config_hash, version = meta.get("config_hash"), meta.get("version")
    head = {
        "op": "put",
        "k": key,
        "t": now,
        "m": metrics,
        "d": duration,
        "f": fingerprint,
        "n": len(inline),
        "h": digest,
        "b": blob,
        "c": config_hash,
        "v": version,
    }
    signature = None
    if signer is not None:
        signature = head["s"] = signer.sign(*signed_parts(key, digest, metrics, fingerprint))
    head_line = json.dumps(head, separators=COMPACT).encode() + b"\n"
    meta_line = json.dumps({**meta, "format": FORMAT}, separators=COMPACT).encode() + b"\n"
    entry = Entry(
        key,
        now,
        metrics,
        duration,
        fingerprint,
        segment,
        len(head_line),
        len(head_line) + len(meta_line),
        len(inline),
        digest,
        blob,
        env,
        config_hash,
        version,
        signature,
    )
    return entry, head_line + meta_line + inline + b"\n"


def raw_record(entry: Entry) -> bytes:
    """The bytes of ``entry``'s record, as written, for compaction."""
    with open(entry.segment, "rb") as handle:
        handle.seek(entry.meta_offset)
        meta_line = handle.readline()
        payload = handle.read(entry.size + 1)
    head = {
        "op": "put",
        "k": entry.key,
        "t": entry.time,
        "m": dict(entry.metrics),
        "d": entry.duration,
        "f": entry.fingerprint,
        "n": entry.size,
        "h": entry.sha256,
        "b": entry.blob,
        "c": entry.config_hash,
        "v": entry.version,
    }
    if entry.signature is not None:
        head["s"] = entry.signature
    return json.dumps(head, separators=COMPACT).encode() + b"\n" + meta_line + payload


def _partial(path: Path, start: int) -> str | None:
    # A writer still at work may be between the bytes of one write; only a
    # segment left alone for a while with a partial tail is worth a warning.
    if time.time() - mtime(path) < 60:
        return None
    return f"partial record at byte {start} (a writer was killed mid-write)"


def signed_parts(key: str, digest: str, metrics: Mapping[str, Any], fingerprint: Any) -> tuple[str, ...]:
    return (key, digest, json.dumps(dict(metrics), sort_keys=True, separators=COMPACT), str(fingerprint))


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
