"""Unit tests of test ids (:mod:`pytest_memento.ids`): readable and never
mistakable for another configuration's."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from pytest_memento.expand import expand
from pytest_memento.ids import auto_id, disambiguate, display_label, unique_ids
from pytest_memento.matrix import matrix, specs_of


def ids_of(parameters: dict[str, object]) -> list[str]:
    @matrix(parameters)
    def exp(config: object) -> None: ...

    return [case.id for case in expand("t.py::exp", specs_of(exp))]


def test_numpy_floats_read_as_numbers() -> None:
    assert ids_of({"lr": list(np.logspace(-4, -2, 3))}) == ["0.0001", "0.001", "0.01"]
    assert auto_id(np.float32(0.5), "x", 0) == "0.5"
    assert display_label(np.float64(0.25)) == "0.25"


def test_a_string_beside_an_equal_number_is_quoted() -> None:
    assert ids_of({"x": [1, "1", 10]}) == ["1", "'1'", "10"]


def test_numbered_duplicates_never_read_as_another_value() -> None:
    paths = [pathlib.Path("a/1"), pathlib.Path("b/1"), pathlib.Path("c/10")]
    found = ids_of({"data": paths})
    assert found == ["1_0", "1_1", "10"]
    assert len(set(found)) == 3


def test_duplicates_ending_in_letters_keep_the_short_form() -> None:
    assert disambiguate(["same", "same"]) == ["same0", "same1"]


def test_a_suffix_that_would_equal_a_real_id_is_extended() -> None:
    result = disambiguate(["a", "a", "a0"])
    assert len(set(result)) == 3
    assert "a0" in result  # the real value keeps its id
    assert result.count("a0") == 1


@pytest.mark.parametrize(
    "ids", [["x", "y"], ["1", "1", "1"], ["v", "v", "v0", "v1"], ["2_0", "2", "2"], ["a", "a", "a0", "b", "b", "b0"]]
)
def test_disambiguated_ids_are_unique(ids: list[str]) -> None:
    assert len(set(disambiguate(ids))) == len(ids)


def test_quoted_strings_that_collide_again_still_end_unique() -> None:
    assert len(set(disambiguate(["'1'", "1", "1", "z", "z"], ["'1'", "1", 1, "z", "z"]))) == 5


def test_unique_ids_across_configurations() -> None:
    assert unique_ids(["a", "b"]) == ["a", "b"]
    assert unique_ids(["a", "a", "a-2"]) == ["a", "a-3", "a-2"]
