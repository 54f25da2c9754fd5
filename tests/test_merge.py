"""``memento merge``: shard stores into one, idempotent, verified entries
only under a secret, checkpoints too; nothing unpickled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import outcomes

GRID = """
import pathlib
import pytest_memento as memento

@memento.matrix(parameters={"x": range(6)})
def exp(config, checkpoint):
    if config.x == 5 and pathlib.Path(__file__).with_name("fail").exists():
        checkpoint.save({"step": 1})
        raise RuntimeError("stop")
    return {"y": config.x * 2}
"""


def memento(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_memento", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )


def shard_stores(pytester: pytest.Pytester, **env: str) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_grid=GRID)
    for shard in (1, 2):
        for name, value in env.items():
            os.environ[name] = value
        try:
            pytester.runpytest_subprocess("-p", "no:xdist", f"--memento-shard={shard}/2", f"--memento-dir=shard{shard}")
        finally:
            for name in env:
                os.environ.pop(name, None)


def test_two_shard_stores_merge_into_one_and_twice_changes_nothing(pytester: pytest.Pytester) -> None:
    shard_stores(pytester)
    first = memento(pytester.path, "merge", "merged", "shard1", "shard2")
    assert first.returncode == 0, first.stderr
    assert "merged 6 result(s); 0 already there; 0 conflict(s)" in first.stdout
    segments = sorted(p.name for p in (pytester.path / "merged").rglob("*") if p.is_file())
    again = memento(pytester.path, "merge", "merged", "shard1", "shard2")
    assert "merged 0 result(s); 6 already there" in again.stdout
    after = sorted(p.name for p in (pytester.path / "merged").rglob("*") if p.is_file())
    assert after == segments  # nothing written the second time
    result = pytester.runpytest_subprocess("-p", "no:xdist", "--memento-dir=merged")
    assert outcomes(result) == {"cached": 6}
    listing = json.loads(memento(pytester.path, "--dir", "merged", "list", "--json").stdout)
    assert sorted(r["metrics"]["y"] for r in listing) == [0, 2, 4, 6, 8, 10]
    assert all(r["environment"].get("python") for r in listing)  # provenance of the writer kept


def test_with_a_secret_only_verified_entries_are_merged(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_grid=GRID)
    signed = {**os.environ, "MEMENTO_SECRET": "lab"}
    subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "--memento-shard=1/2", "--memento-dir=shard1"],
        cwd=pytester.path,
        env=signed,
        capture_output=True,
        check=True,
    )
    subprocess.run(  # written without the secret: nothing in it verifies
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "--memento-shard=2/2", "--memento-dir=shard2"],
        cwd=pytester.path,
        capture_output=True,
        check=True,
    )
    merged = memento(pytester.path, "merge", "merged", "shard1", "shard2", MEMENTO_SECRET="lab")
    assert merged.returncode == 0, merged.stderr
    assert "merged 3 result(s)" in merged.stdout
    assert "3 refused" in merged.stdout
    assert merged.stdout.count("not signed with this store's secret") == 3
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "--memento-dir=merged"],
        cwd=pytester.path,
        env=signed,
        capture_output=True,
        text=True,
    )
    assert "3 passed, 3 cached" in result.stdout, result.stdout


def test_checkpoints_of_unfinished_configurations_are_merged(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_grid=GRID)
    (pytester.path / "fail").touch()
    pytester.runpytest_subprocess("-p", "no:xdist", "--memento-dir=shard1")
    merged = memento(pytester.path, "merge", "merged", "shard1")
    assert "merged 5 result(s)" in merged.stdout
    assert "1 checkpoint(s) copied" in merged.stdout
    listing = memento(pytester.path, "--dir", "merged", "checkpoints").stdout
    assert "test_grid.py::exp[5]  save #1" in listing
