"""The HTML report: one self-contained file that works offline.

``--memento-export report.html`` and ``memento report FILE`` write it. One
page: status counts; per experiment, every configuration in a sortable,
filterable table (click a row for its provenance: key, commit, code
fingerprint, start, duration, host, Python, seed), the aggregated table of
its replicate groups (:mod:`.paper`), and per metric a chart against each
parameter that varies, one point per group with its replicate spread as an
error bar.

The data rides in the page as JSON (``<script type="application/json">``,
``<`` escaped so no value can close the element) and the page's own script
(``assets/report.js``, inline) builds the tables and draws the charts as
inline SVG; a Content-Security-Policy forbids every fetch, so the file
never reaches the network. Values are inserted as text, never as markup.
Pure: no pytest, nothing unpickled.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from .aggregate import Group, group_records, sort_key
from .files import atomic_write
from .paper import render_html_tables
from .paper_layout import Layout, build_tables
from .records import PROVENANCE, Record, value_labels, value_text

__all__ = ["render_report", "report_data", "write_report"]

#: Columns of a row's shared provenance (interned: most rows share them).
SHARED = ("commit", "dirty", "branch", "fingerprint", "host", "python", "worker")
#: Columns of a row's own provenance.
OWN = ("started", "seed", "reason", "error")
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def _number(value: Any) -> Any:
    """Metrics to 7 significant digits (what a report can show); NaN and
    infinities as text (JSON has none)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return float(f"{value:.7g}")
    return value


def _experiment(name: str, records: list[Record], groups: list[Group], spread: str) -> dict[str, Any]:
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record.parameters))
    for record in records:
        names.update(dict.fromkeys(record.config))
    columns = list(names)
    # Rows in grid order: by their config values, numbers as numbers.
    records = sorted(records, key=lambda r: tuple(sort_key(r.config.get(c)) for c in columns))
    metrics = list(dict.fromkeys(metric for record in records for metric in record.metrics))
    labels = {column: value_labels(r.config.get(column) for r in records if column in r.config) for column in columns}
    # Per column, the distinct labels; rows hold indices into them.
    values: dict[str, list[str]] = {column: list(dict.fromkeys(labels[column].values())) for column in columns}
    index = {column: {label: i for i, label in enumerate(values[column])} for column in columns}
    shared: dict[tuple[Any, ...], int] = {}
    rows = []
    for record in records:
        cells = []
        for column in columns:
            if column in record.config:
                cells.append(index[column][labels[column][value_text(record.config[column])]])
            else:
                cells.append(-1)
        prov = record.provenance
        common = tuple(prov.get(part) for part in SHARED)
        slot = shared.setdefault(common, len(shared))
        rows.append(
            [
                record.test_id,
                record.status,
                record.key,
                round(record.duration, 3),
                cells,
                [_number(record.metrics.get(metric)) for metric in metrics],
                slot,
                [prov.get(part) for part in OWN],
            ]
        )
    replicates = next((g.replicates for g in groups if g.replicates), ())
    varying = [c for c in columns if c not in replicates and len({value_text(g.values.get(c)) for g in groups}) > 1]
    group_rows = []
    for group in groups:
        stats = {
            metric: [_number(getattr(s, part)) for part in ("n", "mean", "std", "sem", "ci95")]
            for metric, s in group.stats.items()
        }
        group_rows.append(
            {
                "at": [index[c].get(labels[c].get(value_text(group.values.get(c)), ""), -1) for c in varying],
                "label": group.label([c for c in columns if c in group.values and c in varying]) or "all",
                "stats": stats,
                "note": group.note(),
            }
        )
    goals = next((dict(r.goals) for r in records if r.goals), {})
    return {
        "name": name,
        "columns": columns,
        "values": values,
        "metrics": metrics,
        "goals": goals,
        "replicates": list(replicates),
        "varying": varying,
        "rows": rows,
        "shared": [list(common) for common in shared],
        "groups": group_rows,
        "spread": spread,
    }


def report_data(
    records: Sequence[Record], *, title: str, source: str, spread: str = "std", over: Sequence[str] | None = None
) -> dict[str, Any]:
    """Everything the page shows, JSON-safe."""
    by_experiment: dict[str, list[Record]] = {}
    for record in records:
        if record.experiment:
            by_experiment.setdefault(record.experiment, []).append(record)
    counts: dict[str, int] = {}
    for record in records:
        counts[record.status] = counts.get(record.status, 0) + 1
    experiments = []
    for name in sorted(by_experiment):
        members = by_experiment[name]
        groups = group_records(members, over)
        experiments.append(_experiment(name, members, groups, spread))
    return {
        "title": title,
        "source": source,
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "counts": counts,
        "shared_names": list(SHARED),
        "own_names": list(OWN),
        "provenance": list(PROVENANCE),
        "experiments": experiments,
    }


def _asset(name: str) -> str:
    return (resources.files(__package__) / "assets" / name).read_text(encoding="utf-8")


def _embedded_json(data: Any) -> str:
    text = json.dumps(data, separators=(",", ":"), allow_nan=False, default=str)
    # Inside <script>, "</script>" or "<!--" in a value would end or confuse the element.
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def render_report(
    records: Sequence[Record],
    *,
    title: str = "pytest-memento report",
    source: str = "",
    spread: str = "std",
    over: Sequence[str] | None = None,
) -> str:
    """The report page for ``records`` (raises ``ValueError`` for a bad spread)."""
    layout = Layout(spread=spread)
    data = report_data(records, title=title, source=source, spread=spread, over=over)
    groups = group_records((r for r in records if r.experiment), over)
    aggregates = {}
    for table in build_tables(groups, layout):
        aggregates[table.experiment] = render_html_tables([table])
    sections = []
    for number, experiment in enumerate(data["experiments"]):
        name = experiment["name"]
        sections.append(
            f'<section class="experiment" id="e{number}" data-index="{number}">'
            f"<h2>{html.escape(name)}</h2>"
            f'<div class="configs"></div>'
            f"<h3>Aggregated over {html.escape(', '.join(experiment['replicates']) or 'nothing (no replicates)')}</h3>"
            f'<div class="aggregate-wrap">{aggregates.get(name, "")}</div>'
            f'<h3>Charts: mean and {html.escape(spread)} per group</h3><div class="charts"></div></section>'
        )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title>\n<style>{_asset('report.css')}</style></head>\n"
        f'<body><header><h1>{html.escape(title)}</h1><p class="source">{html.escape(source)}</p>'
        '<p class="counts" id="counts"></p></header>\n'
        '<noscript><p class="warning">The tables of configurations and the charts need JavaScript; '
        "the aggregated tables below do not.</p></noscript>\n"
        f"<main>{''.join(sections)}</main>\n"
        f'<script type="application/json" id="memento-data">{_embedded_json(data)}</script>\n'
        f"<script>{_asset('report.js')}</script>\n</body></html>\n"
    )


def write_report(path: Path, records: Sequence[Record], **options: Any) -> None:
    """Write the report for ``records`` to ``path`` atomically."""
    atomic_write(path, render_report(records, **options).encode("utf-8"))
