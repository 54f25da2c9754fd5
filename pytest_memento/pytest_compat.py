"""The only private pytest use in pytest-memento, in one place.

Checked with pytest 8.0 to 9.2; ``tests/test_pytest_compat.py`` fails
loudly when a pytest release breaks either use.

1. Tearing down for a cached item. A cached configuration is reported
   without running pytest's protocol (no fixture set up, no call). What
   earlier items set up and the next item does not need must still be torn
   down at the right moment, as pytest's own runner does after each item.
   pytest has no public API for "tear down up to the next item"; calling
   every plugin's ``pytest_runtest_teardown`` would run teardown hooks whose
   setup hooks never ran for this item. So the built-in ``runner`` plugin's
   ``pytest_runtest_teardown`` is looked up (by its registered name, which
   is public through ``pluginmanager.get_plugin``) and called alone.
2. Which argument names have a fixture definition, at collection: an
   experiment's misspelled parameter is one clear collection error instead
   of pytest's "fixture not found" once per configuration. pytest keeps the
   definitions it found for a function in ``Metafunc._arg2fixturedefs``
   (what its own ``parametrize`` reads); there is no public accessor.
3. The terminal width for the results table: ``TerminalReporter`` exposes
   no public width; ``config.get_terminal_writer()`` is public and its
   ``fullwidth`` is what pytest itself uses for separator lines.
4. The fixture definitions an item uses, for its code fingerprint: the
   functions behind the fixtures it requests, transitively (its fixture
   closure), wherever they are defined. ``item.fixturenames`` (the closure)
   is public; the definitions behind the names are in the private
   ``item._fixtureinfo.name2fixturedefs`` (name -> the visible definitions,
   the one used last); ``FixtureDef.func``, ``.argname`` and ``.argnames``
   are its documented fields. Checked with pytest 8.0.0 and 9.2.0.
5. Whether the terminal is at the start of a line, for the time-left line
   (:mod:`.eta_hooks`), so it never lands in the middle of a line of
   progress letters: the terminal writer (public ``get_terminal_writer``)
   counts ``width_of_current_line``, what pytest's own progress
   ``[ 50%]`` is placed by.
6. One location per experiment function. pytest computes an item's
   ``location`` (file, line, name: what every report carries) from its
   function's source position, again for each item: on a 10,000-item grid
   that is about a tenth of a cached rerun. Every configuration of one
   matrix function has the same file and line, so they are found once per
   function and, once collection has selected the items (after ``-k``,
   ``-m``, the shard and other plugins' ``pytest_collection_modifyitems``),
   the item's ``location`` (a ``functools.cached_property``
   of ``pytest.Item``, documented as the tuple it returns) is filled in
   with the item's own name (its public ``getmodpath()``). Done only for
   plain ``pytest.Function`` items whose ``reportinfo`` and ``location``
   are pytest's own; the test compares every shared location with the one
   pytest computes. Read against the pytest 8.0.0 and 9.2.0 sources.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest

__all__ = [
    "builtin_teardown",
    "fixture_functions",
    "fixture_names",
    "line_width",
    "share_locations",
    "terminal_width",
]

#: Width used when the terminal writer cannot tell (no terminal plugin).
DEFAULT_WIDTH = 100


def builtin_teardown(config: pytest.Config) -> Callable[..., Any]:
    """pytest's own ``pytest_runtest_teardown`` (of its ``runner`` plugin)."""
    builtin = config.pluginmanager.get_plugin("runner")
    teardown: Callable[..., Any] | None = getattr(builtin, "pytest_runtest_teardown", None)
    if teardown is None:  # pragma: no cover - pytest 8.0 to 9.2 all have it
        raise RuntimeError(
            "pytest-memento: this pytest has no 'runner' plugin with pytest_runtest_teardown; "
            "cached items cannot tear down fixtures. Please report this with your pytest version."
        )
    return teardown


def fixture_names(metafunc: pytest.Metafunc) -> set[str] | None:
    """Names with a fixture definition visible to ``metafunc``'s function,
    or None when this pytest does not say (then nothing is checked)."""
    found = getattr(metafunc, "_arg2fixturedefs", None)
    return set(found) if isinstance(found, dict) else None


def fixture_functions(item: pytest.Item) -> list[Callable[..., Any]]:
    """The functions of the fixtures ``item`` uses (its whole fixture
    closure), in closure order. Of a name defined at several levels, the
    definition that wins, plus the ones it overrides when it requests its
    own name (``def data(data): ...``)."""
    info = getattr(item, "_fixtureinfo", None)
    by_name = getattr(info, "name2fixturedefs", None)
    if not isinstance(by_name, dict):
        raise RuntimeError(
            f"pytest-memento: pytest {pytest.__version__} keeps no fixture definitions on items "
            "(item._fixtureinfo.name2fixturedefs); fixtures cannot be fingerprinted. Please report this."
        )
    found: list[Callable[..., Any]] = []
    for name in getattr(item, "fixturenames", by_name):
        definitions = list(by_name.get(name, ()))
        while definitions:
            definition = definitions.pop()
            func = getattr(definition, "func", None)
            if func is not None:
                found.append(func)
            if name not in getattr(definition, "argnames", ()):
                break
    return found


def terminal_width(config: pytest.Config) -> int:
    try:
        return int(config.get_terminal_writer().fullwidth)
    except Exception:  # no terminal writer (terminal plugin disabled)
        return DEFAULT_WIDTH


def line_width(config: pytest.Config) -> int | None:
    """How much of the terminal's current line is written (0 at the start
    of a line), or None when this pytest does not say."""
    try:
        width = config.get_terminal_writer().width_of_current_line
    except Exception:  # no terminal writer (terminal plugin disabled)
        return None
    return width if isinstance(width, int) else None


_PYTEST_LOCATION = pytest.Item.__dict__.get("location")
_PYTEST_REPORTINFO = getattr(pytest.Function, "reportinfo", None)


def share_locations(items: list[pytest.Item], matrix: Callable[[pytest.Item], bool]) -> None:
    """Fill in ``item.location`` for the ``matrix`` items of ``items`` from
    the file and line found once per function (see the module docstring)."""
    if not isinstance(_PYTEST_LOCATION, functools.cached_property):
        return
    found: dict[Any, tuple[str, int | None]] = {}
    for item in items:
        if type(item) is not pytest.Function or type(item).reportinfo is not _PYTEST_REPORTINFO:
            continue
        if "location" in item.__dict__ or not matrix(item):
            continue
        function = item.function
        try:
            place = found.get(function)
        except TypeError:  # an unhashable callable: pytest's own way
            continue
        if place is None:
            relpath, lineno, _name = item.location
            found[function] = (relpath, lineno)
            continue
        item.__dict__["location"] = (*place, item.getmodpath())
