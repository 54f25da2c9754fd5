"""Unit tests of the matrix decorator and grid expansion (pytest_memento.matrix)."""

from __future__ import annotations

import copy
import enum
import importlib
import itertools
import pathlib
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pytest_memento.arguments import argnames_for
from pytest_memento.cases import Case
from pytest_memento.expand import expand
from pytest_memento.hashing import config_key
from pytest_memento.matrix import (
    MATRICES_ATTR,
    Config,
    MatrixError,
    MatrixSpec,
    matrix,
    specs_of,
)

EXPERIMENT = "experiments/test_grid.py::run_grid"
# ``pytest_memento.matrix`` is also the name of the decorator re-exported by the package.
matrix_module = importlib.import_module("pytest_memento.matrix")
expand_module = importlib.import_module("pytest_memento.expand")

# -- module-level values with a stable identity ------------------------------


class SVC:
    pass


class Forest:
    pass


class First:
    class Model:
        pass


class Second:
    class Model:
        pass


class Optimizer(enum.Enum):
    SGD = "sgd"
    ADAM = "adam"


class Exploding:
    """Its identity cannot be computed."""

    def __memento_key__(self) -> Any:
        raise RuntimeError("no key for you")


def load_iris() -> None:
    pass


def load_wine() -> None:
    pass


# -- helpers ---------------------------------------------------------------------


def decorated(*decorators: Callable[[Any], Any]) -> Any:
    """A function with ``decorators`` applied as if written top to bottom."""

    def run_grid(config: Config) -> None:
        pass

    for decorator in reversed(decorators):
        run_grid = decorator(run_grid)
    return run_grid


def cases_of(*decorators: Callable[[Any], Any]) -> list[Case]:
    return expand(EXPERIMENT, specs_of(decorated(*decorators)))


def ids_of(*decorators: Callable[[Any], Any]) -> list[str]:
    return [case.id for case in cases_of(*decorators)]


def params_of(*decorators: Callable[[Any], Any]) -> list[dict[str, Any]]:
    return [dict(case.params) for case in cases_of(*decorators)]


def key(case: Case) -> str:
    return config_key(EXPERIMENT, case.encoded, case.version)


def expansion_error(*decorators: Callable[[Any], Any]) -> str:
    with pytest.raises(MatrixError) as info:
        cases_of(*decorators)
    message = str(info.value)
    assert message.startswith(f"{EXPERIMENT}: ")
    return message


# -- the decorator -------------------------------------------------------------


def test_decorator_attaches_specs_and_marks_function_collectable() -> None:
    func = decorated(matrix({"a": [1]}))
    specs = specs_of(func)
    assert len(specs) == 1
    assert isinstance(specs[0], MatrixSpec)
    assert func.__test__ is True
    assert getattr(func, MATRICES_ATTR) == specs


def test_decorator_requests_config_once() -> None:
    func = decorated(matrix({"a": [1]}), matrix({"a": [2]}), matrix({"a": [3]}))
    marks = func.pytestmark
    assert [(mark.name, mark.args) for mark in marks] == [("usefixtures", ("config",))]
    assert len(specs_of(func)) == 3


def test_specs_of_undecorated_or_odd_objects() -> None:
    def plain() -> None:
        pass

    assert specs_of(plain) == ()
    assert specs_of(42) == ()

    class Odd:
        __memento_matrices__ = "not a tuple"

    assert specs_of(Odd()) == ()


def test_decorator_refuses_classes() -> None:
    with pytest.raises(TypeError, match="decorates a function"):
        matrix({"a": [1]})(SVC)


# -- expansion -----------------------------------------------------------------


def test_product_order_first_key_slowest_and_ids() -> None:
    cases = cases_of(matrix({"a": [1, 2], "b": ["x", "y", "z"]}))
    assert [case.id for case in cases] == ["1-x", "1-y", "1-z", "2-x", "2-y", "2-z"]
    assert [dict(case.params) for case in cases] == [
        {"a": a, "b": b} for a, b in itertools.product([1, 2], ["x", "y", "z"])
    ]
    assert list(cases[0].params) == ["a", "b"]  # declared order
    assert [case.matrix_index for case in cases] == [0] * 6


