"""The cache directory of a store at a URL, kept in step with the remote
prefix (:class:`.remote.Remote`). No pytest in here.

Object stores have no append and no rename, so the store code written for a
directory (:mod:`.store`, :mod:`.compaction`, :mod:`.checkpoint`) keeps
working on a local *cache directory* laid out exactly like a local store,
and :class:`Mirror` keeps that directory in step with the remote prefix::

    <url>/README.md                                      marks the prefix as a store
    <url>/results/segments/<host>-<pid>-<token>.seg      one immutable object per flush
    <url>/results/blobs/<key[:2]>/<key>.<sha>.<id>.pkl   payloads over 1 MiB
    <url>/checkpoints/<key[:2]>/<key>.ckpt               one object per checkpoint

    <cache>/CACHEDIR.TAG, results/, checkpoints/          a store directory
    <cache>/mirror/<path>@<size>@<version>                empty marker: the cached file at
                                                          <path> is the remote object of that
                                                          size and version (ETag, else mtime)
    <cache>/outbox/                                       segments before their upload

- **Pull** (when a store is opened or refreshed): one listing of the remote
  segments; objects not cached, or whose size or version changed, are
  downloaded (written atomically, with the object's time as their mtime);
  cached copies of objects gone from the remote (``memento gc`` compacted
  them) are removed with their marker, so compacted-away records never come
  back. Only marked files are read as segments. Blobs and checkpoints are
  downloaded when they are read.
- **Push**: each flush of a writer is one sealed segment (its ``env``
  record, the records, an ``end`` record), written in the outbox, uploaded
  under a fresh name, then moved into the cache and marked. An object PUT
  is atomic (``file://`` uploads go to a temporary name and are moved), so a
  writer killed at any instant leaves the whole segment or nothing remotely.
- Segments on the remote are never changed, only added and (by gc, after
  writing their compacted copy) deleted.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

from .files import atomic_write
from .remote import ObjectInfo, Remote, RemoteError

__all__ = ["Mirror"]

#: Objects downloaded per request batch during a pull.
_BATCH = 32


class Mirror:
    """A cache directory kept in step with a :class:`Remote` (see the module docs)."""

    def __init__(self, remote: Remote, cache: Path) -> None:
        self.remote = remote
        self.cache = cache
        self.marks = cache / "mirror"
        self.outbox = cache / "outbox"

    def relative(self, path: Path) -> str:
        return path.relative_to(self.cache).as_posix()

    def where(self, path: Path) -> str:
        """The URL of the object a cache file mirrors."""
        try:
            return f"{self.remote.shown}/{self.relative(path)}"
        except ValueError:
            return str(path)

    # -- markers ---------------------------------------------------------------

    def _marks(self, directory: str) -> dict[str, tuple[int, str, Path]]:
        """name -> (size, version, marker) of the marked files of a directory."""
        found: dict[str, tuple[int, str, Path]] = {}
        folder = self.marks / directory
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return found
        for entry in names:
            parts = entry.rsplit("@", 2)
            if len(parts) == 3 and parts[1].isdigit():
                found[parts[0]] = (int(parts[1]), parts[2], folder / entry)
        return found

    def mark(self, relative: str, size: int, version: str) -> None:
        directory, _, name = relative.rpartition("/")
        folder = self.marks / directory
        folder.mkdir(parents=True, exist_ok=True)
        self.unmark(relative)
        (folder / f"{name}@{size}@{version}").touch()

    def unmark(self, relative: str) -> None:
        directory, _, name = relative.rpartition("/")
        found = self._marks(directory).get(name)
        if found is not None:
            with contextlib.suppress(OSError):
                found[2].unlink()

    def marked(self, directory: str) -> list[str]:
        """Names of the marked files of a cache directory that are there."""
        base = self.cache / directory
        return sorted(name for name in self._marks(directory) if (base / name).is_file())

    # -- pulling ---------------------------------------------------------------

    def pull(self, directory: str, suffix: str = "") -> None:
        """Bring the cached copies of ``directory`` in step with the remote:
        download what is new or changed, remove what is gone."""
        remote = {
            info.name.rsplit("/", 1)[-1]: info
            for info in self.remote.listing(directory).values()
            if info.name.endswith(suffix) and "/" not in info.name[len(directory) + 1 :]
        }
        marks = self._marks(directory)
        base = self.cache / directory
        wanted: list[ObjectInfo] = []
        for name, info in remote.items():
            found = marks.get(name)
            if found is not None and found[0] == info.size and (base / name).is_file():
                if found[1] == info.version:
                    continue
                if found[1] == "own":  # uploaded by this cache's writer: take the remote's version
                    self.mark(f"{directory}/{name}", info.size, info.version)
                    continue
            wanted.append(info)
        for start in range(0, len(wanted), _BATCH):
            batch = wanted[start : start + _BATCH]
            data = self.remote.read_many([info.name for info in batch])
            for info in batch:
                content = data.get(info.name)
                if content is None:
                    continue
                target = base / info.name.rsplit("/", 1)[-1]
                target.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(target, content)
                if info.modified:
                    with contextlib.suppress(OSError):
                        os.utime(target, (info.modified, info.modified))
                self.mark(f"{directory}/{target.name}", len(content), info.version)
        gone = [name for name in marks if name not in remote]
        if gone:
            # Listed again after the markers were read: an object uploaded (and
            # marked) by another process of this host meanwhile is in it.
            again = {info.name.rsplit("/", 1)[-1] for info in self.remote.listing(directory).values()}
            for name in gone:
                if name in again:
                    continue
                # Gone from the remote (gc compacted it): never read it again.
                with contextlib.suppress(OSError):
                    (base / name).unlink()
                with contextlib.suppress(OSError):
                    marks[name][2].unlink()

    def fetch(self, path: Path) -> bool:
        """Make the cached file at ``path`` the remote object's current
        bytes; False (and no cached copy) when the remote has none."""
        relative = self.relative(path)
        info = self.remote.info(relative)
        directory, _, name = relative.rpartition("/")
        if info is None:
            self.unmark(relative)
            with contextlib.suppress(OSError):
                path.unlink()
            return False
        found = self._marks(directory).get(name)
        if found is not None and found[0] == info.size and found[1] in (info.version, "own") and path.is_file():
            return True
        if not self.remote.download(relative, path):
            return False
        self.mark(relative, info.size, info.version)
        return True

    def fetch_all(self, directory: str, suffix: str) -> None:
        """Every object under ``directory`` (any depth) cached (checkpoints)."""
        remote = self.remote.listing(directory)
        for name in remote:
            if name.endswith(suffix):
                self.fetch(self.cache / name)
        base = self.cache / directory
        if base.is_dir():
            for path in base.rglob("*" + suffix):
                if self.relative(path) not in remote:
                    self.unmark(self.relative(path))
                    with contextlib.suppress(OSError):
                        path.unlink()

    # -- pushing ---------------------------------------------------------------

    def push_segment(self, name: str, data: bytes, segments: Path) -> Path:
        """Upload one sealed segment and cache it; returns its cached path.
        Raises :class:`RemoteError` (nothing is visible remotely then)."""
        self.outbox.mkdir(parents=True, exist_ok=True)
        staged = self.outbox / name
        atomic_write(staged, data)
        relative = f"{self.relative(segments)}/{name}"
        try:
            self.remote.upload(relative, data)
            segments.mkdir(parents=True, exist_ok=True)
            target = segments / name
            os.replace(staged, target)
        except BaseException:
            with contextlib.suppress(OSError):
                staged.unlink()
            raise
        self._mark_uploaded(relative, len(data))
        return target

    def _mark_uploaded(self, relative: str, size: int) -> None:
        # The version the remote gave it: an object overwritten later (damage,
        # a foreign writer) differs from it and is downloaded again.
        try:
            info = self.remote.info(relative)
        except RemoteError:
            info = None
        self.mark(relative, size, info.version if info is not None and info.size == size else "own")

    def publish(self, path: Path) -> None:
        """Upload the cache file at ``path`` to its object (atomically)."""
        relative = self.relative(path)
        self.remote.upload(relative, path)
        self._mark_uploaded(relative, path.stat().st_size)

    def unpublish(self, path: Path) -> None:
        """Delete the object the cache file at ``path`` mirrors."""
        relative = self.relative(path)
        self.remote.delete(relative)
        self.unmark(relative)

    def objects(self, directory: str) -> Iterable[ObjectInfo]:
        return self.remote.listing(directory).values()
