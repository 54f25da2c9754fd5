"""Result tables and their exports (CSV, JSON, Markdown).

Shared by the plugin (``--memento-export``) and the ``memento export``
command. Rows are flat: experiment, id, status, key, duration, one column
per configuration value and one per metric, so pandas reads the CSV and the
JSON (a list of records) directly. The Markdown is compact, to fit a CI job
summary: one table per experiment, values every row shares said once above
it, varying config values and metrics first, then status, duration and a
12-character key. ``.tex`` and ``.html`` exports are the aggregated table
and the report (:mod:`.paper`, :mod:`.html_report`), not rows. Pure: no
pytest, nothing unpickled.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .files import atomic_write
from .hashing import as_float, jsonable
from .outcome import Outcome
from .records import value_labels, value_text
from .segment_format import Entry

__all__ = [
    "EXPORT_FORMATS",
    "FIXED_COLUMNS",
    "Row",
    "columns_of",
    "format_table",
    "render",
    "rows_from_entries",
    "rows_from_run",
    "write_export",
]

#: Every format an export path may name; the first three hold rows.
EXPORT_FORMATS = (".csv", ".json", ".md", ".tex", ".html")
ROW_FORMATS = (".csv", ".json", ".md")
#: Key characters the Markdown table shows (enough for ``memento show``).
SHORT_KEY = 12
FIXED_COLUMNS = ("experiment", "id", "status", "key", "duration")

Row = dict[str, Any]


def make_row(
    *,
    experiment: str,
    test_id: str,
    status: str,
    key: str,
    duration: float,
    config: Mapping[str, Any],
    metrics: Mapping[str, Any],
) -> Row:
    """One flat row; a metric named like a fixed or config column becomes
    ``metric:<name>`` so nothing is overwritten."""
    row: Row = {
        "experiment": experiment,
        "id": test_id,
        "status": status,
        "key": key,
        "duration": round(float(duration), 6),
    }
    for name, value in config.items():
        row[name if name not in FIXED_COLUMNS else f"config:{name}"] = value
    for name, value in metrics.items():
        row[f"metric:{name}" if name in row else name] = value
    return row


def rows_from_entries(
    entries: Iterable[tuple[Entry, Mapping[str, Any]]], status: Callable[[Entry, Mapping[str, Any]], str] | None = None
) -> list[Row]:
    """Rows for stored results given with their metadata (JSON only, never
    unpickled), sorted by experiment and id; ``status`` says what each is
    (default ``stored``)."""
    rows = []
    for entry, meta in entries:
        raw = meta.get("config")
        config: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
        rows.append(
            make_row(
                experiment=str(meta.get("experiment", "")),
                test_id=str(meta.get("test_id", "")),
                status=status(entry, meta) if status is not None else "stored",
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
        records = [{name: jsonable(row.get(name)) for name in columns} for row in rows]
        return json.dumps(records, indent=1, allow_nan=False, default=str) + "\n"
    if fmt == ".md":
        return compact_markdown(rows)
    if fmt in (".tex", ".html"):
        raise ValueError(
            f"a {fmt} file holds the aggregated table or the HTML report, not rows: "
            "use `memento table -o FILE.tex` or `memento report FILE.html`"
        )
    raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def compact_markdown(rows: Sequence[Row]) -> str:
    """Per experiment: a heading with its counts and the values every row
    shares, then one row per configuration: varying config values and
    metrics first (dotted names shortened, floats to 4 significant
    digits), then status, duration and a short key."""
    by_experiment: dict[str, list[Row]] = {}
    for row in rows:
        by_experiment.setdefault(str(row.get("experiment", "")), []).append(row)
    out: list[str] = []
    for experiment, group in by_experiment.items():
        names = [name for name in columns_of(group) if name not in FIXED_COLUMNS]
        texts = {name: [value_text(row.get(name, "")) for row in group] for name in names}
        shared = [name for name in names if len(group) > 1 and len(set(texts[name])) == 1 and texts[name][0] != ""]
        shown = [name for name in names if name not in shared]
        counts: dict[str, int] = {}
        for row in group:
            counts[str(row.get("status"))] = counts.get(str(row.get("status")), 0) + 1
        title = (
            f"**{_md(experiment)}**: {len(group)} configuration(s) ({', '.join(f'{n} {s}' for s, n in counts.items())})"
        )
        labels = {name: value_labels(row.get(name) for row in group if row.get(name) is not None) for name in names}
        if shared:
            title += "; all rows: " + ", ".join(f"{n}={_md(labels[n].get(texts[n][0], texts[n][0]))}" for n in shared)
        # One status for every row is said by the counts already.
        status = ["status"] if len(counts) > 1 else []
        header = [*shown, *status, "duration", "key"]
        out += ["", title, "", "| " + " | ".join(_md(h) for h in header) + " |", "|" + "---|" * len(header)]
        for row in group:
            cells = []
            for name in shown:
                value = row.get(name)
                if isinstance(value, float) or value is None:
                    cells.append(_markdown_cell(value))
                else:
                    cells.append(_md(labels[name].get(value_text(value), value_text(value))))
            if status:
                cells.append(str(row.get("status", "")))
            cells += [f"{float(row.get('duration') or 0):.2f}s", str(row.get("key", ""))[:SHORT_KEY]]
            out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out[1:]) + "\n" if out else ""


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


def rows_from_run(outcomes: Iterable[Outcome]) -> list[Row]:
    """Export rows from the run's outcomes (configurations of experiments)."""
    return [
        make_row(
            experiment=outcome.experiment,
            test_id=outcome.test_id,
            status=outcome.status.value,
            key=outcome.key,
            duration=outcome.duration,
            config=outcome.config,
            metrics=outcome.metrics,
        )
        for outcome in outcomes
        if outcome.experiment
    ]


