"""The ``matrix`` decorator and the deterministic expansion of a grid.

Nothing here imports pytest: ``pytest.param`` values are recognised by shape,
and every problem is a :class:`MatrixError` whose message names the
experiment and the key at fault, which the plugin turns into a collection
error without a traceback.
"""

from __future__ import annotations

import enum
import inspect
import itertools
import math
import pathlib
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from .baseline import check_goals
from .hashing import UnstableValueError, encode, encode_config, qualified_name

__all__ = [
    "MATRICES_ATTR",
    "Case",
    "Config",
    "MatrixError",
    "MatrixSpec",
    "argnames_for",
    "display_label",
    "expand",
    "matrix",
    "specs_of",
]

F = TypeVar("F", bound=Callable[..., Any])

#: Attribute holding the specs on a decorated function.
MATRICES_ATTR = "__memento_matrices__"
#: Names a parameter or setting may not take.
RESERVED = frozenset({"config", "checkpoint", "request"})
#: Largest grid we agree to expand (before exclusion).
MAX_GRID = 2_000_000
#: Longest string used verbatim in an id.
MAX_ID_TEXT = 40


class MatrixError(ValueError):
    """A matrix definition is invalid; the message says where and why."""


class Config(Mapping[str, Any]):
    """Read-only mapping of one configuration, with attribute access.

    ``config.seed`` and ``config["seed"]`` are the same value.
    """

    __slots__ = ("_case", "_data")
    _data: dict[str, Any]
    _case: Any

    def __init__(self, data: Mapping[str, Any], case: Any = None) -> None:
        object.__setattr__(self, "_data", dict(data))
        # The configuration this is of (for the plugin; not pickled).
        object.__setattr__(self, "_case", case)

    def __getitem__(self, name: str) -> Any:
        return self._data[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattribute__(self, name: str) -> Any:
        # Values win over the mapping's own methods: a parameter named
        # ``items`` or ``values`` is ``config.items`` too.
        if not name.startswith("_"):
            data = object.__getattribute__(self, "_data")
            if name in data:
                return data[name]
        return object.__getattribute__(self, name)

    def __getattr__(self, name: str) -> Any:
        known = ", ".join(self._data) or "nothing"
        raise AttributeError(f"config has no {name!r} (it has {known})")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._data == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError("config is read-only")

    def __delattr__(self, name: str) -> None:
        raise TypeError("config is read-only")

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={value!r}" for name, value in self._data.items())
        return f"Config({inner})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Config, (self._data,))


class MatrixSpec:
    """One ``@matrix(...)`` as written; validated when it is expanded."""

    __slots__ = ("exclude", "goals", "include", "parameters", "problem", "settings", "tolerance", "version")

    def __init__(
        self,
        parameters: Any,
        settings: Any,
        exclude: Any,
        include: Any,
        version: Any,
        goals: Any,
        tolerance: Any,
    ) -> None:
        self.problem: str | None = None
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
) -> Callable[[F], F]:
    """Turn a function into one pytest item per configuration.

    ``parameters`` maps a name (or a tuple of names that vary together) to
    the values it takes; the grid is their cartesian product in declared
    order. ``settings`` are constants that are part of the config and its
    key but not of the test id. ``exclude`` drops configurations (partial
    dicts or ``config -> bool`` callables), ``include`` adds whole ones.
    Bump ``version`` to invalidate stored results on purpose. ``goals`` and
    ``tolerance`` declare how metrics are compared against a baseline.
    """
    spec = MatrixSpec({} if parameters is None else parameters, settings, exclude, include, version, goals, tolerance)

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


class Case:
    """One configuration of one experiment."""

    __slots__ = (
        "config_hash",
        "encoded",
        "experiment",
        "goals",
        "id",
        "key",
        "marks",
        "matrix_index",
        "params",
        "settings",
        "tolerance",
        "version",
    )

    def __init__(
        self,
        params: dict[str, Any],
        settings: dict[str, Any],
        id: str,
        marks: tuple[Any, ...],
        version: Any,
        encoded: bytes,
        matrix_index: int,
    ) -> None:
        self.params = params
        self.settings = settings
        self.id = id
        self.marks = marks
        self.version = version
        self.encoded = encoded
        self.matrix_index = matrix_index
        self.key = ""
        self.config_hash = ""
        self.goals: Mapping[str, str] | None = None
        self.tolerance: Any = None
        self.experiment = ""

    @property
    def config(self) -> Config:
        return Config({**self.params, **self.settings}, self)

    def __repr__(self) -> str:
        return f"Case({self.id!r})"


