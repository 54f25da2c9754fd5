"""End to end: the results table, exports and metric baselines."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import outcomes

GRID = """
import pathlib
import pytest_memento as memento

SHIFT = float(pathlib.Path(__file__).with_name("shift").read_text()) if pathlib.Path(__file__).with_name("shift").exists() else 0.0

@memento.matrix(
    parameters={{"model": [{models}], "seed": [0, 1]}},
    goals={{"acc": "max", "loss": "min"}},
    tolerance={{"acc": 0.01, "loss": 0.01}},
    replicates=(),  # compared configuration by configuration (tests/test_gate_run.py has the groups)
)
def trainer(config):
    return {{"acc": 0.5 + 0.1 * config.seed + SHIFT, "loss": 1.0 - 0.1 * config.seed, "steps": 10}}
"""


def grid(pytester: pytest.Pytester, models: str = '"a", "b"') -> None:
    pytester.makepyfile(test_grid=GRID.format(models=models))


def test_table_lists_small_grids_and_summarises_large_ones(pytester: pytest.Pytester, run) -> None:
    grid(pytester)
    result = run()
    result.stdout.fnmatch_lines(
        [
            "*- memento -*",
            "test_grid.py::trainer: 4 configurations (4 ran)",
            "  status  acc  loss  steps  model  seed  duration",
            "  ran     0.5  1     10     a      0     *s",
        ]
    )
    pytester.makeini("[pytest]\nmemento_table = summary\n")
    result = run()
    result.stdout.fnmatch_lines(
        [
            "test_grid.py::trainer: 4 configurations (4 cached)",
            "  acc (max is best): best 0.6, worst 0.5, mean 0.55",
            "    best: a-1",
            "  loss (min is best): best 0.9, worst 1, mean 0.95",
            "    best: a-1",
            "  steps (no goal: highest): best 10, worst 10, mean 10",
            "*every configuration: write them all with --memento-export results.csv",
        ]
    )
    pytester.makeini("[pytest]\nmemento_table = off\n")
    assert "status  acc" not in run().stdout.str()
    quiet = run("-qq")
    assert "memento" not in quiet.stdout.str()


def test_exports_from_a_run(pytester: pytest.Pytester, run) -> None:
    grid(pytester)
    result = run("--memento-export", "out.csv", "--memento-export", "out.json", "--memento-export", "out.md")
    result.stdout.fnmatch_lines(["*exported 4 configuration(s) to *out.csv"])
    frame = pd.read_csv(pytester.path / "out.csv")
    assert sorted(frame.columns) == sorted(
        ["experiment", "id", "status", "key", "duration", "model", "seed", "acc", "loss", "steps"]
    )
    assert set(frame.status) == {"ran"}
    assert len(pd.read_json(pytester.path / "out.json")) == 4
    assert (pytester.path / "out.md").read_text().startswith("**test_grid.py::trainer**: 4 configuration(s) (4 ran)")
    run("--memento-export", "out.csv")
    assert set(pd.read_csv(pytester.path / "out.csv").status) == {"cached"}


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--memento-export", "out.xlsx"], "--memento-export *out.xlsx: the export format comes from the extension"),
        (["--memento-export", "missing/out.csv"], "--memento-export *missing/out.csv: the directory * does not exist"),
        (["--memento-baseline", "nope.json"], "--memento-baseline *nope.json: no such file*"),
        (["--memento-baseline", "bad.json"], "--memento-baseline *bad.json: not valid JSON*"),
        (["--memento-baseline", "other.json"], "--memento-baseline *other.json: not a pytest-memento baseline*"),
        (["--memento-tolerance", "abc"], "--memento-tolerance: expected a number, got 'abc'"),
        (["--memento-tolerance", "-1"], "--memento-tolerance: expected a number >= 0*"),
    ],
)
def test_bad_reporting_options_are_usage_errors(
    pytester: pytest.Pytester, run_plain, option: list[str], message: str
) -> None:
    grid(pytester)
    (pytester.path / "bad.json").write_text("{not json")
    (pytester.path / "other.json").write_text('{"hello": 1}')
    result = run_plain(*option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])


def test_bad_goals_are_a_collection_error(pytester: pytest.Pytester, run_plain) -> None:
    pytester.makepyfile(
        test_goals="""
        import pytest_memento as memento

        @memento.matrix(parameters={"x": [1]}, goals={"acc": "higher"})
        def exp(config):
            return {"acc": 1.0}
        """
    )
    result = run_plain()
    result.stdout.fnmatch_lines(
        ["*test_goals.py::exp: goals/tolerance: goals[[]'acc'[]] must be 'max' or 'min', got 'higher'*"]
    )


def test_baseline_round_trip(pytester: pytest.Pytester, run) -> None:
    grid(pytester)
    saved = run("--memento-save-baseline", "baseline.json")
    saved.stdout.fnmatch_lines(["*saved the metrics of 4 configuration(s) as a baseline in *baseline.json"])
    document = json.loads((pytester.path / "baseline.json").read_text())
    assert document["format"] == "pytest-memento-baseline/1"
    (entries,) = document["experiments"].values()
    assert sorted(entry["id"] for entry in entries.values()) == ["a-0", "a-1", "b-0", "b-1"]
    # Stable and diffable: saving again (from cache) gives the same bytes.
    before = (pytester.path / "baseline.json").read_bytes()
    run("--memento-save-baseline", "baseline.json")
    assert (pytester.path / "baseline.json").read_bytes() == before

    # Same metrics: all pass, cached.
    assert outcomes(run("--memento-baseline", "baseline.json")) == {"cached": 4}

    # Within tolerance: still passes.
    (pytester.path / "shift").write_text("-0.005")
    assert outcomes(run("--memento-baseline", "baseline.json")) == {"passed": 4}

    # Worse beyond tolerance: every item fails, naming config, metric, values and tolerance.
    (pytester.path / "shift").write_text("-0.05")
    worse = run("--memento-baseline", "baseline.json", "-rf")
    assert outcomes(worse) == {"failed": 4}
    worse.stdout.fnmatch_lines(
        [
            "*metric regression against *baseline.json: test_grid.py::trainer[[]a-0[]] config {'model': 'a', 'seed': 0}",
            "*acc: baseline 0.5, now 0.45 (change -0.05, tolerance 0.01, higher is better)",
        ]
    )
    # The results are stored all the same, and fail again from the cache.
    cached_worse = run("--memento-baseline", "baseline.json")
    assert outcomes(cached_worse) == {"failed": 4}
    # A command-line tolerance overrides the matrix's.
    assert outcomes(run("--memento-baseline", "baseline.json", "--memento-tolerance", "0.1")) == {"cached": 4}

    # Better is reported, not failed.
    (pytester.path / "shift").write_text("0.05")
    better = run("--memento-baseline", "baseline.json")
    assert outcomes(better) == {"passed": 4}
    better.stdout.fnmatch_lines(
        [
            "*baseline *: 0 worse, 4 better, 0 new*",
            "*better: test_grid.py::trainer[[]a-0[]] acc: baseline 0.5, now 0.55*",
        ]
    )


def test_new_and_missing_configurations_are_listed_not_failed(pytester: pytest.Pytester, run_plain) -> None:
    grid(pytester)
    run_plain("--memento-save-baseline", "baseline.json")
    grid(pytester, models='"a", "c"')
    result = run_plain("--memento-baseline", "baseline.json")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*0 worse, 0 better, 2 new (not in the baseline), 2 missing from this run",
            "*new: test_grid.py::trainer[[]c-0[]]",
            "*missing: test_grid.py::trainer[[]b-*",
        ]
    )


def test_metric_without_goal_fails_on_any_change(pytester: pytest.Pytester, run_plain) -> None:
    pytester.makepyfile(
        test_nogoal="""
        import pathlib
        import pytest_memento as memento

        @memento.matrix(parameters={"x": [1]})
        def exp(config):
            return {"value": float(pathlib.Path(__file__).with_name("v").read_text())}
        """
    )
    (pytester.path / "v").write_text("1.0")
    run_plain("--memento-save-baseline", "b.json")
    (pytester.path / "v").write_text("1.5")
    result = run_plain("--memento-baseline", "b.json", "--memento-rerun")
    assert outcomes(result) == {"failed": 1}
    result.stdout.fnmatch_lines(["*value: baseline 1, now 1.5 (change +0.5, tolerance 0, no goal: any change counts)*"])
