"""What every ``memento`` command shares: the store it works on, found by
the rule the plugin uses and opened with the secret the plugin resolves;
:class:`CliError`, the usage error every command raises; and the warnings
that reading the store met. No pytest in here.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .layout import StoreError
from .project import find_project
from .remote_store import StoreLocation, open_store, store_exists
from .settings import resolve_secret, resolve_store
from .sources import SettingsError, Sources
from .store import ResultStore

__all__ = ["CliError", "find_location", "find_store", "note_refused", "open_for", "print_problems", "sources_for"]


class CliError(Exception):
    """A usage problem, reported as ``memento: error: ...`` with exit code 2."""


def sources_for(explicit: str | None) -> Sources:
    """Where settings come from for a command run here (``explicit``: its ``--dir``)."""
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
    sources = sources_for(explicit)
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


def print_problems(messages: list[str]) -> None:
    """Print what reading the store met (damaged, foreign or unreadable
    files); ``main`` then exits with status 1."""
    for message in dict.fromkeys(messages):
        print(f"memento: warning: {message}", file=sys.stderr)


def open_for(args: argparse.Namespace) -> tuple[ResultStore, list[str]]:
    """The store, with the secret resolved exactly as the plugin resolves it
    (environment, then the ini file pytest would read from here)."""
    problems: list[str] = []
    location = find_location(args.dir)
    signer = resolve_secret(sources_for(args.dir))
    args.store_problems = problems  # main() exits 1 when the store had problems
    return open_store(location, on_problem=problems.append, signer=signer), problems


def note_refused(store: ResultStore) -> None:
    refused = store.scan().refused
    if refused:
        print(
            f"memento: note: {sum(map(len, refused.values()))} record(s) of {len(refused)} key(s) are not signed "
            "with this store's secret; they are ignored (never shown, exported or unpickled)",
            file=sys.stderr,
        )
