"""The result store: one directory, one entry per config key.

Layout::

    <root>/CACHEDIR.TAG, .gitignore
    <root>/results/<key[:2]>/<key>.json              metadata, readable JSON
    <root>/results/<key[:2]>/<key>.<sha[:16]>.pkl    cloudpickled result

Every file is written to a temporary name in its final directory and moved
into place with ``os.replace``, so a reader (another xdist worker, another
session, another node on a shared filesystem) sees a whole old file or a
whole new one, never half of one, and no lock is needed. The payload is named
by its content hash and written before the metadata that names it, so two
writers of the same key cannot mix one's metadata with the other's payload.

A corrupt, truncated or foreign file is a miss: it is reported through
``on_problem`` and otherwise ignored, never a crash. No pytest in here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["FORMAT", "Entry", "ResultStore", "StoreError", "atomic_write", "ensure_store_dir", "valid_key"]

#: Written into every metadata file; anything else is foreign.
FORMAT = "pytest-memento/1"
_KEY = re.compile(r"[0-9a-f]{64}")
_TMP_SUFFIX = ".tmp"
CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by pytest-memento.\n"
    "# For information about cache directory tags, see:\n"
    "#\thttps://bford.info/cachedir/spec.html\n"
)
GITIGNORE = "# Created by pytest-memento automatically.\n*\n"
README = (
    "# pytest-memento store\n\n"
    "Results of experiments, one entry per configuration key.\n"
    "Inspect it with `memento list`; do not edit by hand.\n"
)


class StoreError(Exception):
    """The store directory cannot be used (it is a file, unwritable, ...)."""


def valid_key(key: str) -> bool:
    """Whether ``key`` is a config key (and so safe to use in a path)."""
    return bool(_KEY.fullmatch(key))


def atomic_write(path: Path, data: bytes | memoryview) -> None:
    """Write ``data`` to ``path`` so readers see all of it or none of it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{_TMP_SUFFIX}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def ensure_store_dir(root: Path) -> None:
    """Create ``root`` with its ``CACHEDIR.TAG`` and ``.gitignore``."""
    if root.exists() and not root.is_dir():
        raise StoreError(f"{root} exists and is not a directory")
    try:
        root.mkdir(parents=True, exist_ok=True)
        for name, text in ((".gitignore", GITIGNORE), ("CACHEDIR.TAG", CACHEDIR_TAG), ("README.md", README)):
            target = root / name
            if not target.exists():
                atomic_write(target, text.encode())
    except OSError as exc:
        raise StoreError(f"cannot create the store at {root}: {exc.strerror or exc}") from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise StoreError(f"the store at {root} is not writable")


@dataclass(frozen=True)
class Entry:
    """A stored result's metadata (the result itself stays pickled)."""

    key: str
    meta: Mapping[str, Any]
    path: Path

    @property
    def experiment(self) -> str:
        return str(self.meta.get("experiment", ""))

    @property
    def config(self) -> Mapping[str, Any]:
        return self.meta.get("config") or {}

    @property
    def metrics(self) -> Mapping[str, Any]:
        return self.meta.get("metrics") or {}

    @property
    def duration(self) -> float:
        value = self.meta.get("duration")
        return float(value) if isinstance(value, (int, float)) else 0.0


def _problem_sink(message: str) -> None:
    """Default problem handler: ignore (callers pass their own)."""


