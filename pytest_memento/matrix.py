"""The ``matrix`` decorator, its specs as written, and ``Config``.

:mod:`.expand` turns the specs into configurations. Every problem found
there is a :class:`MatrixError` whose message names the experiment and the
key at fault, which the plugin turns into a collection error without a
traceback. pytest is imported only lazily (to mark the function).
"""

from __future__ import annotations

import itertools
import os
import types
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

__all__ = ["MATRICES_ATTR", "Config", "MatrixError", "MatrixSpec", "case_of_config", "matrix", "specs_of"]

F = TypeVar("F", bound=Callable[..., Any])

#: Attribute holding the specs on a decorated function.
MATRICES_ATTR = "__memento_matrices__"
#: Names a parameter or setting may not take.
RESERVED = frozenset({"config", "checkpoint", "request"})
#: Largest grid we agree to expand (before exclusion).
MAX_GRID = 2_000_000


class MatrixError(ValueError):
    """A matrix definition is invalid; the message says where and why."""


class Config(Mapping[str, Any]):
    """Read-only mapping of one configuration, with attribute access.

    ``config.seed`` and ``config["seed"]`` are the same value. Every name a
    parameter or setting can take reads its value, ``_data`` and ``items``
    included: the mapping's own state is only ever read through
    ``object.__getattribute__`` (see :func:`case_of_config`).
    """

    __slots__ = ("_case", "_data")

    def __init__(self, data: Mapping[str, Any], case: Any = None) -> None:
        object.__setattr__(self, "_data", dict(data))
        # The configuration this is of (for the plugin; not pickled).
        object.__setattr__(self, "_case", case)

    def __getitem__(self, name: str) -> Any:
        return _data_of(self)[name]

    def __iter__(self) -> Iterator[str]:
        return iter(_data_of(self))

    def __len__(self) -> int:
        return len(_data_of(self))

    def __contains__(self, name: object) -> bool:
        return name in _data_of(self)

    def __getattribute__(self, name: str) -> Any:
        # Values win over the mapping's own methods and state: a parameter
        # named ``items``, ``values`` or ``_data`` is ``config.<name>`` too.
        data = _data_of(self)
        if name in data:
            return data[name]
        if name in _INTERNALS:
            raise AttributeError(f"config has no {name!r} (it has {', '.join(data) or 'nothing'})")
        return object.__getattribute__(self, name)

    def __getattr__(self, name: str) -> Any:
        known = ", ".join(_data_of(self)) or "nothing"
        raise AttributeError(f"config has no {name!r} (it has {known})")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return _data_of(self) == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError("config is read-only")

    def __delattr__(self, name: str) -> None:
        raise TypeError("config is read-only")

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={value!r}" for name, value in _data_of(self).items())
        return f"Config({inner})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Config, (_data_of(self),))


#: The slots of :class:`Config`: never returned as attributes.
_INTERNALS = frozenset(Config.__slots__)


def _data_of(config: Config) -> dict[str, Any]:
    data: dict[str, Any] = object.__getattribute__(config, "_data")
    return data


def case_of_config(config: Config) -> Any:
    """The case a :class:`Config` was made for (None for one made by hand)."""
    return object.__getattribute__(config, "_case")


