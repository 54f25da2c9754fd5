"""``memento table`` and ``memento report``: stored results aggregated
over replicates, as a paper table (Markdown, CSV, LaTeX, JSON, HTML) or a
self-contained HTML report (DESIGN.md section 8).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .aggregate import group_records
from .cli_select import selected
from .cli_store import CliError, find_location, open_for, print_problems
from .files import atomic_write
from .html_report import write_report
from .paper import FORMATS as PAPER_FORMATS
from .paper import render_tables
from .paper_layout import Layout
from .records import Record, records_from_entries

__all__ = ["cmd_report", "cmd_table"]


def _names(text: str | None, option: str) -> tuple[str, ...] | None:
    """``a,b`` -> ("a", "b"); None when the option is not given."""
    if text is None:
        return None
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if len(set(names)) != len(names):
        raise CliError(f"{option}: a name is given twice in {text!r}")
    return names


def _paper_records(args: argparse.Namespace) -> tuple[list[Record], list[str]]:
    store, problems = open_for(args)
    records = list(records_from_entries(selected(store, args.experiment)))
    if not records:
        which = f" of an experiment matching {args.experiment!r}" if args.experiment else ""
        raise CliError(f"no stored results{which} in {store.location}")
    return records, problems


def cmd_table(args: argparse.Namespace) -> int:
    records, problems = _paper_records(args)
    metrics = None
    if args.metric:
        metrics = tuple(name for text in args.metric for name in _names(text, "--metric") or ())
    layout = Layout(
        rows=_names(args.rows, "--rows"),
        cols=_names(args.cols, "--cols") or (),
        metrics=metrics,
        spread=args.spread,
        digits=args.digits,
    )
    fmt = args.format
    if fmt is None:
        suffix = Path(args.output).suffix.lower().lstrip(".") if args.output else ""
        fmt = suffix if suffix in PAPER_FORMATS else "md"
    text = render_tables(group_records(records, _names(args.over, "--over")), layout, fmt)
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        path = Path(args.output)
        if not path.parent.is_dir():
            raise CliError(f"-o {path}: the directory {path.parent} does not exist")
        atomic_write(path, text.encode("utf-8"))
        print(f"wrote the table of {len(records)} stored configuration(s) to {path}", file=sys.stderr)
    print_problems(problems)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise CliError(f"{path}: a report is an .html file")
    if not path.parent.is_dir():
        raise CliError(f"{path}: the directory {path.parent} does not exist")
    records, problems = _paper_records(args)
    source = f"memento report: {len(records)} stored configuration(s) in {find_location(args.dir).shown}"
    write_report(path, records, title=args.title, source=source, spread=args.spread, over=_names(args.over, "--over"))
    print(f"wrote the report of {len(records)} configuration(s) to {path}", file=sys.stderr)
    print_problems(problems)
    return 0
