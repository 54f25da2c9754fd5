"""Checkpoints: the newest saved state of one configuration, kept on disk.

One file per config key, ``<store>/checkpoints/<key[:2]>/<key>.ckpt``::

    MEMENTO-CKPT1\\n
    {"key": ..., "saves": n, "saved": time, "pickle": len, "buffers": [len, ...], ...}\\n
    <pickle bytes><out-of-band buffer 0><buffer 1>...

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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .files import atomic_write
from .pickling import dumps_out_of_band
from .signing import Signer

__all__ = ["MAGIC", "Checkpoint", "CheckpointError", "CheckpointInfo", "iter_checkpoints", "read_info"]

MAGIC = b"MEMENTO-CKPT1\n"
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
    expected = handle.tell() + pickled + sum(buffers)
    if os.fstat(handle.fileno()).st_size != expected:
        return None
    return header, handle.tell()


def read_info(path: Path) -> CheckpointInfo | None:
    """The header of the checkpoint at ``path``, or None if it is unusable."""
    try:
        with open(path, "rb") as handle:
            found = _read_header(handle)
            size = os.fstat(handle.fileno()).st_size
    except OSError:
        return None
    if found is None:
        return None
    header, _ = found
    label = header.get("label")
    return CheckpointInfo(
        path=path,
        key=str(header.get("key", "")),
        saves=int(header.get("saves", 0)),
        saved=float(header.get("saved", 0.0)),
        size=size,
        fingerprint=header.get("fingerprint"),
        label=label if isinstance(label, dict) else {},
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
            handle = open(self.path, "rb")  # noqa: SIM115  # closed below
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
        data = handle.read(header["pickle"])
        buffers = []
        for length in header["buffers"]:
            buffer = bytearray(length)
            if handle.readinto(buffer) != length:
                self.ignored = f"{self.path} is truncated"
                return _NOTHING
            buffers.append(buffer)
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
        head = MAGIC + json.dumps(header, separators=(",", ":"), default=str).encode() + b"\n"
        self._write(head, data, raws)
        self._saves += 1
        self._last_write = self._clock()
        self._fresh = False
        return True

    def _write(self, head: bytes, data: bytes, raws: list[memoryview]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, head, data, *raws)
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