def test_expansion_is_deterministic() -> None:
    func = decorated(matrix({"model": [SVC, Forest], "dataset": [load_iris, load_wine], "seed": range(3)}))
    first = expand(EXPERIMENT, specs_of(func))
    second = expand(EXPERIMENT, specs_of(func))
    assert [(case.id, case.encoded) for case in first] == [(case.id, case.encoded) for case in second]
    assert [case.id for case in first][:3] == ["SVC-load_iris-0", "SVC-load_iris-1", "SVC-load_iris-2"]
    assert len({key(case) for case in first}) == 12


def test_range_values() -> None:
    assert params_of(matrix({"seed": range(3)})) == [{"seed": 0}, {"seed": 1}, {"seed": 2}]
    assert ids_of(matrix({"seed": range(10, 0, -5)})) == ["10", "5"]


def test_generator_values_are_consumed_once_at_decoration() -> None:
    produced: list[int] = []

    def values() -> Iterator[int]:
        for value in range(3):
            produced.append(value)
            yield value

    func = decorated(matrix({"seed": values(), "n": map(int, "12")}))
    assert produced == [0, 1, 2]  # read when decorating, before any expansion
    first = expand(EXPERIMENT, specs_of(func))
    second = expand(EXPERIMENT, specs_of(func))
    assert [case.id for case in first] == [case.id for case in second] == ["0-1", "0-2", "1-1", "1-2", "2-1", "2-2"]
    assert produced == [0, 1, 2]


def test_auto_ids_of_common_values() -> None:
    values = [None, True, 3, 0.5, "svc", Optimizer.ADAM, pathlib.Path("data/train.csv"), SVC, load_iris, len]
    assert ids_of(matrix({"v": values})) == [
        "None",
        "True",
        "3",
        "0.5",
        "svc",
        "ADAM",
        "train.csv",
        "SVC",
        "load_iris",
        "len",
    ]


def test_auto_ids_fall_back_to_name_and_index() -> None:
    # Strings that are empty, long, or contain spaces or control characters.
    values = ["", "a b", "x" * 41, "tab\there", b"raw", (1, 2)]
    assert ids_of(matrix({"v": values})) == ["v0", "v1", "v2", "v3", "v4", "v5"]


def test_auto_ids_of_numpy_scalars() -> None:
    np = pytest.importorskip("numpy")
    assert ids_of(matrix({"v": [np.int64(3), np.float32(0.5)]})) == ["3", "0.5"]


def test_tuple_keys_vary_together() -> None:
    cases = cases_of(matrix({("lr", "batch"): [(0.1, 32), (0.01, 64)], "seed": [0, 1]}))
    assert [case.id for case in cases] == ["0.1-32-0", "0.1-32-1", "0.01-64-0", "0.01-64-1"]
    assert [dict(case.params) for case in cases] == [
        {"lr": 0.1, "batch": 32, "seed": 0},
        {"lr": 0.1, "batch": 32, "seed": 1},
        {"lr": 0.01, "batch": 64, "seed": 0},
        {"lr": 0.01, "batch": 64, "seed": 1},
    ]


def test_tuple_key_accepts_lists_as_values() -> None:
    assert params_of(matrix({("a", "b"): [[1, 2]]})) == [{"a": 1, "b": 2}]


def test_tuple_key_encodes_like_separate_names() -> None:
    zipped = cases_of(matrix({("a", "b"): [(1, 2)]}))
    separate = cases_of(matrix({"a": [1], "b": [2]}))
    assert zipped[0].encoded == separate[0].encoded


def test_pytest_param_with_id_and_marks() -> None:
    cases = cases_of(
        matrix(
            {
                "a": [pytest.param(1, id="one", marks=pytest.mark.skip(reason="slow")), 2],
                "b": [pytest.param("x", marks=[pytest.mark.xfail, pytest.mark.skip])],
            }
        )
    )
    assert [case.id for case in cases] == ["one-x", "2-x"]
    assert [dict(case.params) for case in cases] == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]
    assert [mark.name for mark in cases[0].marks] == ["skip", "xfail", "skip"]
    assert [mark.name for mark in cases[1].marks] == ["xfail", "skip"]


