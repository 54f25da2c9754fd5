"""Which function arguments an experiment's cases feed: the names to
parametrize, and the error for an argument that is none of a parameter, a
setting or a fixture (a misspelled parameter). No pytest: fixtures are asked
about through a callable.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence

from .cases import Case
from .matrix import RESERVED, MatrixError

__all__ = ["argnames_for", "check_arguments"]


def argnames_for(cases: Sequence[Case], requested: Sequence[str], experiment: str) -> list[str]:
    """Names to parametrize: ``config`` (always: each item finds its case
    through it) and every parameter or setting the function, or one of its
    fixtures, asks for."""
    names = ["config"]
    defined: dict[str, None] = {}
    for case in cases:
        defined.update(dict.fromkeys(case.params))
        defined.update(dict.fromkeys(case.settings))
    for name in defined:
        if name not in requested:
            continue
        for case in cases:
            if name not in case.params and name not in case.settings:
                raise MatrixError(
                    f"{experiment}: the function asks for {name!r}, which configuration "
                    f"[{case.id}] does not define; use config.get({name!r}) instead"
                )
        names.append(name)
    return names


def check_arguments(
    cases: Sequence[Case], arguments: Sequence[str], is_fixture: Callable[[str], bool], experiment: str
) -> None:
    """Raise a :class:`MatrixError` for a function argument that is neither
    a parameter, a setting nor a fixture (a misspelled parameter), naming
    the matrix's names and the closest match."""
    params = list(dict.fromkeys(name for case in cases for name in case.params))
    settings = list(dict.fromkeys(name for case in cases for name in case.settings))
    for name in arguments:
        if name in RESERVED or name in params or name in settings or is_fixture(name):
            continue
        known = f"parameters: {', '.join(params) or 'none'}"
        if settings:
            known += f"; settings: {', '.join(settings)}"
        close = difflib.get_close_matches(name, [*params, *settings], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise MatrixError(f"{experiment}: argument {name!r} is not a parameter, a setting or a fixture ({known}){hint}")
