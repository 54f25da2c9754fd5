"""The ``memento`` commands that change stores or fill them: ``clear``,
``gc`` (compaction, stale and deleted results, orphaned checkpoints),
``merge`` and ``slurm``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from .checkpoint import iter_checkpoints
from .cli_select import selected
from .cli_store import CliError, find_location, open_for, print_problems, sources_for
from .compaction import SAFE_AGE, compact
from .layout import StoreError
from .remote_store import StoreLocation, open_store, store_exists
from .segment_format import Entry
from .settings import resolve_secret, resolve_store
from .sources import SettingsError
from .store import ResultStore
from .tables import render, rows_from_entries

__all__ = ["cmd_clear", "cmd_gc", "cmd_merge", "cmd_slurm"]


def cmd_clear(args: argparse.Namespace) -> int:
    store, problems = open_for(args)
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
        chosen = selected(store, args.experiment, args.where, args.stale)
        store.remove_many(entry.key for entry, _ in chosen)
        store.close()
        print(f"removed {len(chosen)} result(s)")
    print_problems(problems)
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
    rows = rows_from_entries(selected(ResultStore(store), None))
    sys.stdout.write(render(rows, ".md"))
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    """Copy the results and checkpoints of SRC stores into DEST (created if missing)."""
    from .merging import merge_stores

    signer = resolve_secret(sources_for(args.dir))
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
    print_problems(problems)
    return 0


def _merge_location(text: str) -> StoreLocation:
    """A store named on merge's command line (a directory or a URL, with
    the storage options and cache directory resolved as for ``--dir``)."""
    try:
        return resolve_store(sources_for(text), create=False)
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
    store, problems = open_for(args)
    forgotten = _forget(store, selected(store, None, None, stale=True), args.dry_run) if args.stale else 0
    deleted = _forget(store, selected(store, None, None, deleted=True), args.dry_run) if args.deleted else 0
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
    print_problems(problems)
    return 0
