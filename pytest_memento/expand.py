"""Deterministic expansion of a grid into cases, with their ids.

:func:`expand` turns the specs of one experiment (see :mod:`.matrix`) into
:class:`~.cases.Case` objects, in declared order (first key varies slowest), with
readable ids that never depend on hash seeds or memory addresses. Every
problem is a :class:`~.matrix.MatrixError` naming the experiment and the key
at fault. Nothing here imports pytest: ``pytest.param`` values are
recognised by shape.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from .baseline import check_goals
from .cases import Case
from .hashing import UnstableValueError, encode, encode_config
from .ids import auto_id, disambiguate, is_param_set, unique_ids
from .inputs import InputError, check_depends
from .matrix import MAX_GRID, RESERVED, Config, MatrixError, MatrixSpec
from .replicates import ReplicateError, count_groups, mark_groups, replicate_axes

__all__ = ["expand"]


# -- values ---------------------------------------------------------------


class _Entry:
    """One value on one axis: the values it gives its names, id and marks."""

    __slots__ = ("encodings", "explicit", "id", "marks", "shown", "values")

    def __init__(
        self,
        values: tuple[Any, ...],
        encodings: tuple[bytes, ...],
        id: str,
        marks: tuple[Any, ...],
        shown: tuple[str | None, ...] = (),
        explicit: bool = False,
    ) -> None:
        self.values = values
        self.encodings = encodings
        self.id = id
        self.marks = marks
        #: Per value, the ``pytest.param`` id that stands for it (a value with no stable identity), or None.
        self.shown = shown or (None,) * len(values)
        self.explicit = explicit


class _Expander:
    """Expands the specs of one experiment, naming it in every error."""

    def __init__(self, experiment: str) -> None:
        self.experiment = experiment
        #: Configurations the specs expanded so far give (the limit is per experiment).
        self.planned = 0

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
            plain = [e.values[0] if len(e.values) == 1 and not e.explicit else None for e in entries]
            for entry, unique in zip(entries, disambiguate([e.id for e in entries], plain), strict=True):
                entry.id = unique
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
        if is_param_set(value):
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
            ids = [auto_id(item, name, index) for item, name in zip(values, names, strict=True)]
            return _Entry(values, encodings, "-".join(ids), marks)
        stand_in = b"I" + encode(param_id)
        shown = tuple(str(param_id) if code == stand_in else None for code in encodings)
        return _Entry(values, encodings, str(param_id), marks, shown, explicit=True)

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
            if is_param_set(wanted) and len(wanted.values) == 1:
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
        self.planned += size
        if self.planned > MAX_GRID:
            raise self.error("matrix", f"the stacked matrices give {self.planned} configurations, more than {MAX_GRID}")
        problem = check_goals(spec.goals, spec.tolerance)
        if problem:
            raise self.error(f"{prefix}goals/tolerance", problem)
        excludes = self.check_rules(spec.exclude, names, "exclude", prefix)
        try:
            depends = check_depends(spec.depends)
        except InputError as exc:
            raise self.error(f"{prefix}{exc.where}", str(exc)) from None
        try:
            replicates = replicate_axes(spec.replicates, names, settings)
        except ReplicateError as exc:
            raise self.error(f"{prefix}replicates", str(exc)) from None
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
            case = Case(params, settings, case_id, marks, spec.version, encoded, number)
            case.shown = {
                name: label
                for (axis_names, _), entry in zip(axes, combo, strict=True)
                for name, label in zip(axis_names, entry.shown, strict=True)
                if label is not None
            }
            cases.append(case)
        for index, extra in enumerate(self.check_rules(spec.include, names, "include", prefix)):
            cases.append(self.include_case(extra, index, names, settings, setting_encodings, spec, number, prefix))
        for case in cases:
            case.goals, case.tolerance = spec.goals, spec.tolerance
            case.depends = depends
        if replicates:
            mark_groups(cases, axes, replicates, encode_config(setting_encodings) + encode(spec.version))
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
        shown: dict[str, str] = {}
        for name in names:
            entry = self.entry((name,), extra[name], f"{where}[{name!r}]", index)
            params[name] = entry.values[0]
            encodings[name] = entry.encodings[0]
            ids.append(entry.id)
            marks.extend(entry.marks)
            if entry.shown[0] is not None:
                shown[name] = entry.shown[0]
        encoded = encode_config({**encodings, **setting_encodings})
        case = Case(params, settings, "-".join(ids), tuple(marks), spec.version, encoded, number)
        case.shown = shown
        return case


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
    for case, unique in zip(cases, unique_ids([case.id for case in cases]), strict=True):
        case.id = unique
    count_groups(cases)
    return cases