def test_pytest_param_id_does_not_change_the_key_of_a_stable_value() -> None:
    with_id = cases_of(matrix({"a": [pytest.param(1, id="one")]}))
    plain = cases_of(matrix({"a": [1]}))
    assert with_id[0].encoded == plain[0].encoded


def test_pytest_param_for_a_tuple_key() -> None:
    cases = cases_of(
        matrix(
            {
                ("lr", "batch"): [
                    (0.1, 32),
                    pytest.param(0.5, 16, id="big"),
                    pytest.param((0.01, 64), id="small", marks=pytest.mark.skip),
                ]
            }
        )
    )
    assert [case.id for case in cases] == ["0.1-32", "big", "small"]
    assert [dict(case.params) for case in cases] == [
        {"lr": 0.1, "batch": 32},
        {"lr": 0.5, "batch": 16},
        {"lr": 0.01, "batch": 64},
    ]
    assert [mark.name for mark in cases[2].marks] == ["skip"]


def test_settings_are_in_config_and_key_but_not_in_ids() -> None:
    cases = cases_of(matrix({"seed": [0, 1]}, settings={"folds": 5}))
    assert [case.id for case in cases] == ["0", "1"]
    assert dict(cases[0].settings) == {"folds": 5}
    assert dict(cases[0].config) == {"seed": 0, "folds": 5}
    assert cases[0].config.folds == 5
    other = cases_of(matrix({"seed": [0, 1]}, settings={"folds": 10}))
    assert cases[0].encoded != other[0].encoded
    assert key(cases[0]) != key(other[0])


def test_only_settings_gives_one_configuration() -> None:
    cases = cases_of(matrix(settings={"folds": 5}))
    assert len(cases) == 1
    assert dict(cases[0].config) == {"folds": 5}


def test_exclude_partial_dicts() -> None:
    grid = {"model": [SVC, Forest], "dataset": [load_iris, load_wine]}
    assert params_of(matrix(grid, exclude=[{"model": SVC, "dataset": load_wine}])) == [
        {"model": SVC, "dataset": load_iris},
        {"model": Forest, "dataset": load_iris},
        {"model": Forest, "dataset": load_wine},
    ]
    assert params_of(matrix(grid, exclude=[{"model": SVC}])) == [
        {"model": Forest, "dataset": load_iris},
        {"model": Forest, "dataset": load_wine},
    ]
    # Several rules: a configuration matching any of them is dropped.
    assert params_of(matrix(grid, exclude=[{"model": SVC}, {"dataset": load_wine}])) == [
        {"model": Forest, "dataset": load_iris}
    ]


def test_exclude_accepts_a_single_dict_or_callable() -> None:
    assert ids_of(matrix({"a": [1, 2]}, exclude={"a": 1})) == ["2"]  # type: ignore[arg-type]
    assert ids_of(matrix({"a": [1, 2]}, exclude=lambda config: config.a == 2)) == ["1"]  # type: ignore[arg-type]


def test_exclude_names_inside_a_tuple_key() -> None:
    grid = {("lr", "batch"): [(0.1, 32), (0.01, 64)], "seed": [0, 1]}
    assert ids_of(matrix(grid, exclude=[{"batch": 64, "seed": 1}])) == ["0.1-32-0", "0.1-32-1", "0.01-64-0"]


def test_exclude_pytest_param_value() -> None:
    assert ids_of(matrix({"a": [pytest.param(1, id="one"), 2]}, exclude=[{"a": pytest.param(1)}])) == ["2"]


def test_exclude_unstable_value_by_identity() -> None:
    kept, dropped = object(), object()
    grid = {"a": [pytest.param(kept, id="kept"), pytest.param(dropped, id="dropped")]}
    assert ids_of(matrix(grid, exclude=[{"a": dropped}])) == ["kept"]


def test_exclude_callables_receive_a_config() -> None:
    seen: list[Any] = []

    def rule(config: Config) -> bool:
        seen.append(config)
        return bool(config.seed == 1 and config["model"] is SVC)

    cases = cases_of(matrix({"model": [SVC, Forest], "seed": [0, 1]}, settings={"folds": 3}, exclude=[rule]))
    assert [case.id for case in cases] == ["SVC-0", "Forest-0", "Forest-1"]
    assert len(seen) == 4
    assert all(isinstance(config, Config) for config in seen)
    assert seen[0].folds == 3  # settings are visible
    assert dict(seen[0]) == {"model": SVC, "seed": 0, "folds": 3}


