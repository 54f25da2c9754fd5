"""Result tables and their exports (CSV, JSON, Markdown).

Shared by the plugin (``--memento-export``) and the ``memento export``
command. Rows are flat: experiment, id, status, key, duration, one column
per configuration value and one per metric, so pandas reads the CSV and the
JSON (a list of records) directly. Pure: no pytest, nothing unpickled.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .store import ResultStore, atomic_write

__all__ = ["EXPORT_FORMATS", "FIXED_COLUMNS", "Row", "columns_of", "render", "rows_from_store", "write_export"]

EXPORT_FORMATS = (".csv", ".json", ".md")
FIXED_COLUMNS = ("experiment", "id", "status", "key", "duration")

Row = dict[str, Any]


def make_row(*, experiment: str, test_id: str, status: str, key: str, duration: float, config: Mapping[str, Any], metrics: Mapping[str, Any]) -> Row:
    """One flat row; a metric named like a fixed or config column becomes
    ``metric:<name>`` so nothing is overwritten."""
    row: Row = {"experiment": experiment, "id": test_id, "status": status, "key": key, "duration": round(float(duration), 6)}
    for name, value in config.items():
        row[name if name not in FIXED_COLUMNS else f"config:{name}"] = value
    for name, value in metrics.items():
        row[f"metric:{name}" if name in row else name] = value
    return row


def rows_from_store(store: ResultStore, experiment: str | None = None) -> list[Row]:
    """Rows for every stored result (JSON metadata only, never unpickled)."""
    rows = []
    for entry in store.iter_entries():
        meta = store.meta(entry)
        name = str(meta.get("experiment", ""))
        if experiment is not None and experiment not in name:
            continue
        raw = meta.get("config")
        config: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
        rows.append(
            make_row(
                experiment=name,
                test_id=str(meta.get("test_id", "")),
                status="stored",
                key=entry.key,
                duration=entry.duration,
                config=config,
                metrics=entry.metrics,
            )
        )
    rows.sort(key=lambda row: (row["experiment"], row["id"]))
    return rows


def columns_of(rows: Iterable[Row]) -> list[str]:
    """Fixed columns first, then every other column in first-seen order."""
    columns: dict[str, None] = dict.fromkeys(FIXED_COLUMNS)
    for row in rows:
        columns.update(dict.fromkeys(row))
    return list(columns)


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _markdown_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    text = str(_cell(value))
    return text.replace("|", "\\|").replace("\n", " ")


def render(rows: Sequence[Row], fmt: str) -> str:
    """The rows as CSV, JSON or Markdown text (``fmt`` is the suffix)."""
    columns = columns_of(rows)
    if fmt == ".csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({name: _cell(row.get(name)) for name in columns})
        return buffer.getvalue()
    if fmt == ".json":
        records = [{name: _json_value(row.get(name)) for name in columns} for row in rows]
        return json.dumps(records, indent=1, allow_nan=False, default=str) + "\n"
    if fmt == ".md":
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(_markdown_cell(row.get(name)) for name in columns) + " |" for row in rows]
        return "\n".join(lines) + "\n"
    raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")


def check_export_path(path: Path) -> None:
    """Raise ``ValueError`` naming the problem with an export path."""
    if path.suffix.lower() not in EXPORT_FORMATS:
        raise ValueError(f"{path}: the export format comes from the extension, one of {', '.join(EXPORT_FORMATS)}")
    if path.is_dir():
        raise ValueError(f"{path}: is a directory")
    if not path.parent.is_dir():
        raise ValueError(f"{path}: the directory {path.parent} does not exist")


def write_export(path: Path, rows: Sequence[Row]) -> None:
    """Write ``rows`` to ``path`` in the format its extension names."""
    check_export_path(path)
    atomic_write(path, render(rows, path.suffix.lower()).encode())
