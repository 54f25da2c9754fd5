"""The aggregated table of replicate groups, laid out for a paper.

:func:`build_tables` lays out groups (see :mod:`.aggregate`) as one table
per experiment: rows are the values of ``rows`` parameters (default: every
parameter that varies and is not a column), columns are metrics, or with
``cols`` the values of those parameters for each metric. Values every
group shares (settings, constant parameters) are listed once above the
table. A cell reads ``mean ± spread``; the best cell of each column (by the
metric's goal, highest without one, compared as shown) is bold; an
incomplete group's cell carries ``†`` and a note below says what it lacks.

Renderers: Markdown, LaTeX (booktabs, escaped), an HTML ``<table>``, and
flat records (CSV/JSON: the group's config, then ``<metric>_mean``,
``_std``, ``_sem``, ``_ci95``, ``_n`` per metric, full precision). Pure.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .aggregate import SPREADS, Group, Stats, sort_key
from .records import value_labels, value_text

__all__ = [
    "FORMATS",
    "Layout",
    "PaperTable",
    "TableError",
    "build_tables",
    "flat_records",
    "format_number",
    "render_tables",
]

#: ``memento table --format`` choices.
FORMATS = ("md", "csv", "tex", "json", "html")
DAGGER = "†"


class TableError(ValueError):
    """A layout that cannot be built; the message names the option at fault."""


@dataclass(frozen=True)
class Layout:
    """How groups become a table (the ``memento table`` options)."""

    rows: tuple[str, ...] | None = None
    cols: tuple[str, ...] = ()
    metrics: tuple[str, ...] | None = None
    spread: str = "std"
    digits: int = 3

    def __post_init__(self) -> None:
        if self.spread not in SPREADS:
            raise TableError(f"--spread: expected one of {', '.join(SPREADS)}, got {self.spread!r}")
        if not 0 <= self.digits <= 12:
            raise TableError(f"--digits: expected 0 to 12, got {self.digits}")


@dataclass
class Cell:
    group: Group
    stats: Stats
    bold: bool = False


@dataclass
class PaperTable:
    """One experiment's table, laid out, not yet rendered."""

    experiment: str
    row_names: tuple[str, ...]
    col_names: tuple[str, ...]
    #: (metric, labels of the column parameters' values) per value column.
    columns: list[tuple[str, tuple[str, ...]]]
    rows: list[tuple[tuple[str, ...], list[Cell | None]]]
    replicates: tuple[str, ...]
    spread: str
    digits: int
    goals: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def caption(self) -> str:
        sizes = sorted({cell.stats.n for _, cells in self.rows for cell in cells if cell is not None})
        n = "" if not sizes else f" (n = {sizes[0]})" if len(sizes) == 1 else f" (n = {sizes[0]}-{sizes[-1]})"
        over = f"mean ± {self.spread} over {', '.join(self.replicates)}{n}" if self.replicates else "no replicates"
        return f"{self.experiment}: {over}"

    def metric_title(self, metric: str) -> str:
        """The metric with the direction its goal declares (``accuracy ↑``)."""
        return f"{metric} {({'max': '↑', 'min': '↓'}).get(self.goals.get(metric, ''), '')}".rstrip()

    def header(self, index: int) -> str:
        metric, labels = self.columns[index]
        named = self.metric_title(metric)
        if not labels:
            return named
        value = " / ".join(labels)
        return value if len({m for m, _ in self.columns}) == 1 else f"{named}: {value}"

    def text(self, cell: Cell) -> tuple[str, str | None]:
        """The mean and the spread of a cell as shown (spread None for n = 1)."""
        spread = cell.stats.spread(self.spread)
        shown = None if spread is None else format_number(spread, self.digits)
        return format_number(cell.stats.mean, self.digits), shown


def format_number(value: float, digits: int) -> str:
    """``digits`` decimals; a non-zero value that would read 0 keeps ``digits`` significant ones."""
    if value != 0 and round(value, digits) == 0:
        return f"{value:.{max(digits, 1)}g}"
    return f"{value:.{digits}f}"


