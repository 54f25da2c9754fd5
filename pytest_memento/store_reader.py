"""Reading a result store: the index of its segments, lookups by config
key, and each result's metadata and payload, checked before anything uses
them. :class:`StoreReader` is the reading half of :class:`.store.ResultStore`
(the store's layout and writes are documented there). No pytest in here.

Reading the store is one pass over the index lines of every segment
(:mod:`.segments`); nothing is unpickled to list, export or compare, and a
segment that vanished between listing and reading (gc compacted it) is
found again by listing once more.

Integrity: every record carries a checksum checked on read, and a result's
payload is checked against its SHA-256 before it is reported as cached
(:meth:`StoreReader.get`): a damaged record, a missing or damaged payload is
a miss with a warning. A process killed mid-write leaves a partial last
record, which readers ignore. Files that are not regular files are never
opened for reading (see :mod:`.files`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import pickle
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .files import TMP_SUFFIX, open_regular
from .segment_format import Entry
from .segment_index import Scan
from .segments import SegmentInfo, mtime, read_segment
from .signing import Signer

__all__ = ["SEGMENT_SUFFIX", "StoreReader"]

SEGMENT_SUFFIX = ".seg"
#: How many segment files a reader keeps open for metadata and payload reads.
_MAX_OPEN = 32


def _problem_sink(message: str) -> None:
    """Default problem handler: ignore (callers pass their own)."""


class StoreReader:
    """The results of a store, read from its segments (never written here)."""

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
        self._scan: Scan | None = None
        self._readers: dict[Path, Any] = {}
        self._readers_pid = os.getpid()
        #: Entries whose payload was checked in this process.
        self._checked: set[str] = set()

    @property
    def location(self) -> str:
        """Where the store is, as messages show it (a mirrored store: its URL)."""
        return str(self.root)

    def where(self, path: Path) -> str:
        """A file of the store as messages show it."""
        return str(path)

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

    def _flush_quietly(self) -> None:
        """Write what a writer has buffered before reading (a reader has nothing)."""