class ResultStore:
    """Results of passed configurations, addressed by config key."""

    def __init__(self, root: Path, on_problem: Callable[[str], None] | None = None) -> None:
        self.root = Path(root)
        self.results = self.root / "results"
        self.on_problem = on_problem or _problem_sink

    def create(self) -> ResultStore:
        """Create the directory (idempotent); raises :class:`StoreError`."""
        ensure_store_dir(self.root)
        return self

    # -- paths ---------------------------------------------------------

    def _dir(self, key: str) -> Path:
        if not valid_key(key):
            raise ValueError(f"not a config key: {key!r}")
        return self.results / key[:2]

    def meta_path(self, key: str) -> Path:
        return self._dir(key) / f"{key}.json"

    # -- reading -------------------------------------------------------

    def get(self, key: str) -> Entry | None:
        """The entry for ``key``, or None (missing, corrupt or foreign)."""
        path = self.meta_path(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.on_problem(f"cannot read {path}: {exc.strerror or exc}; treated as missing")
            return None
        return self._parse(key, path, raw)

    def _parse(self, key: str, path: Path, raw: bytes) -> Entry | None:
        try:
            meta = json.loads(raw)
        except ValueError:
            self.on_problem(f"{path} is not valid JSON (truncated or corrupt); treated as missing")
            return None
        problem = self._check(key, meta)
        if problem:
            self.on_problem(f"{path} {problem}; treated as missing")
            return None
        return Entry(key, meta, path)

    @staticmethod
    def _check(key: str, meta: Any) -> str | None:
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            return f"is not a {FORMAT} metadata file"
        if meta.get("key") != key:
            return f"belongs to key {str(meta.get('key'))[:16]}..., not {key[:16]}..."
        if not isinstance(meta.get("config"), dict) or not isinstance(meta.get("metrics"), dict):
            return "lacks its config or metrics"
        payload = meta.get("payload")
        if not isinstance(payload, dict) or not isinstance(payload.get("file"), str):
            return "lacks its payload reference"
        if not re.fullmatch(rf"{key}\.[0-9a-f]{{16}}\.pkl", payload["file"]):
            return "names a payload outside its entry"
        return None

    def load_result(self, entry: Entry) -> Any:
        """Unpickle the stored result of ``entry`` (this runs pickle code:
        only for stores you trust). Raises ``LookupError`` when the payload
        is missing or does not match its recorded hash."""
        import cloudpickle

        payload = entry.meta["payload"]
        path = entry.path.parent / payload["file"]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise LookupError(f"payload {path} cannot be read: {exc.strerror or exc}") from None
        if hashlib.sha256(data).hexdigest() != payload.get("sha256"):
            raise LookupError(f"payload {path} does not match its recorded hash")
        return cloudpickle.loads(data)

    def iter_entries(self) -> Iterator[Entry]:
        """Every readable entry, sorted by key. Never unpickles."""
        if not self.results.is_dir():
            return
        for shard in sorted(self.results.iterdir()):
            if not shard.is_dir():
                continue
            for path in sorted(shard.glob("*.json")):
                key = path.stem
                if not valid_key(key):
                    continue
                entry = self.get(key)
                if entry is not None:
                    yield entry

    def keys(self) -> set[str]:
        """Keys that have a metadata file (one directory listing, no reads)."""
        found: set[str] = set()
        if not self.results.is_dir():
            return found
        with os.scandir(self.results) as shards:
            for shard in shards:
                if not shard.is_dir():
                    continue
                with os.scandir(shard.path) as files:
                    found.update(name[:-5] for name in (f.name for f in files) if name.endswith(".json") and valid_key(name[:-5]))
        return found

    def resolve(self, prefix: str) -> list[str]:
        """Keys starting with ``prefix`` (for the command line)."""
        prefix = prefix.lower()
        if not re.fullmatch(r"[0-9a-f]{1,64}", prefix):
            return []
        return sorted(key for key in self.keys() if key.startswith(prefix))

    # -- writing -------------------------------------------------------

    def put(self, key: str, meta: Mapping[str, Any], payload: bytes) -> Entry:
        """Store ``payload`` (already pickled) and its metadata under ``key``."""
        directory = self._dir(key)
        directory.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(payload).hexdigest()
        payload_name = f"{key}.{digest[:16]}.pkl"
        payload_path = directory / payload_name
        if not payload_path.exists():
            atomic_write(payload_path, payload)
        previous = self._previous_payload(key)
        record = {
            **meta,
            "format": FORMAT,
            "key": key,
            "payload": {"file": payload_name, "sha256": digest, "size": len(payload)},
        }
        path = self.meta_path(key)
        atomic_write(path, (json.dumps(record, indent=1, sort_keys=True, allow_nan=True) + "\n").encode())
        if previous and previous != payload_name:
            with contextlib.suppress(OSError):
                (directory / previous).unlink()
        return Entry(key, record, path)

    def _previous_payload(self, key: str) -> str | None:
        try:
            meta = json.loads(self.meta_path(key).read_bytes())
            name = meta["payload"]["file"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if isinstance(name, str) and re.fullmatch(rf"{key}\.[0-9a-f]{{16}}\.pkl", name):
            return name
        return None

    def remove(self, key: str) -> bool:
        """Delete the entry for ``key``; True when there was one."""
        directory = self._dir(key)
        removed = False
        for path in list(directory.glob(f"{key}.*")) if directory.is_dir() else []:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed = True
        return removed

    def gc(self, *, older_than: float = 3600.0, dry_run: bool = False) -> list[Path]:
        """Remove what no entry needs: temp files of killed writers and
        payloads no metadata names, both older than ``older_than`` seconds
        (younger ones may belong to a writer still at work)."""
        doomed: list[Path] = []
        if not self.results.is_dir():
            return doomed
        cutoff = time.time() - older_than
        for shard in self.results.iterdir():
            if not shard.is_dir():
                continue
            named = set()
            for meta_path in shard.glob("*.json"):
                entry = self.get(meta_path.stem) if valid_key(meta_path.stem) else None
                if entry is not None:
                    named.add(entry.meta["payload"]["file"])
            for path in shard.iterdir():
                stale = path.name.endswith(_TMP_SUFFIX) or (path.suffix == ".pkl" and path.name not in named)
                if stale and _mtime(path) < cutoff:
                    doomed.append(path)
        if not dry_run:
            for path in doomed:
                with contextlib.suppress(OSError):
                    path.unlink()
        return sorted(doomed)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return float("inf")