def _names(groups: Sequence[Group]) -> list[str]:
    names: dict[str, None] = {}
    for group in groups:
        names.update(dict.fromkeys(group.parameters))
    for group in groups:
        names.update(dict.fromkeys(group.values))
    return list(names)


def _check(option: str, wanted: Sequence[str], known: Sequence[str], experiment: str, kind: str) -> None:
    for name in wanted:
        if name not in known:
            raise TableError(
                f"{option}: {name!r} is not a {kind} of {experiment} ({kind}s: {', '.join(known) or 'none'})"
            )


def _newest_version(groups: list[Group]) -> tuple[list[Group], list[str]]:
    versions = {value_text(g.version) for g in groups}
    if len(versions) < 2:
        return groups, []

    def newest(group: Group) -> str:
        return max((r.started for r in group.members), default="")

    chosen = value_text(max(groups, key=newest).version)
    kept = [g for g in groups if value_text(g.version) == chosen]
    return kept, [f"results of other versions ({', '.join(sorted(versions - {chosen}))}) left out"]


def _table(experiment: str, groups: list[Group], layout: Layout) -> PaperTable:
    groups, notes = _newest_version(groups)
    names = _names(groups)
    labels = {name: value_labels(g.values.get(name) for g in groups) for name in names}

    def label(group: Group, name: str) -> str:
        return labels[name][value_text(group.values.get(name))]

    varying = [name for name in names if len({value_text(g.values.get(name)) for g in groups}) > 1]
    constants = {name: label(groups[0], name) for name in names if name not in varying}
    metrics = list(dict.fromkeys(metric for g in groups for metric in g.stats))
    if layout.metrics is not None:
        _check("--metric", layout.metrics, metrics, experiment, "metric")
        metrics = list(layout.metrics)
    _check("--cols", layout.cols, names, experiment, "parameter")
    if layout.rows is not None:
        _check("--rows", layout.rows, names, experiment, "parameter")
        row_names = [name for name in layout.rows if name not in layout.cols]
    else:
        row_names = [name for name in varying if name not in layout.cols]
    left = [name for name in varying if name not in row_names and name not in layout.cols]
    if left:
        raise TableError(
            f"--rows/--cols leave out {', '.join(left)}, which varies in {experiment}: "
            "several groups would share a cell; add it to --rows or --cols"
        )
    col_names = list(layout.cols)

    def ordered(keys: dict[tuple[str, ...], Group], which: list[str]) -> list[tuple[str, ...]]:
        return sorted(keys, key=lambda k: tuple(sort_key(keys[k].values.get(name)) for name in which))

    row_keys: dict[tuple[str, ...], Group] = {}
    col_keys: dict[tuple[str, ...], Group] = {}
    cells: dict[tuple[tuple[str, ...], tuple[str, ...]], Group] = {}
    for group in groups:
        row = tuple(label(group, name) for name in row_names)
        col = tuple(label(group, name) for name in col_names)
        row_keys.setdefault(row, group)
        col_keys.setdefault(col, group)
        cells[(row, col)] = group
    columns = [(metric, col) for metric in metrics for col in ordered(col_keys, col_names)]
    goals = next((dict(g.goals) for g in groups if g.goals), {})
    table = PaperTable(
        experiment=experiment,
        row_names=tuple(row_names),
        col_names=tuple(col_names),
        columns=columns,
        rows=[],
        replicates=next((g.replicates for g in groups if g.replicates), ()),
        spread=layout.spread,
        digits=layout.digits,
        goals=goals,
        constants=constants,
        notes=notes,
    )
    for row in ordered(row_keys, row_names):
        line: list[Cell | None] = []
        for metric, col in columns:
            found = cells.get((row, col))
            stats = None if found is None else found.stats.get(metric)
            line.append(None if found is None or stats is None else Cell(found, stats))
        table.rows.append((row, line))
    _embolden(table)
    for _, line in table.rows:
        incomplete = {id(c.group): c.group for c in line if c is not None and not c.group.complete}
        for group in incomplete.values():
            where = ", ".join(f"{name}={label(group, name)}" for name in [*row_names, *col_names]) or "the group"
            table.notes.append(f"{DAGGER} {where}: {group.note()}")
    return table


