"""End to end: what keeps a stored result valid, and why a configuration ran."""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import outcomes, stored

EXPERIMENT = '''
import random
import pytest_memento as memento
from helpers import scale

OFFSET = {offset}

def unrelated():
    return {unrelated}

@memento.matrix(parameters={{"x": [1, 2]}}, settings={{"n": 3}}, version={version})
def exp(config):
    """Docstrings do not count."""
    # Comments do not count either.
    return {{"y": scale(config.x) + OFFSET, "draw": random.random()}}
'''

HELPERS = """
def scale(x):
    return x * {factor}
"""


def write(
    pytester: pytest.Pytester, *, offset: int = 0, unrelated: int = 1, version: int = 0, factor: int = 10
) -> None:
    pytester.makepyfile(test_exp=EXPERIMENT.format(offset=offset, unrelated=unrelated, version=version))
    pytester.makepyfile(helpers=HELPERS.format(factor=factor))


def test_what_invalidates_and_what_does_not(pytester: pytest.Pytester, run) -> None:
    write(pytester)
    assert outcomes(run()) == {"passed": 2}
    # Comments, formatting, docstrings and unrelated functions keep the cache.
    source = (pytester.path / "test_exp.py").read_text()
    (pytester.path / "test_exp.py").write_text(
        source.replace("# Comments", "#   Other comments").replace("config.x)", "config.x )")
    )
    write(pytester, unrelated=2)
    assert outcomes(run()) == {"cached": 2}
    # A helper in another project module is part of the code.
    write(pytester, unrelated=2, factor=11)
    result = run("-rA")
    assert outcomes(result) == {"passed": 2}
    result.stdout.fnmatch_lines(["*ran because: code changed (scale) (2)*"])
    # So is a module-level constant the experiment reads.
    write(pytester, unrelated=2, factor=11, offset=5)
    result = run()
    result.stdout.fnmatch_lines(["*ran because: code changed (test_exp.OFFSET) (2)*"])
    # A version bump says so.
    write(pytester, unrelated=2, factor=11, offset=5, version=1)
    result = run()
    result.stdout.fnmatch_lines(["*ran because: version changed (0 -> 1) (2)*"])
    assert outcomes(run()) == {"cached": 2}


def test_keep_stale_uses_old_results_with_a_warning(pytester: pytest.Pytester, run_plain) -> None:
    write(pytester)
    run_plain()
    write(pytester, factor=99)
    pytester.makeini("[pytest]\nmemento_stale = keep\n")
    result = run_plain()
    assert outcomes(result) == {"cached": 2}
    result.stdout.fnmatch_lines(["*warning: test_exp.py::exp[[]1[]]: code changed (scale); kept*"])
    pytester.makeini("[pytest]\nmemento_stale = sometimes\n")
    bad = run_plain()
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*memento_stale (ini): expected rerun or keep, got 'sometimes'*"])


def test_seeding_is_recorded_and_reproducible(pytester: pytest.Pytester, run) -> None:
    write(pytester)
    run()
    first = {r["config"]["x"]: r for r in stored(pytester.path)}
    run("--memento-rerun")
    again = {r["config"]["x"]: r for r in stored(pytester.path)}
    for x in (1, 2):
        assert first[x]["seed"] == again[x]["seed"] == int(first[x]["key"][:8], 16)
        # The same seed gives the same draw, whatever the worker or order.
        assert first[x]["metrics"]["draw"] == again[x]["metrics"]["draw"]
    assert first[1]["metrics"]["draw"] != first[2]["metrics"]["draw"]


def test_seed_from_config_and_switch_off(pytester: pytest.Pytester, run_plain) -> None:
    pytester.makepyfile(
        test_seed="""
        import random
        import pytest_memento as memento

        @memento.matrix(parameters={"seed": [7, 8]})
        def exp(config):
            return {"draw": random.random()}
        """
    )
    run_plain()
    records = {r["config"]["seed"]: r for r in stored(pytester.path)}
    import random

    assert records[7]["seed"] == 7
    assert records[7]["metrics"]["draw"] == random.Random(7).random()
    pytester.makeini("[pytest]\nmemento_seed = false\n")
    run_plain("--memento-rerun")
    assert all(r["seed"] is None for r in stored(pytester.path))


