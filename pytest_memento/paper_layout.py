"""The aggregated table of replicate groups, laid out for a paper.

:func:`build_tables` lays out groups (see :mod:`.aggregate`) as one table
per experiment: rows are the values of ``rows`` parameters (default: every
parameter that varies and is not a column), columns are metrics, or with
``cols`` the values of those parameters for each metric. Values every
group shares (settings, constant parameters) are listed once above the
table. A cell reads ``mean ± spread``; the best cell of each column (by the
metric's goal, highest without one, compared as shown) is bold; an
incomplete group's cell carries ``†`` and a note below says what it lacks.
Rendering the tables is :mod:`.paper`'s. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .aggregate import SPREADS, Group, Stats, sort_key
from .records import value_labels, value_text

__all__ = ["DAGGER", "Cell", "Layout", "PaperTable", "TableError", "build_tables", "format_number"]

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