def _embolden(table: PaperTable) -> None:
    for index, (metric, _) in enumerate(table.columns):
        filled = [line[index] for _, line in table.rows if line[index] is not None]
        if len(filled) < 2:
            continue
        sign = -1.0 if table.goals.get(metric) == "min" else 1.0
        shown = {id(cell): float(table.text(cell)[0]) for cell in filled if cell is not None}
        best = max(sign * value for value in shown.values())
        for cell in filled:
            if cell is not None and sign * shown[id(cell)] == best:
                cell.bold = True


def build_tables(groups: Sequence[Group], layout: Layout) -> list[PaperTable]:
    """One laid-out table per experiment of ``groups``."""
    by_experiment: dict[str, list[Group]] = {}
    for group in groups:
        by_experiment.setdefault(group.experiment, []).append(group)
    return [_table(experiment, members, layout) for experiment, members in by_experiment.items()]


# -- renderers -----------------------------------------------------------------


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_cell(table: PaperTable, cell: Cell | None) -> str:
    if cell is None:
        return "-"
    mean, spread = table.text(cell)
    text = mean if spread is None else f"{mean} ± {spread}"
    text = f"**{text}**" if cell.bold else text
    return text + (f" {DAGGER}" if not cell.group.complete else "")


def render_markdown(tables: Sequence[PaperTable]) -> str:
    out: list[str] = []
    for table in tables:
        out.append(f"**{_md(table.caption())}**")
        out.append("")
        if table.constants:
            out.append("All rows: " + ", ".join(f"{n}={_md(v)}" for n, v in table.constants.items()))
            out.append("")
        header = [*table.row_names, *(table.header(i) for i in range(len(table.columns)))]
        if not table.row_names:
            header.insert(0, "")
        out.append("| " + " | ".join(_md(h) for h in header) + " |")
        out.append("|" + "".join("---|" if i < max(len(table.row_names), 1) else "--:|" for i in range(len(header))))
        for row, line in table.rows:
            first = [_md(value) for value in row] or ["all"]
            out.append("| " + " | ".join(first + [_md_cell(table, cell) for cell in line]) + " |")
        if table.notes:
            out.append("")
            out += [_md(note) for note in table.notes]
        out.append("")
    return "\n".join(out)


_TEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "†": r"$^\dagger$",
    "±": r"$\pm$",
    "↑": r"$\uparrow$",
    "↓": r"$\downarrow$",
}


def tex_escape(text: str) -> str:
    """``text`` safe in LaTeX text mode (``_ % & # $ { } ~ ^ \\`` escaped)."""
    return "".join(_TEX.get(char, char) for char in text)


def _tex_number(text: str) -> str:
    return "$-$" + text[1:] if text.startswith("-") else text


def _tex_cell(table: PaperTable, cell: Cell | None) -> str:
    if cell is None:
        return "--"
    mean, spread = table.text(cell)
    text = _tex_number(mean) if spread is None else f"{_tex_number(mean)} $\\pm$ {spread}"
    text = f"\\textbf{{{text}}}" if cell.bold else text
    return text + ("$^\\dagger$" if not cell.group.complete else "")


def render_latex(tables: Sequence[PaperTable]) -> str:
    """booktabs tabulars, one per experiment (needs ``\\usepackage{booktabs}``)."""
    out: list[str] = []
    for table in tables:
        lead = max(len(table.row_names), 1)
        out.append(f"% {tex_escape(table.caption())}".replace("\n", " "))
        if table.constants:
            out.append("% all rows: " + tex_escape(", ".join(f"{n}={v}" for n, v in table.constants.items())))
        out.append("\\begin{tabular}{" + "l" * lead + "r" * len(table.columns) + "}")
        out.append("\\toprule")
        if table.col_names and len({m for m, _ in table.columns}) == 1:
            span = len(table.columns)
            title = tex_escape(table.metric_title(table.columns[0][0]))
            out.append(
                " & " * (lead - 1)
                + f" & \\multicolumn{{{span}}}{{c}}{{{title} ({tex_escape(' / '.join(table.col_names))})}} \\\\"
            )
            out.append(f"\\cmidrule(lr){{{lead + 1}-{lead + span}}}")
        names = [tex_escape(name) for name in table.row_names] or [""]
        out.append(" & ".join(names + [tex_escape(table.header(i)) for i in range(len(table.columns))]) + " \\\\")
        out.append("\\midrule")
        for row, line in table.rows:
            first = [tex_escape(value) for value in row] or ["all"]
            out.append(" & ".join(first + [_tex_cell(table, cell) for cell in line]) + " \\\\")
        out.append("\\bottomrule")
        out.append("\\end{tabular}")
        out += [f"% {tex_escape(note)}" for note in table.notes]
        out.append("")
    return "\n".join(out)


