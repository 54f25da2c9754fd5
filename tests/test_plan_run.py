"""End to end: ``--memento-plan`` decides without running (no experiment
body runs, no worker starts, the store is unchanged), counts per experiment
and estimates from the durations the store holds; with ``-k``,
``--memento-shard`` and ``-n``."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest
from conftest import outcomes, stored

from pytest_memento.plan import format_seconds, wall_time

EXPERIMENTS = """
import os, pathlib, time
import pytest_memento as memento

HERE = pathlib.Path(__file__).parent

@memento.matrix(parameters={"x": [int(v) for v in os.environ.get("A_VALUES", "0,1,2,3").split(",")]})
def grow(config):
    (HERE / f"ran-grow-{config.x}").touch()
    time.sleep(0.02 * (config.x + 1))
    assert not (config.x == 3 and (HERE / "fail").exists())
    return {"y": config.x}

@memento.matrix(parameters={"x": [0, 1, 2]})
def change(config):
    (HERE / f"ran-change-{config.x}").touch()
    time.sleep(0.03 * (config.x + 1))
    return {"y": config.x * CHANGE}

CHANGE = 1
"""


def _ran(path: Path) -> list[str]:
    return sorted(p.name for p in path.glob("ran-*"))


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """grow: 0-2 stored, 3 failed, 4 and 5 new; change: 0-2 stored, then its code changed."""
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_exp=EXPERIMENTS)
    (pytester.path / "fail").touch()
    first = pytester.runpytest_subprocess("-p", "no:xdist", "-p", "no:randomly")
    assert outcomes(first) == {"passed": 6, "failed": 1}
    (pytester.path / "fail").unlink()
    for marker in pytester.path.glob("ran-*"):
        marker.unlink()
    exp = pytester.path / "test_exp.py"
    exp.write_text(exp.read_text().replace('return {"y": config.x * CHANGE}', 'return {"y": config.x * CHANGE + 0}'))
    monkeypatch.setenv("A_VALUES", "0,1,2,3,4,5")
    return pytester


def _durations(path: Path) -> dict[str, dict[int, float]]:
    found: dict[str, dict[int, float]] = {}
    for record in stored(path):
        found.setdefault(record["experiment"].split("::")[-1], {})[record["config"]["x"]] = record["duration"]
    return found


def _results(path: Path) -> list[dict[str, object]]:
    # Without "status": the plan notes the current code, as every run does, so
    # a result whose code changed is listed as stale from then on.
    return [{k: v for k, v in record.items() if k != "status"} for record in stored(path)]


def _plan(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    before = _results(project.path)
    result = project.runpytest_subprocess("-p", "no:randomly", "--memento-plan", *args)
    assert result.ret == 0, result.stdout.str()
    assert _ran(project.path) == []  # no experiment body ran
    assert _results(project.path) == before  # nothing stored, nothing replaced
    return result


def test_plan_counts_and_estimates_from_stored_durations(project: pytest.Pytester) -> None:
    durations = _durations(project.path)
    grow, change = durations["grow"], durations["change"]
    median = statistics.median(grow.values())
    # grow: 3 (failed, nothing stored), 4 and 5 (new) at grow's median; change: each its own last duration.
    grow_runs, change_runs = [median] * 3, list(change.values())
    result = _plan(project, "-p", "no:xdist")
    lines = result.stdout.lines
    assert (
        f"test_exp.py::grow: 6 configurations: 3 cached, 2 new, 1 failed last time; 3 to run, about {format_seconds(wall_time(grow_runs, 1))}"
        in lines
    )
    assert (
        f"test_exp.py::change: 3 configurations: 3 stale; 3 to run, about {format_seconds(wall_time(change_runs, 1))}"
        in lines
    )
    assert (
        lines[lines.index(next(line for line in lines if "::change:" in line)) + 1] == "    code changed (change) (3)"
    )
    total = wall_time(grow_runs + change_runs, 1)
    assert (
        f"total: 9 configurations: 3 cached, 3 stale, 2 new, 1 failed last time; 6 to run, about "
        f"{format_seconds(total)} on 1 process; nothing was run" in lines
    )


def test_plan_with_workers_starts_none(project: pytest.Pytester) -> None:
    durations = _durations(project.path)
    runs = [statistics.median(durations["grow"].values())] * 3 + list(durations["change"].values())
    result = _plan(project, "-n", "2")
    out = result.stdout.str()
    assert "created: 2/2 workers" not in out
    assert "[gw0]" not in out
    result.stdout.fnmatch_lines(
        [
            f"total: 9 configurations: *; 6 to run, about {format_seconds(wall_time(runs, 2))} on 2 workers; nothing was run"
        ]
    )


def test_plan_with_k_and_shard(project: pytest.Pytester) -> None:
    selected = _plan(project, "-p", "no:xdist", "-k", "grow")
    assert not any(line.startswith("test_exp.py::change") for line in selected.stdout.lines)
    selected.stdout.fnmatch_lines(["total: 6 configurations: 3 cached, 2 new, 1 failed last time; 3 to run, *"])
    # The median of a new configuration is over its whole experiment, selected or not.
    only_new = _plan(project, "-p", "no:xdist", "-k", "grow and (4 or 5)")
    median = statistics.median(_durations(project.path)["grow"].values())
    only_new.stdout.fnmatch_lines(
        [f"test_exp.py::grow: 2 configurations: 2 new; 2 to run, about {format_seconds(2 * median)}"]
    )
    nothing = _plan(project, "-p", "no:xdist", "-k", "no_such_experiment")
    nothing.stdout.fnmatch_lines(["total: 0 configurations: nothing selected; nothing to run on 1 process; *"])
    counts = []
    for shard in ("1/2", "2/2"):
        result = _plan(project, "-p", "no:xdist", "--memento-shard", shard)
        (total,) = [line for line in result.stdout.lines if line.startswith("total: ")]
        counts.append(int(total.split()[1]))
    assert sorted(counts) != [0, 9]
    assert sum(counts) == 9


def test_plan_without_a_store_says_unknown(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_exp=EXPERIMENTS)
    result = pytester.runpytest_subprocess("-p", "no:xdist", "-p", "no:randomly", "--memento-plan")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "test_exp.py::grow: 4 configurations: 4 new; 4 to run, time unknown (nothing stored to estimate from)",
            "total: 7 configurations: 7 new; 7 to run, time unknown (nothing stored to estimate from) on 1 process; "
            "nothing was run",
        ]
    )
    assert _ran(pytester.path) == []


def test_plan_refuses_outputs_it_would_overwrite(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_exp=EXPERIMENTS)
    (pytester.path / "results.csv").write_text("kept\n")
    result = pytester.runpytest_subprocess("-p", "no:xdist", "--memento-plan", "--memento-export", "results.csv")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--memento-plan runs nothing, so it cannot go with --memento-export"])
    assert (pytester.path / "results.csv").read_text() == "kept\n"
