"""pytest-memento: experiment grids as pytest items, cached by config key.

>>> import pytest_memento as memento
>>> @memento.matrix(parameters={"seed": range(3)})
... def experiment(config):
...     return {"score": config.seed / 10}
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .checkpoint import Checkpoint, CheckpointError
from .matrix import Config, matrix

if TYPE_CHECKING:  # pragma: no cover
    from .notebook import Results

__all__ = ["Checkpoint", "CheckpointError", "Config", "__version__", "matrix", "results"]
__version__ = "0.1.0"


def results(store: str | Path = ".memento", experiment: str | None = None) -> Results:
    """The results stored in ``store``, one dict per configuration, with
    ``.to_pandas()`` and ``.aggregate(over=None)`` (mean, std, sem, ci95 per
    replicate group). Nothing is unpickled. See :mod:`pytest_memento.notebook`."""
    from .notebook import load  # imported when used: the plugin never needs it

    return load(store, experiment)