def _html_cell(table: PaperTable, cell: Cell | None) -> str:
    if cell is None:
        return '<td class="num">-</td>'
    mean, spread = table.text(cell)
    text = html.escape(mean if spread is None else f"{mean} ± {spread}")
    if cell.bold:
        text = f"<b>{text}</b>"
    if not cell.group.complete:
        text += f' <span class="incomplete" title="{html.escape(cell.group.note())}">{DAGGER}</span>'
    return f'<td class="num">{text}</td>'


def render_html_tables(tables: Sequence[PaperTable]) -> str:
    """The tables as HTML fragments (``<table class="aggregate">``), escaped."""
    out: list[str] = []
    for table in tables:
        out.append(f'<p class="caption">{html.escape(table.caption())}</p>')
        if table.constants:
            text = ", ".join(f"{n}={v}" for n, v in table.constants.items())
            out.append(f'<p class="constants">All rows: {html.escape(text)}</p>')
        names = list(table.row_names) or [""]
        head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
        head += "".join(f'<th class="num">{html.escape(table.header(i))}</th>' for i in range(len(table.columns)))
        out.append(f'<table class="aggregate"><thead><tr>{head}</tr></thead><tbody>')
        for row, line in table.rows:
            first = "".join(f"<td>{html.escape(v)}</td>" for v in row) or "<td>all</td>"
            out.append(f"<tr>{first}{''.join(_html_cell(table, cell) for cell in line)}</tr>")
        out.append("</tbody></table>")
        out += [f'<p class="note">{html.escape(note)}</p>' for note in table.notes]
    return "\n".join(out)


def flat_records(groups: Sequence[Group], metrics: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """One flat record per group: ``experiment``, its config, then per
    metric ``_mean``, ``_std``, ``_sem``, ``_ci95``, ``_n``, then ``members``,
    ``expected`` and ``missing`` (a config value named like those becomes
    ``group:<name>``)."""
    records = []
    for group in groups:
        record: dict[str, Any] = {"experiment": group.experiment}
        for name, value in group.values.items():
            record[name if name not in ("experiment", "members", "expected", "missing") else f"config:{name}"] = value
        for metric in metrics if metrics is not None else group.stats:
            stats = group.stats.get(metric)
            for part in ("mean", "std", "sem", "ci95", "n"):
                record[f"{metric}_{part}"] = None if stats is None else getattr(stats, part)
        record.update(members=group.n, expected=group.expected or None, missing="; ".join(group.missing))
        records.append(record)
    return records


def _columns(records: Sequence[dict[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record))
    return list(names)


def _flat_value(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def render_tables(groups: Sequence[Group], layout: Layout, fmt: str, *, title: str = "") -> str:
    """The aggregated table of ``groups`` in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt not in FORMATS:
        raise TableError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt in ("csv", "json"):
        records = flat_records(groups, layout.metrics)
        columns = _columns(records)
        if fmt == "json":
            rows = [{name: _flat_value(record.get(name)) for name in columns} for record in records]
            return json.dumps(rows, indent=1, allow_nan=False) + "\n"
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for record in records:
            writer.writerow({name: _flat_value(record.get(name)) for name in columns})
        return buffer.getvalue()
    tables = build_tables(groups, layout)
    if fmt == "md":
        return render_markdown(tables)
    if fmt == "tex":
        return render_latex(tables)
    body = render_html_tables(tables)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title or 'memento table')}</title>"
        "<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
        "th,td{padding:3px 10px;border-bottom:1px solid #ddd}.num{text-align:right}"
        ".caption{font-weight:600}</style></head><body>\n"
        f"{body}\n</body></html>\n"
    )
