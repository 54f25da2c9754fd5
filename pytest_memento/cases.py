"""One configuration of one experiment: the :class:`Case` that expansion
makes and collection, decisions and items share. No pytest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .matrix import Config

__all__ = ["Case"]


class Case:
    """One configuration of one experiment."""

    __slots__ = (
        "config_hash",
        "depends",
        "encoded",
        "experiment",
        "goals",
        "group",
        "group_size",
        "id",
        "key",
        "marks",
        "matrix_index",
        "params",
        "replicates",
        "settings",
        "shown",
        "tolerance",
        "version",
    )

    def __init__(
        self,
        params: dict[str, Any],
        settings: dict[str, Any],
        id: str,
        marks: tuple[Any, ...],
        version: Any,
        encoded: bytes,
        matrix_index: int,
    ) -> None:
        self.params = params
        self.settings = settings
        self.id = id
        self.marks = marks
        self.version = version
        self.encoded = encoded
        self.matrix_index = matrix_index
        self.key = ""
        self.config_hash = ""
        self.goals: Mapping[str, str] | None = None
        self.tolerance: Any = None
        self.experiment = ""
        #: Inputs declared with ``depends=`` (posix path strings and modules).
        self.depends: tuple[Any, ...] = ()
        #: The parameters whose values are replicates (seeds) of one group.
        self.replicates: tuple[str, ...] = ()
        #: What the configurations of one replicate group share (empty: no replicates).
        self.group = b""
        #: How many configurations the grid gives this case's replicate group.
        self.group_size = 1
        #: Parameters whose value has no identity of its own: the ``pytest.param`` id shown for it.
        self.shown: dict[str, str] = {}

    @property
    def config(self) -> Config:
        return Config({**self.params, **self.settings}, self)

    def __repr__(self) -> str:
        return f"Case({self.id!r})"
