"""The noise-aware CI gate (:mod:`pytest_memento.gate`): decisions on
synthetic groups checked by hand, the Markdown comparison, and partial
baseline refresh."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pytest_memento.aggregate import Stats, group_outcomes, summarize
from pytest_memento.baseline import Baseline, write_baseline
from pytest_memento.gate import Verdict, compare_group, group_verdicts, markdown
from pytest_memento.outcome import Outcome, Status

EXP = "test_x.py::train"


def stats(*values: float) -> Stats:
    found = summarize(values)
    assert found is not None
    return found


def test_a_real_regression_of_three_standard_errors_fails() -> None:
    base = {"n": 3, "mean": 0.90, "std": 0.01}
    now = stats(0.87, 0.8705, 0.8695)  # mean 0.87, std 0.0005
    se = math.sqrt(0.01**2 / 3 + now.std**2 / 3)  # ~0.00578
    assert (0.90 - 0.87) / se > 5
    verdict, change, rule = compare_group("acc", base, now, "max", 0.0, 2.0)
    assert verdict == "worse"
    assert change == pytest.approx(-0.03)
    assert "2 standard errors of the difference" in rule


def test_exactly_three_standard_errors_against_k_two_and_four() -> None:
    # se = sqrt(0.03**2/3 + 0.03**2/3) = 0.024495; a drop of 3 se is 0.073485
    base = {"n": 3, "mean": 1.0, "std": 0.03}
    drop = 3 * math.sqrt(2 * 0.03**2 / 3)
    now = stats(1.0 - drop - 0.03, 1.0 - drop, 1.0 - drop + 0.03)
    assert now.std == pytest.approx(0.03)
    assert compare_group("acc", base, now, "max", 0.0, 2.0)[0] == "worse"
    assert compare_group("acc", base, now, "max", 0.0, 4.0)[0] == "same"


def test_a_one_sigma_wobble_passes() -> None:
    base = {"n": 5, "mean": 0.80, "std": 0.02}
    now = stats(0.77, 0.79, 0.79, 0.80, 0.80)  # mean 0.79: 1 std of one run below
    verdict, _, rule = compare_group("acc", base, now, "max", 0.0, 2.0)
    assert verdict == "same"
    assert rule.startswith("within")


def test_tolerance_still_applies_with_replicates() -> None:
    base = {"n": 3, "mean": 0.90, "std": 0.0}
    now = stats(0.895, 0.895, 0.895)  # far beyond 2 se (se = 0), within tolerance 0.01
    assert compare_group("acc", base, now, "max", 0.01, 2.0)[0] == "same"
    assert compare_group("acc", base, now, "max", 0.001, 2.0)[0] == "worse"


def test_n_one_falls_back_to_the_tolerance() -> None:
    base = {"n": 1, "mean": 0.90, "std": None}
    now = stats(0.85)
    verdict, _, rule = compare_group("acc", base, now, "max", 0.01, 2.0)
    assert verdict == "worse"
    assert "n = 1 on one side" in rule
    assert compare_group("acc", base, now, "max", 0.1, 2.0)[0] == "same"


def test_directions_min_and_no_goal() -> None:
    base = {"n": 3, "mean": 1.0, "std": 0.01}
    assert compare_group("loss", base, stats(1.2, 1.21, 1.19), "min", 0.0, 2.0)[0] == "worse"
    assert compare_group("loss", base, stats(0.8, 0.81, 0.79), "min", 0.0, 2.0)[0] == "better"
    assert compare_group("x", base, stats(0.8, 0.81, 0.79), None, 0.0, 2.0)[0] == "worse"  # any change counts


def outcome(model: str, seed: int, acc: float, status: Status = Status.RAN) -> Outcome:
    return Outcome(
        nodeid=f"{EXP}[{model}-{seed}]",
        status=status,
        experiment=EXP,
        test_id=f"{model}-{seed}",
        key=f"{model}{seed}".ljust(64, "0"),
        config_hash=f"h{model}{seed}",
        config={"model": model, "seed": seed},
        parameters=("model", "seed"),
        metrics={"acc": acc},
        goals={"acc": "max"},
        replicates=("seed",),
        group_size=3,
    )


def run_of(**means: float) -> list[Outcome]:
    return [outcome(m, s, mean + (s - 1) * 0.01) for m, mean in means.items() for s in range(3)]


def test_group_verdicts_fail_every_member_of_a_worse_group(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    before = run_of(a=0.9, b=0.8)
    write_baseline(path, before, group_outcomes(before))
    baseline = Baseline.load(path)
    assert baseline.groups(EXP) is not None
    after = run_of(a=0.9, b=0.7)
    verdicts = group_verdicts(
        group_outcomes(after),
        baseline,
        sigma=2.0,
        tolerances={},
        override=None,
        nodeids={o.key: o.nodeid for o in after},
    )
    by_group = {v.subject: v for v in verdicts}
    assert by_group[f"{EXP}[model=a]"].verdict == "same"
    worse = by_group[f"{EXP}[model=b]"]
    assert worse.verdict == "worse"
    assert worse.nodeids == tuple(f"{EXP}[b-{s}]" for s in range(3))
    assert worse.baseline == "0.8 ± 0.01 (n=3)"
    assert worse.now == "0.7 ± 0.01 (n=3)"
    assert "change -0.1" in worse.describe()


def test_new_and_missing_groups(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    write_baseline(path, run_of(a=0.9, b=0.8), group_outcomes(run_of(a=0.9, b=0.8)))
    now = run_of(a=0.9, c=0.5)
    verdicts = group_verdicts(
        group_outcomes(now), Baseline.load(path), sigma=2, tolerances={}, override=None, nodeids={}, experiments={EXP}
    )
    kinds = {v.subject: v.verdict for v in verdicts}
    assert kinds[f"{EXP}[model=c]"] == "new"
    assert kinds[f"{EXP}[model=b]"] == "missing"


def test_markdown_is_worst_first_and_short() -> None:
    verdicts = [Verdict(EXP, f"{EXP}[s{i}]", "acc", "same", "1", "1", 0.0, "within") for i in range(60)]
    verdicts.append(Verdict(EXP, f"{EXP}[bad]", "acc", "worse", "0.9 ± 0.01 (n=3)", "0.7 ± 0.01 (n=3)", -0.2, "worse"))
    verdicts.append(Verdict(EXP, f"{EXP}[good]", "acc", "better", "0.5", "0.7", 0.2, "better"))
    text = markdown(verdicts, limit=10, baseline="b.json")
    lines = text.splitlines()
    assert lines[0] == "### Against the baseline `b.json`: 1 worse, 1 better, 60 same"
    assert lines[4].startswith(f"| {EXP}[bad] | acc | 0.9 ± 0.01 (n=3) | 0.7 ± 0.01 (n=3) | -0.2 | **worse** |")
    assert lines[5].startswith(f"| {EXP}[good]")
    assert lines[-1] == "... and 52 more same"
    assert len(text) < 2000


def test_saving_a_baseline_keeps_the_experiments_the_run_did_not_touch(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    other = Outcome("o.py::t[0]", Status.RAN, experiment="o.py::t", test_id="0", config_hash="ho", metrics={"m": 1})
    first = [*run_of(a=0.9), other]
    write_baseline(path, first, group_outcomes(first))
    refreshed = run_of(a=0.5)
    write_baseline(path, refreshed, group_outcomes(refreshed))
    data = json.loads(path.read_text())
    assert set(data["experiments"]) == {EXP, "o.py::t"}
    assert data["experiments"]["o.py::t"]["ho"]["metrics"] == {"m": 1}
    group = next(iter(data["groups"][EXP].values()))
    assert group["metrics"]["acc"]["mean"] == pytest.approx(0.5)
    assert group["metrics"]["acc"]["n"] == 3
