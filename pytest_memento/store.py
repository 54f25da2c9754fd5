"""The result store: append-only segments, one live entry per config key.

Layout::

    <root>/CACHEDIR.TAG, .gitignore, README.md
    <root>/results/segments/<host>-<pid>-<token>.seg          one per writing process
    <root>/results/blobs/<key[:2]>/<key>.<sha[:16]>.<id>.pkl   payloads over INLINE_LIMIT

Each writing process (an xdist worker, a session, a shard on another node of
a shared filesystem) appends only to its own segment, so writers never share
a file and need no lock. A stored result is one record, appended with one
``write``: an index line (key, record id, the ids it supersedes, metrics,
duration, payload hash, checksum), a line of readable JSON metadata and the
pickled result (the format is in :mod:`.segments`). Reading the store is one
pass over the index lines; nothing is unpickled to list, export or compare.

Recency without clocks: a new record of a key names the records of that key
its writer saw, and supersedes them; ``remove`` writes a ``del`` record that
names what it removes. So ``--memento-rerun`` replaces whatever it saw, and
``memento clear`` removes exactly what it reports, whatever time a writer's
clock gave its records. Records written concurrently (neither writer saw the
other) are both valid; every reader picks the same one.

Integrity: every record carries a checksum checked on read, and a result's
payload is checked against its SHA-256 before it is reported as cached
(:meth:`ResultStore.get`): a damaged record, a missing or damaged payload is
a miss with a warning. A process killed mid-write leaves a partial last
record, which readers ignore. Files that are not regular files are never
opened for reading (see :mod:`.files`).

Writes that fail (disk full, read-only store) are counted in
:attr:`ResultStore.failures`, so the run can say which results were lost.
When a writer closes its segment it appends an ``end`` record (the segment
is sealed: nothing is ever appended after it); ``memento gc`` compacts only
sealed segments and those whose writer is gone (:mod:`.compaction`), and a
writer whose segment was removed under it writes its records again in a new
one. Nothing in a segment is rewritten in place.

No pytest in here.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import pickle
import re
import secrets
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .checkpoint import Checkpoint, checkpoint_path
from .files import TMP_SUFFIX, atomic_write, open_regular, write_all
from .layout import StoreError, ensure_store_dir
from .segment_format import FORMAT, Entry, encode_del, encode_line, encode_put, valid_key
from .segment_index import Scan
from .segments import SegmentInfo, mtime, read_segment
from .signing import Signer

__all__ = [
    "FORMAT",
    "INLINE_LIMIT",
    "Entry",
    "ResultStore",
    "StoreError",
    "StoreWriteError",
    "WriteFailures",
    "ensure_store_dir",
    "host_name",
    "valid_key",
]

#: Payloads larger than this go to their own blob file, not into a segment.
INLINE_LIMIT = 1 << 20
SEGMENT_SUFFIX = ".seg"
_OPEN_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
#: How many segment files a reader keeps open for metadata and payload reads.
_MAX_OPEN = 32


def _problem_sink(message: str) -> None:
    """Default problem handler: ignore (callers pass their own)."""


def host_name() -> str:
    """This host's name as segment file names carry it."""
    return re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname())[:40] or "host"


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


def _label(meta: Mapping[str, Any], key: str) -> str:
    nodeid = meta.get("nodeid")
    if isinstance(nodeid, str) and nodeid:
        return nodeid
    experiment, test_id = meta.get("experiment"), meta.get("test_id")
    return f"{experiment}[{test_id}]" if experiment else key[:12]


def _error_text(exc: OSError) -> str:
    return f"{type(exc).__name__}: {exc.strerror or exc}" if exc.strerror else f"{type(exc).__name__}: {exc}"


