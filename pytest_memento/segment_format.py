"""The bytes of one segment record: encoding, checksums, what a signature
covers, and the entry a ``put`` record describes. No pytest; nothing here
is unpickled (reading a segment back is :mod:`segments`, the index of
live records is :mod:`segment_index`).

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

Every ``put`` has an id (``<writer>.<sequence>``) and names in ``p`` the
records of its key that its writer saw; a ``del`` names in ``r`` the
records it removes. ``t`` is the writer's clock, only shown, never
compared. With a secret, ``s`` signs the parts :func:`signed_parts` and
:func:`signed_del` list.
"""

from __future__ import annotations

import json
import re
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .signing import Signer

__all__ = [
    "COMPACT",
    "FORMAT",
    "MAX_LINE",
    "MAX_META",
    "Entry",
    "blob_of",
    "checked",
    "encode_del",
    "encode_line",
    "encode_put",
    "number",
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


def checked(line: bytes, extra: bytes = b"") -> bool:
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