# -- values ---------------------------------------------------------------


class _Entry:
    """One value on one axis: the values it gives its names, id and marks."""

    __slots__ = ("encodings", "id", "marks", "values")

    def __init__(self, values: tuple[Any, ...], encodings: tuple[bytes, ...], id: str, marks: tuple[Any, ...]) -> None:
        self.values = values
        self.encodings = encodings
        self.id = id
        self.marks = marks


def _is_param_set(value: object) -> bool:
    """Whether ``value`` is what ``pytest.param(...)`` returns."""
    return (
        isinstance(value, tuple)
        and type(value).__name__ == "ParameterSet"
        and hasattr(value, "values")
        and hasattr(value, "marks")
        and hasattr(value, "id")
    )


def _auto_id(value: Any, name: str, index: int) -> str:
    if value is None or (isinstance(value, (bool, int)) and not isinstance(value, enum.Enum)):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        if 0 < len(value) <= MAX_ID_TEXT and value.isprintable() and not any(c.isspace() for c in value):
            return value
        return f"{name}{index}"
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, pathlib.PurePath) and value.name:
        return value.name
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.generic):
        return _auto_id(value.item(), name, index)
    if (isinstance(value, type) or inspect.isfunction(value) or inspect.isbuiltin(value)) and qualified_name(value):
        return str(value.__name__)
    if hasattr(value, "get_params") and not isinstance(value, type):
        return type(value).__name__
    return f"{name}{index}"


def display_label(value: Any) -> str | None:
    """The short name a value has in ids (``SVC``, ``load_iris``, ``0.1``),
    or None when it has none of its own."""
    label = _auto_id(value, "\0", 0)
    return None if label.startswith("\0") else label