def test_include_adds_whole_configs_after_the_product_and_is_not_excluded() -> None:
    cases = cases_of(
        matrix(
            {"a": [1, 2, 3], "b": ["x"]},
            exclude=[lambda config: config.a > 1, {"b": "y"}],
            include=[{"a": 5, "b": "y"}, {"b": "z", "a": pytest.param(6, id="six", marks=pytest.mark.skip)}],
        )
    )
    assert [case.id for case in cases] == ["1-x", "5-y", "six-z"]
    assert [dict(case.params) for case in cases] == [{"a": 1, "b": "x"}, {"a": 5, "b": "y"}, {"a": 6, "b": "z"}]
    assert list(cases[2].params) == ["a", "b"]  # parameter order, not the include's order
    assert [mark.name for mark in cases[2].marks] == ["skip"]


def test_include_of_a_product_config_is_not_duplicated() -> None:
    assert ids_of(matrix({"a": [1, 2]}, include=[{"a": 1}, {"a": 3}])) == ["1", "2", "3"]


def test_include_encodes_like_the_product() -> None:
    included = cases_of(matrix({"a": [1]}, settings={"s": 0}, include=[{"a": 2}]))
    product = cases_of(matrix({"a": [2]}, settings={"s": 0}))
    assert included[1].encoded == product[0].encoded
    assert dict(included[1].settings) == {"s": 0}


def test_version() -> None:
    default = cases_of(matrix({"a": [1]}))
    bumped = cases_of(matrix({"a": [1]}, version=2))
    named = cases_of(matrix({"a": [1]}, version="2024-05"))
    assert default[0].version == 0
    assert bumped[0].version == 2
    assert default[0].encoded == bumped[0].encoded  # the version is not part of the config...
    assert len({key(default[0]), key(bumped[0]), key(named[0])}) == 3  # ...but of the key


def test_stacked_decorators_give_the_union_top_to_bottom_each_once() -> None:
    cases = cases_of(
        matrix({"a": [1, 2]}),
        matrix({"a": [2, 3]}),
        matrix({"a": [1, 4]}),
    )
    assert [case.params["a"] for case in cases] == [1, 2, 3, 4]
    assert [case.matrix_index for case in cases] == [0, 0, 1, 2]


def test_stacked_decorators_with_different_settings_are_different_configs() -> None:
    cases = cases_of(matrix({"seed": [0]}, settings={"folds": 5}), matrix({"seed": [0]}, settings={"folds": 10}))
    assert [dict(case.config) for case in cases] == [{"seed": 0, "folds": 5}, {"seed": 0, "folds": 10}]
    assert cases[0].encoded != cases[1].encoded


def test_duplicate_auto_ids_are_made_unique() -> None:
    paths = [pathlib.Path("a/train.csv"), pathlib.Path("b/train.csv")]
    assert ids_of(matrix({"data": paths})) == ["train.csv0", "train.csv1"]
    assert ids_of(matrix({"model": [First.Model, Second.Model]})) == ["Model0", "Model1"]
    assert ids_of(matrix({"data": paths, "seed": [0, 1]})) == [
        "train.csv0-0",
        "train.csv0-1",
        "train.csv1-0",
        "train.csv1-1",
    ]


def test_duplicate_explicit_ids_are_made_unique() -> None:
    assert ids_of(matrix({"a": [pytest.param(1, id="same"), pytest.param(2, id="same")]})) == ["same0", "same1"]


def test_ids_are_unique_across_stacked_matrices() -> None:
    ids = ids_of(matrix({"seed": [0, 1]}, settings={"folds": 5}), matrix({"seed": [0, 1]}, settings={"folds": 10}))
    assert len(set(ids)) == 4


def test_unstable_value_with_pytest_param_id_is_accepted() -> None:
    first, second = object(), object()
    cases = cases_of(matrix({"a": [pytest.param(first, id="first"), pytest.param(second, id="second")]}))
    assert [case.id for case in cases] == ["first", "second"]
    assert cases[0].params["a"] is first
    assert key(cases[0]) != key(cases[1])
    # The id stands for the value: another object under the same id has the same key.
    again = cases_of(matrix({"a": [pytest.param(object(), id="first")]}))
    assert key(again[0]) == key(cases[0])


