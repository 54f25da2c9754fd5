"""End to end: what is collected, with which ids, and how bad input reads."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import outcomes

BAD = {
    "empty": ('parameters={"a": [], "b": [1]}', "exp: parameters['a']: has no values"),
    "unstable": ('parameters={"a": [object()]}', "pytest.param(value, id="),
    "exclude_key": ('parameters={"a": [1]}, exclude=[{"z": 1}]', "exclude[0]: 'z' is not a parameter"),
    "include_key": ('parameters={"a": [1]}, include=[{"a": 2, "z": 1}]', "include[0]: 'z' is not a parameter"),
    "all_excluded": ('parameters={"a": [1]}, exclude=[{"a": 1}]', "every configuration is excluded"),
    "string_values": ('parameters={"a": "abc"}', "write ['abc']"),
    "both": ('parameters={"a": [1]}, settings={"a": 2}', "settings['a']: 'a' is both a parameter and a setting"),
    "not_iterable": ('parameters={"a": 5}', "non-empty finite iterable"),
    "exclude_raises": ('parameters={"a": [1]}, exclude=[lambda c: 1 / 0]', "exclude[0]: calling it"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_matrix_is_a_clean_collection_error(pytester: pytest.Pytester, run_plain, case: str) -> None:
    arguments, message = BAD[case]
    pytester.makepyfile(
        test_bad=f"""
        import pytest_memento as memento

        @memento.matrix({arguments})
        def exp(a):
            return {{}}

        def test_other():
            pass
        """
    )
    result = run_plain()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    output = result.stdout.str()
    assert "test_bad.py::exp" in output
    assert message in output
    # No traceback from inside the plugin.
    assert "pytest_memento" not in output
    assert "Traceback" not in output
    result.stdout.fnmatch_lines(["ERROR test_bad.py::exp*"])


def test_bad_matrix_leaves_other_experiments_collectable(pytester: pytest.Pytester, run_plain) -> None:
    pytester.makepyfile(
        test_mixed="""
        import pytest_memento as memento

        @memento.matrix(parameters={"a": []})
        def broken(a):
            return {}

        @memento.matrix(parameters={"a": [1, 2]})
        def fine(a):
            return {"a": a}
        """
    )
    result = run_plain("--continue-on-collection-errors")
    assert outcomes(result) == {"passed": 2, "errors": 1}


def test_function_asking_for_nothing_still_runs(pytester: pytest.Pytester, run_plain) -> None:
    pytester.makepyfile(
        test_nothing="""
        import pytest_memento as memento

        @memento.matrix(parameters={"a": [1, 2]})
        def exp():
            return {"v": 1}
        """
    )
    assert outcomes(run_plain()) == {"passed": 2}
    assert outcomes(run_plain()) == {"cached": 2}


def test_any_name_methods_stacked_and_fixture_config(pytester: pytest.Pytester, run_plain) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def scaled(config):
            # A fixture may use the configuration too.
            return config.x * config.scale
        """
    )
    pytester.makepyfile(
        test_shapes="""
        import pytest_memento as memento

        @memento.matrix(parameters={"x": [1, 2]}, settings={"scale": 10})
        def anything_goes(scaled):
            return {"v": scaled}

        class TestGroup:
            @memento.matrix(parameters={"x": [1]})
            @memento.matrix(parameters={"x": [1, 2, 3]})
            def test_method(self, x):
                return {"v": x}

        @memento.matrix(parameters={("lr", "batch"): [(0.1, 32), (0.01, 64)], "seed": range(2)})
        def zipped(lr, batch, seed):
            return {"v": lr * batch + seed}
        """
    )
    result = run_plain("--collect-only", "-q")
    result.stdout.fnmatch_lines(
        [
            "test_shapes.py::anything_goes[[]1[]]",
            "test_shapes.py::anything_goes[[]2[]]",
            "test_shapes.py::TestGroup::test_method[[]1[]]",
            "test_shapes.py::TestGroup::test_method[[]2[]]",
            "test_shapes.py::TestGroup::test_method[[]3[]]",
            "test_shapes.py::zipped[[]0.1-32-0[]]",
            "test_shapes.py::zipped[[]0.1-32-1[]]",
            "test_shapes.py::zipped[[]0.01-64-0[]]",
            "test_shapes.py::zipped[[]0.01-64-1[]]",
        ]
    )
    assert outcomes(run_plain()) == {"passed": 9}
    assert outcomes(run_plain()) == {"cached": 9}


