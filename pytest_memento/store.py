"""The result store: append-only segments, one live entry per config key.

Layout::

    <root>/CACHEDIR.TAG, .gitignore, README.md
    <root>/results/segments/<host>-<pid>-<token>.seg    one per writing process
    <root>/results/blobs/<key[:2]>/<key>.<sha[:16]>.pkl  payloads over INLINE_LIMIT

Each writing process (an xdist worker, a session, a shard on another node of
a shared filesystem) appends only to its own segment, so writers never share
a file and need no lock. A stored result is one record, appended with one
``write``::

    {"op": "put", "k": key, "t": time, "m": metrics, "d": duration, ...}\\n   index line
    {"experiment": ..., "config": {...}, ...}\\n                            metadata line
    <n bytes of cloudpickled result>\\n                                     payload

so reading the store is one pass over the index lines (the metadata line is
human-readable JSON, read on demand; nothing is unpickled to list, export
or compare). The newest record of a key wins; ``del`` records remove keys.
A process killed mid-write leaves a partial last record, which readers
ignore; a corrupt record ends the reading of its segment with a warning.
Nothing in a segment is ever rewritten in place: ``compact`` writes merged
segments next to the old ones and only then removes them.

No pytest in here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from .files import atomic_write
from .layout import StoreError, ensure_store_dir
from .segments import COMPACT, FORMAT, Entry, Scan, encode_put, read_segment, signed_parts, valid_key
from .signing import Signer

__all__ = [
    "FORMAT",
    "INLINE_LIMIT",
    "Entry",
    "ResultStore",
    "StoreError",
    "ensure_store_dir",
    "valid_key",
]

#: Payloads larger than this go to their own blob file, not into a segment.
INLINE_LIMIT = 1 << 20
SEGMENT_SUFFIX = ".seg"


def _problem_sink(message: str) -> None:
    """Default problem handler: ignore (callers pass their own)."""


class ResultStore:
    """Results of passed configurations, addressed by config key."""

    def __init__(
        self, root: Path, on_problem: Callable[[str], None] | None = None, signer: Signer | None = None
    ) -> None:
        self.root = Path(root)
        #: Signs results on write and checks them before unpickling (shared stores).
        self.signer = signer
        self.results = self.root / "results"
        self.segments = self.results / "segments"
        self.blobs = self.results / "blobs"
        self.on_problem = on_problem or _problem_sink
        self._scan: Scan | None = None
        self._segment: Path | None = None
        self._handle: BinaryIO | None = None
        self._pid = os.getpid()
        self._env: Mapping[str, Any] = {}
        self._pending: list[tuple[Entry | None, bytes]] = []
        self._pending_keys: set[str] = set()
        self._pending_since = 0.0
        #: Fingerprints whose "code" record this process already wrote.
        self._code_written: set[str] = set()
        #: Longest time a deferred record waits in memory before it is written.
        self.max_delay = 1.0

    def create(self) -> ResultStore:
        """Create the directory (idempotent); raises :class:`StoreError`."""
        ensure_store_dir(self.root)
        return self

    def set_environment(self, env: Mapping[str, Any]) -> None:
        """What this process records once per segment (python, host, ...)."""
        self._env = dict(env)

    # -- reading -------------------------------------------------------

    def refresh(self) -> None:
        """Read every segment again (entries written by others since)."""
        self._scan = None

    def scan(self) -> Scan:
        """The index of every segment (read once, then kept up to date)."""
        return self._index()

    def _index(self) -> Scan:
        if self._scan is None:
            self.flush()
            scan = Scan()
            for path in self._segment_paths():
                read_segment(path, scan, self.on_problem)
            self._scan = scan
        return self._scan

    def segment_paths(self) -> list[Path]:
        return self._segment_paths()

    def _segment_paths(self) -> list[Path]:
        try:
            names = sorted(name for name in os.listdir(self.segments) if name.endswith(SEGMENT_SUFFIX))
        except FileNotFoundError:
            return []
        except OSError as exc:
            self.on_problem(f"cannot list {self.segments}: {exc.strerror or exc}; the store is treated as empty")
            return []
        return [self.segments / name for name in names]

    def get(self, key: str) -> Entry | None:
        """The live entry for ``key``, or None."""
        if key in self._pending_keys:
            self.flush()
        return self._index().entries.get(key)

    def note_current(self, experiment: str, fingerprint: str | Sequence[str]) -> None:
        """Record the code ``experiment`` has now (so listing tells stale
        results apart without importing anything). Written with the next batch.
        Configurations of one experiment can have different fingerprints (the
        code their values hold): several are recorded joined by commas."""
        if not isinstance(fingerprint, str):
            fingerprint = ",".join(sorted(set(fingerprint)))
        now = time.time()
        line = (
            json.dumps({"op": "current", "e": experiment, "f": fingerprint, "t": now}, separators=COMPACT).encode()
            + b"\n"
        )
        if not self._pending:
            self._pending_since = time.monotonic()
        self._pending.append((None, line))
        if self._scan is not None:
            self._scan.current[experiment] = (fingerprint, now)

    def is_stale(self, entry: Entry, experiment: str) -> bool | None:
        """Whether the newest run that collected ``experiment`` had other
        code than ``entry`` (None: no run recorded its code yet)."""
        current = self._index().current.get(experiment)
        return None if current is None else entry.fingerprint not in current[0].split(",")

    def code_of(self, fingerprint: Any) -> Mapping[str, Any]:
        """What a fingerprint is made of (``fingerprint_parts``, ``packages``)."""
        return self._index().code.get(fingerprint, {}) if isinstance(fingerprint, str) else {}

    def same_config(self, config_hash: str) -> Entry | None:
        """The newest entry of this experiment and config at any version."""
        return self._index().by_config.get(config_hash)

    def problem_of(self, key: str) -> str | None:
        """Why a record of ``key`` was found but could not be used."""
        return self._index().bad.get(key)

    def keys(self) -> set[str]:
        self.flush()
        return set(self._index().entries)

    def iter_entries(self) -> Iterator[Entry]:
        """Every live entry, sorted by key. Never unpickles."""
        self.flush()
        index = self._index().entries
        for key in sorted(index):
            yield index[key]

    def __len__(self) -> int:
        self.flush()
        return len(self._index().entries)

    def resolve(self, prefix: str) -> list[str]:
        """Keys starting with ``prefix`` (for the command line)."""
        prefix = prefix.lower()
        if not re.fullmatch(r"[0-9a-f]{1,64}", prefix):
            return []
        self.flush()
        return sorted(key for key in self._index().entries if key.startswith(prefix))

    def meta(self, entry: Entry) -> dict[str, Any]:
        """The full metadata of ``entry`` (JSON; never unpickles)."""
        try:
            with open(entry.segment, "rb") as handle:
                handle.seek(entry.meta_offset)
                meta = json.loads(handle.readline())
        except (OSError, ValueError) as exc:
            raise LookupError(f"metadata of {entry.key[:16]} in {entry.segment} cannot be read: {exc}") from None
        if not isinstance(meta, dict):
            raise LookupError(f"metadata of {entry.key[:16]} in {entry.segment} is not an object")
        meta["key"] = entry.key
        meta["environment"] = {**entry.env, **meta.get("environment", {})}
        code = self._index().code.get(entry.fingerprint) if isinstance(entry.fingerprint, str) else None
        if code:
            for name, value in code.items():
                meta.setdefault(name, value)
        meta["payload"] = {"size": entry.size, "sha256": entry.sha256, "blob": entry.blob}
        return meta

    def signature_ok(self, entry: Entry) -> bool:
        """Without a signer, always; with one, whether ``entry`` was signed
        with the same secret (its key, payload hash, metrics and code)."""
        if self.signer is None:
            return True
        return self.signer.verify(
            entry.signature, *signed_parts(entry.key, entry.sha256, entry.metrics, entry.fingerprint)
        )

    def payload(self, entry: Entry) -> bytes:
        """The pickled bytes of ``entry``, checked against their signature
        (with a signer) and their hash."""
        if not self.signature_ok(entry):
            raise LookupError(f"the signature of {entry.key[:16]} does not verify; it is not unpickled")
        try:
            if entry.blob is not None:
                data = (self.blobs / entry.key[:2] / entry.blob).read_bytes()
            else:
                with open(entry.segment, "rb") as handle:
                    handle.seek(entry.payload_offset)
                    data = handle.read(entry.size)
        except OSError as exc:
            raise LookupError(f"payload of {entry.key[:16]} cannot be read: {exc.strerror or exc}") from None
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            raise LookupError(f"payload of {entry.key[:16]} does not match its recorded hash")
        return data

    def load_result(self, entry: Entry) -> Any:
        """Unpickle the stored result of ``entry``. Unpickling runs code:
        only for stores you trust. Raises ``LookupError`` when the payload is
        missing or does not match its recorded hash."""
        import pickle

        # cloudpickle writes standard pickles: the stdlib reads them back.
        return pickle.loads(self.payload(entry))

    # -- writing -------------------------------------------------------

    def _own_segment(self) -> Path:
        if self._segment is None:
            host = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname())[:40] or "host"
            name = f"{host}-{os.getpid()}-{secrets.token_hex(4)}{SEGMENT_SUFFIX}"
            self._segment = self.segments / name
        return self._segment

    def _append(self, records: bytes) -> tuple[Path, int]:
        """Append ``records`` with one write; returns (segment, offset).

        The segment stays open between records. It is reopened when this is
        a forked child, or when ``compact``/``clear`` removed the file.
        """
        handle = self._handle
        if handle is not None and (self._pid != os.getpid() or os.fstat(handle.fileno()).st_nlink == 0):
            with contextlib.suppress(OSError):
                handle.close()
            handle = self._handle = None
            self._segment = None
        if handle is None:
            if self._segment is None:
                self._code_written = set()
            path = self._own_segment()
            self.segments.mkdir(parents=True, exist_ok=True)
            # Kept open between records; closed by close().
            handle = self._handle = open(path, "ab")  # noqa: SIM115
            self._pid = os.getpid()
            if handle.tell() == 0:
                handle.write(json.dumps({"op": "env", "env": self._env}, separators=COMPACT).encode() + b"\n")
        start = handle.tell()
        try:
            handle.write(records)
            handle.flush()
        except BaseException:
            # Never leave a partial record in front of later ones.
            try:
                handle.truncate(start)
                handle.seek(start)
            except OSError:
                with contextlib.suppress(OSError):
                    handle.close()
                self._handle = None
                self._segment = None  # continue in a fresh segment
            raise
        assert self._segment is not None
        return self._segment, start

    def close(self) -> None:
        """Write what is buffered and close this process's segment (it is
        reopened on the next write)."""
        try:
            self.flush()
        finally:
            self._close_handle()

    def _close_handle(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.close()
            self._handle = None

    def put(
        self,
        key: str,
        meta: Mapping[str, Any],
        payload: bytes,
        *,
        defer: bool = False,
        code: Mapping[str, Any] | None = None,
    ) -> None:
        """Store ``payload`` (already pickled) and its metadata under ``key``.

        With ``defer`` the record is buffered and written with others by the
        next :meth:`flush` (which ``put`` itself calls once the oldest
        buffered record is ``max_delay`` seconds old): many tiny results cost
        one write instead of one each. A process killed before the flush
        loses those results (the configurations run again next time), so the
        caller defers only results that were quick to compute.
        """
        if not valid_key(key):
            raise ValueError(f"not a config key: {key!r}")
        digest = hashlib.sha256(payload).hexdigest()
        blob: str | None = None
        inline = payload
        if len(payload) > INLINE_LIMIT:
            blob = f"{key}.{digest[:16]}.pkl"
            directory = self.blobs / key[:2]
            directory.mkdir(parents=True, exist_ok=True)
            if not _holds(directory / blob, digest):
                atomic_write(directory / blob, payload)
            inline = b""
        entry, record = encode_put(
            key, meta, inline, digest, blob, segment=self.segments, env=self._env, signer=self.signer
        )
        fingerprint = entry.fingerprint
        if code and isinstance(fingerprint, str) and fingerprint not in self._code_written:
            # Shared by every result of this code: written once, not per result.
            code_line = (
                json.dumps({"op": "code", "f": fingerprint, "about": dict(code)}, separators=COMPACT).encode() + b"\n"
            )
            entry.meta_offset += len(code_line)
            entry.payload_offset += len(code_line)
            record = code_line + record
            self._code_written.add(fingerprint)
            if self._scan is not None:
                self._scan.code[fingerprint] = dict(code)
        if not self._pending:
            self._pending_since = time.monotonic()
        self._pending.append((entry, record))
        self._pending_keys.add(key)
        if not defer or time.monotonic() - self._pending_since >= self.max_delay or len(self._pending) >= 10_000:
            self.flush()

    def flush(self) -> None:
        """Write buffered records (one write) and index them."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        self._pending_keys = set()
        segment, offset = self._append(b"".join(record for _, record in pending))
        for entry, record in pending:
            if entry is None:  # a record that is not a result
                offset += len(record)
                continue
            entry.segment = segment
            entry.meta_offset += offset
            entry.payload_offset += offset
            offset += len(record)
            if self._scan is not None:
                self._scan.put(entry)

    def remove(self, key: str) -> bool:
        """Forget ``key``; True when it had an entry."""
        if not valid_key(key):
            raise ValueError(f"not a config key: {key!r}")
        had = self.get(key) is not None
        now = time.time()
        self._append(json.dumps({"op": "del", "k": key, "t": now}, separators=COMPACT).encode() + b"\n")
        self._index().delete(key, now)
        return had

    def clear(self) -> int:
        """Remove every stored result; returns how many there were."""
        count = len(self)
        self._pending = []
        self._pending_keys = set()
        self._close_handle()
        for directory in (self.segments, self.blobs):
            shutil.rmtree(directory, ignore_errors=True)
        self._scan = None
        self._segment = None
        return count


def _holds(path: Path, digest: str) -> bool:
    """Whether ``path`` exists with content of hash ``digest`` (a damaged
    blob is rewritten, not trusted)."""
    digest_of = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest_of.update(chunk)
    except OSError:
        return False
    return digest_of.hexdigest() == digest