def test_unstable_value_inside_a_tuple_key_with_id() -> None:
    thing = object()
    cases = cases_of(matrix({("a", "b"): [pytest.param(thing, 1, id="thing")]}))
    assert cases[0].params == {"a": thing, "b": 1}


# -- errors ------------------------------------------------------------------------


def failing_rule(config: Config) -> bool:
    raise KeyError("nope")


def not_a_mapping_rule(config: Config) -> bool:
    return bool(config.missing)


def raising_values() -> Iterator[int]:
    yield 1
    raise RuntimeError("broken generator")


ERROR_CASES: dict[str, tuple[Callable[[], Any], list[str]]] = {
    "empty values": (lambda: matrix({"seed": []}), ["parameters['seed']", "no values"]),
    "empty generator": (lambda: matrix({"seed": iter(())}), ["parameters['seed']", "no values"]),
    "non-iterable values": (lambda: matrix({"seed": 3}), ["parameters['seed']", "iterable"]),
    "a string as values": (lambda: matrix({"name": "svc"}), ["parameters['name']", "must be a list", "['svc']"]),
    "bytes as values": (lambda: matrix({"name": b"svc"}), ["parameters['name']", "must be a list"]),
    "a dict as values": (lambda: matrix({"opts": {"a": 1}}), ["parameters['opts']", "must be a list", "dict"]),
    "iterating raises": (lambda: matrix({"seed": raising_values()}), ["parameters['seed']", "broken generator"]),
    "parameters not a dict": (lambda: matrix([("seed", [1, 2])]), ["parameters", "must be a dict", "list"]),  # type: ignore[arg-type]
    "non-string name": (lambda: matrix({1: [1]}), ["parameters[1]", "non-empty strings"]),
    "empty tuple key": (lambda: matrix({(): [()]}), ["parameters[()]", "at least one name"]),
    "name in two keys": (
        lambda: matrix({"a": [1], ("a", "b"): [(1, 2)]}),
        ["parameters", "['a']", "more than one key"],
    ),
    "tuple key, scalar value": (lambda: matrix({("a", "b"): [1]}), ["parameters[('a', 'b')][0]", "tuple of 2 values"]),
    "tuple key, wrong arity": (lambda: matrix({("a", "b"): [(1, 2, 3)]}), ["parameters[('a', 'b')][0]", "3 value(s)"]),
    "param arity": (lambda: matrix({"a": [pytest.param(1, 2, id="x")]}), ["parameters['a'][0]", "2 value(s)"]),
    "exclude unknown key": (
        lambda: matrix({"a": [1]}, exclude=[{"b": 1}]),
        ["exclude[0]", "'b' is not a parameter", "parameters: a"],
    ),
    "exclude a setting": (
        lambda: matrix({"a": [1]}, settings={"s": 1}, exclude=[{"s": 1}]),
        ["exclude[0]", "'s' is not a parameter"],
    ),
    "exclude not a list": (lambda: matrix({"a": [1]}, exclude="a"), ["exclude", "must be a list"]),  # type: ignore[arg-type]
    "exclude entry not a rule": (lambda: matrix({"a": [1]}, exclude=[5]), ["exclude[0]", "dict or a callable", "5"]),  # type: ignore[list-item]
    "include unknown key": (
        lambda: matrix({"a": [1]}, include=[{"a": 2, "zzz": 1}]),
        ["include[0]", "'zzz' is not a parameter"],
    ),
    "include missing a parameter": (
        lambda: matrix({"a": [1], "b": [2]}, include=[{"a": 3}]),
        ["include[0]", "needs every parameter", "missing 'b'"],
    ),
    "include a callable": (lambda: matrix({"a": [1]}, include=[lambda config: True]), ["include[0]", "must be a dict"]),  # type: ignore[list-item]
    "include unstable value": (
        lambda: matrix({"a": [1]}, include=[{"a": object()}]),
        ["include[0]['a']", 'pytest.param(value, id="...")'],
    ),
    "parameter and setting": (
        lambda: matrix({"seed": [1]}, settings={"seed": 2}),
        ["settings['seed']", "'seed' is both a parameter and a setting"],
    ),
    "settings not a dict": (lambda: matrix({"a": [1]}, settings=[("s", 1)]), ["settings", "must be a dict"]),  # type: ignore[arg-type]
    "reserved parameter config": (lambda: matrix({"config": [1]}), ["parameters['config']", "'config' is reserved"]),
    "reserved parameter checkpoint": (
        lambda: matrix({"checkpoint": [1]}),
        ["parameters['checkpoint']", "'checkpoint' is reserved"],
    ),
    "reserved name in tuple key": (
        lambda: matrix({("a", "config"): [(1, 2)]}),
        ["parameters[('a', 'config')]", "'config' is reserved"],
    ),
    "reserved setting": (
        lambda: matrix({"a": [1]}, settings={"checkpoint": 1}),
        ["settings['checkpoint']", "reserved"],
    ),
    "unstable value without id": (
        lambda: matrix({"model": [SVC, object()]}),
        ["parameters['model'][1]", "no stable identity", 'pytest.param(value, id="...")'],
    ),
    "lambda value without id": (lambda: matrix({"fn": [lambda: 0]}), ["parameters['fn'][0]", "pytest.param("]),
    "unstable setting": (
        lambda: matrix({"a": [1]}, settings={"model": object()}),
        ["settings['model']", "no stable identity", "__memento_key__"],
    ),
    "identity raises": (lambda: matrix({"thing": [Exploding()]}), ["parameters['thing'][0]", "no key for you"]),
    "unstable version": (lambda: matrix({"a": [1]}, version=object()), ["version", "no stable identity"]),
    "everything excluded": (
        lambda: matrix({"a": [1, 2]}, exclude=[{"a": 1}, {"a": 2}]),
        ["every configuration is excluded"],
    ),
    "everything excluded by callable": (lambda: matrix({"a": [1]}, exclude=[lambda config: True]), ["grid is empty"]),
    "exclude callable raises": (
        lambda: matrix({"a": [1]}, exclude=[{"a": 9}, failing_rule]),
        ["exclude[1]", "KeyError", "'nope'", "{'a': 1}"],
    ),
    "exclude callable asks for unknown name": (
        lambda: matrix({"a": [1]}, exclude=[not_a_mapping_rule]),
        ["exclude[0]", "AttributeError", "missing"],
    ),
}


