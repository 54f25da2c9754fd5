"""Time left (issue 16 item 5), end to end: the line in a real terminal (a
pseudo-terminal), between pytest's progress lines, and the estimate's error
at the end; neither without a terminal nor under ``-q``. Without xdist and
with ``-n 2``."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time

import pytest

GRID = """
import os, time
import pytest_memento as memento

@memento.matrix(parameters={"a": range(40)})
def train(config):
    time.sleep(float(os.environ.get("SLEEP", "0.1")))
    return {"score": config.a}

def test_plain():
    pass
"""

MODES = {"no-xdist": ["-p", "no:xdist"], "n2": ["-n", "2"]}
LEFT = re.compile(r"^memento: (\d+)/40 configurations to run done, about \S+ left$")
ERROR = re.compile(r"^memento: estimated \S+ for 40 configurations to run, took \S+ \((?:[+-]\d+|0)%\)$")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def run_in_terminal(pytester: pytest.Pytester, *args: str, sleep: str = "0.1", timeout: float = 120) -> list[str]:
    """Run pytest with its output on a pseudo-terminal 40 columns wide;
    the lines it wrote, without colours. (``os.openpty`` and a subprocess,
    not ``pty.fork``: forking a process with threads warns on Python 3.12+.)"""
    env = {**os.environ, "COLUMNS": "40", "LINES": "24", "TERM": "xterm", "SLEEP": sleep}
    env.pop("PYTEST_XDIST_WORKER", None)
    command = [sys.executable, "-m", "pytest", "-p", "no:randomly", *args]
    main, child = os.openpty()
    process = subprocess.Popen(command, cwd=pytester.path, env=env, stdin=child, stdout=child, stderr=child)
    os.close(child)
    output = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 1.0)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the child closed the terminal: it is done
                break
            if not chunk:
                break
            output += chunk
        else:
            process.kill()
    finally:
        os.close(main)
        process.wait()
    text = ANSI.sub("", output.decode(errors="replace"))
    return [line.rsplit("\r", 1)[-1] for line in text.replace("\r\n", "\n").split("\n")]


def done_counts(lines: list[str]) -> dict[int, int]:
    """Line index -> configurations done, of each time-left line."""
    found = {index: LEFT.match(line) for index, line in enumerate(lines)}
    return {index: int(match.group(1)) for index, match in found.items() if match}


def shown(lines: list[str]) -> list[str]:
    return [line for line in lines if "configurations to run" in line]


@pytest.mark.parametrize("mode", list(MODES))
def test_time_left_between_progress_lines_and_the_error_at_the_end(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    pytester.makepyfile(test_grid=GRID)
    first = pytester.runpytest_subprocess(*MODES[mode], "-p", "no:randomly")  # stores 40 durations of ~0.1s
    assert first.ret == 0, first.stdout.str()
    assert not [line for line in first.outlines if "configurations to run" in line]  # nothing stored to estimate

    lines = run_in_terminal(pytester, *MODES[mode], "--memento-rerun")
    assert any("41 passed" in line for line in lines), "\n".join(lines)
    done = done_counts(lines)
    assert list(done.values())[:1] == [0], "\n".join(lines)  # the first line: before anything ran
    assert max(done.values()) > 0, "\n".join(lines)  # updated as configurations finish
    assert list(done.values()) == sorted(done.values())
    # Each line alone on its line, never inside pytest's line of letters,
    # and the line before a later one is a complete progress line.
    assert all(line.startswith("memento: ") for line in shown(lines)), "\n".join(lines)
    for index, count in done.items():
        if count:
            assert re.search(r"\[ ?\d+%\]$", lines[index - 1]), "\n".join(lines)
    progress = [line for line in lines if re.search(r"[.]{3,}.*\[ ?\d+%\]$", line)]
    letters = [re.sub(r"^\S+\.py ", "", line) for line in progress]
    assert sum(line.count(".") for line in letters) == 41, "\n".join(lines)  # no letter lost
    assert len([line for line in lines if ERROR.match(line)]) == 1, "\n".join(lines)
    section = lines.index(next(line for line in lines if "- memento -" in line))
    assert any(ERROR.match(line) for line in lines[section:]), "\n".join(lines)

    # Not on a terminal (a pipe), nor with -q on one: neither line.
    monkeypatch.setenv("SLEEP", "0")  # they run again, quickly: what they would show is estimated
    piped = pytester.runpytest_subprocess(*MODES[mode], "-p", "no:randomly", "--memento-rerun")
    assert piped.ret == 0
    assert not [line for line in piped.outlines if "configurations to run" in line], piped.stdout.str()
    quiet = run_in_terminal(pytester, *MODES[mode], "--memento-rerun", "-q", sleep="0")
    assert any("41 passed" in line for line in quiet), "\n".join(quiet)
    assert not shown(quiet), "\n".join(quiet)

    if mode != "no-xdist":
        return  # cached ones under -n 2: test_new_configurations_are_estimated_at_their_experiments_median
    # Everything cached: nothing runs, nothing to estimate.
    cached = run_in_terminal(pytester, *MODES[mode], sleep="0")
    assert any("40 cached" in line for line in cached), "\n".join(cached)
    assert not shown(cached), "\n".join(cached)


def test_with_verbose_a_line_goes_between_two_items(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_grid=GRID)
    assert pytester.runpytest_subprocess("-p", "no:xdist", "-p", "no:randomly").ret == 0

    lines = run_in_terminal(pytester, "-p", "no:xdist", "-v", "--memento-rerun", sleep="0.05")
    assert any("41 passed" in line for line in lines), "\n".join(lines)
    later = [index for index, count in done_counts(lines).items() if count]
    assert later, "\n".join(lines)
    for index in later:
        assert re.search(r"PASSED +\[ ?\d+%\]$", lines[index - 1]), "\n".join(lines)
        assert "::train[" in lines[index + 1], "\n".join(lines)
    assert all(line.startswith("memento: ") for line in shown(lines)), "\n".join(lines)
    assert any(ERROR.match(line) for line in lines), "\n".join(lines)


def test_new_configurations_are_estimated_at_their_experiments_median(pytester: pytest.Pytester) -> None:
    """Cached configurations are no work; new ones take the median (under -n 2,
    the estimates come from the workers)."""
    pytester.makepyfile(test_grid=GRID)
    assert pytester.runpytest_subprocess("-n", "2", "-p", "no:randomly").ret == 0
    pytester.makepyfile(test_grid=GRID.replace("range(40)", "range(44)"))

    lines = run_in_terminal(pytester, "-n", "2")
    assert any("5 passed, 40 cached" in line for line in lines), "\n".join(lines)
    first = next(line for line in lines if "configurations to run" in line)
    assert re.match(r"^memento: 0/4 configurations to run done, about 0\.\ds left$", first), "\n".join(lines)
    assert any(re.match(r"^memento: estimated \S+ for 4 configurations to run, took ", line) for line in lines)
