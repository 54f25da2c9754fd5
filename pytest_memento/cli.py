"""The ``memento`` command: inspect the store without running anything.

    memento list [--experiment TEXT] [--where NAME=VALUE] [--stale] [--json]
    memento show KEY [--result]
    memento export PATH... | memento export --format md -
    memento clear [--experiment TEXT] [--where NAME=VALUE] [--stale] [--yes]
    memento checkpoints
    memento slurm --tasks N [--time T] experiments/ [-- PYTEST_ARGS]
    memento gc [--older-than SECONDS] [--stale] [--dry-run]
    memento table [--experiment TEXT] [--over NAMES] [--rows NAMES] [--cols NAMES] [--metric NAME]
                  [--spread std|sem|ci95] [--digits N] [--format md|csv|tex|json|html] [-o FILE]
    memento report FILE [--experiment TEXT] [--over NAMES] [--spread std|sem|ci95] [--title TEXT]

Only ``show --result`` unpickles anything; listing and exporting read JSON.

This module is the parser and the dispatch; the commands are in
:mod:`.cli_inspect`, :mod:`.cli_maintain` and :mod:`.cli_paper`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from . import __version__
from .aggregate import SPREADS
from .cli_inspect import cmd_checkpoints, cmd_export, cmd_list, cmd_show
from .cli_maintain import cmd_clear, cmd_gc, cmd_merge, cmd_slurm
from .cli_paper import cmd_report, cmd_table
from .cli_store import CliError
from .paper import FORMATS as PAPER_FORMATS
from .remote import RemoteError
from .tables import EXPORT_FORMATS


def add_paper_commands(commands: Any) -> None:
    """``memento table`` and ``memento report`` (DESIGN.md section 8)."""
    over_help = "replicate parameters, comma-separated (default: as the matrix declares, else seed; '' for none)"
    table = commands.add_parser("table", help="print the table aggregated over replicates (mean ± spread)")
    table.add_argument("--experiment", help="only experiments whose id contains this text")
    table.add_argument("--over", metavar="NAMES", help=over_help)
    table.add_argument("--rows", metavar="NAMES", help="parameters whose values are the rows (default: what varies)")
    table.add_argument("--cols", metavar="NAMES", help="parameters whose values are the columns (default: metrics)")
    table.add_argument("--metric", action="append", metavar="NAME", help="only this metric (repeatable, or a,b)")
    table.add_argument("--spread", choices=SPREADS, default="std", help="what follows ± (default std)")
    table.add_argument("--digits", type=int, default=3, metavar="N", help="decimals shown (default 3)")
    table.add_argument("--format", choices=PAPER_FORMATS, help="default: from -o's extension, else md")
    table.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    table.set_defaults(run=cmd_table)

    report = commands.add_parser("report", help="write a self-contained HTML report of the stored results")
    report.add_argument("path", metavar="FILE", help="the .html file to write")
    report.add_argument("--experiment", help="only experiments whose id contains this text")
    report.add_argument("--over", metavar="NAMES", help=over_help)
    report.add_argument("--spread", choices=SPREADS, default="std", help="error bars and ± (default std)")
    report.add_argument("--title", default="pytest-memento report", help="the page's title")
    report.set_defaults(run=cmd_report)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memento", description="Inspect a pytest-memento store without running anything."
    )
    parser.add_argument("--version", action="version", version=f"pytest-memento {__version__}")
    parser.add_argument(
        "--dir",
        "--memento-dir",
        dest="dir",
        help="the store: a directory or an fsspec URL such as s3://bucket/prefix "
        "(default: $MEMENTO_DIR, else the nearest .memento upwards)",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    listing = commands.add_parser("list", help="list stored results")
    listing.add_argument("--experiment", help="only experiments whose id contains this text")
    listing.add_argument("--json", action="store_true", help="print the metadata as JSON")
    listing.add_argument(
        "--where", action="append", metavar="NAME=VALUE", help="only configurations with this value (repeatable)"
    )
    listing.add_argument("--stale", action="store_true", help="only results whose experiment's code has changed since")
    listing.set_defaults(run=cmd_list)

    show = commands.add_parser("show", help="show one stored result's metadata")
    show.add_argument("key", help="the key, or a unique prefix of it")
    show.add_argument("--result", action="store_true", help="also unpickle and print the result (trusted stores only)")
    show.set_defaults(run=cmd_show)

    export = commands.add_parser("export", help=f"write the results table ({', '.join(EXPORT_FORMATS)})")
    export.add_argument(
        "paths", nargs="+", metavar="PATH", help="files to write (format from the extension), or - for standard output"
    )
    export.add_argument("--format", choices=["csv", "json", "md"], help="format for - (standard output)")
    export.add_argument("--experiment", help="only experiments whose id contains this text")
    export.set_defaults(run=cmd_export)

    clear = commands.add_parser("clear", help="remove stored results")
    clear.add_argument("--experiment", help="only experiments whose id contains this text")
    clear.add_argument(
        "--where", action="append", metavar="NAME=VALUE", help="only configurations with this value (repeatable)"
    )
    clear.add_argument("--stale", action="store_true", help="only results whose experiment's code has changed since")
    clear.add_argument("--yes", action="store_true", help="confirm removing everything")
    clear.set_defaults(run=cmd_clear)

    checkpoints = commands.add_parser(
        "checkpoints", help="list checkpoints left by interrupted or failed configurations"
    )
    checkpoints.set_defaults(run=cmd_checkpoints)

    slurm = commands.add_parser(
        "slurm", help="run a grid as a Slurm job array on one shared store, wait, print the table"
    )
    slurm.add_argument("--tasks", type=int, required=True, help="array size: the grid is split into this many shards")
    slurm.add_argument("--time", help="time limit per task (sbatch --time)")
    slurm.add_argument("--partition", help="sbatch --partition")
    slurm.add_argument(
        "--grace",
        type=int,
        default=120,
        metavar="SECONDS",
        help="SIGTERM this long before the time limit (default 120)",
    )
    slurm.add_argument(
        "--sbatch", action="append", metavar="OPTION", help="another sbatch option, e.g. --sbatch=--mem=8G (repeatable)"
    )
    slurm.add_argument("--script-only", action="store_true", help="print the sbatch script instead of submitting it")
    slurm.add_argument("--no-wait", action="store_true", help="print the job id and return at once")
    slurm.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help="give up waiting after this long")
    slurm.add_argument(
        "pytest_args",
        nargs="+",
        metavar="PYTEST_ARG",
        help="what to run, e.g. experiments/ (put -- before options for pytest)",
    )
    slurm.set_defaults(run=cmd_slurm)

    gc = commands.add_parser("gc", help="compact segments, remove unreferenced payloads and temp files")
    gc.add_argument(
        "--older-than",
        type=float,
        default=86400.0,
        metavar="SECONDS",
        help="leave files younger than this (default a day)",
    )
    gc.add_argument(
        "--stale", action="store_true", help="also forget results whose experiment's code has changed since"
    )
    gc.add_argument(
        "--deleted", action="store_true", help="also forget results of experiments no longer in the project"
    )
    gc.add_argument("--dry-run", action="store_true")
    gc.set_defaults(run=cmd_gc)
    merge = commands.add_parser(
        "merge", help="copy results and checkpoints of other stores into DEST (never unpickles)"
    )
    merge.add_argument("dest", metavar="DEST", help="the store to merge into (created if missing)")
    merge.add_argument("sources", nargs="+", metavar="SRC", help="stores to copy from (CI shards, other machines)")
    merge.set_defaults(run=cmd_merge)
    add_paper_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except (CliError, ValueError) as exc:
        parser.exit(2, f"memento: error: {exc}\n")
    except BrokenPipeError:  # `memento list | head`
        return 0
    except RemoteError as exc:  # it names the URL and what failed
        parser.exit(1, f"memento: error: {exc}; nothing was changed by the failed operation\n")
    except OSError as exc:  # a read-only store, a full disk: one line, nothing claimed
        where = exc.filename or getattr(args, "dir", None) or "the store"
        parser.exit(1, f"memento: error: {where}: {exc.strerror or exc}; nothing was changed by the failed write\n")
    except LookupError as exc:
        parser.exit(1, f"memento: error: {exc}\n")
    if code == 0 and getattr(args, "store_problems", None):
        return 1
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