@pytest.mark.parametrize(("make", "fragments"), list(ERROR_CASES.values()), ids=list(ERROR_CASES))
def test_matrix_errors_name_experiment_and_key(make: Callable[[], Any], fragments: list[str]) -> None:
    message = expansion_error(make())
    for fragment in fragments:
        assert fragment in message


def test_errors_in_stacked_matrices_say_which_matrix() -> None:
    message = expansion_error(matrix({"a": [1]}), matrix({"a": []}))
    assert "matrix #2: parameters['a']" in message
    message = expansion_error(matrix({"a": [1]}), matrix({"a": raising_values()}))
    assert "matrix #2" in message
    assert "broken generator" in message


def test_matrix_error_is_a_value_error() -> None:
    assert issubclass(MatrixError, ValueError)


def test_infinite_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matrix_module, "MAX_GRID", 100)
    monkeypatch.setattr(expand_module, "MAX_GRID", 100)
    message = expansion_error(matrix({"seed": itertools.count()}))
    assert "parameters['seed']" in message
    assert "infinite" in message


def test_too_large_grid_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matrix_module, "MAX_GRID", 100)
    monkeypatch.setattr(expand_module, "MAX_GRID", 100)
    message = expansion_error(matrix({"a": range(20), "b": range(20)}))
    assert "400 configurations" in message


def test_empty_list_as_parameters_is_an_error() -> None:
    with pytest.raises(MatrixError, match="parameters"):
        cases_of(matrix([]))  # type: ignore[arg-type]


# -- argnames_for -----------------------------------------------------------------