class _Expander:
    """Expands the specs of one experiment, naming it in every error."""

    def __init__(self, experiment: str) -> None:
        self.experiment = experiment

    def error(self, where: str, message: str) -> MatrixError:
        return MatrixError(f"{self.experiment}: {where}: {message}")

    def encode(self, value: Any, where: str, param_id: str | None, hint: str) -> bytes:
        try:
            return encode(value)
        except UnstableValueError as exc:
            if param_id is not None:
                # The explicit id stands for the value.
                return b"I" + encode(param_id)
            raise self.error(where, f"{exc.describe()}; {hint}") from None
        except Exception as exc:  # a user's __memento_key__ or get_params raised
            raise self.error(where, f"computing the identity of {value!r} raised {exc!r}") from None

    def axes(self, parameters: Any, prefix: str) -> list[tuple[tuple[str, ...], list[_Entry]]]:
        if not isinstance(parameters, Mapping):
            raise self.error(
                f"{prefix}parameters", f"must be a dict of name -> values, got {type(parameters).__name__}"
            )
        axes = []
        for raw_key, values in parameters.items():
            names = self.names_of(raw_key, prefix)
            where = f"{prefix}parameters[{raw_key!r}]"
            if isinstance(values, (str, bytes, Mapping)):
                raise self.error(
                    where, f"values must be a list, got {type(values).__name__} {values!r}; write [{values!r}]"
                )
            if not isinstance(values, list):
                raise self.error(
                    where, f"values must be a non-empty finite iterable, got {type(values).__name__} {values!r}"
                )
            if not values:
                raise self.error(where, "has no values (an empty list gives an empty grid)")
            if len(values) > MAX_GRID:
                raise self.error(where, f"has more than {MAX_GRID} values; is it infinite?")
            entries = [self.entry(names, value, where, index) for index, value in enumerate(values)]
            self.disambiguate(entries)
            axes.append((names, entries))
        return axes

    def names_of(self, raw_key: Any, prefix: str) -> tuple[str, ...]:
        names = raw_key if isinstance(raw_key, tuple) else (raw_key,)
        for name in names:
            if not isinstance(name, str) or not name:
                raise self.error(f"{prefix}parameters[{raw_key!r}]", "parameter names must be non-empty strings")
            if name in RESERVED:
                raise self.error(f"{prefix}parameters[{raw_key!r}]", f"{name!r} is reserved; choose another name")
        if not names:
            raise self.error(f"{prefix}parameters[{raw_key!r}]", "a tuple key needs at least one name")
        return names

    def entry(self, names: tuple[str, ...], value: Any, where: str, index: int) -> _Entry:
        param_id: str | None = None
        marks: tuple[Any, ...] = ()
        if _is_param_set(value):
            param_id, marks, values = value.id, tuple(value.marks), tuple(value.values)
            if len(names) > 1 and len(values) == 1 and isinstance(values[0], (tuple, list)):
                values = tuple(values[0])
        elif len(names) > 1:
            if not isinstance(value, (tuple, list)):
                raise self.error(
                    f"{where}[{index}]", f"expected a tuple of {len(names)} values for {names}, got {value!r}"
                )
            values = tuple(value)
        else:
            values = (value,)
        if len(values) != len(names):
            raise self.error(f"{where}[{index}]", f"gives {len(values)} value(s) for {len(names)} name(s) {names}")
        hint = 'give it an id: pytest.param(value, id="...")'
        encodings = tuple(self.encode(item, f"{where}[{index}]", param_id, hint) for item in values)
        if param_id is None:
            ids = [_auto_id(item, name, index) for item, name in zip(values, names, strict=True)]
            entry_id = "-".join(ids)
        else:
            entry_id = str(param_id)
        return _Entry(values, encodings, entry_id, marks)

    @staticmethod
    def disambiguate(entries: list[_Entry]) -> None:
        seen: dict[str, int] = {}
        for entry in entries:
            seen[entry.id] = seen.get(entry.id, 0) + 1
        for index, entry in enumerate(entries):
            if seen[entry.id] > 1:
                entry.id = f"{entry.id}{index}"

    def settings(self, settings: Any, names: set[str], prefix: str) -> tuple[dict[str, Any], dict[str, bytes]]:
        if settings is None:
            return {}, {}
        if not isinstance(settings, Mapping):
            raise self.error(f"{prefix}settings", f"must be a dict, got {type(settings).__name__}")
        values: dict[str, Any] = {}
        encodings: dict[str, bytes] = {}
        for name, value in settings.items():
            where = f"{prefix}settings[{name!r}]"
            if not isinstance(name, str) or not name:
                raise self.error(where, "setting names must be non-empty strings")
            if name in RESERVED:
                raise self.error(where, f"{name!r} is reserved; choose another name")
            if name in names:
                raise self.error(where, f"{name!r} is both a parameter and a setting")
            hint = "give its class a __memento_key__() method, or make it a parameter with pytest.param(value, id=...)"
            encodings[name] = self.encode(value, where, None, hint)
            values[name] = value
        return values, encodings

    def matches(
        self,
        partial: Mapping[str, Any],
        names: Sequence[str],
        encodings: Sequence[bytes],
        values: Sequence[Any],
        where: str,
    ) -> bool:
        for name, wanted in partial.items():
            position = names.index(name)
            if _is_param_set(wanted) and len(wanted.values) == 1:
                wanted = wanted.values[0]
            try:
                if encode(wanted) != encodings[position]:
                    return False
            except UnstableValueError:
                if wanted is not values[position]:
                    return False
        return True

    def expand_spec(self, spec: MatrixSpec, number: int, count: int) -> list[Case]:
        prefix = f"matrix #{number + 1}: " if count > 1 else ""
        if spec.problem:
            raise self.error(prefix.rstrip(": ") or "matrix", spec.problem)
        axes = self.axes(spec.parameters, prefix)
        names = [name for axis_names, _ in axes for name in axis_names]
        duplicates = {name for name in names if names.count(name) > 1}
        if duplicates:
            raise self.error(f"{prefix}parameters", f"{sorted(duplicates)} appear in more than one key")
        settings, setting_encodings = self.settings(spec.settings, set(names), prefix)
        try:
            encode(spec.version)
        except UnstableValueError as exc:
            raise self.error(f"{prefix}version", exc.describe()) from None
        size = math.prod(len(entries) for _, entries in axes)
        if size > MAX_GRID:
            raise self.error(f"{prefix}parameters", f"the grid has {size} configurations, more than {MAX_GRID}")
        problem = check_goals(spec.goals, spec.tolerance)
        if problem:
            raise self.error(f"{prefix}goals/tolerance", problem)
        excludes = self.check_rules(spec.exclude, names, "exclude", prefix)
        cases: list[Case] = []
        for combo in itertools.product(*(entries for _, entries in axes)):
            values = [value for entry in combo for value in entry.values]
            encodings = [code for entry in combo for code in entry.encodings]
            params = dict(zip(names, values, strict=True))
            if self.excluded(excludes, names, encodings, values, params, settings, prefix):
                continue
            marks = tuple(mark for entry in combo for mark in entry.marks)
            case_id = "-".join(entry.id for entry in combo)
            encoded = encode_config({**dict(zip(names, encodings, strict=True)), **setting_encodings})
            cases.append(Case(params, settings, case_id, marks, spec.version, encoded, number))
        for index, extra in enumerate(self.check_rules(spec.include, names, "include", prefix)):
            cases.append(self.include_case(extra, index, names, settings, setting_encodings, spec, number, prefix))
        for case in cases:
            case.goals, case.tolerance = spec.goals, spec.tolerance
        return cases

    def check_rules(self, rules: Any, names: list[str], what: str, prefix: str) -> list[Any]:
        if not isinstance(rules, list):
            raise self.error(
                f"{prefix}{what}",
                f"must be a list of dicts{' or callables' if what == 'exclude' else ''}, got {type(rules).__name__}",
            )
        for index, rule in enumerate(rules):
            where = f"{prefix}{what}[{index}]"
            if callable(rule) and what == "exclude":
                continue
            if not isinstance(rule, Mapping):
                raise self.error(where, f"must be a dict{' or a callable' if what == 'exclude' else ''}, got {rule!r}")
            unknown = [key for key in rule if key not in names]
            if unknown:
                raise self.error(where, f"{unknown[0]!r} is not a parameter (parameters: {', '.join(names)})")
            if what == "include":
                missing = [name for name in names if name not in rule]
                if missing:
                    raise self.error(
                        where,
                        f"an included configuration needs every parameter; missing {', '.join(map(repr, missing))}",
                    )
        return rules

    def excluded(
        self,
        rules: list[Any],
        names: list[str],
        encodings: list[bytes],
        values: list[Any],
        params: dict[str, Any],
        settings: dict[str, Any],
        prefix: str,
    ) -> bool:
        for index, rule in enumerate(rules):
            if isinstance(rule, Mapping):
                if self.matches(rule, names, encodings, values, f"{prefix}exclude[{index}]"):
                    return True
                continue
            try:
                if rule(Config({**params, **settings})):
                    return True
            except Exception as exc:
                raise self.error(f"{prefix}exclude[{index}]", f"calling it with {params!r} raised {exc!r}") from None
        return False

    def include_case(
        self,
        extra: Mapping[str, Any],
        index: int,
        names: list[str],
        settings: dict[str, Any],
        setting_encodings: dict[str, bytes],
        spec: MatrixSpec,
        number: int,
        prefix: str,
    ) -> Case:
        where = f"{prefix}include[{index}]"
        params: dict[str, Any] = {}
        encodings: dict[str, bytes] = {}
        ids: list[str] = []
        marks: list[Any] = []
        for name in names:
            entry = self.entry((name,), extra[name], f"{where}[{name!r}]", index)
            params[name] = entry.values[0]
            encodings[name] = entry.encodings[0]
            ids.append(entry.id)
            marks.extend(entry.marks)
        encoded = encode_config({**encodings, **setting_encodings})
        return Case(params, settings, "-".join(ids), tuple(marks), spec.version, encoded, number)


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


def expand(experiment: str, specs: Sequence[MatrixSpec]) -> list[Case]:
    """All configurations of an experiment, in a stable order, each once.

    Stacked matrices give the union of their configurations; a configuration
    produced twice keeps its first place (decorators read top to bottom).
    """
    expander = _Expander(experiment)
    cases: list[Case] = []
    seen: set[bytes] = set()
    for number, spec in enumerate(specs):
        for case in expander.expand_spec(spec, number, len(specs)):
            if case.encoded not in seen:
                seen.add(case.encoded)
                cases.append(case)
    if not cases:
        raise expander.error("matrix", "every configuration is excluded; the grid is empty")
    _unique_ids(cases)
    return cases


def _unique_ids(cases: list[Case]) -> None:
    """Different configurations with one id (stacked matrices with other
    settings, includes, equal names) get ``-2``, ``-3``... in order."""
    taken = {case.id for case in cases}
    if len(taken) == len(cases):
        return
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            number = 2
            while f"{case.id}-{number}" in taken:
                number += 1
            case.id = f"{case.id}-{number}"
            taken.add(case.id)
        seen.add(case.id)
