"""The aggregated tables of replicate groups rendered: Markdown, LaTeX
(booktabs, escaped), an HTML ``<table>``, and flat records (CSV/JSON: the
group's config, then ``<metric>_mean``, ``_std``, ``_sem``, ``_ci95``,
``_n`` per metric, full precision). The tables are laid out by
:mod:`.paper_layout`. Pure.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Sequence
from typing import Any

from .aggregate import Group
from .paper_layout import DAGGER, Cell, Layout, PaperTable, TableError, build_tables

__all__ = [
    "FORMATS",
    "flat_records",
    "render_html_tables",
    "render_latex",
    "render_markdown",
    "render_tables",
    "tex_escape",
]

#: ``memento table --format`` choices.
FORMATS = ("md", "csv", "tex", "json", "html")


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
