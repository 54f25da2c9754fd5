"""The ``memento`` commands that read a store: ``list``, ``show``,
``export`` and ``checkpoints``. Only ``show --result`` unpickles anything;
listing and exporting read JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from .checkpoint import iter_checkpoints
from .cli_select import experiment_exists_here, selected
from .cli_store import CliError, note_refused, open_for, print_problems
from .segment_format import Entry
from .store import ResultStore
from .tables import render, rows_from_entries, write_export

__all__ = ["cmd_checkpoints", "cmd_export", "cmd_list", "cmd_show"]


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit} ago"
    return f"{max(seconds, 0):.0f}s ago"


def _status(store: ResultStore, entry: Entry, experiment: str) -> str:
    if experiment_exists_here(experiment) is False:
        return "deleted"  # its module or function is gone from the project
    stale = store.is_stale(entry, experiment)
    return "stale" if stale else "current" if stale is False else "unknown"


def _format_metrics(metrics: dict[str, Any]) -> str:
    return " ".join(
        f"{name}={value:.4g}" if isinstance(value, float) else f"{name}={value}" for name, value in metrics.items()
    )


def cmd_list(args: argparse.Namespace) -> int:
    store, problems = open_for(args)
    chosen = selected(store, args.experiment, args.where, args.stale)
    now = time.time()
    if args.json:
        records = []
        for entry, meta in chosen:
            meta["status"] = _status(store, entry, str(meta.get("experiment", "")))
            records.append(meta)
        print(json.dumps(records, indent=1, default=str))
    else:
        for entry, meta in chosen:
            experiment = str(meta.get("experiment", "?"))
            label = f"{experiment}[{meta.get('test_id', '')}]"
            status = _status(store, entry, experiment)
            print(
                f"{entry.key[:12]}  {label}  {status}  {_age(now - entry.time)}  {entry.duration:.2f}s  {_format_metrics(dict(entry.metrics))}"
            )
        print(f"{len(chosen)} result(s) in {store.location}")
    note_refused(store)
    print_problems(problems)
    return 0


def _one(store: ResultStore, prefix: str) -> Entry:
    keys = store.resolve(prefix)
    if not keys:
        raise CliError(f"no stored result has a key starting with {prefix!r}")
    if len(keys) > 1:
        raise CliError(f"{prefix!r} matches {len(keys)} keys; give more characters")
    entry = store.get(keys[0])
    if entry is None:  # its payload is missing or damaged
        problem = store.problem_of(keys[0]) or "it cannot be used"
        raise CliError(f"the stored result {keys[0][:16]} is unusable: {problem}")
    return entry


def cmd_show(args: argparse.Namespace) -> int:
    store, problems = open_for(args)
    entry = _one(store, args.key)
    try:
        meta = store.meta(entry)
    except LookupError as exc:
        raise CliError(str(exc)) from None
    print(json.dumps(meta, indent=1, sort_keys=True, default=str))
    if args.result:
        # Unpickling runs code from the store: only for stores you trust.
        # With a secret, load_result refuses anything the secret did not sign.
        try:
            print(repr(store.load_result(entry)))
        except LookupError as exc:
            raise CliError(str(exc)) from None
    print_problems(problems)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    store, problems = open_for(args)
    rows = rows_from_entries(
        selected(store, args.experiment),
        lambda entry, meta: "deleted" if experiment_exists_here(str(meta.get("experiment", ""))) is False else "stored",
    )
    for target in args.paths:
        if target == "-":
            if args.format is None:
                raise CliError("exporting to standard output (-) needs --format csv, json or md")
            sys.stdout.write(render(rows, f".{args.format}"))
            continue
        path = Path(target)
        write_export(path, rows)
        print(f"wrote {len(rows)} row(s) to {path}", file=sys.stderr)
    note_refused(store)
    print_problems(problems)
    return 0


def cmd_checkpoints(args: argparse.Namespace) -> int:
    store, problems = open_for(args)
    store.sync_checkpoints()
    found = list(iter_checkpoints(store.root))
    for info in found:
        label = info.label.get("nodeid") or info.key[:12]
        print(f"{info.key[:12]}  {label}  {info.describe()}  {info.size / 1e6:.1f} MB")
    print(f"{len(found)} checkpoint(s) left by configurations that have not passed yet")
    print_problems(problems)
    return 0
