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
"""

from __future__ import annotations

import argparse
import difflib
import functools
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .aggregate import SPREADS, group_records
from .checkpoint import iter_checkpoints
from .compaction import SAFE_AGE, compact
from .files import atomic_write
from .html_report import write_report
from .layout import StoreError
from .paper import FORMATS as PAPER_FORMATS
from .paper import Layout, render_tables
from .project import experiment_exists, find_project
from .records import Record, records_from_entries
from .remote import RemoteError
from .remote_store import StoreLocation, open_store, store_exists
from .segment_format import Entry
from .settings import SettingsError, Sources, resolve_secret, resolve_store
from .store import ResultStore
from .tables import EXPORT_FORMATS, render, rows_from_entries, write_export


class CliError(Exception):
    """A usage problem, reported as ``memento: error: ...`` with exit code 2."""


def _sources(explicit: str | None) -> Sources:
    project = find_project(Path.cwd())
    cli = {"memento_dir": explicit} if explicit else {}
    return Sources(cli, project.ini, os.environ, project.rootdir, Path.cwd())


def find_store(explicit: str | None, *, create: bool = False) -> Path:
    """The directory of the store the plugin would use from here (for a
    URL, its cache directory); see :func:`find_location`."""
    return find_location(explicit, create=create).path


def find_location(explicit: str | None, *, create: bool = False) -> StoreLocation:
    """The store the plugin would use from here: ``--dir``, then
    ``MEMENTO_DIR``, then ini ``memento_dir``, then ``<rootdir>/.memento``
    (rootdir found as pytest finds it; see :mod:`.project`); a directory or
    an fsspec URL, which must hold a store."""
    sources = _sources(explicit)
    try:
        location = resolve_store(sources, create=create)
    except SettingsError as exc:
        raise CliError(str(exc)) from None
    if location.url is not None:
        try:
            found = store_exists(location)
        except StoreError as exc:
            raise CliError(str(exc)) from None
        if not found:
            raise CliError(f"{location.shown} is not a pytest-memento store (no README.md or segments there)")
        return location
    path = location.path
    chosen = explicit or os.environ.get("MEMENTO_DIR", "").strip() or sources.ini_text("memento_dir")
    if not chosen and not path.exists():
        raise CliError(f"no .memento store here or in a parent directory (looked for {path}); pass --dir PATH")
    if not (path / "CACHEDIR.TAG").is_file():
        raise CliError(f"{path} is not a pytest-memento store (no CACHEDIR.TAG); pass --dir PATH")
    return location


def _problems(messages: list[str]) -> None:
    """Print what reading the store met (damaged, foreign or unreadable
    files); ``main`` then exits with status 1."""
    for message in dict.fromkeys(messages):
        print(f"memento: warning: {message}", file=sys.stderr)


def _open(args: argparse.Namespace) -> tuple[ResultStore, list[str]]:
    """The store, with the secret resolved exactly as the plugin resolves it
    (environment, then the ini file pytest would read from here)."""
    problems: list[str] = []
    location = find_location(args.dir)
    signer = resolve_secret(_sources(args.dir))
    args.store_problems = problems  # main() exits 1 when the store had problems
    return open_store(location, on_problem=problems.append, signer=signer), problems


def _refused_note(store: ResultStore) -> None:
    refused = store.scan().refused
    if refused:
        print(
            f"memento: note: {sum(map(len, refused.values()))} record(s) of {len(refused)} key(s) are not signed "
            "with this store's secret; they are ignored (never shown, exported or unpickled)",
            file=sys.stderr,
        )


def _conditions(pairs: list[str] | None) -> dict[str, str]:
    conditions = {}
    for pair in pairs or []:
        name, equals, value = pair.partition("=")
        if not equals or not name:
            raise CliError(f"--where expects name=value, got {pair!r}")
        conditions[name] = value
    return conditions


def _value_matches(stored: Any, wanted: str) -> bool:
    """``wanted`` as the user writes it: the stored text, or the short name
    ids show (``GaussianNB`` for ``sklearn.naive_bayes.GaussianNB``, a file
    name for a path)."""
    text = _text(stored)
    if text == wanted:
        return True
    return isinstance(stored, str) and (text.rsplit(".", 1)[-1] == wanted or text.rsplit("/", 1)[-1] == wanted)


def _matches(config: Any, conditions: dict[str, str]) -> bool:
    if not isinstance(config, dict):
        return not conditions
    return all(name in config and _value_matches(config[name], value) for name, value in conditions.items())


def _check_conditions(metas: list[dict[str, Any]], conditions: dict[str, str], matched: int) -> None:
    """A condition on no parameter is an error; one that matches nothing says so."""
    configs: list[dict[str, Any]] = [meta["config"] for meta in metas if isinstance(meta.get("config"), dict)]
    known = sorted({name for config in configs for name in config})
    for name, value in conditions.items():
        if configs and name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise CliError(
                f"--where {name}={value}: no stored configuration has a parameter {name!r} (parameters: {', '.join(known)}){hint}"
            )
    if conditions and not matched:
        for name, value in conditions.items():
            stored = [config[name] for config in configs if name in config]
            values = sorted({_text(v) for v in stored})[:10]
            if not any(_value_matches(v, value) for v in stored):
                print(f"memento: --where {name}={value} matches nothing (values: {', '.join(values)})", file=sys.stderr)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@functools.cache
def _experiment_exists(experiment: str) -> bool | None:
    return experiment_exists(find_project(Path.cwd()).rootdir, experiment)


def _selected(
    store: ResultStore,
    experiment: str | None,
    where: list[str] | None = None,
    stale: bool = False,
    deleted: bool = False,
) -> list[tuple[Entry, dict[str, Any]]]:
    conditions = _conditions(where)
    chosen = []
    considered: list[dict[str, Any]] = []
    for entry in store.iter_entries():
        try:
            meta = store.meta(entry)
        except LookupError as exc:  # e.g. its segment became unreadable since it was indexed
            store.on_problem(str(exc))
            continue
        name = str(meta.get("experiment", ""))
        if experiment is not None and experiment not in name:
            continue
        considered.append(meta)
        if not _matches(meta.get("config"), conditions):
            continue
        if stale and not store.is_stale(entry, name):
            continue
        if deleted and _experiment_exists(name) is not False:
            continue
        chosen.append((entry, meta))
    _check_conditions(considered, conditions, len(chosen))
    return chosen


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit} ago"
    return f"{max(seconds, 0):.0f}s ago"


def _status(store: ResultStore, entry: Entry, experiment: str) -> str:
    if _experiment_exists(experiment) is False:
        return "deleted"  # its module or function is gone from the project
    stale = store.is_stale(entry, experiment)
    return "stale" if stale else "current" if stale is False else "unknown"


def _format_metrics(metrics: dict[str, Any]) -> str:
    return " ".join(
        f"{name}={value:.4g}" if isinstance(value, float) else f"{name}={value}" for name, value in metrics.items()
    )


def cmd_list(args: argparse.Namespace) -> int:
    store, problems = _open(args)
    chosen = _selected(store, args.experiment, args.where, args.stale)
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
    _refused_note(store)
    _problems(problems)
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
    store, problems = _open(args)
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
    _problems(problems)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    store, problems = _open(args)
    rows = rows_from_entries(
        _selected(store, args.experiment),
        lambda entry, meta: "deleted" if _experiment_exists(str(meta.get("experiment", ""))) is False else "stored",
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
    _refused_note(store)
    _problems(problems)
    return 0


def cmd_clear(args: argparse.Namespace) -> int:
    store, problems = _open(args)
    if args.experiment is None and not args.where and not args.stale:
        if not args.yes:
            raise CliError(f"this removes every result in {store.location}; add --yes")
        # del records naming what was seen (a write that fails raises: nothing
        # is reported removed), then the space of finished segments back.
        count = store.clear()
        store.close()
        compact(store, older_than=SAFE_AGE)
        print(f"removed {count} result(s)")
    else:
        chosen = _selected(store, args.experiment, args.where, args.stale)
        store.remove_many(entry.key for entry, _ in chosen)
        store.close()
        print(f"removed {len(chosen)} result(s)")
    _problems(problems)
    return 0


def cmd_checkpoints(args: argparse.Namespace) -> int:
    store, problems = _open(args)
    store.sync_checkpoints()
    found = list(iter_checkpoints(store.root))
    for info in found:
        label = info.label.get("nodeid") or info.key[:12]
        print(f"{info.key[:12]}  {label}  {info.describe()}  {info.size / 1e6:.1f} MB")
    print(f"{len(found)} checkpoint(s) left by configurations that have not passed yet")
    _problems(problems)
    return 0


def cmd_slurm(args: argparse.Namespace) -> int:
    from .slurm import ArrayJob, SlurmError, submit, wait

    location = find_location(args.dir, create=True)
    if location.url is not None:
        raise CliError(
            f"memento slurm needs the store on the cluster's shared filesystem (its scripts and logs go there), "
            f"not {location.shown}; run `pytest --memento-dir {location.shown} --memento-shard auto` in your own job"
        )
    store = location.path.resolve()
    job = ArrayJob(
        pytest_args=tuple(args.pytest_args),
        store=store,
        tasks=args.tasks,
        workdir=Path.cwd(),
        time_limit=args.time,
        partition=args.partition,
        grace=args.grace,
        extra_sbatch=tuple(args.sbatch or ()),
    )
    if args.script_only:
        sys.stdout.write(job.script())
        return 0
    try:
        job_id = submit(job)
        print(f"submitted job array {job_id} ({args.tasks} tasks); logs in {store / 'slurm'}", file=sys.stderr)
        if args.no_wait:
            print(job_id)
            return 0
        wait(job_id, timeout=args.timeout)
    except SlurmError as exc:
        raise CliError(str(exc)) from None
    rows = rows_from_entries(_selected(ResultStore(store), None))
    sys.stdout.write(render(rows, ".md"))
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    """Copy the results and checkpoints of SRC stores into DEST (created if missing)."""
    from .merging import merge_stores

    signer = resolve_secret(_sources(args.dir))
    problems: list[str] = []
    target = _merge_location(args.dest)
    dest = open_store(target, on_problem=problems.append, signer=signer)
    try:
        dest.create()
    except StoreError as exc:
        raise CliError(f"merge: {exc}") from None
    sources = []
    for text in args.sources:
        location = _merge_location(text)
        try:
            found = store_exists(location)
        except StoreError as exc:
            raise CliError(f"merge: {exc}") from None
        if not found:
            what = "no CACHEDIR.TAG" if location.url is None else "no README.md or segments there"
            raise CliError(f"merge: {location.shown} is not a pytest-memento store ({what})")
        if _same_store(location, target):
            raise CliError(f"merge: {location.shown} is the destination")
        sources.append(open_store(location, on_problem=problems.append, signer=signer))
    try:
        report = merge_stores(dest, sources)
    finally:
        dest.close()
        for source in sources:
            source.close()
    for line in report.lines():
        print(line)
    _problems(problems)
    return 0


def _merge_location(text: str) -> StoreLocation:
    """A store named on merge's command line (a directory or a URL, with
    the storage options and cache directory resolved as for ``--dir``)."""
    try:
        return resolve_store(_sources(text), create=False)
    except SettingsError as exc:
        raise CliError(f"merge: {exc}") from None


def _same_store(one: StoreLocation, other: StoreLocation) -> bool:
    if one.url is not None or other.url is not None:
        return one.path == other.path
    return one.path.resolve() == other.path.resolve()


def _forget(store: ResultStore, chosen: list[tuple[Entry, dict[str, Any]]], dry_run: bool) -> int:
    """Remove the chosen results (unless ``dry_run``); how many there were."""
    if not dry_run:
        for entry, _ in chosen:
            store.remove(entry.key)
        store.close()
    return len(chosen)


def cmd_gc(args: argparse.Namespace) -> int:
    store, problems = _open(args)
    forgotten = _forget(store, _selected(store, None, None, stale=True), args.dry_run) if args.stale else 0
    deleted = _forget(store, _selected(store, None, None, deleted=True), args.dry_run) if args.deleted else 0
    removed = compact(store, older_than=args.older_than, dry_run=args.dry_run)
    now = time.time()
    store.sync_checkpoints()
    for info in iter_checkpoints(store.root):
        # Orphans: their configuration has a result now, or nothing saved them
        # for long (by the file's time; never one saved in the last SAFE_AGE).
        if info.modified >= now - SAFE_AGE:
            continue
        if store.get(info.key) is not None or info.modified < now - args.older_than:
            removed.append(info.path)
            if not args.dry_run:
                info.path.unlink(missing_ok=True)
                store.unpublish(info.path)
    verb = "would remove" if args.dry_run else "removed"
    for path in removed:
        print(f"{verb} {store.where(path)}")
    if args.stale:
        print(f"{'would forget' if args.dry_run else 'forgot'} {forgotten} stale result(s)")
    if args.deleted:
        print(f"{'would forget' if args.dry_run else 'forgot'} {deleted} result(s) of deleted experiments")
    print(f"{verb} {len(removed)} file(s); {len(store)} result(s) kept")
    _problems(problems)
    return 0


def _names(text: str | None, option: str) -> tuple[str, ...] | None:
    """``a,b`` -> ("a", "b"); None when the option is not given."""
    if text is None:
        return None
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if len(set(names)) != len(names):
        raise CliError(f"{option}: a name is given twice in {text!r}")
    return names


def _paper_records(args: argparse.Namespace) -> tuple[list[Record], list[str]]:
    store, problems = _open(args)
    records = list(records_from_entries(_selected(store, args.experiment)))
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
    _problems(problems)
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
    _problems(problems)
    return 0


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
