"""Stores at fsspec URLs (``s3://``, ``gs://``, ``memory://``, ``file://``):
the remote side of a mirrored store. No pytest; fsspec is imported only
when a URL is used.

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

Credentials come from where the filesystem's own library looks (for s3fs:
``AWS_ACCESS_KEY_ID`` and friends, ``~/.aws/config`` and ``credentials``,
instance roles) and from storage options (``memento_storage_options``).
Nothing here prints or stores them: options live in memory only, every
message built from a library's exception has their values (and those of
secret-looking environment variables) masked, and URLs are shown without
a ``user:password@`` part.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import json
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .files import atomic_write

__all__ = [
    "EXTRAS",
    "Mirror",
    "ObjectInfo",
    "Remote",
    "RemoteError",
    "cache_dir_for",
    "display_url",
    "is_url",
    "missing_package",
    "parse_storage_options",
]

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+)://(.*)$")
#: What to install for a protocol whose fsspec implementation is missing.
EXTRAS = {
    "s3": "pip install 'pytest-memento[s3]' (s3fs)",
    "s3a": "pip install 'pytest-memento[s3]' (s3fs)",
    "gs": "pip install 'pytest-memento[gcs]' (gcsfs)",
    "gcs": "pip install 'pytest-memento[gcs]' (gcsfs)",
    "az": "pip install adlfs",
    "abfs": "pip install adlfs",
}
_FSSPEC = "pip install 'pytest-memento[remote]' (fsspec)"
#: The module each protocol's fsspec implementation lives in (checked without importing it).
_MODULES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs"}
#: Storage option names whose values are secrets (matched case-insensitively, anywhere in the name).
_SECRET_NAMES = re.compile(r"secret|token|password|passwd|key|credential|sas|signature|auth", re.IGNORECASE)
#: Objects downloaded per request batch during a pull.
_BATCH = 32


class RemoteError(OSError):
    """The remote store cannot be used; the message says what and where
    (with every secret masked)."""


def is_url(text: str) -> bool:
    """Whether ``text`` is an fsspec URL (``proto://...``), not a path (a
    Windows drive ``C:\\`` has one letter before the colon)."""
    return _URL.match(text.strip()) is not None


def missing_package(url: str) -> str | None:
    """What to install before ``url`` can be used (None: nothing known to be
    missing). Looks packages up without importing them."""
    match = _URL.match(url.strip())
    protocol = match.group(1).lower() if match else ""
    if importlib.util.find_spec("fsspec") is None:
        return f"URLs as stores need fsspec: {EXTRAS.get(protocol, _FSSPEC)}"
    module = _MODULES.get(protocol)
    if module is not None and importlib.util.find_spec(module) is None:
        return f"the {protocol}:// protocol needs {module}: {EXTRAS[protocol]}"
    return None


def display_url(url: str) -> str:
    """``url`` without a ``user:password@`` part and trailing slashes."""
    match = _URL.match(url.strip())
    if match is None:
        return url
    protocol, rest = match.groups()
    host, slash, path = rest.partition("/")
    if "@" in host:
        host = "***@" + host.rsplit("@", 1)[1]
    return f"{protocol}://{host}{slash}{path}".rstrip("/")


def parse_storage_options(text: str, where: str) -> dict[str, Any]:
    """Storage options as JSON (an object); ``ValueError`` naming ``where``
    (never the text: it may hold a secret)."""
    try:
        options = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: not valid JSON ({exc.msg} at position {exc.pos})") from None
    if not isinstance(options, dict):
        raise ValueError(f"{where}: expected a JSON object of fsspec storage options")
    return options


def _endpoint(protocol: str, options: Mapping[str, Any], env: Mapping[str, str]) -> str:
    client = options.get("client_kwargs")
    endpoint = options.get("endpoint_url") or (client.get("endpoint_url") if isinstance(client, Mapping) else None)
    if endpoint is None and protocol in ("s3", "s3a"):
        endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    return str(endpoint or "")


def cache_dir_for(url: str, options: Mapping[str, Any], base: Path, env: Mapping[str, str]) -> Path:
    """The cache directory of the store at ``url``: ``base/<hash>``, the
    hash of the URL and its endpoint (one bucket name on two servers is two
    stores)."""
    match = _URL.match(url.strip())
    protocol = match.group(1).lower() if match else ""
    identity = f"{url.strip().rstrip('/')}\n{_endpoint(protocol, options, env)}"
    return base / hashlib.sha256(identity.encode()).hexdigest()[:20]


def _secrets(options: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    found: list[str] = []

    def walk(value: Any, secret: bool) -> None:
        if isinstance(value, Mapping):
            for name, item in value.items():
                walk(item, secret or bool(_SECRET_NAMES.search(str(name))))
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item, secret)
        elif secret and isinstance(value, str) and len(value) >= 4:
            found.append(value)

    walk(options, False)
    for name, value in env.items():
        if _SECRET_NAMES.search(name) and len(value) >= 8 and not name.startswith("MEMENTO_SHARD"):
            found.append(value)
    return sorted(set(found), key=len, reverse=True)


@dataclass(frozen=True)
class ObjectInfo:
    """One remote object: its path under the store's prefix, size, version
    (ETag, else modification time) and modification time."""

    name: str
    size: int
    version: str
    modified: float


def _timestamp(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return 0.0


def _version(info: Mapping[str, Any]) -> str:
    for name in ("ETag", "etag", "md5Hash", "content_md5", "generation", "mtime", "LastModified", "created"):
        value = info.get(name)
        if value not in (None, ""):
            text = value.isoformat() if isinstance(value, datetime) else str(value)
            return hashlib.sha256(text.encode()).hexdigest()[:16]
    return "-"


class Remote:
    """One store prefix on an fsspec filesystem, with errors that say what
    failed and where."""

    def __init__(
        self, url: str, options: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
    ) -> None:
        match = _URL.match(url.strip())
        if match is None:
            raise RemoteError(f"{url!r} is not a URL (expected protocol://location)")
        if not match.group(2).strip("/"):
            raise RemoteError(f"{url}: give a bucket or directory (for example s3://bucket/prefix)")
        self.url = url.strip().rstrip("/")
        self.protocol = match.group(1).lower()
        environment = dict(os.environ if env is None else env)
        self.options = dict(options or {})
        endpoint = _endpoint(self.protocol, self.options, environment)
        if endpoint and self.protocol in ("s3", "s3a") and "endpoint_url" not in self.options:
            client = dict(self.options.get("client_kwargs") or {})
            client.setdefault("endpoint_url", endpoint)
            self.options["client_kwargs"] = client
        if self.protocol in ("s3", "s3a"):
            # An unreachable endpoint fails in seconds, not after minutes of retries.
            config = dict(self.options.get("config_kwargs") or {})
            config.setdefault("connect_timeout", 5)
            config.setdefault("retries", {"max_attempts": 3})
            self.options["config_kwargs"] = config
        self._secrets = _secrets(self.options, environment)
        self.shown = display_url(self.url)
        self._fs: Any = None
        self.root = ""

    # -- the filesystem ----------------------------------------------------

    @property
    def fs(self) -> Any:
        if self._fs is None:
            self._fs = self._open()
        return self._fs

    def _open(self) -> Any:
        try:
            fsspec = importlib.import_module("fsspec")
            importlib.import_module("fsspec.core")
        except ImportError:
            raise RemoteError(f"{self.shown}: URLs as stores need fsspec: {_FSSPEC}") from None
        try:
            fsspec.get_filesystem_class(self.protocol)
        except ImportError as exc:
            hint = EXTRAS.get(self.protocol) or f"install the package fsspec names ({self.redact(str(exc))})"
            raise RemoteError(f"{self.shown}: the {self.protocol}:// protocol needs a package: {hint}") from None
        except ValueError:
            raise RemoteError(
                f"{self.shown}: unknown protocol {self.protocol!r} (fsspec knows s3, gs, az, memory, file, ...)"
            ) from None
        try:
            fs, root = fsspec.core.url_to_fs(self.url, **self.options)
        except Exception as exc:
            raise self.error("opening the filesystem", exc) from None
        self.root = str(root).rstrip("/")
        if not self.root.strip("/"):
            raise RemoteError(f"{self.shown}: give a bucket or directory (for example s3://bucket/prefix)")
        return fs

    def path(self, name: str) -> str:
        return f"{self.root}/{name}" if name else self.root

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def error(self, what: str, exc: BaseException) -> RemoteError:
        """A :class:`RemoteError` saying that ``what`` failed, and why in words."""
        name = type(exc).__name__
        text = self.redact(str(exc).split("\n", 1)[0]) or name
        lowered = f"{name} {text}".lower()
        if "nosuchbucket" in lowered or "bucket does not exist" in lowered:
            why = "the bucket does not exist (create it first, or check the URL)"
        elif "credential" in lowered and ("no " in lowered or "unable to locate" in lowered):
            why = (
                "no credentials were found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile in "
                "~/.aws/credentials, or memento_storage_options)"
            )
        elif isinstance(exc, PermissionError) or any(
            word in lowered
            for word in ("accessdenied", "access denied", "forbidden", "invalidaccesskeyid", "signature")
        ):
            why = f"access denied; check the credentials and their permissions ({text})"
        elif "connect" in lowered or "timeout" in lowered or "timed out" in lowered or "resolve" in lowered:
            why = f"cannot reach the endpoint ({text})"
        else:
            why = f"{name}: {text}"
        return RemoteError(f"{self.shown}: {what} failed: {why}")

    # -- operations ----------------------------------------------------------

    def check(self) -> None:
        """Raise :class:`RemoteError` unless the prefix can be listed (the
        bucket exists, the credentials work, the endpoint answers)."""
        fs = self.fs
        try:
            if self.protocol in ("file", "local"):
                fs.makedirs(self.root, exist_ok=True)
            fs.invalidate_cache()
            fs.find(self.path("results/segments"), maxdepth=1)
            if self.protocol in ("s3", "s3a", "gs", "gcs"):
                fs.ls(self.root.split("/", 1)[0])  # a missing bucket lists as empty above
        except Exception as exc:
            raise self.error("listing the store", exc) from None

    def listing(self, under: str) -> dict[str, ObjectInfo]:
        """Every object below ``under``, by its path under the prefix."""
        fs = self.fs
        base = self.path(under)
        try:
            fs.invalidate_cache()
            found = fs.find(base, detail=True)
        except FileNotFoundError:
            return {}
        except Exception as exc:
            raise self.error(f"listing {under}", exc) from None
        objects: dict[str, ObjectInfo] = {}
        cut = len(self.root.lstrip("/")) + 1
        for path, info in found.items():
            if info.get("type", "file") != "file":
                continue
            name = str(path).lstrip("/")[cut:]
            modified = _timestamp(
                info.get("LastModified") or info.get("mtime") or info.get("updated") or info.get("created")
            )
            objects[name] = ObjectInfo(name, int(info.get("size") or 0), _version(info), modified)
        return objects

    def info(self, name: str) -> ObjectInfo | None:
        try:
            self.fs.invalidate_cache(self.path(name))
            info = self.fs.info(self.path(name))
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise self.error(f"reading {name}", exc) from None
        modified = _timestamp(
            info.get("LastModified") or info.get("mtime") or info.get("updated") or info.get("created")
        )
        return ObjectInfo(name, int(info.get("size") or 0), _version(info), modified)

    def read_many(self, names: list[str]) -> dict[str, bytes | None]:
        """The bytes of each object (None: it vanished), fetched concurrently
        where the filesystem can."""
        if not names:
            return {}
        paths = [self.path(name) for name in names]
        try:
            found = self.fs.cat(paths, on_error="return")
        except Exception as exc:
            raise self.error("downloading segments", exc) from None
        if not isinstance(found, dict):
            found = {paths[0]: found}
        out: dict[str, bytes | None] = {}
        for name, path in zip(names, paths, strict=True):
            value = found.get(path, found.get(path.lstrip("/")))
            if isinstance(value, FileNotFoundError) or value is None:
                out[name] = None
            elif isinstance(value, BaseException):
                raise self.error(f"downloading {name}", value)
            else:
                out[name] = bytes(value)
        return out

    def download(self, name: str, target: Path) -> bool:
        """Copy the object to ``target`` atomically; False when it does not exist."""
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            self.fs.get_file(self.path(name), str(tmp))
            os.replace(tmp, target)
        except FileNotFoundError:
            return False
        except Exception as exc:
            raise self.error(f"downloading {name}", exc) from None
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
        return True

    def upload(self, name: str, source: Path | bytes) -> None:
        """Write the object ``name`` from a file or bytes, atomically: others
        see the old object (or none) or all of the new one."""
        fs = self.fs
        target = self.path(name)
        staged = self.protocol in ("file", "local")
        folder, _, base = name.rpartition("/")
        tmp = f"{self.path(folder)}/.{base}.{secrets.token_hex(4)}.tmp"
        where = tmp if staged else target
        try:
            if staged:
                fs.makedirs(where.rsplit("/", 1)[0], exist_ok=True)
            if isinstance(source, bytes):
                fs.pipe_file(where, source)
            else:
                fs.put_file(str(source), where)
            if staged:
                fs.mv(where, target)
        except Exception as exc:
            if staged:
                with contextlib.suppress(Exception):
                    fs.rm_file(where)
            raise self.error(f"uploading {name}", exc) from None

    def delete(self, name: str) -> None:
        try:
            self.fs.rm_file(self.path(name))
        except FileNotFoundError:
            pass
        except Exception as exc:
            raise self.error(f"deleting {name}", exc) from None

    def exists(self, name: str) -> bool:
        try:
            self.fs.invalidate_cache(self.path(name))
            return bool(self.fs.exists(self.path(name)))
        except Exception as exc:
            raise self.error(f"reading {name}", exc) from None


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
