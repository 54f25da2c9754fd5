"""eta.py: the time left as configurations finish, over workers, corrected
by actual / estimated, the error line at the end, and formatting."""

from __future__ import annotations

import pytest

from pytest_memento.eta import Eta, interval_for, signed_percent
from pytest_memento.plan import Planned, estimates, wall_time


def test_before_anything_runs_the_line_is_the_plans_wall_time() -> None:
    eta = Eta({"a": 3.0, "b": 2.0, "c": 1.0}, workers=2)
    assert eta.total == wall_time([3.0, 2.0, 1.0], 2) == 3.0
    assert eta.left(0.0) == (3.0, 0)
    assert eta.line(0.0) == "memento: 0/3 configurations to run done, about 3.0s left"


def test_remaining_falls_as_configurations_finish_one_process() -> None:
    eta = Eta({"a": 10.0, "b": 10.0, "c": 10.0})
    eta.start("a", 0.0)
    assert eta.left(4.0) == (26.0, 0)  # 6 left of the running one, 20 of the others
    eta.finish("a", 10.0)  # as estimated: no correction
    assert eta.correction() == 1.0
    assert eta.left(10.0) == (20.0, 0)
    assert eta.line(10.0) == "memento: 1/3 configurations to run done, about 20s left"
    eta.start("b", 10.0)
    eta.finish("b", 20.0)
    eta.start("c", 20.0)
    assert eta.line(25.0) == "memento: 2/3 configurations to run done, about 5.0s left"
    eta.finish("c", 30.0)
    assert eta.line(30.0) is None  # nothing left: pytest's [100%] says it


def test_a_running_configuration_past_its_estimate_counts_as_zero() -> None:
    eta = Eta({"a": 1.0, "b": 2.0})
    eta.start("a", 0.0)
    assert eta.left(5.0) == (2.0, 0)


def test_remaining_is_spread_over_the_workers_after_the_running_ones() -> None:
    eta = Eta({"a": 4.0, "b": 1.0, "c": 3.0, "d": 2.0}, workers=2)
    eta.start("a", 0.0)
    eta.start("b", 0.0)
    # 4 left of a, 1 of b: c (3) goes after b (1 + 3), then d (2) after a or c (4 + 2).
    assert eta.left(0.0) == (wall_time([3.0, 2.0], 2, busy=[4.0, 1.0]), 0) == (6.0, 0)
    eta.finish("b", 1.0)
    eta.start("c", 1.0)
    assert eta.left(1.0) == (5.0, 0)  # a: 3 left, c: 3 left, then d after the first free: 3 + 2


def test_the_correction_is_actual_over_estimated_of_the_finished_ones() -> None:
    eta = Eta({"a": 10.0, "b": 30.0, "c": 20.0, "d": 20.0})
    eta.start("a", 0.0)
    eta.finish("a", 15.0)  # took 15 for 10: slower machine
    assert eta.correction() == pytest.approx(1.5)
    assert eta.left(15.0) == (pytest.approx(105.0), 0)  # (30 + 20 + 20) * 1.5
    eta.start("b", 15.0)
    eta.finish("b", 45.0, duration=25.0)  # its call took 25 (the rest was set-up)
    assert eta.correction() == pytest.approx(40 / 40)  # sums: 15 + 25 over 10 + 30
    assert eta.left(45.0) == (pytest.approx(40.0), 0)


def test_the_correction_ignores_configurations_of_unknown_duration() -> None:
    eta = Eta({"a": 10.0, "b": None, "c": 10.0})
    eta.start("b", 0.0)
    eta.finish("b", 100.0)
    assert eta.correction() == 1.0
    assert eta.line(100.0) == "memento: 1/3 configurations to run done, about 20s left"


def test_unknown_durations_are_counted_apart() -> None:
    eta = Eta({"a": 2.0, "b": None, "c": None})
    assert eta.line(0.0) == "memento: 0/3 configurations to run done, about 2.0s left (+ 2 of unknown duration)"
    eta.start("a", 0.0)
    eta.finish("a", 2.0)
    assert eta.line(2.0) == "memento: 1/3 configurations to run done, 2 left of unknown duration"


