"""The private pytest use of :mod:`pytest_memento.pytest_compat`: these
fail loudly when a pytest release breaks it."""

from __future__ import annotations

import pytest

from pytest_memento.pytest_compat import builtin_teardown, terminal_width


def test_the_builtin_runner_teardown_is_found(pytestconfig: pytest.Config) -> None:
    teardown = builtin_teardown(pytestconfig)
    assert callable(teardown)
    assert teardown.__module__ == "_pytest.runner", (
        f"pytest {pytest.__version__}: the 'runner' plugin's teardown moved to {teardown.__module__}; "
        "cached items may no longer tear down fixtures correctly"
    )


def test_the_terminal_width_is_read(pytestconfig: pytest.Config) -> None:
    assert terminal_width(pytestconfig) >= 40


def test_cached_items_tear_down_module_fixtures(pytester: pytest.Pytester) -> None:
    """End to end: a module fixture used by items that ran is torn down
    when the cached items of the module end (the builtin teardown works)."""
    pytester.makepyfile(
        test_a="""
        import pytest
        import pytest_memento as memento

        @pytest.fixture(scope="module")
        def resource():
            yield "r"
            print("TEARDOWN-A")

        def test_uses(resource):
            pass

        @memento.matrix(parameters={"i": range(2)})
        def exp(config):
            return {"i": config.i}
        """,
        test_b="""
        def test_after():
            print("B-RUNS")
        """,
    )
    pytester.runpytest_subprocess("-p", "no:xdist")
    result = pytester.runpytest_subprocess("-p", "no:xdist", "-s")
    assert result.ret == 0
    text = result.stdout.str()
    assert "TEARDOWN-A" in text
    assert text.index("TEARDOWN-A") < text.index("B-RUNS")


def test_fixture_functions_are_the_closure_with_overridden_definitions(pytester: pytest.Pytester) -> None:
    """``item._fixtureinfo.name2fixturedefs`` still maps fixture names to
    definitions whose ``func`` is the user's function (pytest 8.0 to 9.2)."""
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def data():
            return [1]

        @pytest.fixture
        def unused():
            return 0
        """
    )
    pytester.makepyfile(
        test_a="""
        import pytest

        @pytest.fixture
        def data(data, raw):
            return data + raw

        @pytest.fixture
        def raw(tmp_path):
            return [2]

        def test_x(data):
            pass
        """
    )
    (item,) = pytester.getitems(pytester.path / "test_a.py")
    from pytest_memento.pytest_compat import fixture_functions

    names = [f"{func.__module__}.{func.__qualname__}" for func in fixture_functions(item)]
    assert "test_a.data" in names, f"pytest {pytest.__version__}: {names}"
    assert "conftest.data" in names  # overridden, but requested by the override
    assert "test_a.raw" in names
    assert any(name.endswith(".tmp_path") for name in names)  # an installed fixture is listed too
    assert "conftest.unused" not in names


def test_the_current_line_width_is_read(pytester: pytest.Pytester) -> None:
    """The time-left line is written only at a line start: line_width must
    follow what pytest's terminal writer wrote."""
    pytester.makeconftest(
        """
        from pytest_memento.pytest_compat import line_width

        def pytest_sessionfinish(session):
            reporter = session.config.pluginmanager.get_plugin("terminalreporter")
            reporter.write("\\n")
            at_start = line_width(session.config)
            reporter.write("abc")
            after = line_width(session.config)
            reporter.write_line(f"WIDTHS {at_start} {after}")
        """
    )
    pytester.makepyfile("def test_one(): pass")
    result = pytester.runpytest_subprocess("-p", "no:xdist")
    result.stdout.fnmatch_lines(["*WIDTHS 0 3*"])


def test_shared_locations_are_the_ones_pytest_computes(pytester: pytest.Pytester) -> None:
    """Items of one matrix function get their location from the first one:
    each must equal what pytest's own ``reportinfo`` gives (a module, a
    class, an inherited method, a nested class, a function imported into
    two modules), and pytest must have looked up each function's source
    position once, not once per item."""
    pytester.makeconftest(
        """
        import collections
        import _pytest.python
        from _pytest.pathlib import absolutepath

        LOOKUPS = collections.Counter()
        _original = _pytest.python.getfslineno

        def _counting(obj):
            LOOKUPS[getattr(obj, "__name__", "?")] += 1
            return _original(obj)

        _pytest.python.getfslineno = _counting

        def pytest_collection_finish(session):
            counted = dict(LOOKUPS)
            for item in session.items:
                given = item.location
                path, lineno, name = _original(item.obj) + (item.getmodpath(),)
                fresh = (session._node_location_to_relpath(absolutepath(path)), lineno, name)
                assert given == fresh, (given, fresh)
            print("LOOKUPS", " ".join(f"{k}={counted.get(k, 0)}" for k in ("test_grid", "test_method", "test_inner", "test_imported")))
            print("ITEMS", len(session.items))
        """
    )
    pytester.makepyfile(
        shared_exp="""
        import pytest_memento as memento

        @memento.matrix(parameters={"c": range(4)})
        def test_imported(config):
            return {"c": config.c}
        """,
        test_grid="""
        import pytest_memento as memento
        from shared_exp import test_imported

        @memento.matrix(parameters={"a": range(30)})
        def test_grid(config):
            return {"a": config.a}

        class TestInClass:
            @memento.matrix(parameters={"b": ["x", "y", "z"]})
            def test_method(self, config):
                return {"b": config.b}

        class TestInherited(TestInClass):
            class TestNested:
                @memento.matrix(parameters={"d": [1, 2, 3]})
                def test_inner(self, config):
                    return {"d": config.d}

        def test_plain():
            pass
        """,
    )
    pytester.mkpydir("sub")
    pytester.path.joinpath("sub", "test_sub.py").write_text("from shared_exp import test_imported\n")
    result = pytester.runpytest_subprocess("-p", "no:xdist", "--collect-only", "-q", "-s")
    assert result.ret == 0, result.stdout.str()
    # 30 + 3 + 3 (inherited) + 3 (nested) + 4 + 4 (imported twice) matrix items and one plain test
    result.stdout.fnmatch_lines(["ITEMS 48"])
    counts = dict(part.split("=") for part in result.stdout.str().split("LOOKUPS ")[1].splitlines()[0].split())
    # Once per function (and once per module a function is collected in, at most), never once per item.
    assert all(1 <= int(count) <= 2 for count in counts.values()), counts
