"""Checkpoints: the newest saved state of one configuration, kept on disk.

One file per config key, ``<store>/checkpoints/<key[:2]>/<key>.ckpt``::

    MEMENTO-CKPT2\\n
    {"key": ..., "saves": n, "saved": time, "pickle": len, "buffers": [len, ...], ...}\\n
    <pickle bytes><out-of-band buffer 0><buffer 1>...
    CRC32:<8 hex digits>\\n

The trailer is the CRC-32 of the header line and everything after it,
computed as the bytes are written and checked on every load: a flipped byte
anywhere is a checkpoint that is ignored (the item starts from ``default``),
never a damaged state resumed. The file is opened only if it is a regular
file (never a FIFO, device or symlink), and its size must be exactly what
its header says.

The state is pickled with protocol 5 and ``buffer_callback``, so the bytes
of large numpy arrays (anything exposing ``PickleBuffer``) are written
straight from the array's memory: no copy in memory on save, one (into the
buffers the arrays are rebuilt on) on load. A save writes a temporary file
beside the checkpoint and moves it over the old one with ``os.replace``: a
kill at any instant leaves the previous checkpoint whole.

No pytest in here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .files import atomic_write, open_regular
from .pickling import dumps_out_of_band
from .signing import Signer

__all__ = [
    "MAGIC",
    "Checkpoint",
    "CheckpointError",
    "CheckpointInfo",
    "iter_checkpoints",
    "read_info",
]

MAGIC = b"MEMENTO-CKPT2\n"
_TRAILER = len(b"CRC32:00000000\n")
_NOTHING = object()


class CheckpointError(OSError):
    """A checkpoint could not be saved; the previous one is kept."""


@dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint file's header says (read without unpickling)."""

    path: Path
    key: str
    saves: int
    saved: float
    size: int
    fingerprint: Any
    label: Mapping[str, Any]
    #: The file's modification time (the file system's clock, not the writer's).
    modified: float = 0.0

    def __str__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.saved))
        return f"save #{self.saves} at {when}"


def _read_header(handle: Any) -> tuple[dict[str, Any], int] | None:
    if handle.read(len(MAGIC)) != MAGIC:
        return None
    # Headers grow with the number of out-of-band buffers; 64 MiB is far
    # beyond any real one and still bounds what a foreign file makes us read.
    line = handle.readline(1 << 26)
    if not line.endswith(b"\n"):
        return None
    try:
        header = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(header, dict):
        return None
    buffers = header.get("buffers")
    pickled = header.get("pickle")
    if (
        not isinstance(pickled, int)
        or not isinstance(buffers, list)
        or not all(isinstance(n, int) and n >= 0 for n in buffers)
    ):
        return None
    if not isinstance(header.get("saves", 0), int) or not isinstance(header.get("saved", 0.0), (int, float)):
        return None
    expected = handle.tell() + pickled + sum(buffers) + _TRAILER
    if pickled < 0 or os.fstat(handle.fileno()).st_size != expected:
        return None
    header["_line"] = line
    return header, handle.tell()


def read_info(path: Path) -> CheckpointInfo | None:
    """The header of the checkpoint at ``path``, or None if it is unusable."""
    try:
        with open_regular(path) as handle:
            found = _read_header(handle)
            size = os.fstat(handle.fileno()).st_size
    except OSError:
        return None
    if found is None:
        return None
    header, _ = found
    label = header.get("label")
    try:
        saved = os.stat(path).st_mtime
    except OSError:
        saved = 0.0
    return CheckpointInfo(
        path=path,
        key=str(header.get("key", "")),
        saves=int(header.get("saves", 0)),
        saved=float(header.get("saved", 0.0)),
        size=size,
        fingerprint=header.get("fingerprint"),
        label=label if isinstance(label, dict) else {},
        modified=saved,
    )


def iter_checkpoints(store_root: Path) -> Iterator[CheckpointInfo]:
    """Every readable checkpoint under a store (none is unpickled)."""
    base = store_root / "checkpoints"
    if not base.is_dir():
        return
    for path in sorted(base.glob("*/*.ckpt")):
        info = read_info(path)
        if info is not None:
            yield info


