"""plan.py: categories, counts, estimates from known durations, the wall
time over workers, and the printed lines."""

from __future__ import annotations

import pytest

from pytest_memento.plan import (
    Planned,
    category_of,
    format_seconds,
    plan_experiments,
    render,
    wall_time,
)


@pytest.mark.parametrize(
    ("action", "reason", "category"),
    [
        ("cached", "stored", "cached"),
        ("cached", "stale, kept: code changed (f)", "cached"),
        ("not-cached", "not cached", "not cached"),
        ("run", "new configuration", "new"),
        ("run", "last run failed", "failed last time"),
        ("run", "--memento-rerun", "forced"),
        ("run", "--memento-verify", "forced"),
        ("run", "code changed (train)", "stale"),
        ("run", "input changed (data.csv)", "stale"),
        ("run", "version changed (0 -> 1)", "stale"),
        ("run", "stored entry unusable (checksum)", "stale"),
    ],
)
def test_category_of(action: str, reason: str, category: str) -> None:
    assert category_of(action, reason) == category


def test_wall_time_longest_first_over_workers() -> None:
    assert wall_time([], 4) == 0
    assert wall_time([3.0, 1.0, 2.0], 1) == 6.0
    assert wall_time([3.0, 3.0, 2.0, 2.0, 2.0], 2) == 7.0  # 3+2+2 and 3+2
    assert wall_time([10.0, 1.0, 1.0], 8) == 10.0  # never below the longest one
    assert wall_time([1.0, 1.0], 0) == 2.0


def test_format_seconds() -> None:
    assert [format_seconds(s) for s in (0.04, 9.94, 12.4, 185, 7800)] == ["0.0s", "9.9s", "12s", "3m 05s", "2h 10m"]


def _plan() -> list[Planned]:
    return [
        Planned("a", "cached", "stored", None),
        Planned("a", "cached", "stored", None),
        Planned("a", "stale", "code changed (a)", 30.0),
        Planned("a", "new", "new configuration", None),
        Planned("a", "failed last time", "last run failed", None),
        Planned("b", "new", "new configuration", None),
        Planned("b", "stale", "input changed (x.csv)", 5.0),
        Planned("b", "stale", "input changed (x.csv)", 7.0),
        Planned("c", "new", "new configuration", None),
        Planned("d", "not cached", "not cached", None),
        Planned("d", "error", "cannot read data.csv", None),
    ]


def test_counts_and_estimates_from_known_durations() -> None:
    stored = {"a": [10.0, 20.0, 30.0, 60.0], "b": [5.0, 7.0], "c": [], "d": [4.0]}
    plans = {plan.experiment: plan for plan in plan_experiments(_plan(), stored)}
    a = plans["a"]
    assert a.counts == {"cached": 2, "stale": 1, "new": 1, "failed last time": 1}
    assert a.reasons == {"code changed (a)": 1}
    # the stale one its own last 30s; the new one and the failed one (nothing of
    # their own stored) the median of a's stored durations, 25s.
    assert sorted(a.estimates) == [25.0, 25.0, 30.0]
    assert a.unknown == 0
    assert sorted(plans["b"].estimates) == [5.0, 6.0, 7.0]
    assert plans["b"].reasons == {"input changed (x.csv)": 2}
    assert (plans["c"].estimates, plans["c"].unknown) == ([], 1)  # nothing stored: unknown
    assert plans["d"].counts == {"not cached": 1, "error": 1}
    assert (plans["d"].estimates, plans["d"].reasons) == ([4.0], {"cannot read data.csv": 1})


def test_render_per_experiment_and_total_over_workers() -> None:
    stored = {"a": [10.0, 20.0, 30.0, 60.0], "b": [5.0, 7.0]}
    lines = render(plan_experiments(_plan()[:8], stored), workers=2)
    assert lines == [
        "a: 5 configurations: 2 cached, 1 stale, 1 new, 1 failed last time; 3 to run, about 1m 20s",
        "    code changed (a) (1)",
        "b: 3 configurations: 2 stale, 1 new; 3 to run, about 18s",
        "    input changed (x.csv) (2)",
        # 30, 25, 25, 7, 6, 5, longest first to the worker free first: 30+7+6+5 = 48 and 25+25 = 50
        "total: 8 configurations: 2 cached, 3 stale, 2 new, 1 failed last time; 6 to run, about 50s on 2 workers; "
        "nothing was run",
    ]


def test_render_unknown_and_nothing() -> None:
    assert render(plan_experiments([Planned("c", "new", "new configuration")], {}), 1) == [
        "c: 1 configurations: 1 new; 1 to run, time unknown (nothing stored to estimate from)",
        "total: 1 configurations: 1 new; 1 to run, time unknown (nothing stored to estimate from) on 1 process; "
        "nothing was run",
    ]
    mixed = [Planned("a", "new", "new configuration", None), Planned("b", "stale", "code changed (b)", 4.0)]
    assert render(plan_experiments(mixed, {"b": [4.0]}), 3)[-1] == (
        "total: 2 configurations: 1 stale, 1 new; 2 to run, about 4.0s (+ 1 of unknown duration) on 3 workers; "
        "nothing was run"
    )
    assert render([], 1) == ["total: 0 configurations: nothing selected; nothing to run on 1 process; nothing was run"]
