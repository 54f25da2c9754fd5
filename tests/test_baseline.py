"""Unit tests of baseline comparison, judging and the baseline file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pytest_memento.baseline import (
    FORMAT,
    Baseline,
    BaselineError,
    Comparison,
    check_goals,
    compare,
    judge,
    not_reproduced,
    tolerance_for,
    write_baseline,
)
from pytest_memento.outcome import Outcome, Status


@pytest.mark.parametrize(
    ("goal", "baseline", "current", "tolerance", "worse", "better"),
    [
        ("max", 0.9, 0.89, 0.0, True, False),
        ("max", 0.9, 0.89, 0.02, False, False),
        ("max", 0.9, 0.95, 0.02, False, True),
        ("min", 1.0, 1.2, 0.1, True, False),
        ("min", 1.0, 0.8, 0.1, False, True),
        (None, 1.0, 1.05, 0.01, True, False),
        (None, 1.0, 0.95, 0.01, True, False),
        (None, 1.0, 1.0, 0.0, False, False),
        ("max", 0.9, math.nan, 0.5, True, False),
    ],
)
def test_comparison_directions(
    goal: str | None, baseline: float, current: float, tolerance: float, worse: bool, better: bool
) -> None:
    comparison = Comparison("m", baseline, current, tolerance, goal)
    assert (comparison.worse, comparison.better) == (worse, better)


def test_describe_names_everything() -> None:
    text = Comparison("acc", 0.9, 0.8, 0.05, "max").describe()
    assert text == "acc: baseline 0.9, now 0.8 (change -0.1, tolerance 0.05, higher is better)"


def test_compare_only_metrics_in_both_and_numbers() -> None:
    found = compare({"a": 1.0, "b": "x", "c": 2.0}, {"a": 1.0, "b": 1.0, "d": 3.0, "c": True}, None, 0, None)
    assert [c.metric for c in found] == ["a"]


def test_tolerance_per_metric_and_override() -> None:
    assert tolerance_for("a", {"a": 0.1}, None) == 0.1
    assert tolerance_for("b", {"a": 0.1}, None) == 0.0
    assert tolerance_for("a", 0.2, None) == 0.2
    assert tolerance_for("a", {"a": 0.1}, 0.5) == 0.5


def test_judge_new_ok_worse_and_better() -> None:
    assert judge({"acc": 0.9}, None, None, 0, None)[0].verdict == "new"
    verdict, worse = judge({"acc": 0.9, "loss": 0.5}, {"acc": 0.8, "loss": 0.7}, {"acc": "max", "loss": "min"}, 0, None)
    assert (verdict.verdict, worse, len(verdict.improved)) == ("ok", [], 2)
    verdict, worse = judge({"acc": 0.7}, {"acc": 0.8}, {"acc": "max"}, 0.05, None)
    assert verdict.verdict == "worse"
    assert [c.metric for c in worse] == ["acc"]
    assert verdict.regressions == (worse[0].describe(),)


def test_not_reproduced_in_either_direction_and_missing() -> None:
    assert not_reproduced({"a": 1.0}, {"a": 1.0}, None, None) == []
    lines = not_reproduced({"a": 1.2}, {"a": 1.0, "b": 2}, 0.1, None)
    assert lines == ["  a: stored 1, now 1.2 (tolerance 0.1)", "  b: stored 2, now missing"]
    assert not_reproduced({"a": 0.8}, {"a": 1.0}, 0.1, None) != []


def test_goals_and_tolerance_are_checked() -> None:
    assert check_goals({"a": "max"}, {"a": 0.1}) is None
    assert "must be 'max' or 'min'" in str(check_goals({"a": "up"}, None))
    assert "must be a dict" in str(check_goals(["a"], None))
    assert "tolerance must be a number >= 0" in str(check_goals(None, -1))
    assert "tolerance must be a number >= 0" in str(check_goals(None, {"a": True}))


def test_write_then_load_round_trip(tmp_path: Path) -> None:
    outcomes = [
        Outcome(
            "n1", Status.RAN, experiment="e.py::x", test_id="1", config_hash="h1", config={"s": 1}, metrics={"a": 1.5}
        ),
        Outcome("n2", Status.CACHED, experiment="e.py::x", test_id="2", config_hash="h2", metrics={"a": math.inf}),
        Outcome("n3", Status.RAN, experiment="e.py::x", test_id="3", config_hash="h3"),  # no metrics: left out
    ]
    path = tmp_path / "baseline.json"
    assert write_baseline(path, outcomes) == 2
    text = path.read_text()
    assert json.loads(text)["format"] == FORMAT
    assert text.endswith("\n")
    loaded = Baseline.load(path)
    assert loaded.metrics("e.py::x", "h1") == {"a": 1.5}
    assert loaded.metrics("e.py::x", "h2") == {"a": math.inf}  # written as "inf", read back as a number
    assert loaded.metrics("e.py::x", "h3") is None
    assert loaded.known() == {("e.py::x", "h1"), ("e.py::x", "h2")}
    assert loaded.label("e.py::x", "h1") == "e.py::x[1]"
    write_baseline(path, outcomes)
    assert path.read_text() == text  # stable: a rewrite changes nothing


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("{", "not valid JSON"),
        ('{"format": "other"}', "not a pytest-memento baseline"),
        (json.dumps({"format": FORMAT, "experiments": {"e": {"h": {"metrics": 1}}}}), "must map experiment"),
        (
            json.dumps(
                {"format": FORMAT, "experiments": {"e.py::x": {"h": {"id": "SVC-0", "metrics": {"acc": "high"}}}}}
            ),
            r"b\.json: e\.py::x\[SVC-0\]: metric 'acc' is 'high', not a number",
        ),
    ],
)
def test_bad_baseline_files_name_the_problem(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "b.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(BaselineError, match=message):
        Baseline.load(path)
