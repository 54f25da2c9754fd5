"""Pickling results and checkpoint states.

The standard pickler first (several times faster for small values), then
cloudpickle for what it cannot pickle (lambdas, classes defined in
functions, ...). Both write standard pickles: ``pickle.loads`` reads either.
"""

from __future__ import annotations

import pickle
from typing import Any

__all__ = ["dumps", "dumps_out_of_band", "unpicklable_part"]


def _dumps(value: Any, buffers: list[pickle.PickleBuffer] | None) -> bytes:
    try:
        return pickle.dumps(value, protocol=5, buffer_callback=None if buffers is None else buffers.append)
    except Exception:
        import cloudpickle  # type: ignore[import-untyped]

        if buffers is not None:
            buffers.clear()
        data: bytes = cloudpickle.dumps(value, protocol=5, buffer_callback=None if buffers is None else buffers.append)
        return data


def dumps(value: Any) -> bytes:
    """``value`` pickled (protocol 5); raises when neither pickler can."""
    return _dumps(value, None)


def dumps_out_of_band(value: Any) -> tuple[bytes, list[pickle.PickleBuffer]]:
    """``value`` pickled with its large buffers (numpy arrays) kept out of
    band, not copied: write them after the pickle, load with ``buffers=``."""
    buffers: list[pickle.PickleBuffer] = []
    return _dumps(value, buffers), buffers


def _picklable(value: Any) -> bool:
    try:
        dumps(value)
    except Exception:
        return False
    return True


def _parts(value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [(f"[{key!r}]", item) for key, item in value.items()]
    if isinstance(value, (list, tuple)):
        return [(f"[{index}]", item) for index, item in enumerate(value)]
    attributes = getattr(value, "__dict__", None)
    if isinstance(attributes, dict):
        return [(f".{name}", item) for name, item in attributes.items()]
    return []


def unpicklable_part(value: Any, path: str = "result", depth: int = 0) -> tuple[str, str]:
    """Where in ``value`` pickling fails: the path of the deepest part that
    cannot be pickled (``result["model"].optimizer``) and its type name."""
    if depth < 20:
        for suffix, item in _parts(value):
            if not _picklable(item):
                return unpicklable_part(item, path + suffix, depth + 1)
    kind = type(value)
    return path, f"{kind.__module__}.{kind.__qualname__}" if kind.__module__ != "builtins" else kind.__qualname__
