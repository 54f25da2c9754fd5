"""Replicate groups and their statistics, against numbers worked out by hand
(no pytest spawned)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from pytest_memento.aggregate import group_outcomes, group_records, student_t_quantile, summarize
from pytest_memento.aggregate import student_t_cdf as cdf
from pytest_memento.outcome import Outcome, Status
from pytest_memento.records import Record

EXP = "exp.py::train"


def record(metrics: dict[str, float], **config: Any) -> Record:
    """A stored result written before records said their replicates (the seed rule applies)."""
    test_id = "-".join(str(v) for v in config.values())
    return Record(EXP, test_id, test_id, "stored", config, tuple(config), metrics)


def test_one_value_has_a_mean_and_no_spread() -> None:
    stats = summarize([0.8])
    assert stats is not None
    assert (stats.n, stats.mean, stats.min, stats.max) == (1, 0.8, 0.8, 0.8)
    # ddof=1 with one value is undefined, not 0.
    assert stats.std is None
    assert stats.sem is None
    assert stats.ci95 is None


def test_two_values_by_hand() -> None:
    stats = summarize([0.8, 0.9])
    assert stats is not None
    # mean 0.85; deviations +-0.05; variance (0.0025 + 0.0025) / (2 - 1) = 0.005
    assert stats.mean == pytest.approx(0.85)
    assert stats.std == pytest.approx(math.sqrt(0.005))  # 0.0707107
    assert stats.sem == pytest.approx(0.05)  # 0.0707107 / sqrt(2)
    # t(0.975, 1) = tan(pi * 0.475) = 12.7062047
    assert stats.ci95 == pytest.approx(12.7062047 * 0.05, rel=1e-7)
    assert (stats.min, stats.max) == (0.8, 0.9)


def test_five_values_by_hand() -> None:
    stats = summarize([3.0, 1.0, 5.0, 2.0, 4.0])
    assert stats is not None
    # mean 3; squared deviations 4, 1, 0, 1, 4 -> variance 10 / 4 = 2.5
    assert stats.n == 5
    assert stats.mean == 3.0
    assert stats.std == pytest.approx(1.5811388301)  # sqrt(2.5)
    assert stats.sem == pytest.approx(0.7071067812)  # sqrt(2.5 / 5) = sqrt(0.5)
    # t(0.975, 4) = 2.7764451 (printed tables: 2.776)
    assert stats.ci95 == pytest.approx(2.7764451052 * 0.7071067812, rel=1e-9)
    assert (stats.min, stats.max) == (1.0, 5.0)


def test_nan_and_infinity_are_left_out() -> None:
    stats = summarize([1.0, math.nan, 3.0, math.inf])
    assert stats is not None
    assert (stats.n, stats.mean) == (2, 2.0)
    assert summarize([math.nan]) is None


@pytest.mark.parametrize(
    ("df", "printed"),
    # The 97.5 % column of a printed t table.
    [(1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (5, 2.571), (9, 2.262), (10, 2.228), (30, 2.042), (120, 1.980)],
)
def test_student_t_quantile_matches_printed_tables(df: int, printed: float) -> None:
    assert student_t_quantile(0.975, df) == pytest.approx(printed, abs=5e-4)


def test_student_t_quantile_is_exact_where_closed_forms_exist() -> None:
    # df = 3 has a closed-form CDF: 1/2 + (u / (1 + u^2) + atan(u)) / pi with u = t / sqrt(3).
    for p in (0.6, 0.9, 0.975, 0.995):
        t = student_t_quantile(p, 3)
        u = t / math.sqrt(3)
        assert 0.5 + (u / (1 + u * u) + math.atan(u)) / math.pi == pytest.approx(p, abs=1e-12)
    assert student_t_quantile(0.975, 1) == pytest.approx(math.tan(math.pi * 0.475), rel=1e-12)
    assert student_t_quantile(0.995, 2) == pytest.approx(0.99 / math.sqrt(2 * 0.995 * 0.005), rel=1e-12)
    # Symmetric, and near the normal quantile for large df.
    assert student_t_quantile(0.025, 4) == -student_t_quantile(0.975, 4)
    assert student_t_quantile(0.975, 10**6) == pytest.approx(1.959964, abs=1e-5)
    assert cdf(student_t_quantile(0.975, 7.5), 7.5) == pytest.approx(0.975, abs=1e-12)
    with pytest.raises(ValueError, match="0 < p < 1"):
        student_t_quantile(1.0, 3)


def test_groups_are_equal_in_everything_but_the_seed() -> None:
    records = [
        record({"acc": 0.5 + seed / 10 + (model == "b") / 4}, model=model, lr=lr, seed=seed)
        for model in ("a", "b")
        for lr in (0.1,)
        for seed in range(3)
    ]
    groups = group_records(records)
    assert [dict(g.values) for g in groups] == [{"model": "a", "lr": 0.1}, {"model": "b", "lr": 0.1}]
    assert [g.n for g in groups] == [3, 3]
    assert groups[0].replicates == ("seed",)
    assert groups[0].stats["acc"].mean == pytest.approx(0.6)
    assert groups[1].stats["acc"].mean == pytest.approx(0.85)
    assert all(g.complete for g in groups)
    assert groups[0].id == '{"lr":0.1,"model":"a"}'
    assert groups[0].label() == "model=a, lr=0.1"


def test_declared_replicates_and_the_over_override() -> None:
    records = [
        Record(EXP, f"{m}-{r}", f"k{m}{r}", "stored", {"m": m, "run": r, "seed": 7}, ("m", "run", "seed"), {"x": r})
        for m in (1, 2)
        for r in (0, 1)
    ]
    # No declaration in the records: the seed rule; seed is constant, so each (m, run) stands alone.
    assert [g.n for g in group_records(records)] == [1, 1, 1, 1]
    assert group_records(records)[0].replicates == ("seed",)
    declared = [dataclasses.replace(r, replicates=("run",)) for r in records]
    assert [g.n for g in group_records(declared)] == [2, 2]
    assert group_records(declared)[0].values == {"m": 1, "seed": 7}
    # --over overrides; () means no replicates: every configuration is its own group.
    assert [g.n for g in group_records(records, over=("run",))] == [2, 2]
    assert group_records(records, over=("run",))[0].values == {"m": 1, "seed": 7}
    assert len(group_records(records, over=())) == 4
    assert group_records(records, over=())[0].stats["x"].std is None


def test_a_missing_seed_is_named_from_the_other_groups() -> None:
    records = [record({"acc": 1.0}, model=m, seed=s) for m in ("a", "b") for s in range(3)]
    records = [r for r in records if not (r.config["model"] == "b" and r.config["seed"] == 2)]
    a, b = group_records(records)
    assert a.complete
    assert not b.complete
    assert b.missing == ("seed=2 never run",)
    assert b.note() == "2 of 3 (seed=2 never run)"


def test_a_failed_seed_in_a_run_is_flagged_and_left_out_of_the_statistics() -> None:
    outcomes = [
        Outcome(
            f"exp.py::train[{s}]",
            Status.FAILED if s == 1 else Status.RAN,
            experiment=EXP,
            test_id=str(s),
            config={"lr": 0.1, "seed": s},
            parameters=("lr", "seed"),
            metrics={} if s == 1 else {"acc": float(s)},
            replicates=("seed",),
            group_size=4,
        )
        for s in range(3)
    ]
    (group,) = group_outcomes(outcomes)
    assert group.n == 2
    assert group.stats["acc"].mean == 1.0  # seeds 0 and 2
    assert [r.test_id for r in group.failed] == ["1"]
    # The grid promises 4; seed 3 is nowhere to be seen, so it is counted.
    assert group.missing == ("seed=1 failed", "1 never run")
    assert group.note() == "2 of 4 (seed=1 failed; 1 never run)"


def test_the_grid_size_wins_over_guessing_from_other_groups() -> None:
    # An excluded (model=b, seed=2) is not missing: the grid gives b only two seeds.
    records = [
        Record(EXP, f"{m}{s}", f"{m}{s}", "stored", {"model": m, "seed": s}, ("model", "seed"), {"x": 1.0},
               replicates=("seed",), group_size=3 if m == "a" else 2)
        for m in ("a", "b")
        for s in range(3)
        if (m, s) != ("b", 2)
    ]  # fmt: skip
    assert all(g.complete for g in group_records(records))


def test_versions_and_experiments_never_share_a_group() -> None:
    records = [
        Record(EXP, "0", "k1", "stored", {"seed": 0}, ("seed",), {"x": 1.0}, version=0),
        Record(EXP, "1", "k2", "stored", {"seed": 1}, ("seed",), {"x": 2.0}, version=1),
        Record("other.py::t", "0", "k3", "stored", {"seed": 0}, ("seed",), {"x": 3.0}),
    ]
    groups = group_records(records)
    assert [(g.experiment, g.version, g.n) for g in groups] == [(EXP, 0, 1), (EXP, 1, 1), ("other.py::t", 0, 1)]


def test_a_metric_some_members_lack_counts_only_where_present() -> None:
    records = [record({"a": 1.0, "b": 2.0}, seed=0), record({"a": 3.0}, seed=1)]
    (group,) = group_records(records)
    assert group.stats["a"].n == 2
    assert group.stats["b"].n == 1


def cases_of(**matrix: Any) -> list[Any]:
    import pytest_memento as memento
    from pytest_memento.expand import expand
    from pytest_memento.matrix import specs_of

    @memento.matrix(**matrix)
    def experiment(config: Any) -> None: ...

    return expand("exp.py::experiment", specs_of(experiment))


def test_expansion_gives_each_case_its_replicates_and_group_size() -> None:
    cases = cases_of(parameters={"lr": [0.1, 0.2], "seed": range(3)}, exclude=[{"lr": 0.2, "seed": 1}])
    assert {c.replicates for c in cases} == {("seed",)}
    assert [(c.id, c.group_size) for c in cases] == [
        ("0.1-0", 3),
        ("0.1-1", 3),
        ("0.1-2", 3),
        ("0.2-0", 2),
        ("0.2-2", 2),
    ]
    runs = cases_of(parameters={"lr": [0.1], "run": range(2), "seed": [5]}, replicates="run")
    assert [(c.replicates, c.group_size) for c in runs] == [(("run",), 2), (("run",), 2)]
    both = cases_of(parameters={"lr": [0.1], "run": range(2), "seed": range(2)}, replicates=("run", "seed"))
    assert {c.group_size for c in both} == {4}
    none = cases_of(parameters={"lr": [0.1, 0.2], "seed": range(2)}, replicates=())
    assert {(c.replicates, c.group_size) for c in none} == {((), 1)}
    assert {c.replicates for c in cases_of(parameters={"lr": [0.1, 0.2]})} == {()}


@pytest.mark.parametrize(
    ("replicates", "message"),
    [
        ("trial", "exp.py::experiment: replicates: 'trial' is not a parameter (parameters: lr, seed)"),
        ("folds", "exp.py::experiment: replicates: 'folds' is a setting; replicates must be parameters"),
        (3, "exp.py::experiment: replicates: expected a parameter name or a tuple of names, got 3"),
    ],
)
def test_bad_replicates_are_a_clear_error(replicates: Any, message: str) -> None:
    from pytest_memento.matrix import MatrixError

    with pytest.raises(MatrixError) as caught:
        cases_of(parameters={"lr": [0.1], "seed": range(2)}, settings={"folds": 3}, replicates=replicates)
    assert str(caught.value) == message
