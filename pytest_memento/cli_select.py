"""Which stored results a ``memento`` command works on: ``--experiment``
text, ``--where NAME=VALUE`` conditions (values as the user writes them,
or as test ids show them), ``--stale`` and experiments gone from the
project. Reads metadata only; never unpickles.
"""

from __future__ import annotations

import difflib
import functools
import json
import sys
from pathlib import Path
from typing import Any

from .cli_store import CliError
from .project import experiment_exists, find_project
from .segment_format import Entry
from .store import ResultStore

__all__ = ["experiment_exists_here", "selected"]


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
def experiment_exists_here(experiment: str) -> bool | None:
    """Whether ``experiment`` is still in the project found from here (None: cannot tell)."""
    return experiment_exists(find_project(Path.cwd()).rootdir, experiment)


def selected(
    store: ResultStore,
    experiment: str | None,
    where: list[str] | None = None,
    stale: bool = False,
    deleted: bool = False,
) -> list[tuple[Entry, dict[str, Any]]]:
    """The live entries (with their metadata) the options choose, sorted by key."""
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
        if deleted and experiment_exists_here(name) is not False:
            continue
        chosen.append((entry, meta))
    _check_conditions(considered, conditions, len(chosen))
    return chosen
