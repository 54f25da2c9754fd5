"""End to end: grids run, are stored, and come back cached; in every mode."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from conftest import calls, lines_with, outcomes, stored

GRID = """
import pathlib
import pytest
import pytest_memento as memento

LOG = pathlib.Path(__file__).with_name("calls.log")

@pytest.fixture
def resource():
    with LOG.open("a") as log:
        log.write("fixture\\n")
    return 10

@memento.matrix(
    parameters={"model": ["linear", "tree"], "seed": range(3)},
    settings={"epochs": 2},
    exclude=[{"model": "tree", "seed": 2}],
)
def train(config, model, resource):
    with LOG.open("a") as log:
        log.write(f"{model}-{config.seed}\\n")
    return {"score": config.seed * resource + config.epochs, "flag": True, "name": model}
"""


def test_grid_runs_then_is_cached(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(test_grid=GRID)
    first = run()
    assert first.ret == 0
    assert outcomes(first) == {"passed": 5}
    assert sorted(calls(pytester.path / "calls.log")) == sorted(
        ["fixture"] * 5 + ["linear-0", "linear-1", "linear-2", "tree-0", "tree-1"]
    )
    (pytester.path / "calls.log").unlink()

    second = run("-v")
    assert second.ret == 0
    assert outcomes(second) == {"cached": 5}
    # Neither the function nor its fixtures ran.
    assert not (pytester.path / "calls.log").exists()
    assert len(lines_with(second, "CACHED")) == 5
    second.stdout.fnmatch_lines(["*5 configurations: 5 cached*"])


def test_progress_letter_is_c(pytester: pytest.Pytester, run_plain) -> None:
    pytester.makepyfile(test_grid=GRID)
    run_plain()
    result = run_plain()
    result.stdout.fnmatch_lines(["test_grid.py ccccc*"])


def test_metrics_are_real_numbers_of_the_returned_mapping(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(test_grid=GRID)
    assert run().ret == 0
    records = stored(pytester.path)
    assert len(records) == 5
    by_id = {record["test_id"]: record for record in records}
    assert by_id["linear-2"]["metrics"] == {"score": 22}  # no bool, no string
    assert by_id["linear-2"]["config"] == {"model": "linear", "seed": 2, "epochs": 2}
    assert by_id["linear-2"]["experiment"] == "test_grid.py::train"


def test_failed_configuration_is_not_stored_and_runs_again(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        test_flaky="""
        import pathlib
        import pytest_memento as memento

        FAIL = pathlib.Path(__file__).with_name("fail")

        @memento.matrix(parameters={"x": [1, 2, 3]})
        def exp(x):
            if x == 2 and FAIL.exists():
                raise RuntimeError("boom")
            return {"y": x}
        """
    )
    (pytester.path / "fail").touch()
    first = run()
    assert outcomes(first) == {"passed": 2, "failed": 1}
    assert sorted(r["test_id"] for r in stored(pytester.path)) == ["1", "3"]

    (pytester.path / "fail").unlink()
    second = run("-rA")
    assert outcomes(second) == {"passed": 1, "cached": 2}
    second.stdout.fnmatch_lines(["*ran because: last run failed (1)*"])


def test_setup_error_and_assertion_are_not_stored(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        test_errors="""
        import pytest
        import pytest_memento as memento

        @pytest.fixture
        def broken():
            raise OSError("no data")

        @memento.matrix(parameters={"x": [1]})
        def exp_fixture(x, broken):
            return {"y": x}

        @memento.matrix(parameters={"x": [1, 2]})
        def exp_assert(x):
            assert x == 1, "only one is right"
            return {"y": x}
        """
    )
    first = run()
    assert outcomes(first) == {"passed": 1, "failed": 1, "errors": 1}
    assert [r["experiment"] for r in stored(pytester.path)] == ["test_errors.py::exp_assert"]
    second = run()
    assert outcomes(second) == {"cached": 1, "failed": 1, "errors": 1}


def test_return_value_never_warns(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        test_ret="""
        import pytest_memento as memento

        @memento.matrix(parameters={"x": [1, 2]})
        def exp(x):
            return {"y": x, "array_like": [1, 2, 3]}
        """
    )
    result = run("-W", "error")
    assert result.ret == 0
    assert outcomes(result) == {"passed": 2}
    result.stdout.no_fnmatch_line("*PytestReturnNotNoneWarning*")


def test_rerun_runs_everything_and_replaces(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(test_grid=GRID)
    run()
    result = run("--memento-rerun", "-rA")
    assert outcomes(result) == {"passed": 5}
    result.stdout.fnmatch_lines(["*ran because: --memento-rerun (5)*"])
    assert len(stored(pytester.path)) == 5


def test_cached_only_runs_nothing(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(test_grid=GRID)
    run("-k", "linear")
    (pytester.path / "calls.log").unlink()
    result = run("--memento-cached-only", "-rs")
    assert outcomes(result) == {"cached": 3, "skipped": 2}
    result.stdout.fnmatch_lines(["*not cached*"])
    assert not (pytester.path / "calls.log").exists()


def test_rerun_and_cached_only_contradict(pytester: pytest.Pytester, run_plain) -> None:
    pytester.makepyfile(test_grid=GRID)
    result = run_plain("--memento-rerun", "--memento-cached-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*contradict*"])


def test_changed_settings_or_version_make_new_configurations(pytester: pytest.Pytester, run_plain) -> None:
    source = """
    import pytest_memento as memento

    @memento.matrix(parameters={{"x": [1, 2]}}, settings={{"scale": {scale}}}, version={version})
    def exp(config):
        return {{"y": config.x * config.scale}}
    """
    pytester.makepyfile(test_v=source.format(scale=1, version=0))
    assert outcomes(run_plain()) == {"passed": 2}
    assert outcomes(run_plain()) == {"cached": 2}
    pytester.makepyfile(test_v=source.format(scale=2, version=0))
    assert outcomes(run_plain()) == {"passed": 2}
    pytester.makepyfile(test_v=source.format(scale=2, version=1))
    assert outcomes(run_plain()) == {"passed": 2}
    assert len(stored(pytester.path)) == 6


def test_keyboard_interrupt_stores_nothing_of_the_interrupted(pytester: pytest.Pytester, run_plain) -> None:
    pytester.makepyfile(
        test_int="""
        import pytest_memento as memento

        @memento.matrix(parameters={"x": [1, 2, 3]})
        def exp(x):
            if x == 2:
                raise KeyboardInterrupt
            return {"y": x}
        """
    )
    result = run_plain()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert [r["test_id"] for r in stored(pytester.path)] == ["1"]


def test_selection_by_value_and_last_failed(pytester: pytest.Pytester, run_plain) -> None:
    pytester.makepyfile(test_grid=GRID)
    result = run_plain("-k", "tree and 1", "-v")
    assert outcomes(result) == {"passed": 1, "deselected": 4}
    result.stdout.fnmatch_lines(["*train[[]tree-1[]] PASSED*"])
    assert outcomes(run_plain("--lf")) == {"passed": 4, "cached": 1}


def test_copied_project_reuses_its_store(pytester: pytest.Pytester, run_plain, tmp_path: Path) -> None:
    pytester.makepyfile(test_grid=GRID)
    assert outcomes(run_plain()) == {"passed": 5}
    moved = tmp_path / "elsewhere" / "project"
    shutil.copytree(pytester.path, moved)
    result = pytester.run(sys.executable, "-m", "pytest", "-p", "no:xdist", str(moved), "--rootdir", str(moved))
    assert "5 cached" in result.stdout.str()


def test_memento_dir_option_ini_and_env(pytester: pytest.Pytester, run_plain, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_grid=GRID)
    run_plain("--memento-dir", "from-cli")
    assert (pytester.path / "from-cli" / "CACHEDIR.TAG").is_file()
    assert len(stored(pytester.path, "from-cli")) == 5
    pytester.makeini("[pytest]\nmemento_dir = from-ini\n")
    run_plain()
    assert len(stored(pytester.path, "from-ini")) == 5
    monkeypatch.setenv("MEMENTO_DIR", str(pytester.path / "from-env"))
    run_plain()
    assert len(stored(pytester.path, "from-env")) == 5
    gitignore = (pytester.path / "from-env" / ".gitignore").read_text()
    assert "*" in gitignore.split()


def test_memento_dir_that_is_a_file_is_a_usage_error(pytester: pytest.Pytester, run_plain) -> None:
    pytester.makepyfile(test_grid=GRID)
    pytester.makefile(".txt", notadir="x")
    result = run_plain("--memento-dir", "notadir.txt")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--memento-dir*notadir.txt*not a directory*"])


def test_plugin_can_be_disabled(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_plain="""
        def test_one():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:memento")
    assert outcomes(result) == {"passed": 1}
    assert not (pytester.path / ".memento").exists()


