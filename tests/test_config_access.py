"""``Config`` attribute access reads values for any parameter name; its own
state is never returned (pytest_memento.matrix.Config)."""

from __future__ import annotations

import pickle

import pytest

from pytest_memento.matrix import Config, case_of_config


@pytest.mark.parametrize("name", ["_data", "_case", "items", "keys", "get", "_", "__x", "seed"])
def test_any_parameter_name_reads_its_value(name: str) -> None:
    config = Config({name: "value", "other": 2}, case="the case")
    assert getattr(config, name) == "value"
    assert config[name] == "value"
    assert {key: config[key] for key in config} == {name: "value", "other": 2}
    assert len(config) == 2
    assert name in config
    assert config == {name: "value", "other": 2}
    assert case_of_config(config) == "the case"
    assert pickle.loads(pickle.dumps(config)) == {name: "value", "other": 2}


def test_mapping_methods_work_when_no_parameter_takes_their_name() -> None:
    config = Config({"a": 1})
    assert dict(config) == {"a": 1}
    assert config.get("a") == 1
    assert config.get("b", 2) == 2


def test_internals_are_not_reachable_as_attributes() -> None:
    config = Config({"a": 1})
    with pytest.raises(AttributeError, match=r"config has no '_data' \(it has a\)"):
        _ = config._data
    with pytest.raises(AttributeError, match="config has no '_case'"):
        _ = config._case
    assert list(config.items()) == [("a", 1)]
    with pytest.raises(TypeError, match="read-only"):
        config.a = 2  # type: ignore[misc]
