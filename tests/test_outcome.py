"""Unit tests of the outcome record and the run log (no pytest spawned)."""

from __future__ import annotations

import json

import pytest

from pytest_memento.outcome import BaselineVerdict, CheckpointNote, Outcome, Status, metrics_of, status_of
from pytest_memento.session import RunLog

FULL = Outcome(
    nodeid="test_x.py::train[SVC-0]",
    status=Status.FAILED,
    reason="code changed (helper)",
    experiment="test_x.py::train",
    test_id="SVC-0",
    key="a" * 64,
    config_hash="b" * 64,
    config={"model": "sklearn.svm.SVC", "seed": 0, "folds": 5},
    parameters=("model", "seed"),
    labels={"model": "SVC"},
    metrics={"accuracy": 0.9, "epochs": 3},
    duration=1.25,
    goals={"accuracy": "max"},
    replicates=("seed",),
    group_size=5,
    problems=("a warning",),
    error="AssertionError: too low",
    checkpoint=CheckpointNote(3, resumed="save #2 at 2026-12-02 05:00:00", ignored=None),
    verified=False,
    baseline=BaselineVerdict("worse", regressions=("accuracy: baseline 0.95, now 0.9",), improved=()),
)


def test_round_trip_through_json_text() -> None:
    text = json.dumps(FULL.to_json())  # what crosses from an xdist worker
    assert Outcome.from_json(json.loads(text)) == FULL


def test_minimal_outcome_round_trips() -> None:
    crashed = Outcome("test_x.py::train[1]", Status.CRASHED, "worker died")
    assert Outcome.from_json(crashed.to_json()) == crashed
    assert "goals" not in crashed.to_json()
    assert "baseline" not in crashed.to_json()


def test_the_record_is_frozen() -> None:
    with pytest.raises(AttributeError):
        FULL.status = Status.RAN  # type: ignore[misc]
    changed = FULL.replace(status=Status.RAN)
    assert changed.status is Status.RAN
    assert FULL.status is Status.FAILED


def test_json_keeps_the_keys_metadata_readers_use() -> None:
    data = Outcome("n", Status.CACHED, "stored", experiment="e", key="k" * 64).to_json()
    assert data["cached"] is True
    assert data["status"] == "cached"
    for name in ("key", "config_hash", "experiment", "test_id", "config", "metrics", "reason", "duration", "problems"):
        assert name in data


@pytest.mark.parametrize("bad", [None, [], {"status": "ran"}, {"nodeid": "n", "status": "exploded"}])
def test_from_json_refuses_what_is_not_an_outcome(bad: object) -> None:
    with pytest.raises(ValueError, match=r"outcome|status"):
        Outcome.from_json(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("when", "outcome", "cached", "status"),
    [
        ("call", "passed", False, Status.RAN),
        ("call", "passed", True, Status.CACHED),
        ("call", "failed", False, Status.FAILED),
        ("setup", "failed", False, Status.ERROR),
        ("teardown", "failed", False, Status.ERROR),
        ("setup", "skipped", False, Status.SKIPPED),
        ("call", "skipped", False, Status.SKIPPED),
    ],
)
def test_status_of_a_report(when: str, outcome: str, cached: bool, status: Status) -> None:
    assert status_of(when, outcome, cached) is status


def test_status_groups() -> None:
    assert {s for s in Status if s.finished} == {Status.RAN, Status.CACHED}
    assert {s for s in Status if s.broken} == {Status.FAILED, Status.ERROR, Status.CRASHED}


def test_metrics_are_top_level_real_numbers_not_bools() -> None:
    np = pytest.importorskip("numpy")
    result = {
        "a": 1,
        "b": 2.5,
        "c": True,
        "d": "x",
        "e": np.float32(0.5),
        "f": np.int64(3),
        "g": np.bool_(True),
        "h": [1],
    }
    assert metrics_of(result) == {"a": 1, "b": 2.5, "e": 0.5, "f": 3}
    assert type(metrics_of(result)["f"]) is int
    assert metrics_of([1, 2]) == {}


def test_run_log_counts_reasons_problems_and_teardown_errors() -> None:
    log = RunLog()
    log.record(Outcome("a", Status.RAN, "new configuration", problems=("p1",)))
    log.record(Outcome("b", Status.CACHED, "stored", problems=("p1", "p2")))
    log.record(Outcome("c", Status.RAN, "new configuration"))
    log.mark("c", Status.ERROR)
    log.mark("unknown", Status.ERROR)  # nothing recorded for it: nothing to change
    assert log.counts() == {Status.RAN: 1, Status.CACHED: 1, Status.ERROR: 1}
    assert log.reasons() == {"new configuration": 2}
    assert log.problems == ["p1", "p2"]
    log.record(Outcome("d", Status.SKIPPED, "not cached", executed=False))
    worse = BaselineVerdict("worse", regressions=("acc: ...",))
    log.record(Outcome("e", Status.FAILED, "stored", executed=False, baseline=worse))
    assert log.reasons() == {"new configuration": 2}
    assert log.not_run() == {"skipped: not cached": 1, "cached, worse than the baseline": 1}
    assert set(log.outcomes) == {"a", "b", "c", "d", "e"}