def test_json_report_metadata(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(test_grid=GRID)
    for expected_cached in (False, True):
        result = run("--json-report", "--json-report-file=report.json")
        assert result.ret == 0
        report = json.loads((pytester.path / "report.json").read_text())
        assert len(report["tests"]) == 5
        for test in report["tests"]:
            info = test["metadata"]["memento"]
            assert info["cached"] is expected_cached
            assert len(info["key"]) == 64
            assert info["experiment"] == "test_grid.py::train"
            assert info["config"]["epochs"] == 2
            assert set(info["metrics"]) == {"score"}


def test_values_that_break_xdist_are_made_json_safe(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        test_np="""
        import enum
        import pathlib
        import numpy as np
        import pytest_memento as memento

        class Kind(enum.Enum):
            A = 1
            B = 2

        @memento.matrix(
            parameters={"kind": list(Kind), "path": [pathlib.PurePosixPath("data/x.csv")], "factor": [np.float64(0.5)]},
            settings={"weights": np.arange(3)},
        )
        def exp(config):
            return {"score": np.float32(config.factor) * 2, "count": np.int64(3), "array": np.ones(3)}
        """
    )
    for expected in ({"passed": 2}, {"cached": 2}):
        result = run("--json-report", "--json-report-file=report.json")
        assert result.ret == 0, result.stdout.str()
        assert outcomes(result) == expected
    records = stored(pytester.path)
    assert records[0]["metrics"] == {"score": 1.0, "count": 3}
    assert {r["config"]["kind"] for r in records} == {"Kind.A", "Kind.B"}
    assert records[0]["config"]["path"] == "data/x.csv"
    assert records[0]["config"]["weights"] == [0, 1, 2]