def test_nothing_is_shown_when_no_configuration_that_runs_has_an_estimate() -> None:
    for eta in (Eta({"a": None, "b": None}), Eta({})):
        assert not eta.known
        assert eta.line(0.0) is None
        assert eta.due(0.0) is None
        assert eta.error_line() is None


def test_items_that_are_not_configurations_to_run_do_not_count() -> None:
    eta = Eta({"a": 2.0})
    eta.start("cached-or-plain", 0.0)
    eta.finish("cached-or-plain", 5.0)
    assert eta.finished == {}
    assert eta.first_start is None
    assert eta.line(5.0) == "memento: 0/1 configuration to run done, about 2.0s left"


def test_lines_are_due_at_once_then_at_most_every_interval() -> None:
    eta = Eta({name: 10.0 for name in "abcdefghij"})  # 100 s: a line every 5 s at most
    assert eta.interval == 5.0
    assert eta.due(0.0) is not None
    assert eta.due(4.9) is None
    assert eta.due(5.0) is not None
    assert eta.due(6.0) is None


@pytest.mark.parametrize(("total", "interval"), [(0.0, 1.0), (10.0, 1.0), (100.0, 5.0), (600.0, 30.0), (1e5, 60.0)])
def test_interval_for(total: float, interval: float) -> None:
    assert interval_for(total) == interval


def test_the_error_line_compares_the_estimate_with_the_wall_time() -> None:
    eta = Eta({"a": 100.0, "b": 150.0}, workers=1)
    eta.start("a", 1000.0)
    eta.finish("a", 1110.0)
    eta.start("b", 1110.0)
    eta.finish("b", 1272.0)
    assert eta.error_line() == "memento: estimated 4m 10s for 2 configurations to run, took 4m 32s (+9%)"


def test_the_error_line_when_faster_exact_unknown_or_stopped() -> None:
    eta = Eta({"a": 10.0})
    eta.start("a", 0.0)
    eta.finish("a", 8.0)
    assert eta.error_line() == "memento: estimated 10s for 1 configuration to run, took 8.0s (-20%)"
    exact = Eta({"a": 10.0, "b": None})
    exact.start("a", 0.0)
    exact.start("b", 0.0)
    exact.finish("a", 10.0)
    exact.finish("b", 10.0)
    assert exact.error_line() == (
        "memento: estimated 10s for 2 configurations to run (1 of unknown duration), took 10s (0%)"
    )
    tiny = Eta({"a": 0.001})
    tiny.start("a", 0.0)
    tiny.finish("a", 0.5)
    assert tiny.error_line() == "memento: estimated 0.0s for 1 configuration to run, took 0.5s"  # no +49900%
    stopped = Eta({"a": 10.0, "b": 10.0})
    assert stopped.error_line() == "memento: estimated 20s for 2 configurations to run; none finished"
    stopped.start("a", 0.0)
    stopped.finish("a", 12.0)
    assert stopped.error_line() == (
        "memento: estimated 20s for 2 configurations to run; stopped after 1 of them, in 12s"
    )


@pytest.mark.parametrize(
    ("actual", "estimated", "text"),
    [(272.0, 250.0, "+9%"), (8.0, 10.0, "-20%"), (10.0, 10.0, "0%"), (10.001, 10.0, "0%"), (5.0, 0.0, "")],
)
def test_signed_percent(actual: float, estimated: float, text: str) -> None:
    assert signed_percent(actual, estimated) == text


def test_estimates_per_configuration_are_the_plans() -> None:
    planned = [
        Planned("e", "stale", "code changed (f)", duration=4.0),  # its own last duration
        Planned("e", "new"),  # the experiment's median
        Planned("e", "cached", duration=9.0),  # costs nothing
        Planned("f", "new"),  # nothing stored for f
        Planned("e", "forced", duration=-1.0),  # a clock step back: never negative
    ]
    assert estimates(planned, {"e": [1.0, 2.0, 9.0]}) == [4.0, 2.0, None, None, 0.0]


def test_wall_time_after_busy_workers() -> None:
    assert wall_time([], 2, busy=[3.0, -1.0]) == 3.0
    assert wall_time([2.0, 2.0], 2, busy=[3.0]) == 4.0
    assert wall_time([1.0], 1, busy=[2.0, 2.0]) == 3.0  # more running than workers: each its own
