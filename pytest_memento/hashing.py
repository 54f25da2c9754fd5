"""Canonical encoding of configuration values and the config key.

The key of a stored result must agree across processes, machines, Python
hash seeds and xdist workers, so nothing here may depend on ``hash()``,
``id()``, set iteration order or absolute paths. Every value is turned into a
self-delimiting, type-tagged byte string; the key is the SHA-256 of the
encoding of (experiment identity, config, version).

Standard library only: numpy is recognised when it is already imported.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import functools
import hashlib
import math
import pathlib
import sys
import uuid
from collections.abc import Mapping
from typing import Any

__all__ = [
    "KEY_SCHEME",
    "UnstableValueError",
    "config_hash",
    "config_key",
    "encode",
    "encode_config",
    "jsonable",
    "jsonable_mapping",
    "node_key",
    "qualified_name",
]

#: Bumped only when the encoding changes; it is part of every key.
KEY_SCHEME = b"pytest-memento/key/1\x00"


class UnstableValueError(TypeError):
    """A value has no identity that is stable across processes."""

    def __init__(self, value: object, path: str = "") -> None:
        self.value = value
        self.path = path
        super().__init__(self.describe())

    def describe(self) -> str:
        where = f" at {self.path}" if self.path else ""
        shown = repr(self.value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return f"value {shown}{where} (type {type(self.value).__qualname__}) has no stable identity"


def qualified_name(obj: Any) -> str | None:
    """``module.qualname`` of a class or function, or None when it has none
    that another process could find again (lambdas, locals)."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        return None
    if "<lambda>" in qualname or "<locals>" in qualname:
        return None
    return f"{module}.{qualname}"


def _length_prefixed(tag: bytes, data: bytes) -> bytes:
    return tag + str(len(data)).encode() + b":" + data


def _numpy() -> Any:
    return sys.modules.get("numpy")


def encode(value: Any, path: str = "") -> bytes:
    """Return the canonical, type-tagged encoding of ``value``.

    ``1`` and ``1.0`` and ``True`` encode differently. Raises
    :class:`UnstableValueError` for values whose only identity is their
    memory address.
    """
    # Exact-type fast paths first: grids are mostly ints, floats and strings.
    kind = type(value)
    if kind is str:
        return _length_prefixed(b"s", value.encode("utf-8", "surrogatepass"))
    if kind is int:
        return b"i" + str(value).encode() + b";"
    if kind is float:
        return b"f" + _float_text(value) + b";"
    if value is None:
        return b"N"
    if kind is bool:
        return b"T" if value else b"F"
    return _encode_other(value, path)


def _float_text(value: float) -> bytes:
    if math.isnan(value):
        return b"nan"
    return value.hex().encode()


def _encode_other(value: Any, path: str) -> bytes:
    # numpy before int/float: np.float64 subclasses float but is a numpy scalar.
    numpy_encoding = _encode_numpy(value, path)
    if numpy_encoding is not None:
        return numpy_encoding
    if isinstance(value, enum.Enum):
        owner = qualified_name(type(value))
        if owner is None:
            raise UnstableValueError(value, path)
        return _length_prefixed(b"e", f"{owner}.{value.name}".encode())
    if isinstance(value, bool):
        return b"T" if value else b"F"
    if isinstance(value, int):
        return b"i" + str(int(value)).encode() + b";"
    if isinstance(value, float):
        return b"f" + _float_text(float(value)) + b";"
    if isinstance(value, str):
        return encode(str(value), path)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _length_prefixed(b"b", bytes(value))
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return _encode_sequence(b"t", value, path)
    if isinstance(value, list):
        return _encode_sequence(b"l", value, path)
    if isinstance(value, Mapping):
        return _encode_mapping(b"d", value, path)
    if isinstance(value, (set, frozenset)):
        items = sorted(encode(item, f"{path}{{}}") for item in value)
        return b"S" + str(len(items)).encode() + b"[" + b"".join(items) + b"]"
    if isinstance(value, range):
        return b"r" + encode((value.start, value.stop, value.step), path)
    if isinstance(value, pathlib.PurePath):
        return _length_prefixed(b"p", value.as_posix().encode("utf-8", "surrogatepass"))
    if isinstance(value, complex):
        return b"x" + _float_text(value.real) + b"," + _float_text(value.imag) + b";"
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return _length_prefixed(b"w", f"{type(value).__name__}:{value.isoformat()}".encode())
    if isinstance(value, datetime.timedelta):
        return b"W" + encode((value.days, value.seconds, value.microseconds), path)
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return _length_prefixed(b"u", f"{type(value).__name__}:{value}".encode())
    bound_to = getattr(value, "__self__", None)
    if callable(value) and hasattr(value, "__func__") and bound_to is not None:
        # A bound method is its function plus the object it is bound to.
        return b"M" + encode(value.__func__, path) + encode(bound_to, path)
    if isinstance(value, type) or (callable(value) and hasattr(value, "__qualname__")):
        name = qualified_name(value)
        if name is None:
            raise UnstableValueError(value, path)
        return _length_prefixed(b"c", name.encode())
    return _encode_object(value, path)


