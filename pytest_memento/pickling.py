"""Pickling results and checkpoint states.

The standard pickler first (several times faster for small values), then
cloudpickle for what it cannot pickle (lambdas, classes defined in
functions, ...). Both write standard pickles: ``pickle.loads`` reads either.
"""

from __future__ import annotations

import pickle
from typing import Any

__all__ = ["dumps", "dumps_out_of_band"]


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
