"""``memento.results()``: the stored results, for a notebook.

    >>> import pytest_memento as memento
    >>> found = memento.results(".memento", experiment="classifiers")
    >>> frame = found.to_pandas()        # one row per configuration
    >>> table = found.aggregate()        # one row per replicate group

Rows are plain dicts: ``experiment, id, key, status, duration, started``,
then the config values, then the metrics (a name that clashes becomes
``config:<name>`` or ``metric:<name>``). ``aggregate`` gives the flat
columns of ``memento table --format csv``. Only metadata is read: nothing
is unpickled, whatever the store holds. pandas is imported only by
``to_pandas`` and ``aggregate``.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

from .aggregate import Group, group_records
from .layout import StoreError
from .paper import flat_records
from .records import Record, records_from_entries
from .remote_store import open_store, store_exists
from .store import ResultStore
from .store_urls import is_url

__all__ = ["Results", "load"]

FIXED = ("experiment", "id", "key", "status", "duration", "started")


def _row(record: Record) -> dict[str, Any]:
    row: dict[str, Any] = {
        "experiment": record.experiment,
        "id": record.test_id,
        "key": record.key,
        "status": record.status,
        "duration": record.duration,
        "started": record.started or None,
    }
    for name, value in record.config.items():
        row[name if name not in FIXED else f"config:{name}"] = value
    for name, value in record.metrics.items():
        row[f"metric:{name}" if name in row else name] = value
    return row


def _pandas() -> Any:
    try:
        # By name: pandas is optional and ships no type stubs.
        return importlib.import_module("pandas")
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("memento.results(): to_pandas() and aggregate() need pandas (pip install pandas)") from None


class Results(Sequence[dict[str, Any]]):
    """The stored rows of one store (optionally one experiment)."""

    def __init__(self, records: Sequence[Record], store: Path) -> None:
        self.records = tuple(records)
        self.store = store
        self._rows = [_row(record) for record in self.records]

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        return self._rows[index]

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._rows)

    def __repr__(self) -> str:
        experiments = len({record.experiment for record in self.records})
        return f"<memento results: {len(self)} configuration(s) of {experiments} experiment(s) in {self.store}>"

    def groups(self, over: str | Sequence[str] | None = None) -> list[Group]:
        """The replicate groups (see :mod:`pytest_memento.aggregate`)."""
        names = (over,) if isinstance(over, str) else over
        return group_records(self.records, names)

    def to_pandas(self) -> Any:
        """One row per configuration (a ``pandas.DataFrame``)."""
        return _pandas().DataFrame(self._rows)

    def aggregate(self, over: str | Sequence[str] | None = None) -> Any:
        """One row per replicate group: ``experiment``, the group's config,
        ``<metric>_mean``, ``_std``, ``_sem``, ``_ci95``, ``_n`` per metric,
        then ``members``, ``expected`` and ``missing``. ``over`` names the
        replicate parameters (default: as the matrix declared, else ``seed``;
        ``()`` for none). A ``pandas.DataFrame``."""
        return _pandas().DataFrame(flat_records(self.groups(over)))


def load(store: str | Path = ".memento", experiment: str | None = None) -> Results:
    """The results stored in ``store`` (of experiments whose id contains
    ``experiment``, when given); ``store`` may be an fsspec URL
    (``s3://bucket/prefix``). Raises ``ValueError`` when ``store`` is not
    a pytest-memento store."""
    problems: list[str] = []
    if is_url(str(store)):
        # A store URL: storage options and cache directory as the plugin resolves them.
        from .settings import resolve_store
        from .sources import SettingsError, Sources

        here = Path.cwd()
        try:
            location = resolve_store(Sources({"memento_dir": str(store)}, {}, os.environ, here, here))
            found = store_exists(location)
        except (SettingsError, StoreError) as exc:
            raise ValueError(f"memento.results(): {exc}") from None
        if not found:
            raise ValueError(f"memento.results(): {location.shown} is not a pytest-memento store")
        root, opened = location.path, open_store(location, on_problem=problems.append)
    else:
        root = Path(store)
        if not (root / "CACHEDIR.TAG").is_file():
            raise ValueError(f"memento.results(): {root} is not a pytest-memento store (no CACHEDIR.TAG)")
        opened = ResultStore(root, on_problem=problems.append)
    pairs = []
    try:
        for entry in opened.iter_entries():
            try:
                meta = opened.meta(entry)
            except LookupError as exc:
                problems.append(str(exc))
                continue
            if experiment is None or experiment in str(meta.get("experiment", "")):
                pairs.append((entry, meta))
    finally:
        opened.close()  # it keeps segment files open between reads
    records = sorted(records_from_entries(pairs), key=lambda r: (r.experiment, r.test_id))
    if problems:
        import warnings

        for problem in problems:
            warnings.warn(f"memento.results(): {problem}", stacklevel=3)
    return Results(records, root)