def test_ids_are_the_same_in_every_process(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_ids="""
        import enum, pathlib
        import pytest
        import pytest_memento as memento

        class Color(enum.Enum):
            RED = 1

        @memento.matrix(parameters={
            "opt": [frozenset({"a", "b", "c"}), {"z": 1, "a": 2}],
            "color": list(Color),
            "path": [pathlib.Path("a/b.txt")],
            "thing": [pytest.param(object(), id="custom")],
            "f": [len, print],
        })
        def exp(config):
            return {}
        """
    )
    outputs = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        completed = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:xdist"],
            cwd=pytester.path,
            env=env,
            capture_output=True,
            text=True,
        )
        assert completed.returncode == 0, completed.stdout
        outputs.add(completed.stdout.split("\n\n")[0])
    assert len(outputs) == 1
    assert "exp[opt0-RED-b.txt-custom-len]" in outputs.pop()


def test_pytest_param_marks_apply(pytester: pytest.Pytester, run_plain) -> None:
    pytester.makepyfile(
        test_marks="""
        import pytest
        import pytest_memento as memento

        @memento.matrix(parameters={"x": [1, pytest.param(2, marks=pytest.mark.skip(reason="later")), pytest.param(3, marks=pytest.mark.slow)]})
        def exp(x):
            return {"x": x}
        """
    )
    pytester.makeini("[pytest]\nmarkers = slow: slow ones\n")
    assert outcomes(run_plain()) == {"passed": 2, "skipped": 1}
    assert outcomes(run_plain("-m", "not slow")) == {"cached": 1, "skipped": 1, "deselected": 1}


def test_other_parametrization_is_refused(pytester: pytest.Pytester, run_plain) -> None:
    pytester.makepyfile(
        test_foreign="""
        import pytest
        import pytest_memento as memento

        @pytest.mark.parametrize("y", [1, 2])
        @memento.matrix(parameters={"x": [1]})
        def exp(x, y):
            return {"v": x + y}
        """
    )
    result = run_plain()
    assert outcomes(result) == {"errors": 2}
    result.stdout.fnmatch_lines(["*also parametrized over y outside @memento.matrix*"])


def test_cached_items_keep_module_fixture_order(pytester: pytest.Pytester, run, mode: list[str]) -> None:
    # A cached item sets nothing up, but fixtures of the items before it must
    # still be torn down in order before the next module's items.
    pytester.makepyfile(
        test_a="""
        import pathlib
        import pytest
        import pytest_memento as memento

        LOG = pathlib.Path(__file__).with_name("order.log")

        @pytest.fixture(scope="module")
        def module_resource():
            LOG.open("a").write("setup-a\\n")
            yield
            LOG.open("a").write("teardown-a\\n")

        @memento.matrix(parameters={"x": [1, 2, 3]})
        def exp(x, module_resource):
            if x == 3 and pathlib.Path(__file__).with_name("fail").exists():
                raise ValueError
            return {"x": x}
        """,
        test_b="""
        import pathlib
        import pytest

        LOG = pathlib.Path(__file__).with_name("order.log")

        @pytest.fixture(scope="module")
        def module_resource():
            LOG.open("a").write("setup-b\\n")
            yield
            LOG.open("a").write("teardown-b\\n")

        def test_b(module_resource):
            pass
        """,
    )
    (pytester.path / "fail").touch()
    assert outcomes(run("-p", "no:randomly")) == {"passed": 3, "failed": 1}
    (pytester.path / "fail").unlink()
    (pytester.path / "order.log").unlink()
    result = run()
    assert outcomes(result) == {"passed": 2, "cached": 2}
    log = (pytester.path / "order.log").read_text().split()
    assert log.count("setup-a") == log.count("teardown-a") == 1
    assert log.count("setup-b") == log.count("teardown-b") == 1
    if "-n" not in mode:
        assert log == ["setup-a", "teardown-a", "setup-b", "teardown-b"]