def _number_text(value: int | float) -> str:
    """A number in at most a few digits: ``0.9667``, ``1.000e+400`` (an int
    beyond float range, or beyond what ``str`` converts, never raises)."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if -(10**15) < value < 10**15:
        return str(value)
    exponent = int(math.log10(abs(value)))
    lead = abs(value) // 10 ** (exponent - 3)
    return f"{'-' if value < 0 else ''}{lead / 1000:.3f}e+{exponent}"


def _short(value: Any, limit: int = 24) -> str:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    text = _number_text(value) if number else str(_cell(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _aligned(header: list[str], cells: list[list[str]], width: int) -> tuple[list[str], int]:
    widths = [max([len(header[i])] + [len(row[i]) for row in cells]) for i in range(len(header))]
    shown = len(header)
    while shown > 1 and sum(widths[:shown]) + 2 * (shown - 1) > width:
        shown -= 1
    lines = ["  ".join(header[i].ljust(widths[i]) for i in range(shown)).rstrip()]
    lines += ["  ".join(row[i].ljust(widths[i]) for i in range(shown)).rstrip() for row in cells]
    return lines, len(header) - shown


def _best(outcomes: list[Outcome], metric: str, goal: str | None) -> tuple[float, float, float, str] | None:
    values = [(o.metrics[metric], o.test_id) for o in outcomes if isinstance(o.metrics.get(metric), (int, float))]
    values = [(as_float(v), i) for v, i in values if not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return None
    # Ties go to the configuration listed first (ids sort the table).
    sign = 1.0 if goal == "min" else -1.0
    best = min(values, key=lambda item: (sign * item[0], item[1]))
    worst = min(values, key=lambda item: (-sign * item[0], item[1]))
    mean = sum(v for v, _ in values) / len(values)
    return best[0], worst[0], mean, best[1]


def format_table(
    outcomes: Iterable[Outcome],
    *,
    width: int = 100,
    mode: str = "auto",
    max_rows: int = 30,
    export_hint: str = "",
) -> list[str]:
    """Lines of the end-of-run table: per experiment, one row per
    configuration (status, parameters, duration, metrics), or for grids over
    ``max_rows`` (or ``mode == "summary"``) counts and per-metric best, worst
    and mean with the best configuration."""
    groups: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        if outcome.experiment:
            groups.setdefault(outcome.experiment, []).append(outcome)
    lines: list[str] = []
    for experiment, group in groups.items():
        group.sort(key=lambda o: o.test_id)
        counts: dict[str, int] = {}
        for outcome in group:
            counts[outcome.status.value] = counts.get(outcome.status.value, 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in counts.items())
        lines.append(f"{experiment}: {len(group)} configurations ({summary})")
        metrics = list(dict.fromkeys(name for o in group for name in o.metrics))
        goals = next((o.goals for o in group if o.goals), {})
        if mode == "summary" or (mode == "auto" and len(group) > max_rows):
            lines += _summary_lines(group, metrics, goals, width)
            if export_hint:
                lines.append(f"  every configuration: {export_hint}")
            continue
        parameters = list(dict.fromkeys(name for o in group for name in o.parameters))
        # Metrics matter most: when the terminal is narrow, parameters go first.
        header = ["status", *metrics, *parameters, "duration"]
        cells = []
        for outcome in group:
            config = {**outcome.config, **outcome.labels}
            cells.append(
                [outcome.status.value]
                + [_short(outcome.metrics.get(name, "")) for name in metrics]
                + [_short(config.get(name, "")) for name in parameters]
                + [f"{outcome.duration:.2f}s"]
            )
        table, hidden = _aligned(header, cells, width - 2)
        lines += ["  " + line for line in table]
        if hidden:
            lines.append(f"  ({hidden} column(s) do not fit the terminal{': ' + export_hint if export_hint else ''})")
    return lines


def _summary_lines(group: list[Outcome], metrics: list[str], goals: Mapping[str, str], width: int) -> list[str]:
    lines = []
    for metric in metrics:
        found = _best(group, metric, goals.get(metric))
        if found is None:
            continue
        best, worst, mean, where = found
        direction = {"max": "max is best", "min": "min is best"}.get(goals.get(metric, ""), "no goal: highest")
        lines.append(f"  {metric} ({direction}): best {_short(best)}, worst {_short(worst)}, mean {_short(mean)}")
        lines.append(f"    best: {where}" if len(where) + 10 <= width else f"    best: {where[: width - 11]}…")
    return lines
