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
pickled result (the format is in :mod:`.segment_format`). Reading, and the
checks made before a stored result is used, are in :mod:`.store_reader`.

Recency without clocks: a new record of a key names the records of that key
its writer saw, and supersedes them; ``remove`` writes a ``del`` record that
names what it removes. So ``--memento-rerun`` replaces whatever it saw, and
``memento clear`` removes exactly what it reports, whatever time a writer's
clock gave its records. Records written concurrently (neither writer saw the
other) are both valid; every reader picks the same one.

Writes that fail (disk full, read-only store) are counted in
:attr:`ResultStore.failures` (:mod:`.write_failures`), so the run can say
which results were lost. When a writer closes its segment it appends an
``end`` record (the segment is sealed: nothing is ever appended after it);
``memento gc`` compacts only sealed segments and those whose writer is gone
(:mod:`.compaction`), and a writer whose segment was removed under it writes
its records again in a new one. Nothing in a segment is rewritten in place.

No pytest in here.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .checkpoint import Checkpoint, checkpoint_path
from .files import atomic_write, write_all
from .layout import StoreError, ensure_store_dir
from .segment_format import Entry, encode_del, encode_line, encode_put, valid_key
from .signing import Signer
from .store_reader import SEGMENT_SUFFIX, StoreReader
from .write_failures import StoreWriteError, WriteFailures, error_text, label_of

__all__ = ["INLINE_LIMIT", "ResultStore", "host_name"]

#: Payloads larger than this go to their own blob file, not into a segment.
INLINE_LIMIT = 1 << 20
_OPEN_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


def host_name() -> str:
    """This host's name as segment file names carry it."""
    return re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname())[:40] or "host"


class ResultStore(StoreReader):
    """Results of passed configurations, addressed by config key."""

    def __init__(
        self, root: Path, on_problem: Callable[[str], None] | None = None, signer: Signer | None = None
    ) -> None:
        super().__init__(root, on_problem=on_problem, signer=signer)
        #: Results this process could not write.
        self.failures = WriteFailures()
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
        #: Fingerprints whose "code" record this process already wrote.
        self._code_written: set[str] = set()
        #: Longest time a deferred record waits in memory before it is written.
        self.max_delay = 1.0

    def create(self) -> ResultStore:
        """Create the directory (idempotent); raises :class:`StoreError`."""
        ensure_store_dir(self.root)
        self._created = True
        return self

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

    def set_environment(self, env: Mapping[str, Any]) -> None:
        """What this process records once per segment (python, host, ...)."""
        self._env = dict(env)

    def get(self, key: str) -> Entry | None:
        """See :meth:`StoreReader.get`; a result of ``key`` still buffered is written first."""
        if key in self._pending_ids:
            self._flush_quietly()
        return super().get(key)

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
                self.failures.add([label_of(meta, key)], error_text(error))
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
        self._pending.append((entry, record, label_of(meta, key)))
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
            self.failures.add(labels, error_text(exc))
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
