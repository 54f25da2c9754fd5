"""Collection glue: matrix functions become parametrized items, each item
finds its configuration, and ``--memento-shard`` keeps one shard."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from .arguments import argnames_for, check_arguments
from .cases import Case
from .expand import expand
from .hashing import config_hash, config_key, node_key
from .matrix import Config, MatrixError, case_of_config, specs_of
from .pytest_compat import fixture_names
from .pytest_compat import share_locations as share_locations_of
from .shard import shard_of
from .state import ITEM_KEY, SESSION_KEY, ItemState


class MatrixErrorCollector(pytest.Collector):
    """Stands for an experiment whose matrix is invalid: collecting it
    reports the problem, without a traceback from inside the plugin."""

    def __init__(self, *, message: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.message = message

    def collect(self) -> list[pytest.Item | pytest.Collector]:
        raise self.CollectError(self.message)


def _experiment_of(config: pytest.Config, path: Path, func: Any) -> str:
    return config.stash[SESSION_KEY].experiment_id(path, func.__qualname__)


def expand_or_error(collector: pytest.Collector, name: str, obj: object) -> pytest.Collector | None:
    """Expand a matrix function early; None lets pytest collect it as usual."""
    try:
        specs = specs_of(obj)
    except Exception:  # an object whose attribute access raises
        return None
    if not specs:
        return None
    experiment = _experiment_of(collector.config, collector.path, obj)
    try:
        cases = expand(experiment, specs)
    except MatrixError as exc:
        return MatrixErrorCollector.from_parent(collector, name=name, message=str(exc))
    collector.config.stash[SESSION_KEY].expansions[obj] = (experiment, cases)
    return None


def expanded(config: pytest.Config, path: Path, func: Any) -> tuple[str, list[Case]]:
    """The expansion made by :func:`expand_or_error` (or a fresh one)."""
    found = config.stash[SESSION_KEY].expansions.pop(func, None)
    if found is not None:
        return found
    experiment = _experiment_of(config, path, func)
    try:
        return experiment, expand(experiment, specs_of(func))
    except MatrixError as exc:
        raise pytest.Collector.CollectError(str(exc)) from None


def _own_arguments(func: Any) -> list[str]:
    """The arguments the function itself asks for (no defaults, no self)."""
    try:
        parameters = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    names = [p.name for p in parameters if p.kind in kinds and p.default is p.empty]
    return names[1:] if names[:1] == ["self"] else names


def _parametrized_names(metafunc: pytest.Metafunc) -> set[str]:
    names: set[str] = set()
    for mark in metafunc.definition.iter_markers("parametrize"):
        argnames = mark.args[0] if mark.args else mark.kwargs.get("argnames", ())
        if isinstance(argnames, str):
            argnames = [name.strip() for name in argnames.split(",")]
        names.update(str(name) for name in argnames)
    return names


def parametrize(metafunc: pytest.Metafunc) -> None:
    """Parametrize a matrix function with its configurations."""
    experiment, cases = expanded(metafunc.config, metafunc.definition.path, metafunc.function)
    fixtures = fixture_names(metafunc)
    try:
        if fixtures is not None:
            # Names a @pytest.mark.parametrize gives are refused per item, with their own message.
            fixtures |= _parametrized_names(metafunc)
            check_arguments(cases, _own_arguments(metafunc.function), fixtures.__contains__, experiment)
        argnames = argnames_for(cases, metafunc.fixturenames, experiment)
    except MatrixError as exc:
        raise pytest.Collector.CollectError(str(exc)) from None
    values, ids = param_sets(cases, argnames, experiment)
    metafunc.config.stash[SESSION_KEY].remember_cases(experiment, cases)
    metafunc.parametrize(argnames, values, ids=ids)


def param_sets(cases: Sequence[Case], argnames: Sequence[str], experiment: str) -> tuple[list[Any], list[str]]:
    """Values of ``argnames`` for each case, and the ids (``pytest.param``
    only where a case carries marks: it is the costly part at 100k items)."""
    values: list[Any] = []
    ids: list[str] = []
    for case in cases:
        case.experiment = experiment
        case.key = config_key(experiment, case.encoded, case.version)
        case.config_hash = config_hash(experiment, case.encoded)
        row = [
            case.config if name == "config" else case.params[name] if name in case.params else case.settings[name]
            for name in argnames
        ]
        if case.marks:
            values.append(pytest.param(*row, marks=case.marks))
        else:
            values.append(tuple(row))
        ids.append(case.id)
    return values, ids


def attach_case(item: pytest.Item) -> None:
    """Give a collected matrix item its case (in ``item.stash``), found
    through its ``config`` value (no hidden fixture: each one would cost a
    fixture set-up per item)."""
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return
    config = callspec.params.get("config")
    case = case_of_config(config) if isinstance(config, Config) else None
    if isinstance(case, Case):
        item.stash[ITEM_KEY] = ItemState(case=case)


def forget_expansions(config: pytest.Config) -> None:
    config.stash[SESSION_KEY].expansions.clear()


def share_locations(items: list[pytest.Item]) -> None:
    """Each matrix function's file and line found once, not once per item."""
    share_locations_of(items, lambda item: ITEM_KEY in item.stash)


def case_of(item: pytest.Item) -> Case | None:
    state = item.stash.get(ITEM_KEY, None)
    return None if state is None else state.case


def keep_shard(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect every item outside this process's shard."""
    shard = config.stash[SESSION_KEY].settings.shard
    if shard is None or not items:
        return
    keys = []
    for item in items:
        case = case_of(item)
        keys.append(case.key if case is not None else node_key(item.nodeid))
    chosen = shard_of(keys, *shard)
    deselected = [item for item, keep in zip(items, chosen, strict=True) if not keep]
    if deselected:
        items[:] = [item for item, keep in zip(items, chosen, strict=True) if keep]
        config.hook.pytest_deselected(items=deselected)