class ResultStore:
    """Results of passed configurations, addressed by config key."""

    def __init__(
        self, root: Path, on_problem: Callable[[str], None] | None = None, signer: Signer | None = None
    ) -> None:
        self.root = Path(root)
        #: Signs results on write and checks them before anything trusts them (shared stores).
        self.signer = signer
        self.results = self.root / "results"
        self.segments = self.results / "segments"
        self.blobs = self.results / "blobs"
        self.on_problem = on_problem or _problem_sink
        #: Results this process could not write.
        self.failures = WriteFailures()
        self._scan: Scan | None = None
        self._segment: Path | None = None
        self._fd: int | None = None
        self._pid = os.getpid()
        self._writer = secrets.token_hex(6)
        self._sequence = 0
        self._env: Mapping[str, Any] = {}
        self._pending: list[tuple[Entry | None, bytes, str]] = []
        self._pending_ids: dict[str, str] = {}
        self._pending_since = 0.0
        self._created = False
        self._readers: dict[Path, Any] = {}
        self._readers_pid = os.getpid()
        #: Entries whose payload was checked in this process.
        self._checked: set[str] = set()
        #: Fingerprints whose "code" record this process already wrote.
        self._code_written: set[str] = set()
        #: Longest time a deferred record waits in memory before it is written.
        self.max_delay = 1.0

    def create(self) -> ResultStore:
        """Create the directory (idempotent); raises :class:`StoreError`."""
        ensure_store_dir(self.root)
        self._created = True
        return self

    @property
    def location(self) -> str:
        """Where the store is, as messages show it (a mirrored store: its URL)."""
        return str(self.root)

    def where(self, path: Path) -> str:
        """A file of the store as messages show it."""
        return str(path)

    # -- files beside the segments (a mirrored store keeps them remote too) --

    def publish(self, path: Path) -> None:
        """``path`` (a file of the store) was written: a local store has nothing to do."""

    def unpublish(self, path: Path) -> None:
        """``path`` (a file of the store) was removed: a local store has nothing to do."""

    def sync_checkpoints(self) -> None:
        """Make ``checkpoints/`` complete before listing it (a local store always is)."""

    def open_checkpoint(
        self,
        key: str,
        *,
        label: Mapping[str, Any],
        fingerprint: Any,
        fresh: bool,
        signer: Signer | None,
    ) -> Checkpoint:
        """The checkpoint of ``key`` in this store."""
        return Checkpoint(
            checkpoint_path(self.root, key), key=key, label=label, fresh=fresh, signer=signer, fingerprint=fingerprint
        )

    def blob_garbage(self, referenced: set[str], cutoff: float, unreadable: bool) -> list[Path]:
        """Blob files no live record names (none while a segment cannot be
        read) and temp files, older than ``cutoff`` (for ``memento gc``)."""
        found: list[Path] = []
        if self.blobs.is_dir():
            for path in self.blobs.rglob("*"):
                unused = path.suffix == ".pkl" and path.name not in referenced and not unreadable
                garbage = unused or path.name.endswith(TMP_SUFFIX)
                if garbage and not path.is_symlink() and path.is_file() and mtime(path) < cutoff:
                    found.append(path)
        return found

    def set_environment(self, env: Mapping[str, Any]) -> None:
        """What this process records once per segment (python, host, ...)."""
        self._env = dict(env)

    # -- reading -------------------------------------------------------

    def refresh(self) -> None:
        """Read every segment again (entries written by others since)."""
        self._scan = None
        self._close_readers()

    def scan(self) -> Scan:
        """The index of every segment (read once, then kept up to date)."""
        return self._index()

    def _index(self) -> Scan:
        if self._scan is None:
            self._flush_quietly()
            scan = Scan(self.signer)
            read: set[Path] = set()
            # A segment that vanished between listing and reading was
            # compacted by gc: list again to read the segment that replaced it.
            for _ in range(5):
                fresh = [path for path in self._segment_paths() if path not in read]
                vanished = False
                for path in fresh:
                    read.add(path)
                    vanished |= self._read_segment(path, scan).missing
                if not vanished:
                    break
            self._scan = scan
        return self._scan

    def _read_segment(self, path: Path, scan: Scan) -> SegmentInfo:
        return read_segment(path, scan, self.on_problem)

    def segment_paths(self) -> list[Path]:
        return self._segment_paths()

    def snapshot(self) -> dict[str, int]:
        """Every segment's name and size now: what :class:`.snapshot.SnapshotStore`
        reads back, byte for byte, however the store grows meanwhile."""
        self._flush_quietly()
        sizes = {}
        for path in self._segment_paths():
            with contextlib.suppress(OSError):
                sizes[path.name] = path.stat().st_size
        return sizes

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
        """The live entry for ``key`` whose payload is whole, or None.

        With a secret and no verified entry, the newest refused one (so the
        caller can say it was refused; :meth:`signature_ok` is False for it).
        A live entry whose payload is missing or damaged is set aside with a
        warning (the configuration runs again).
        """
        if key in self._pending_ids:
            self._flush_quietly()
        scan = self._index()
        while True:
            entry = scan.entries.get(key)
            if entry is None:
                return scan.refused_entry(key)
            if entry.record_id in self._checked:
                return entry
            problem = self._payload_problem(entry)
            if problem is None:
                self._checked.add(entry.record_id)
                return entry
            self.on_problem(f"stored result {key[:12]} ({entry.segment.name}): {problem}; it runs again")
            scan.set_aside(entry, problem)

    def note_current(self, experiment: str, fingerprint: str | Sequence[str]) -> None:
        """Record the code ``experiment`` has now (one fingerprint, or those
        of all its configurations), so listing tells stale results apart
        without importing anything. Written with the next batch."""
        scan = self._index()
        record_id = self._next_id()
        supersedes = scan.current_ids(experiment)
        value = fingerprint if isinstance(fingerprint, str) else tuple(fingerprint)
        body = {"op": "current", "e": experiment, "f": value, "i": record_id, "p": supersedes, "t": time.time()}
        if not self._pending:
            self._pending_since = time.monotonic()
        self._pending.append((None, encode_line(body), ""))
        scan.note_current(experiment, record_id, value, supersedes)

    def is_stale(self, entry: Entry, experiment: str) -> bool | None:
        """Whether the newest run that collected ``experiment`` had other
        code than ``entry`` (None: no run recorded its code yet)."""
        current = self._index().current(experiment)
        if current is None:
            return None
        return current != entry.fingerprint if isinstance(current, str) else entry.fingerprint not in current

    def code_of(self, fingerprint: Any) -> Mapping[str, Any]:
        """What a fingerprint is made of (``fingerprint_parts``, ``packages``)."""
        return self._index().code.get(fingerprint, {}) if isinstance(fingerprint, str) else {}

    def same_config(self, config_hash: str) -> Entry | None:
        """An entry of this experiment and config at any version."""
        return self._index().by_config.get(config_hash)

    def problem_of(self, key: str) -> str | None:
        """Why a record of ``key`` was found but could not be used."""
        return self._index().bad.get(key)

    def keys(self) -> set[str]:
        self._flush_quietly()
        return set(self._index().entries)

    def iter_entries(self) -> Iterator[Entry]:
        """Every live entry, sorted by key. Never unpickles, never reads payloads."""
        self._flush_quietly()
        index = self._index().entries
        for key in sorted(index):
            yield index[key]

    def __len__(self) -> int:
        self._flush_quietly()
        return len(self._index().entries)

    def resolve(self, prefix: str) -> list[str]:
        """Keys starting with ``prefix`` (for the command line; refused
        records included, so the command can say why it refuses them)."""
        prefix = prefix.lower()
        if not re.fullmatch(r"[0-9a-f]{1,64}", prefix):
            return []
        self._flush_quietly()
        scan = self._index()
        return sorted(key for key in {*scan.entries, *scan.refused} if key.startswith(prefix))

    def _read_at(self, entry: Entry, offset: int, length: int) -> bytes:
        """``length`` bytes of ``entry``'s segment at ``offset``; when gc
        replaced the segment meanwhile, the same record in its new place."""
        if self._readers_pid != os.getpid():  # a forked child must not move its parent's offsets
            self._readers, self._readers_pid = {}, os.getpid()
        for attempt in range(2):
            try:
                handle = self._readers.get(entry.segment)
                if handle is None:
                    if len(self._readers) >= _MAX_OPEN:
                        self._close_readers()
                    handle = self._readers[entry.segment] = open_regular(entry.segment)
                handle.seek(offset)
                data: bytes = handle.read(length)
                if len(data) == length:
                    return data
                raise OSError(errno.EIO, "the segment is shorter than its index says")
            except FileNotFoundError:
                if attempt:
                    raise
                moved = self._moved(entry)
                if moved is None:
                    raise
                offset += moved.meta_offset - entry.meta_offset
                entry = moved
        raise AssertionError("unreachable")

    def _moved(self, entry: Entry) -> Entry | None:
        self.refresh()
        return self._index().find(entry.key, entry.record_id)

    def meta(self, entry: Entry) -> dict[str, Any]:
        """The full metadata of ``entry`` (JSON; never unpickles)."""
        where = f"metadata of {entry.key[:16]} in {entry.segment}"
        try:
            meta = json.loads(self._read_at(entry, entry.meta_offset, entry.payload_offset - entry.meta_offset))
        except (OSError, ValueError, RecursionError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise LookupError(f"{where} cannot be read: {reason}") from None
        if not isinstance(meta, dict):
            raise LookupError(f"{where} is not an object")
        meta["key"] = entry.key
        environment = meta.get("environment")
        meta["environment"] = {**entry.env, **(environment if isinstance(environment, dict) else {})}
        code = self._index().code.get(entry.fingerprint) if isinstance(entry.fingerprint, str) else None
        if code:
            for name, value in code.items():
                meta.setdefault(name, value)
        meta["payload"] = {"size": entry.payload_size, "sha256": entry.sha256, "blob": entry.blob}
        return meta

    def signature_ok(self, entry: Entry) -> bool:
        """Without a signer, always; with one, whether ``entry`` was signed
        with the same secret (its key, payload hash, metrics, code and the
        records it supersedes)."""
        return self._index().verified(entry) if self.signer is not None else True

    def _blob_path(self, entry: Entry) -> Path:
        assert entry.blob is not None
        return self.blobs / entry.key[:2] / entry.blob

    def _payload_problem(self, entry: Entry) -> str | None:
        """Why the payload of ``entry`` cannot be used (None: it is whole)."""
        try:
            self._payload_bytes(entry, keep=False)
        except LookupError as exc:
            return str(exc)
        return None

    def _payload_bytes(self, entry: Entry, *, keep: bool) -> bytes:
        digest = hashlib.sha256()
        chunks: list[bytes] = []
        try:
            if entry.blob is None:
                data = self._read_at(entry, entry.payload_offset, entry.size)
                digest.update(data)
                chunks.append(data)
            else:
                path = self._blob_path(entry)
                with open_regular(path) as handle:
                    if os.fstat(handle.fileno()).st_size != entry.payload_size:
                        raise LookupError(f"its payload {path} has the wrong size")
                    left = entry.payload_size
                    while left:
                        chunk = handle.read(min(left, 1 << 22))
                        if not chunk:
                            break
                        left -= len(chunk)
                        digest.update(chunk)
                        if keep:
                            chunks.append(chunk)
        except FileNotFoundError as exc:
            raise LookupError(f"its payload {Path(exc.filename or entry.segment).name} is missing") from None
        except OSError as exc:
            raise LookupError(
                f"its payload cannot be read ({exc.filename or entry.segment}: {exc.strerror or exc})"
            ) from None
        if digest.hexdigest() != entry.sha256:
            raise LookupError("its payload does not match its recorded hash (damaged)")
        return b"".join(chunks)

    def payload(self, entry: Entry) -> bytes:
        """The pickled bytes of ``entry``, checked against their signature
        (with a signer) and their hash; raises ``LookupError``."""
        if not self.signature_ok(entry):
            raise LookupError(f"the signature of {entry.key[:16]} does not verify; it is not unpickled")
        try:
            return self._payload_bytes(entry, keep=True)
        except LookupError as exc:
            raise LookupError(f"payload of {entry.key[:16]}: {exc}") from None

    def load_result(self, entry: Entry) -> Any:
        """Unpickle the stored result of ``entry``. Unpickling runs code:
        only for stores you trust. Raises ``LookupError`` when the payload is
        missing, damaged or (with a secret) not signed with it."""
        # cloudpickle writes standard pickles: the stdlib reads them back.
        return pickle.loads(self.payload(entry))

    def __del__(self) -> None:
        # Segment files opened for reading are closed with the store.
        with contextlib.suppress(Exception):
            self._close_readers()

    def _close_readers(self) -> None:
        for handle in self._readers.values():
            with contextlib.suppress(OSError):
                handle.close()
        self._readers = {}

    # -- writing -------------------------------------------------------

    def _next_id(self) -> str:
        if self._pid != os.getpid():  # a forked child: its own ids and segment
            self._writer, self._sequence = secrets.token_hex(6), 0
            self._fd, self._segment, self._pid = None, None, os.getpid()
        self._sequence += 1
        return f"{self._writer}.{self._sequence}"

    def _open_segment(self) -> int:
        """The writable descriptor of this process's segment (a new one
        after a fork, after close() sealed it, or when it was removed)."""
        if self._pid != os.getpid():
            self._fd, self._segment, self._pid = None, None, os.getpid()
            self._writer, self._sequence = secrets.token_hex(6), 0
        if self._fd is not None:
            try:
                if os.fstat(self._fd).st_nlink > 0:
                    return self._fd
            except OSError:
                pass
            self._abandon_segment()
        if not self._created and not (self.root / "CACHEDIR.TAG").is_file():
            try:
                self.create()
            except StoreError as exc:
                raise OSError(errno.EACCES, str(exc), str(self.root)) from None
        self._created = True
        self.segments.mkdir(parents=True, exist_ok=True)
        name = f"{host_name()}-{os.getpid()}-{secrets.token_hex(4)}{SEGMENT_SUFFIX}"
        path = self.segments / name
        fd = os.open(path, _OPEN_FLAGS, 0o666)
        try:
            write_all(fd, encode_line({"op": "env", "env": dict(self._env)}))
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                path.unlink()
            raise
        self._fd, self._segment = fd, path
        self._code_written = set()
        return fd

    def _abandon_segment(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd, self._segment = None, None

    def _append(self, records: bytes) -> tuple[Path, int]:
        """Append ``records`` with one write; returns (segment, offset)."""
        for attempt in range(3):
            fd = self._open_segment()
            start = os.fstat(fd).st_size
            try:
                write_all(fd, records)
            except OSError as exc:
                try:
                    os.ftruncate(fd, start)  # never leave a partial record in front of later ones
                except OSError:
                    self._abandon_segment()
                if attempt < 2 and exc.errno == errno.ESTALE:
                    self._abandon_segment()
                    continue
                raise
            if os.fstat(fd).st_nlink == 0:
                # gc removed the segment while we wrote: write it again in a
                # new one (a copy gc rescued too is the same record, read once).
                self._abandon_segment()
                continue
            assert self._segment is not None
            return self._segment, start
        raise OSError(errno.EIO, f"the segments in {self.segments} keep disappearing")

    def close(self) -> None:
        """Write what is buffered and seal this process's segment (a later
        write starts a new one)."""
        try:
            self.flush()
        finally:
            if self._fd is not None and self._pid == os.getpid():
                with contextlib.suppress(OSError):
                    write_all(self._fd, encode_line({"op": "end"}))
            self._abandon_segment()
            self._close_readers()

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

        The record supersedes every record of ``key`` this store has seen.
        With ``defer`` it is buffered and written with others by the next
        :meth:`flush` (which ``put`` itself calls once the oldest buffered
        record is ``max_delay`` seconds old): many tiny results cost one
        write instead of one each. A process killed before the flush loses
        those results (the configurations run again next time), so the
        caller defers only results that were quick to compute. Raises
        ``OSError`` when a write fails (:attr:`failures` names the results).
        """
        if not valid_key(key):
            raise ValueError(f"not a config key: {key!r}")
        scan = self._index()
        record_id = self._next_id()
        supersedes = scan.seen(key)
        pending = self._pending_ids.get(key)
        if pending is not None:
            supersedes.append(pending)
        digest = hashlib.sha256(payload).hexdigest()
        blob: str | None = None
        inline = payload
        if len(payload) > INLINE_LIMIT:
            # A fresh name per record: gc never removes a blob a writer is about to name.
            blob = f"{key}.{digest[:16]}.{record_id.replace('.', '-')}.pkl"
            try:
                self._write_blob(self.blobs / key[:2] / blob, payload)
            except (OSError, StoreError) as exc:
                error = exc if isinstance(exc, OSError) else OSError(errno.EACCES, str(exc))
                self.failures.add([_label(meta, key)], _error_text(error))
                raise error from None
            inline = b""
        entry, record = encode_put(
            key,
            meta,
            inline,
            digest,
            blob,
            segment=self.segments,
            env=self._env,
            signer=self.signer,
            record_id=record_id,
            supersedes=supersedes,
            payload_size=len(payload),
        )
        fingerprint = entry.fingerprint
        if code and isinstance(fingerprint, str) and fingerprint not in self._code_written:
            # Shared by every result of this code: written once per segment, not per result.
            code_line = encode_line({"op": "code", "f": fingerprint, "about": dict(code)})
            entry.meta_offset += len(code_line)
            entry.payload_offset += len(code_line)
            record = code_line + record
            self._code_written.add(fingerprint)
            scan.code[fingerprint] = dict(code)
        if not self._pending:
            self._pending_since = time.monotonic()
        self._pending.append((entry, record, _label(meta, key)))
        self._pending_ids[key] = record_id
        self._checked.add(record_id)
        if not defer or time.monotonic() - self._pending_since >= self.max_delay or len(self._pending) >= 10_000:
            self.flush()

    def _write_blob(self, path: Path, payload: bytes) -> None:
        """Write a payload's blob file (before the record naming it)."""
        if not self._created:
            self.create()
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, payload)

    def flush(self) -> None:
        """Write buffered records (one write) and index them. Raises
        :class:`StoreWriteError` when the write fails: the results it held
        are lost and named in :attr:`failures`."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        self._pending_ids = {}
        try:
            segment, offset = self._append(b"".join(record for _, record, _ in pending))
        except OSError as exc:
            self._code_written = set()
            labels = [label for entry, _, label in pending if entry is not None]
            self.failures.add(labels, _error_text(exc))
            raise StoreWriteError(exc.errno, f"{len(labels)} result(s) not stored: {exc.strerror or exc}") from exc
        for entry, record, _ in pending:
            if entry is not None:
                entry.segment = segment
                entry.meta_offset += offset
                entry.payload_offset += offset
                if self._scan is not None:
                    self._scan.put(entry, verified=True)
            offset += len(record)

    def _flush_quietly(self) -> None:
        # Reading flushes first; a failed write is already in ``failures``.
        with contextlib.suppress(OSError):
            self.flush()

    def remove(self, key: str) -> bool:
        """Forget ``key`` (the records of it this store has seen); True
        when it had an entry."""
        if not valid_key(key):
            raise ValueError(f"not a config key: {key!r}")
        return self.remove_many([key]) == 1

    def remove_many(self, keys: Iterable[str]) -> int:
        """Forget these keys with one write; returns how many had an entry.
        Raises ``OSError`` (nothing removed) when the write fails."""
        self._flush_quietly()
        scan = self._index()
        lines, removed, doomed = [], 0, []
        for key in keys:
            targets = scan.seen(key)
            if not targets:
                continue
            removed += key in scan.entries
            lines.append(encode_del(key, self._next_id(), targets, self.signer))
            doomed.append((key, targets))
        if lines:
            self._append(b"".join(lines))
            for key, targets in doomed:
                scan.delete(key, targets)
        return removed

    def clear(self) -> int:
        """Remove every stored result (with ``del`` records; ``memento gc``
        reclaims the space); returns how many there were."""
        self._flush_quietly()
        scan = self._index()
        return self.remove_many(sorted({*scan.entries, *scan.refused, *scan.unusable}))
