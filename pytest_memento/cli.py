"""The ``memento`` command: inspect the store without running anything.

    memento list [--experiment TEXT] [--json]
    memento show KEY [--result]
    memento export PATH... | memento export --format md -
    memento clear [--experiment TEXT] [--yes]
    memento checkpoints
    memento gc [--older-than SECONDS] [--dry-run]

Only ``show --result`` unpickles anything; listing and exporting read JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .checkpoint import iter_checkpoints
from .report import EXPORT_FORMATS, render, rows_from_store, write_export
from .signing import signer_from
from .store import Entry, ResultStore


class CliError(Exception):
    """A usage problem, reported as ``memento: error: ...`` with exit code 2."""


def find_store(explicit: str | None) -> Path:
    """``--dir``, else ``MEMENTO_DIR``, else the nearest ``.memento``
    holding a ``CACHEDIR.TAG`` in this directory or a parent."""
    if explicit:
        path = Path(explicit)
    elif os.environ.get("MEMENTO_DIR"):
        path = Path(os.environ["MEMENTO_DIR"])
    else:
        here = Path.cwd()
        for directory in (here, *here.parents):
            if (directory / ".memento" / "CACHEDIR.TAG").is_file():
                return directory / ".memento"
        raise CliError("no .memento store here or in a parent directory; pass --dir PATH")
    if not (path / "CACHEDIR.TAG").is_file():
        raise CliError(f"{path} is not a pytest-memento store (no CACHEDIR.TAG)")
    return path


def _problems(messages: list[str]) -> None:
    for message in messages:
        print(f"memento: warning: {message}", file=sys.stderr)


def _open(args: argparse.Namespace) -> tuple[ResultStore, list[str]]:
    problems: list[str] = []
    signer = signer_from(os.environ, os.environ.get("MEMENTO_SECRET_ENV", ""))
    return ResultStore(find_store(args.dir), on_problem=problems.append, signer=signer), problems


def _selected(store: ResultStore, experiment: str | None) -> list[tuple[Entry, dict[str, Any]]]:
    chosen = []
    for entry in store.iter_entries():
        meta = store.meta(entry)
        if experiment is None or experiment in str(meta.get("experiment", "")):
            chosen.append((entry, meta))
    return chosen


def _format_metrics(metrics: dict[str, Any]) -> str:
    return " ".join(f"{name}={value:.4g}" if isinstance(value, float) else f"{name}={value}" for name, value in metrics.items())


def cmd_list(args: argparse.Namespace) -> int:
    store, problems = _open(args)
    chosen = _selected(store, args.experiment)
    if args.json:
        print(json.dumps([meta for _, meta in chosen], indent=1, default=str))
    else:
        for entry, meta in chosen:
            label = f"{meta.get('experiment', '?')}[{meta.get('test_id', '')}]"
            print(f"{entry.key[:12]}  {label}  {entry.duration:.2f}s  {_format_metrics(dict(entry.metrics))}")
        print(f"{len(chosen)} result(s) in {store.root}")
    _problems(problems)
    return 0


def _one(store: ResultStore, prefix: str) -> Entry:
    keys = store.resolve(prefix)
    if not keys:
        raise CliError(f"no stored result has a key starting with {prefix!r}")
    if len(keys) > 1:
        raise CliError(f"{prefix!r} matches {len(keys)} keys; give more characters")
    entry = store.get(keys[0])
    assert entry is not None
    return entry


def cmd_show(args: argparse.Namespace) -> int:
    store, problems = _open(args)
    entry = _one(store, args.key)
    print(json.dumps(store.meta(entry), indent=1, sort_keys=True, default=str))
    if args.result:
        # Unpickling runs code from the store: only for stores you trust.
        try:
            print(repr(store.load_result(entry)))
        except LookupError as exc:
            raise CliError(str(exc)) from None
    _problems(problems)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    store, problems = _open(args)
    rows = rows_from_store(store, args.experiment)
    for target in args.paths:
        if target == "-":
            if args.format is None:
                raise CliError("exporting to standard output (-) needs --format csv, json or md")
            sys.stdout.write(render(rows, f".{args.format}"))
            continue
        path = Path(target)
        write_export(path, rows)
        print(f"wrote {len(rows)} row(s) to {path}", file=sys.stderr)
    _problems(problems)
    return 0


def cmd_clear(args: argparse.Namespace) -> int:
    store, problems = _open(args)
    if args.experiment is None:
        if not args.yes:
            raise CliError(f"this removes every result in {store.root}; add --yes")
        print(f"removed {store.clear()} result(s)")
    else:
        chosen = _selected(store, args.experiment)
        for entry, _ in chosen:
            store.remove(entry.key)
        store.close()
        print(f"removed {len(chosen)} result(s) of experiments matching {args.experiment!r}")
    _problems(problems)
    return 0


def cmd_checkpoints(args: argparse.Namespace) -> int:
    store, problems = _open(args)
    found = list(iter_checkpoints(store.root))
    for info in found:
        label = info.label.get("nodeid") or info.key[:12]
        print(f"{info.key[:12]}  {label}  {info.describe()}  {info.size / 1e6:.1f} MB")
    print(f"{len(found)} checkpoint(s) left by configurations that have not passed yet")
    _problems(problems)
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    store, problems = _open(args)
    removed = store.compact(older_than=args.older_than, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for path in removed:
        print(f"{verb} {path}")
    print(f"{verb} {len(removed)} file(s); {len(store)} result(s) kept")
    _problems(problems)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="memento", description="Inspect a pytest-memento store without running anything.")
    parser.add_argument("--version", action="version", version=f"pytest-memento {__version__}")
    parser.add_argument("--dir", help="the store (default: $MEMENTO_DIR, else the nearest .memento upwards)")
    commands = parser.add_subparsers(dest="command", required=True)

    listing = commands.add_parser("list", help="list stored results")
    listing.add_argument("--experiment", help="only experiments whose id contains this text")
    listing.add_argument("--json", action="store_true", help="print the metadata as JSON")
    listing.set_defaults(run=cmd_list)

    show = commands.add_parser("show", help="show one stored result's metadata")
    show.add_argument("key", help="the key, or a unique prefix of it")
    show.add_argument("--result", action="store_true", help="also unpickle and print the result (trusted stores only)")
    show.set_defaults(run=cmd_show)

    export = commands.add_parser("export", help=f"write the results table ({', '.join(EXPORT_FORMATS)})")
    export.add_argument("paths", nargs="+", metavar="PATH", help="files to write (format from the extension), or - for standard output")
    export.add_argument("--format", choices=["csv", "json", "md"], help="format for - (standard output)")
    export.add_argument("--experiment", help="only experiments whose id contains this text")
    export.set_defaults(run=cmd_export)

    clear = commands.add_parser("clear", help="remove stored results")
    clear.add_argument("--experiment", help="only experiments whose id contains this text")
    clear.add_argument("--yes", action="store_true", help="confirm removing everything")
    clear.set_defaults(run=cmd_clear)

    checkpoints = commands.add_parser("checkpoints", help="list checkpoints left by interrupted or failed configurations")
    checkpoints.set_defaults(run=cmd_checkpoints)

    gc = commands.add_parser("gc", help="compact segments, remove unreferenced payloads and temp files")
    gc.add_argument("--older-than", type=float, default=3600.0, metavar="SECONDS", help="leave files younger than this (default 3600)")
    gc.add_argument("--dry-run", action="store_true")
    gc.set_defaults(run=cmd_gc)
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
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