def test_argnames_for_returns_config_and_requested_names() -> None:
    cases = cases_of(matrix({"seed": [0, 1], "model": [SVC]}, settings={"folds": 5}))
    assert argnames_for(cases, ["config"], EXPERIMENT) == ["config"]
    assert argnames_for(cases, ["seed"], EXPERIMENT) == ["config", "seed"]
    names = argnames_for(cases, ["tmp_path", "folds", "config", "checkpoint", "seed"], EXPERIMENT)
    assert names[0] == "config"
    assert sorted(names[1:]) == ["folds", "seed"]


def test_argnames_for_name_missing_from_some_config() -> None:
    cases = cases_of(matrix({"seed": [0]}, settings={"folds": 5}), matrix({"seed": [1]}))
    assert argnames_for(cases, ["seed"], EXPERIMENT) == ["config", "seed"]
    with pytest.raises(MatrixError, match=r"'folds'.*\[1\].*config\.get\('folds'\)") as info:
        argnames_for(cases, ["seed", "folds"], EXPERIMENT)
    assert str(info.value).startswith(f"{EXPERIMENT}: ")


def test_argnames_for_nothing_requested_still_gives_config() -> None:
    # config is always parametrized: each item finds its case through it
    # (the decorator puts it in the fixture closure with usefixtures).
    cases = cases_of(matrix({"seed": [0]}, settings={"folds": 5}))
    assert argnames_for(cases, ["tmp_path", "checkpoint"], EXPERIMENT) == ["config"]


# -- Config ------------------------------------------------------------------------------


@pytest.fixture
def config() -> Config:
    return Config({"seed": 3, "lr": 0.1, "model": SVC})


def test_config_attribute_and_item_access(config: Config) -> None:
    assert config.seed == config["seed"] == 3
    assert config.model is SVC


def test_config_is_read_only(config: Config) -> None:
    with pytest.raises(TypeError, match="read-only"):
        config.seed = 4
    with pytest.raises(TypeError, match="read-only"):
        config.new = 1
    with pytest.raises(TypeError, match="read-only"):
        del config.seed
    with pytest.raises(TypeError):
        config["seed"] = 4  # type: ignore[index]
    assert config.seed == 3


def test_config_copies_its_input() -> None:
    data = {"seed": 1}
    config = Config(data)
    data["seed"] = 2
    assert config.seed == 1


def test_config_missing_attribute_lists_known_names(config: Config) -> None:
    with pytest.raises(AttributeError, match=r"'epochs'.*seed, lr, model"):
        _ = config.epochs
    assert not hasattr(config, "epochs")
    with pytest.raises(AttributeError, match="nothing"):
        _ = Config({}).anything
    with pytest.raises(KeyError):
        _ = config["epochs"]


def test_config_mapping_behaviour(config: Config) -> None:
    assert len(config) == 3
    assert list(config) == ["seed", "lr", "model"]
    assert "seed" in config
    assert "epochs" not in config
    assert config.get("epochs", 10) == 10
    assert dict(config) == {"seed": 3, "lr": 0.1, "model": SVC}
    assert config == {"seed": 3, "lr": 0.1, "model": SVC}
    assert list(config.keys()) == ["seed", "lr", "model"]
    assert next(iter(config.items())) == ("seed", 3)
    assert {**config} == dict(config)
    assert repr(config).startswith("Config(seed=3, lr=0.1")


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_config_pickles(config: Config, protocol: int) -> None:
    restored = pickle.loads(pickle.dumps(config, protocol=protocol))
    assert isinstance(restored, Config)
    assert restored == config
    assert restored.model is SVC
    with pytest.raises(TypeError):
        restored.seed = 1


def test_config_copies(config: Config) -> None:
    assert copy.copy(config) == config
    assert copy.deepcopy(config) == config
    assert isinstance(copy.deepcopy(config), Config)


def test_case_config_merges_params_and_settings() -> None:
    case = cases_of(matrix({"seed": [7]}, settings={"folds": 2}))[0]
    assert isinstance(case.config, Config)
    assert dict(case.config) == {"seed": 7, "folds": 2}
    assert repr(case) == "Case('7')"


def test_parameter_named_like_a_mapping_method() -> None:
    try:
        case = cases_of(matrix({"items": [5]}))[0]
    except MatrixError:
        return  # refusing the name would be fine too
    assert case.config.items == 5