class Checkpoint:
    """The newest saved state of one configuration (or one test).

    ``load(default)`` returns the state saved by the same configuration and
    code, else ``default``; ``save(state)`` replaces it atomically. With
    ``every=seconds``, ``save`` only writes when that long has passed since
    the last write (and returns whether it wrote); ``due(seconds)`` tells the
    same without saving, for states that are costly to build.
    """

    def __init__(
        self,
        path: Path,
        *,
        key: str,
        label: Mapping[str, Any] | None = None,
        fingerprint: Any = None,
        fresh: bool = False,
        clock: Callable[[], float] = time.monotonic,
        signer: Signer | None = None,
    ) -> None:
        self.path = path
        self.key = key
        self.label = dict(label or {})
        self.fingerprint = fingerprint
        # As it reads back from the JSON header (tuples become lists, ...).
        self._stored_fingerprint = json.loads(json.dumps(fingerprint, default=str))
        self._fresh = fresh
        self._clock = clock
        self._signer = signer
        self._last_write: float | None = None
        self._saves = 0
        #: The checkpoint ``load`` resumed from, if it found one.
        self.resumed_from: CheckpointInfo | None = None
        #: Why an existing checkpoint was not used, if one was ignored.
        self.ignored: str | None = None
        self._previous: CheckpointInfo | None = None if fresh else read_info(path)
        if self._previous is not None:
            self._saves = self._previous.saves

    def __repr__(self) -> str:
        return f"Checkpoint({str(self.path)!r}, saves={self._saves})"

    @property
    def saves(self) -> int:
        """How many times this configuration's state has been saved."""
        return self._saves

    @property
    def exists(self) -> bool:
        return self.path.exists()

    def load(self, default: Any = None) -> Any:
        """The newest state saved by this configuration and code, else
        ``default``. A checkpoint left by other code, or unreadable, is
        ignored (``ignored`` says why)."""
        if self._fresh:
            self.ignored = "--memento-rerun ignores old checkpoints"
            return default
        try:
            handle = open_regular(self.path)
        except FileNotFoundError:
            return default
        except OSError as exc:
            self.ignored = f"cannot read {self.path}: {exc.strerror or exc}"
            return default
        with handle:
            found = _read_header(handle)
            if found is None:
                self.ignored = f"{self.path} is not a whole checkpoint"
                return default
            header, _ = found
            if header.get("key") != self.key:
                self.ignored = f"{self.path} belongs to another configuration"
                return default
            if header.get("fingerprint") != self._stored_fingerprint:
                self.ignored = "the experiment's code changed since it was saved"
                return default
            state = self._read_state(handle, header)
        if state is _NOTHING:
            return default
        self.resumed_from = read_info(self.path)
        return state

    def _read_state(self, handle: Any, header: Mapping[str, Any]) -> Any:
        try:
            data = handle.read(header["pickle"])
            crc = zlib.crc32(data, zlib.crc32(header["_line"]))
            buffers = []
            for length in header["buffers"]:
                buffer = bytearray(length)
                if handle.readinto(buffer) != length:
                    self.ignored = f"{self.path} is truncated"
                    return _NOTHING
                crc = zlib.crc32(buffer, crc)
                buffers.append(buffer)
            trailer = handle.read(_TRAILER)
        except (OSError, MemoryError) as exc:
            self.ignored = f"{self.path} cannot be read: {exc}"
            return _NOTHING
        if len(data) != header["pickle"] or trailer != b"CRC32:%08x\n" % crc:
            # A flipped byte anywhere: never resume a damaged state.
            self.ignored = f"{self.path} is damaged (its checksum does not match); not used"
            return _NOTHING
        if self._signer is not None and not self._signer.verify(
            header.get("sig"), self.key, _content_hash(data, buffers)
        ):
            # Never unpickle what this store's secret did not sign.
            self.ignored = f"{self.path} is not signed with this store's secret; not unpickled"
            return _NOTHING
        try:
            return pickle.loads(data, buffers=buffers)
        except Exception as exc:
            self.ignored = f"{self.path} cannot be unpickled: {exc!r}"
            return _NOTHING

    def due(self, every: float) -> bool:
        """Whether ``every`` seconds have passed since the last save (or
        nothing was saved yet in this process)."""
        return self._last_write is None or self._clock() - self._last_write >= every

    def save(self, state: Any, *, every: float | None = None) -> bool:
        """Replace the checkpoint with ``state``; returns whether it wrote
        (``every`` skips saves closer together than that many seconds).

        Raises :class:`CheckpointError` when the write fails (disk full,
        permission denied); the previous checkpoint is then still whole.
        """
        if every is not None and not self.due(every):
            return False
        data, buffers = dumps_out_of_band(state)
        raws = [buffer.raw() for buffer in buffers]
        header = {
            "key": self.key,
            "saves": self._saves + 1,
            "saved": time.time(),
            "fingerprint": self.fingerprint,
            "label": self.label,
            "pickle": len(data),
            "buffers": [raw.nbytes for raw in raws],
        }
        if self._signer is not None:
            header["sig"] = self._signer.sign(self.key, _content_hash(data, raws))
        line = json.dumps(header, separators=(",", ":"), default=str).encode() + b"\n"
        crc = zlib.crc32(data, zlib.crc32(line))
        for raw in raws:
            crc = zlib.crc32(raw, crc)
        self._write(MAGIC + line, data, raws, b"CRC32:%08x\n" % crc)
        self._saves += 1
        self._last_write = self._clock()
        self._fresh = False
        return True

    def _write(self, head: bytes, data: bytes, raws: list[memoryview], trailer: bytes) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, head, data, *raws, trailer)
        except OSError as exc:
            raise CheckpointError(
                exc.errno,
                f"could not save the checkpoint to {self.path}: {exc.strerror or exc}; the previous one is kept",
            ) from exc
        finally:
            for raw in raws:
                raw.release()

    def remove(self) -> None:
        """Delete the checkpoint (the configuration's result is stored)."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        with contextlib.suppress(OSError):  # only if empty: others may share it
            self.path.parent.rmdir()


def _content_hash(data: bytes, buffers: list[Any]) -> str:
    digest = hashlib.sha256(data)
    for buffer in buffers:
        digest.update(buffer)
    return digest.hexdigest()


def checkpoint_path(store_root: Path, key: str) -> Path:
    return store_root / "checkpoints" / key[:2] / f"{key}.ckpt"


def verified(path: Path, signer: Signer | None) -> bool:
    """Whether the checkpoint at ``path`` is whole (its checksum matches)
    and, with a ``signer``, signed with that secret. Read, never unpickled."""
    try:
        with open_regular(path) as handle:
            found = _read_header(handle)
            if found is None:
                return False
            header, _ = found
            data = handle.read(header["pickle"])
            crc = zlib.crc32(data, zlib.crc32(header["_line"]))
            digest = hashlib.sha256(data)
            for length in header["buffers"]:
                chunk = handle.read(length)
                if len(chunk) != length:
                    return False
                crc = zlib.crc32(chunk, crc)
                digest.update(chunk)
            if handle.read(_TRAILER) != b"CRC32:%08x\n" % crc:
                return False
    except (OSError, MemoryError):
        return False
    return signer is None or signer.verify(header.get("sig"), str(header.get("key", "")), digest.hexdigest())