def test_reproducibility_record(pytester: pytest.Pytester, run_plain) -> None:
    pytest.importorskip("numpy")
    subprocess.run(["git", "init", "-q"], cwd=pytester.path, check=True)
    subprocess.run(
        ["git", "-c", "user.email=t@e", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "init"],
        cwd=pytester.path,
        check=True,
    )
    pytester.makepyfile(
        test_rec="""
        import numpy as np
        import pytest_memento as memento

        @memento.matrix(parameters={"x": [1]})
        def exp(config):
            return {"y": float(np.float64(config.x))}
        """
    )
    run_plain()
    (record,) = stored(pytester.path)
    json.dumps(record, allow_nan=False)
    for field in (
        "config",
        "key",
        "fingerprint",
        "fingerprint_parts",
        "started",
        "duration",
        "seed",
        "worker",
        "packages",
        "environment",
    ):
        assert field in record, field
    environment = record["environment"]
    for field in ("python", "platform", "host"):
        assert environment[field]
    assert len(environment["git"]["commit"]) == 40
    assert environment["git"]["dirty"] is False  # the experiment file is untracked, not a change
    assert "numpy" in record["packages"]


VERIFY = """
import os
import pytest_memento as memento

@memento.matrix(parameters={"x": range(8)}, tolerance=0.01)
def exp(config):
    return {"v": config.x + float(os.environ.get("DRIFT", "0"))}
"""


def test_verify_reruns_stored_results_without_replacing_them(
    pytester: pytest.Pytester, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_verify=VERIFY)
    assert outcomes(run()) == {"passed": 8}
    before = {r["key"]: r["started"] for r in stored(pytester.path)}
    result = run("--memento-verify", "-rA")
    assert outcomes(result) == {"passed": 8}
    result.stdout.fnmatch_lines(["*ran because: --memento-verify (8)*"])
    # Within tolerance still verifies.
    monkeypatch.setenv("DRIFT", "0.005")
    assert outcomes(run("--memento-verify")) == {"passed": 8}
    monkeypatch.setenv("DRIFT", "0.5")
    failed = run("--memento-verify")
    assert outcomes(failed) == {"failed": 8}
    failed.stdout.fnmatch_lines(
        [
            "*not reproduced: test_verify.py::exp[[]0[]] config {'x': 0} (stored *",
            "*v: stored 0, now 0.5 (tolerance 0.01)*",
        ]
    )
    # Nothing was replaced: same entries, same start times.
    assert {r["key"]: r["started"] for r in stored(pytester.path)} == before


def test_verify_a_sample(pytester: pytest.Pytester, run_plain) -> None:
    pytester.makepyfile(test_verify=VERIFY)
    run_plain()
    result = run_plain("--memento-verify", "0.5")
    counts = outcomes(result)
    assert counts.get("passed", 0) + counts.get("cached", 0) == 8
    assert 0 < counts.get("passed", 0) < 8
    # Deterministic: the same sample every time.
    assert outcomes(run_plain("--memento-verify", "0.5")) == counts


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--memento-verify", "0"], "--memento-verify: expected a fraction in (0, 1], got '0'"),
        (["--memento-verify", "abc"], "--memento-verify: expected a fraction in (0, 1], got 'abc'"),
        (["--memento-verify", "--memento-rerun"], "cannot go with --memento-rerun"),
    ],
)
def test_bad_verify(pytester: pytest.Pytester, run_plain, args: list[str], message: str) -> None:
    pytester.makepyfile(test_verify=VERIFY)
    result = run_plain(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message.replace('[', '[[]').replace('(', '(')}*"])