def _encode_sequence(tag: bytes, items: Any, path: str) -> bytes:
    parts = [encode(item, f"{path}[{index}]") for index, item in enumerate(items)]
    return tag + str(len(parts)).encode() + b"[" + b"".join(parts) + b"]"


def _encode_mapping(tag: bytes, mapping: Mapping[Any, Any], path: str) -> bytes:
    pairs = sorted((encode(key, path), encode(item, f"{path}[{key!r}]")) for key, item in mapping.items())
    return tag + str(len(pairs)).encode() + b"{" + b"".join(k + v for k, v in pairs) + b"}"


def _encode_numpy(value: Any, path: str) -> bytes | None:
    np = _numpy()
    if np is None:
        return None
    if isinstance(value, np.ndarray) and type(value) is not np.ndarray:
        # A subclass is not the plain array its data makes: np.matrix
        # multiplies differently; a masked array is its data and its mask.
        owner = (qualified_name(type(value)) or type(value).__qualname__).encode()
        plain = _encode_numpy(np.asarray(value), path) or b""
        if isinstance(value, np.ma.MaskedArray):
            mask = _encode_numpy(np.ma.getmaskarray(value), path) or b""
            fill = encode(np.asarray(value.fill_value).tolist(), path)
            return _length_prefixed(b"A", owner) + plain + mask + fill
        return _length_prefixed(b"A", owner) + plain
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        if array.dtype.hasobject:
            return b"O" + encode(array.shape, path) + encode(array.tolist(), path)
        if array.dtype.fields is not None:
            # Structured: ``dtype.str`` is only '|V<n>'; the field layout counts.
            dtype_text = repr(array.dtype.descr)
        else:
            # Little-endian bytes whatever the machine, so keys agree across them.
            array = array.astype(array.dtype.newbyteorder("<"), copy=False)
            dtype_text = array.dtype.str
        header = f"{dtype_text}|{array.shape}".encode()
        return _length_prefixed(b"a", header) + _length_prefixed(b":", np.ascontiguousarray(array).tobytes())
    return None


def _encode_object(value: Any, path: str) -> bytes:
    owner = qualified_name(type(value))
    custom = getattr(value, "__memento_key__", None)
    if owner is not None and callable(custom):
        return _length_prefixed(b"k", owner.encode()) + encode(custom(), path)
    if owner is not None and dataclasses.is_dataclass(value):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return _length_prefixed(b"D", owner.encode()) + _encode_mapping(b"d", fields, path)
    if owner is not None and hasattr(value, "_fields") and isinstance(value, tuple):
        fields = dict(zip(getattr(value, "_fields"), value, strict=True))  # noqa: B009
        return _length_prefixed(b"D", owner.encode()) + _encode_mapping(b"d", fields, path)
    if isinstance(value, functools.partial):
        return b"P" + encode((value.func, value.args, dict(value.keywords)), path)
    get_params = getattr(value, "get_params", None)
    if owner is not None and callable(get_params):
        # scikit-learn style estimators: class plus constructor parameters.
        return _length_prefixed(b"E", owner.encode()) + encode(get_params(deep=False), path)
    raise UnstableValueError(value, path)


