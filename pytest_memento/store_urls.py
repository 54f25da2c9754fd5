"""Store URLs as text (fsspec ``proto://location``): telling one from a
path, what to install for its protocol, showing it without a
``user:password@`` part, parsing storage options, the endpoint and cache
directory of a URL, and which values are secrets that every message masks
(:class:`.remote.Remote` does the masking). Standard library only: nothing
here imports fsspec or a filesystem's package.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "EXTRAS",
    "FSSPEC_HINT",
    "cache_dir_for",
    "display_url",
    "endpoint_of",
    "is_url",
    "missing_package",
    "parse_storage_options",
    "secret_values",
    "split_url",
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
#: What to install for fsspec itself.
FSSPEC_HINT = "pip install 'pytest-memento[remote]' (fsspec)"
#: The module each protocol's fsspec implementation lives in (checked without importing it).
_MODULES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs"}
#: Storage option names whose values are secrets (matched case-insensitively, anywhere in the name).
_SECRET_NAMES = re.compile(r"secret|token|password|passwd|key|credential|sas|signature|auth", re.IGNORECASE)


def is_url(text: str) -> bool:
    """Whether ``text`` is an fsspec URL (``proto://...``), not a path (a
    Windows drive ``C:\\`` has one letter before the colon)."""
    return _URL.match(text.strip()) is not None


def split_url(text: str) -> tuple[str, str] | None:
    """``proto://rest`` as (proto, rest); None for anything that is not a URL."""
    match = _URL.match(text.strip())
    return (match.group(1), match.group(2)) if match else None


def missing_package(url: str) -> str | None:
    """What to install before ``url`` can be used (None: nothing known to be
    missing). Looks packages up without importing them."""
    match = _URL.match(url.strip())
    protocol = match.group(1).lower() if match else ""
    if importlib.util.find_spec("fsspec") is None:
        return f"URLs as stores need fsspec: {EXTRAS.get(protocol, FSSPEC_HINT)}"
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


def endpoint_of(protocol: str, options: Mapping[str, Any], env: Mapping[str, str]) -> str:
    """The endpoint a URL's requests go to: from the storage options, else (S3) the environment."""
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
    identity = f"{url.strip().rstrip('/')}\n{endpoint_of(protocol, options, env)}"
    return base / hashlib.sha256(identity.encode()).hexdigest()[:20]


def secret_values(options: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    """The values to mask in messages: storage options under secret-looking
    names, and secret-looking environment variables; longest first."""
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
