"""Many processes, one store: shards at once, overlapping runs, a killed shard.

These start real pytest processes at the same time on one store directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import memento_cli, outcomes, stored

GRID = """
import os, time
import pytest_memento as memento

@memento.matrix(parameters={"x": range(24), "y": ["a", "b"]})
def exp(config):
    time.sleep(float(os.environ.get("ITEM_SECONDS", "0")))
    return {"v": config.x}
"""


def start(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def test_four_shards_at_once_then_everything_is_cached(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_grid=GRID)
    shards = [start(pytester.path, "-p", "no:xdist", "--memento-shard", f"{k}/4") for k in (1, 2, 3, 4)]
    for process in shards:
        output, _ = process.communicate(timeout=120)
        assert process.returncode == 0, output
        assert "12 passed" in output
    records = stored(pytester.path)
    assert len(records) == 48
    assert len({r["key"] for r in records}) == 48
    assert outcomes(pytester.runpytest_subprocess("-p", "no:xdist")) == {"cached": 48}


def test_two_overlapping_full_runs_lose_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_grid=GRID)
    runs = [start(pytester.path, "-n", "2") for _ in range(2)]
    for process in runs:
        output, _ = process.communicate(timeout=180)
        assert process.returncode == 0, output
    records = stored(pytester.path)
    assert len({r["key"] for r in records}) == 48
    assert all(r["metrics"]["v"] == r["config"]["x"] for r in records)
    assert outcomes(pytester.runpytest_subprocess("-n", "2")) == {"cached": 48}


def test_a_shard_killed_mid_run_then_gc(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_grid=GRID)
    # Slow items: each result is written as soon as its item passes.
    victim = start(pytester.path, "-p", "no:xdist", "--memento-shard", "1/2", env={"ITEM_SECONDS": "0.2"})
    other = start(pytester.path, "-p", "no:xdist", "--memento-shard", "2/2")
    output, _ = other.communicate(timeout=120)
    assert other.returncode == 0, output
    deadline = time.monotonic() + 60
    while len(stored(pytester.path)) < 24 + 3:
        assert time.monotonic() < deadline, "the slow shard made no progress"
        time.sleep(0.1)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=30)
    done = len(stored(pytester.path))
    assert 27 <= done < 48
    gc = memento_cli(pytester.path, "gc", "--older-than", "0")
    assert gc.returncode == 0, gc.stderr
    assert f"{done} result(s) kept" in gc.stdout
    result = pytester.runpytest_subprocess("-p", "no:xdist", "-rA")
    assert outcomes(result) == {"passed": 48 - done, "cached": done}
    result.stdout.no_fnmatch_line("*warning:*")