def encode_config(encoded_items: Mapping[str, bytes]) -> bytes:
    """Encode a config given its already-encoded values, sorted by name."""
    parts = [
        _length_prefixed(b"s", name.encode("utf-8", "surrogatepass")) + encoded_items[name]
        for name in sorted(encoded_items)
    ]
    return b"d" + str(len(parts)).encode() + b"{" + b"".join(parts) + b"}"


def config_key(experiment: str, encoded_config: bytes, version: Any = 0) -> str:
    """SHA-256 hex key of one configuration of one experiment.

    ``experiment`` is ``<rootdir-relative module path>::<qualname>``;
    ``encoded_config`` comes from :func:`encode_config`.
    """
    digest = hashlib.sha256(KEY_SCHEME)
    digest.update(encode(experiment))
    digest.update(encoded_config)
    digest.update(encode(version, "version"))
    return digest.hexdigest()


def config_hash(experiment: str, encoded_config: bytes) -> str:
    """Like :func:`config_key` without the version: tells that a stored
    result is of the same configuration at another version."""
    digest = hashlib.sha256(KEY_SCHEME + b"no-version\x00")
    digest.update(encode(experiment))
    digest.update(encoded_config)
    return digest.hexdigest()


def node_key(nodeid: str) -> str:
    """The key of a test outside any matrix (its checkpoint, its shard)."""
    return hashlib.sha256(f"pytest-memento/node/1\0{nodeid}".encode()).hexdigest()


def as_float(value: int | float) -> float:
    """``value`` as a float; an integer beyond float range (``10**400``)
    becomes an infinity of its sign instead of raising ``OverflowError``."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _utf8_safe(text: str) -> str:
    """``text``, with lone surrogates (``"\\udc80"``, which UTF-8 cannot
    encode and xdist cannot send) written as their escapes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def jsonable(value: Any, *, _depth: int = 0) -> Any:
    """A JSON-safe, human-readable rendering of ``value``.

    Used for everything that leaves a worker or lands in metadata: numpy
    scalars, enums and paths otherwise break xdist's serialisation.
    """
    if type(value) is str:
        return value if value.isascii() else _utf8_safe(value)
    if value is None or type(value) in (int, bool):
        return value
    if type(value) is float:
        return value if math.isfinite(value) else repr(value)
    if _depth > 20:
        return repr(value)
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return jsonable(float(value))
    if isinstance(value, str):
        return _utf8_safe(str(value))
    if isinstance(value, Mapping):
        return {str(jsonable(k, _depth=_depth + 1)): jsonable(v, _depth=_depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item, _depth=_depth + 1) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted((jsonable(item, _depth=_depth + 1) for item in value), key=repr)
    if isinstance(value, pathlib.PurePath):
        return value.as_posix()
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex() if len(value) <= 64 else f"<{len(value)} bytes>"
    np = _numpy()
    if np is not None and isinstance(value, (np.ndarray, np.generic)):
        if isinstance(value, np.generic) or value.size <= 16:
            return jsonable(value.tolist(), _depth=_depth + 1)
        return f"<ndarray {value.dtype} {list(value.shape)}>"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return {"__class__": type(value).__qualname__, **jsonable(fields, _depth=_depth + 1)}
    if isinstance(value, type) or (callable(value) and hasattr(value, "__qualname__")):
        return qualified_name(value) or repr(value)
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def jsonable_mapping(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`jsonable` for a mapping with string keys, keeping their order."""
    return {name: jsonable(value) for name, value in mapping.items()}
