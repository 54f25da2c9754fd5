"""pytest-memento: experiment grids as pytest items, cached by config key.

>>> import pytest_memento as memento
>>> @memento.matrix(parameters={"seed": range(3)})
... def experiment(config):
...     return {"score": config.seed / 10}
"""

from __future__ import annotations

from .checkpoint import Checkpoint, CheckpointError
from .matrix import Config, matrix

__all__ = ["Checkpoint", "CheckpointError", "Config", "__version__", "matrix"]
__version__ = "0.1.0"
