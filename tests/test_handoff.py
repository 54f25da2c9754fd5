"""Under xdist, items that will not run never reach a worker (DESIGN.md
section 10; pytest_memento/handoff.py), observed from the workers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import outcomes

from pytest_memento.segment_format import encode_line
from pytest_memento.snapshot import SnapshotStore
from pytest_memento.store import ResultStore

GRID = """
import os, pathlib
import pytest_memento as memento

HERE = pathlib.Path(__file__).parent
VERSION = {version}

@memento.matrix(parameters={{"a": range(6)}})
def train(config):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with open(HERE / "received.log", "a") as log:
        log.write(f"{{worker}} {{config.a}}\\n")
    return {{"score": config.a * VERSION if config.a == 5 else config.a}}
"""


def received(path: Path) -> list[str]:
    """Items a worker ran (each run appends one line per item it ran)."""
    log = path / "received.log"
    lines = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return lines


def test_no_worker_receives_a_cached_item(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    pytester.makepyfile(test_grid=GRID.format(version=1))
    first = pytester.runpytest_subprocess("-n", "2", "-p", "no:randomly")
    assert outcomes(first) == {"passed": 6}
    assert len(received(pytester.path)) == 6

    again = pytester.runpytest_subprocess(
        "-n", "2", "-p", "no:randomly", "--json-report", "--json-report-file=report.json"
    )
    assert again.ret == 0, again.stdout.str()
    assert outcomes(again) == {"cached": 6}
    assert received(pytester.path) == []  # no worker ran (or was sent) anything
    again.stdout.fnmatch_lines(["*2 workers [[]0 items[]]*", "cccccc*[[]100%[]]", "*6 configurations: 6 cached*"])
    report = json.loads((pytester.path / "report.json").read_text())
    assert {t["outcome"] for t in report["tests"]} == {"cached"}
    assert all(t["metadata"]["memento"]["cached"] for t in report["tests"])

    # The code changes (VERSION is read by every configuration): all of them go to workers.
    pytester.makepyfile(test_grid=GRID.format(version=2))
    third = pytester.runpytest_subprocess("-n", "2", "-p", "no:randomly")
    assert outcomes(third) == {"passed": 6}
    assert sorted(line.split()[1] for line in received(pytester.path)) == ["0", "1", "2", "3", "4", "5"]


def test_only_changed_configurations_reach_workers(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    pytester.makepyfile(test_grid=GRID.format(version=1).replace("range(6)", "range(4)"))
    assert outcomes(pytester.runpytest_subprocess("-n", "2")) == {"passed": 4}
    received(pytester.path)
    pytester.makepyfile(test_grid=GRID.format(version=1).replace("range(6)", "range(6)"))
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:randomly")
    assert outcomes(result) == {"passed": 2, "cached": 4}
    assert sorted(line.split()[1] for line in received(pytester.path)) == ["4", "5"]
    result.stdout.fnmatch_lines(["*2 workers [[]2 items[]]*", "cccc..*[[]100%[]]"])


def test_a_replacement_worker_drops_what_the_first_collection_dropped(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker dies after another item was stored: its replacement must
    collect what the others collected (deciding from the live store would
    take the freshly stored item out, and xdist would refuse the worker)."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    source = """
        import os, pathlib, time
        import pytest_memento as memento

        HERE = pathlib.Path(__file__).parent

        @memento.matrix(parameters={"x": [1, 2, 3, 4]})
        def exp(config):
            if config.x == 4 and (HERE / "second").exists():
                while not (HERE / "done-3").exists():
                    time.sleep(0.05)  # x=3 is stored before this worker dies
                time.sleep(0.5)
                if not (HERE / "died").exists():
                    (HERE / "died").touch()
                    os._exit(9)
            (HERE / f"done-{config.x}").touch()
            return {"x": config.x}
        """
    pytester.makepyfile(test_retry=source)
    assert outcomes(pytester.runpytest_subprocess("-n", "2", "-k", "exp and not 3 and not 4")) == {"passed": 2}
    (pytester.path / "second").touch()
    (pytester.path / "done-3").unlink(missing_ok=True)
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:randomly", "--memento-retries", "1")
    text = result.stdout.str()
    assert result.ret == 0, text
    assert "Different tests were collected" not in text
    assert outcomes(result) == {"passed": 2, "cached": 2, "rerun": 1}


def test_cached_only_and_baseline_failures_are_reported_by_the_controller(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    pytester.makepyfile(test_grid=GRID.format(version=1).replace("range(6)", "range(3)"))
    assert outcomes(pytester.runpytest_subprocess("-n", "2", "-k", "not 2")) == {"passed": 2}
    received(pytester.path)
    result = pytester.runpytest_subprocess("-n", "2", "--memento-cached-only", "-rs")
    assert outcomes(result) == {"cached": 2, "skipped": 1}
    result.stdout.fnmatch_lines(["*SKIPPED [[]1[]] test_grid.py:*: not cached*"])
    baseline = {"format": 1, "experiments": {"test_grid.py::train": {}}}
    (pytester.path / "baseline.json").write_text(json.dumps(baseline))
    saved = pytester.runpytest_subprocess("-p", "no:xdist", "--memento-save-baseline", "baseline.json", "-k", "not 2")
    assert saved.ret == 0
    data = json.loads((pytester.path / "baseline.json").read_text())
    for entry in data["experiments"]["test_grid.py::train"].values():
        entry["metrics"]["score"] += 10  # the committed baseline was better
    (pytester.path / "baseline.json").write_text(json.dumps(data))
    received(pytester.path)
    gated = pytester.runpytest_subprocess("-n", "2", "--memento-baseline", "baseline.json", "-k", "not 2")
    assert gated.ret == pytest.ExitCode.TESTS_FAILED
    assert outcomes(gated) == {"failed": 2}
    gated.stdout.fnmatch_lines(["*metric regression against*"])
    assert received(pytester.path) == []


def test_a_snapshot_reads_the_store_as_it_was(tmp_path: Path) -> None:
    store = ResultStore(tmp_path).create()
    store.put("a" * 64, {"experiment": "e", "config": {}}, b"one")
    store.flush()
    sizes = store.snapshot()
    store.put("b" * 64, {"experiment": "e", "config": {}}, b"two")  # appended to the same segment
    store.close()
    other = ResultStore(tmp_path)
    other.put("c" * 64, {"experiment": "e", "config": {}}, b"three")  # a segment of its own
    other.close()

    problems: list[str] = []
    snapshot = SnapshotStore(tmp_path, sizes, problems.append)
    assert snapshot.keys() == {"a" * 64}
    assert snapshot.get("a" * 64) is not None
    assert snapshot.get("b" * 64) is None
    assert problems == []  # the snapshot ends between two records: nothing is damaged
    assert ResultStore(tmp_path).keys() == {"a" * 64, "b" * 64, "c" * 64}
    with pytest.raises(TypeError, match="read-only"):
        snapshot.put("d" * 64, {}, b"")


def test_a_snapshot_cut_inside_a_record_skips_it(tmp_path: Path) -> None:
    store = ResultStore(tmp_path).create()
    store.put("a" * 64, {"experiment": "e", "config": {}}, b"one")
    store.close()
    (segment,) = store.segment_paths()
    size = segment.stat().st_size
    end = len(encode_line({"op": "end"}))
    for cut, present in ((size, True), (size - end, True), (size - end - 1, False), (size - end - 30, False)):
        problems: list[str] = []
        scan = SnapshotStore(tmp_path, {segment.name: cut}, problems.append).scan()
        assert ("a" * 64 in scan.entries) is present, cut
        assert problems == [], (cut, problems)  # the snapshot's end is not damage