class MatrixSpec:
    """One ``@matrix(...)`` as written; validated when it is expanded."""

    __slots__ = (
        "depends",
        "exclude",
        "goals",
        "include",
        "parameters",
        "problem",
        "replicates",
        "settings",
        "tolerance",
        "version",
    )

    def __init__(
        self,
        parameters: Any,
        settings: Any,
        exclude: Any,
        include: Any,
        version: Any,
        goals: Any,
        tolerance: Any,
        replicates: Any = None,
        depends: Any = None,
    ) -> None:
        self.problem: str | None = None
        #: Inputs declared by hand (paths, modules), as written; checked at expansion.
        self.depends = depends
        #: Replicate axes as written (None: a parameter named ``seed``, if any).
        self.replicates = replicates
        self.parameters = self._materialize(parameters)
        self.settings = settings
        self.exclude = self._as_list(exclude, "exclude")
        self.include = self._as_list(include, "include")
        self.version = version
        self.goals = goals
        self.tolerance = tolerance

    def _materialize(self, parameters: Any) -> Any:
        # One-shot iterables (generators, map objects) must be read exactly
        # once; errors are kept for collection time, where they are reported.
        if not isinstance(parameters, Mapping):
            return parameters
        materialized: dict[Any, Any] = {}
        for name, values in parameters.items():
            if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
                materialized[name] = values
                continue
            try:
                materialized[name] = list(itertools.islice(values, MAX_GRID + 1))
            except Exception as exc:  # the user's iterable raised
                materialized[name] = values
                self.problem = f"parameters[{name!r}]: iterating the values raised {exc!r}"
        return materialized

    def _as_list(self, value: Any, what: str) -> Any:
        if value is None:
            return []
        if isinstance(value, Mapping) or callable(value):
            return [value]
        if isinstance(value, (list, tuple)):
            return list(value)
        return value  # reported as an error at expansion


def matrix(
    parameters: Mapping[Any, Iterable[Any]] | None = None,
    *,
    settings: Mapping[str, Any] | None = None,
    exclude: Sequence[Mapping[str, Any] | Callable[[Config], bool]] | None = None,
    include: Sequence[Mapping[str, Any]] | None = None,
    version: Any = 0,
    goals: Mapping[str, str] | None = None,
    tolerance: float | Mapping[str, float] | None = None,
    replicates: str | Sequence[str] | None = None,
    depends: Sequence[str | os.PathLike[str] | types.ModuleType] | None = None,
) -> Callable[[F], F]:
    """Turn a function into one pytest item per configuration.

    ``parameters`` maps a name (or a tuple of names that vary together) to
    the values it takes; the grid is their cartesian product in declared
    order. ``settings`` are constants that are part of the config and its
    key but not of the test id. ``exclude`` drops configurations (partial
    dicts or ``config -> bool`` callables), ``include`` adds whole ones.
    Bump ``version`` to invalidate stored results on purpose. ``goals`` and
    ``tolerance`` declare how metrics are compared against a baseline.
    ``replicates`` names the parameter(s) whose values are repetitions of
    one configuration (seeds): tables average over them. Without it, a
    parameter named ``seed`` is; ``replicates=()`` declares none.
    ``depends`` lists inputs the code fingerprint cannot see: files and
    directories (relative to rootdir, hashed by content) and modules (by
    their code); a change to one reruns the configurations.
    """
    spec = MatrixSpec(
        {} if parameters is None else parameters,
        settings,
        exclude,
        include,
        version,
        goals,
        tolerance,
        replicates,
        depends,
    )

    def decorate(func: F) -> F:
        if not callable(func) or isinstance(func, type):
            raise TypeError(f"@memento.matrix decorates a function, not {func!r}")
        # Decorators apply bottom-up; keep them in the order they are written.
        previous: tuple[MatrixSpec, ...] = getattr(func, MATRICES_ATTR, ())
        setattr(func, MATRICES_ATTR, (spec, *previous))
        # Collected by pytest whatever its name (pytest honours __test__).
        func.__test__ = True  # type: ignore[attr-defined]
        if not previous:
            func = _request_config(func)
        return func

    return decorate


def _request_config(func: F) -> F:
    """Put ``config`` in the function's fixture closure even when it does
    not ask for it: each item finds its configuration through that value.
    pytest is imported lazily, so this module stays usable without it."""
    try:
        import pytest
    except ImportError:  # pragma: no cover - pytest is a dependency
        return func
    marked: F = pytest.mark.usefixtures("config")(func)
    return marked


def specs_of(obj: object) -> tuple[MatrixSpec, ...]:
    """The matrix specs attached to ``obj``, or ``()``."""
    specs = getattr(obj, MATRICES_ATTR, ())
    return specs if isinstance(specs, tuple) else ()
