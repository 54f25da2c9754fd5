"""One store prefix at an fsspec URL (``s3://``, ``gs://``, ``memory://``,
``file://``): :class:`Remote` lists, reads, writes and deletes the objects
under it, and every failure is a :class:`RemoteError` that says in words
what failed and where. The cache directory that mirrors the prefix is kept
in step by :class:`.mirror.Mirror`. No pytest; fsspec is imported only when
a URL is used.

Credentials come from where the filesystem's own library looks (for s3fs:
``AWS_ACCESS_KEY_ID`` and friends, ``~/.aws/config`` and ``credentials``,
instance roles) and from storage options (``memento_storage_options``).
Nothing here prints or stores them: options live in memory only, every
message built from a library's exception has their values (and those of
secret-looking environment variables, :func:`.store_urls.secret_values`)
masked, and URLs are shown without a ``user:password@`` part.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .store_urls import EXTRAS, FSSPEC_HINT, display_url, endpoint_of, secret_values, split_url

__all__ = ["ObjectInfo", "Remote", "RemoteError"]


class RemoteError(OSError):
    """The remote store cannot be used; the message says what and where
    (with every secret masked)."""


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
        parts = split_url(url)
        if parts is None:
            raise RemoteError(f"{url!r} is not a URL (expected protocol://location)")
        if not parts[1].strip("/"):
            raise RemoteError(f"{url}: give a bucket or directory (for example s3://bucket/prefix)")
        self.url = url.strip().rstrip("/")
        self.protocol = parts[0].lower()
        environment = dict(os.environ if env is None else env)
        self.options = dict(options or {})
        endpoint = endpoint_of(self.protocol, self.options, environment)
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
        self._secrets = secret_values(self.options, environment)
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
            raise RemoteError(f"{self.shown}: URLs as stores need fsspec: {FSSPEC_HINT}") from None
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
