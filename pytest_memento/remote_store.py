"""A result store at an fsspec URL: :class:`ResultStore` on a local cache
directory that a :class:`~.mirror.Mirror` keeps in step with the remote.

What differs from a local store is only where segments come from and go:

- reading lists the remote once per :meth:`refresh` (when the store is
  opened, and when a segment it indexed vanished) and downloads new objects;
- every write (a flush, a ``del`` batch) is one sealed segment, uploaded
  whole under a fresh name before the records count as written: a failed
  upload is a failed write (counted in ``failures``, the results run again);
- blobs are uploaded before the record naming them, and downloaded when a
  result is read; checkpoints are uploaded on every save (one object each)
  and downloaded when an item asks for its checkpoint;
- ``memento gc`` compacts the cached copies, uploads the compacted segment,
  then deletes the objects it read (immutable, so nothing written since is
  lost); unreferenced blobs go by their remote age.

Records, checksums, signatures and what is live are exactly those of a
local store (:mod:`.segments`). No pytest in here.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .checkpoint import Checkpoint, CheckpointError, checkpoint_path
from .layout import README, StoreError, ensure_store_dir
from .mirror import Mirror
from .remote import Remote, RemoteError
from .segment_format import Entry, encode_line
from .segments import mtime
from .signing import Signer
from .store import ResultStore, host_name
from .store_reader import SEGMENT_SUFFIX
from .store_urls import cache_dir_for, display_url

__all__ = ["MirroredCheckpoint", "MirroredStore", "StoreLocation", "open_store", "store_exists"]

_SEGMENTS = "results/segments"


@dataclass(frozen=True)
class StoreLocation:
    """Where a store is: a directory, or a URL with the cache directory
    that mirrors it. ``options`` (fsspec storage options) may hold secrets:
    never shown."""

    path: Path
    url: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def shown(self) -> str:
        return self.path.as_posix() if self.url is None else display_url(self.url)

    @classmethod
    def for_url(cls, url: str, options: Mapping[str, Any], cache_base: Path, env: Mapping[str, str]) -> StoreLocation:
        return cls(cache_dir_for(url, options, cache_base, env), url.strip(), dict(options))


def open_store(
    location: StoreLocation, on_problem: Callable[[str], None] | None = None, signer: Signer | None = None
) -> ResultStore:
    """The store at ``location`` (nothing is read or created yet)."""
    if location.url is None:
        return ResultStore(location.path, on_problem=on_problem, signer=signer)
    return MirroredStore(location, on_problem=on_problem, signer=signer)


def store_exists(location: StoreLocation) -> bool:
    """Whether ``location`` holds a pytest-memento store; raises
    :class:`StoreError` when a URL cannot be read."""
    if location.url is None:
        return (location.path / "CACHEDIR.TAG").is_file()
    remote = Remote(location.url, location.options)
    try:
        remote.check()
        return remote.exists("README.md") or bool(remote.listing(_SEGMENTS))
    except RemoteError as exc:
        raise StoreError(str(exc)) from None


class MirroredStore(ResultStore):
    """A store at a URL, read and written through its cache directory."""

    def __init__(
        self,
        location: StoreLocation,
        on_problem: Callable[[str], None] | None = None,
        signer: Signer | None = None,
    ) -> None:
        assert location.url is not None
        sink = on_problem or (lambda message: None)
        cache = str(location.path)
        self.remote = Remote(location.url, location.options)
        shown = self.remote.shown
        # Problems name the remote objects, not their cached copies.
        super().__init__(location.path, on_problem=lambda text: sink(text.replace(cache, shown)), signer=signer)
        self.mirror = Mirror(self.remote, location.path)
        self._pulled = False
        self._checked_remote = False

    @property
    def location(self) -> str:
        return self.remote.shown

    def where(self, path: Path) -> str:
        return self.mirror.where(path)

    def create(self) -> MirroredStore:
        """The cache directory, and a remote that answers (its README.md
        written once); raises :class:`StoreError` saying what is wrong."""
        ensure_store_dir(self.root)
        if not self._checked_remote:
            try:
                self.remote.check()
                if not self.remote.exists("README.md"):
                    self.remote.upload("README.md", README.encode())
            except RemoteError as exc:
                raise StoreError(str(exc)) from None
            self._checked_remote = True
        self._created = True
        return self

    # -- reading -----------------------------------------------------------

    def refresh(self) -> None:
        super().refresh()
        self._pulled = False

    def _segment_paths(self) -> list[Path]:
        if not self._pulled:
            self._pulled = True
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                self.mirror.pull(_SEGMENTS, SEGMENT_SUFFIX)
            except (RemoteError, OSError) as exc:
                # Reading what is cached is all that can be done: said, once.
                self.on_problem(f"{exc}; only the results cached on this machine are used")
        return [self.segments / name for name in self.mirror.marked(_SEGMENTS)]

    def _payload_bytes(self, entry: Entry, *, keep: bool) -> bytes:
        if entry.blob is not None:
            path = self._blob_path(entry)
            if not path.is_file():
                try:
                    self.mirror.fetch(path)
                except (RemoteError, OSError) as exc:
                    raise LookupError(f"its payload cannot be downloaded ({exc})") from None
        return super()._payload_bytes(entry, keep=keep)

    # -- writing -----------------------------------------------------------

    def _append(self, records: bytes) -> tuple[Path, int]:
        """One sealed segment per write, uploaded before it counts."""
        if not self._created:
            try:
                self.create()
            except StoreError as exc:
                raise RemoteError(str(exc)) from None
        header = encode_line({"op": "env", "env": dict(self._env)})
        name = f"{host_name()}-{os.getpid()}-{secrets.token_hex(6)}{SEGMENT_SUFFIX}"
        path = self.mirror.push_segment(name, header + records + encode_line({"op": "end"}), self.segments)
        return path, len(header)

    def _write_blob(self, path: Path, payload: bytes) -> None:
        super()._write_blob(path, payload)
        try:
            self.mirror.publish(path)
        except RemoteError:
            with contextlib.suppress(OSError):
                path.unlink()
            raise

    def publish(self, path: Path) -> None:
        self.mirror.publish(path)

    def unpublish(self, path: Path) -> None:
        if self.mirror.outbox not in path.parents:  # staged segments were never uploaded
            self.mirror.unpublish(path)

    # -- checkpoints and gc -----------------------------------------------------

    def sync_checkpoints(self) -> None:
        try:
            self.mirror.fetch_all("checkpoints", ".ckpt")
        except RemoteError as exc:
            self.on_problem(f"{exc}; only the checkpoints cached on this machine are listed")

    def open_checkpoint(
        self,
        key: str,
        *,
        label: Mapping[str, Any],
        fingerprint: Any,
        fresh: bool,
        signer: Signer | None,
    ) -> Checkpoint:
        return MirroredCheckpoint(
            self.mirror,
            checkpoint_path(self.root, key),
            key=key,
            label=label,
            fresh=fresh,
            signer=signer,
            fingerprint=fingerprint,
        )

    def blob_garbage(self, referenced: set[str], cutoff: float, unreadable: bool) -> list[Path]:
        # Segments a killed writer staged but never uploaded (only ever local).
        found = [path for path in self.mirror.outbox.glob("*") if mtime(path) < cutoff]
        if unreadable:
            return found
        try:
            objects = list(self.mirror.objects("results/blobs"))
        except RemoteError as exc:
            self.on_problem(f"{exc}; no payload is removed")
            return found
        for info in objects:
            name = info.name.rsplit("/", 1)[-1]
            if name.endswith(".pkl") and name not in referenced and info.modified < cutoff:
                found.append(self.root / info.name)
        return found


class MirroredCheckpoint(Checkpoint):
    """A checkpoint kept in the cache and uploaded on every save (one object,
    written atomically: a reader sees the previous save or this one)."""

    def __init__(self, mirror: Mirror, path: Path, **kwargs: Any) -> None:
        self._mirror = mirror
        #: Seconds the last save spent uploading.
        self.upload_seconds = 0.0
        if not kwargs.get("fresh"):
            try:
                mirror.fetch(path)
            except (RemoteError, OSError) as exc:
                kwargs_label = f"{mirror.where(path)}: {exc}"
                super().__init__(path, **kwargs)
                self.ignored = f"cannot download the checkpoint ({kwargs_label}); starting from default"
                return
        super().__init__(path, **kwargs)

    def _write(self, head: bytes, data: bytes, raws: list[memoryview], trailer: bytes) -> None:
        super()._write(head, data, raws, trailer)
        started = time.perf_counter()
        try:
            self._mirror.publish(self.path)
        except RemoteError as exc:
            raise CheckpointError(
                exc.errno, f"could not upload the checkpoint: {exc}; the previous one is kept"
            ) from exc
        self.upload_seconds = time.perf_counter() - started

    def remove(self) -> None:
        super().remove()
        with contextlib.suppress(RemoteError):
            self._mirror.unpublish(self.path)
