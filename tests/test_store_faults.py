"""Faults and hostile input against the store and the ``memento`` command
(issue 12): planted pickles, fast clocks, damaged bytes, full disks, gc
racing writers, files that are not what they seem, read-only stores, values
at the edges, and a project that does not use pytest-memento at all.

Everything here is done for real: a real FIFO, a real full disk (a small
tmpfs when the tests run as root, else RLIMIT_FSIZE), a second process
running gc during a run, a read-only bind mount (or permissions).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import resource
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
from conftest import memento_cli, outcomes, stored

from pytest_memento import segment_format
from pytest_memento.checkpoint import Checkpoint, checkpoint_path
from pytest_memento.compaction import compact
from pytest_memento.store import ResultStore

FUTURE = time.time() + 10 * 365 * 86400

GRID = """
import os
import pytest_memento as memento

@memento.matrix(parameters={"x": [1, 2, 3]})
def exp(config, checkpoint):
    checkpoint.load(default=0)
    with open("calls.log", "a") as log:
        log.write(f"{config.x}\\n")
    return {"y": config.x * 10 + int(os.environ.get("BUMP", "0"))}
"""


def K(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


def calls(root: Path) -> list[str]:
    log = root / "calls.log"
    return log.read_text().split() if log.exists() else []


class Planted:
    """Unpickling this writes a marker file: proof that it was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (Path(self.marker), "pwned"))


def keys_by_x(root: Path) -> dict[int, str]:
    return {r["config"]["x"]: r["key"] for r in stored(root)}


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr


# -- 1. the command never unpickles what the plugin refuses -------------------


def test_planted_pickle_never_runs_through_any_command(
    pytester: pytest.Pytester, run_plain, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\nmemento_secret_env = LAB_SECRET\n")
    pytester.makepyfile(test_grid=GRID)
    monkeypatch.setenv("LAB_SECRET", "lab-secret")
    monkeypatch.delenv("MEMENTO_SECRET", raising=False)
    assert outcomes(run_plain()) == {"passed": 3}
    keys = keys_by_x(pytester.path)
    marker = pytester.path / "pwned.txt"
    root = pytester.path / ".memento"
    # Someone without the secret plants a newer record for x=1 and one for a
    # key nothing else holds, both running code when unpickled, and a checkpoint.
    attacker = ResultStore(root)
    meta = {"experiment": "test_grid.py::exp", "config": {"x": 1}, "metrics": {"y": 999}, "duration": 0.0}
    attacker.put(keys[1], meta, pickle.dumps(Planted(marker)))
    attacker.put(K(42), {**meta, "config": {"x": 42}}, pickle.dumps(Planted(marker)))
    attacker.close()
    Checkpoint(checkpoint_path(root, keys[2]), key=keys[2]).save(Planted(marker))

    commands = [
        ["list"],
        ["list", "--json"],
        ["show", keys[1][:12]],
        ["show", keys[1][:12], "--result"],
        ["show", K(42)[:12], "--result"],
        ["export", "out.csv", "out.json", "out.md"],
        ["export", "--format", "json", "-"],
        ["checkpoints"],
        ["table"],
        ["report", "report.html"],
        ["gc", "--older-than", "0"],
        ["clear", "--experiment", "nothing-matches"],
    ]
    results = {" ".join(command): memento_cli(pytester.path, *command) for command in commands}
    for name, result in results.items():
        no_traceback(result)
        assert not marker.exists(), f"memento {name} unpickled a planted pickle"
    # The valid x=1 is shown (never the planted one), the planted-only key is refused.
    assert results[f"show {keys[1][:12]} --result"].stdout.rstrip().endswith("{'y': 10}")
    refused = results[f"show {K(42)[:12]} --result"]
    assert refused.returncode == 2
    assert "does not verify; it is not unpickled" in refused.stderr
    exported = json.loads(results["export --format json -"].stdout)
    assert 999 not in [row.get("y") for row in exported]
    assert "not signed with this store's secret" in results["list"].stderr
    # pytest, with the secret from the ini, refuses the same things.
    result = run_plain("-rA")
    assert outcomes(result) == {"passed": 3} or outcomes(result) == {"cached": 3}
    assert not marker.exists()


# -- 2. clocks ------------------------------------------------------------------------

FAST_CLOCK_WRITER = """
import sys, time, pickle
from pathlib import Path
from pytest_memento import segment_format
from pytest_memento.store import ResultStore
segment_format.time.time = lambda: {future}  # a node whose clock runs ten years fast
store = ResultStore(Path(sys.argv[1]))
store.put(sys.argv[2], {{"experiment": "test_grid.py::exp", "config": {{"x": 1}}, "metrics": {{"y": -1}}}},
          pickle.dumps("from the future"))
store.close()
"""


def plant_future_record(root: Path, key: str) -> None:
    code = FAST_CLOCK_WRITER.format(future=FUTURE)
    subprocess.run([sys.executable, "-c", code, str(root), key], check=True)


def test_a_record_from_the_future_shadows_neither_rerun_nor_clear(pytester: pytest.Pytester, run_plain) -> None:
    pytester.makepyfile(test_grid=GRID)
    assert outcomes(run_plain()) == {"passed": 3}
    root = pytester.path / ".memento"
    keys = keys_by_x(pytester.path)
    plant_future_record(root, keys[1])
    assert {r["config"]["x"]: r["metrics"]["y"] for r in stored(pytester.path)}[1] == -1  # it saw the old one
    os.environ["BUMP"] = "5"
    try:
        assert outcomes(run_plain("--memento-rerun")) == {"passed": 3}
    finally:
        del os.environ["BUMP"]
    # The rerun saw the future record and replaced it.
    assert {r["config"]["x"]: r["metrics"]["y"] for r in stored(pytester.path)} == {1: 15, 2: 25, 3: 35}
    assert outcomes(run_plain()) == {"cached": 3}
    plant_future_record(root, keys[2])
    cleared = memento_cli(pytester.path, "clear", "--experiment", "exp")
    assert "removed 3 result(s)" in cleared.stdout
    assert stored(pytester.path) == []  # removed what it reported, future or not
    assert outcomes(run_plain()) == {"passed": 3}


def test_with_a_secret_a_refused_future_record_never_shadows(
    pytester: pytest.Pytester, run_plain, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMENTO_SECRET", "s3cret")
    pytester.makepyfile(test_grid=GRID)
    assert outcomes(run_plain()) == {"passed": 3}
    keys = keys_by_x(pytester.path)
    plant_future_record(pytester.path / ".memento", keys[1])  # unsigned
    for _ in range(2):  # not "rerun forever"
        assert outcomes(run_plain()) == {"cached": 3}
    exported = json.loads(memento_cli(pytester.path, "export", "--format", "json", "-").stdout)
    assert sorted(row["y"] for row in exported) == [10, 20, 30]


def test_recency_never_reads_the_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "store"
    first = ResultStore(root).create()
    monkeypatch.setattr(segment_format.time, "time", lambda: FUTURE)
    first.put(K(0), {"metrics": {"v": 1}}, b"future")
    first.close()
    monkeypatch.setattr(segment_format.time, "time", lambda: 1.0)  # a clock stuck in 1970
    second = ResultStore(root)
    second.put(K(0), {"metrics": {"v": 2}}, b"later")
    second.close()
    fresh = ResultStore(root)
    assert fresh.payload(fresh.get(K(0))) == b"later"  # type: ignore[arg-type]
    assert fresh.remove(K(0))
    fresh.close()
    assert ResultStore(root).get(K(0)) is None


# -- 3. integrity without a secret ---------------------------------------------------


def test_every_damaged_byte_of_a_record_is_a_miss_never_wrong_data(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = ResultStore(root).create()
    store.put(K(0), {"metrics": {"acc": 0.5}, "config": {"i": 0}}, cloudpickle.dumps({"acc": 0.5}))
    store.put(K(1), {"metrics": {"acc": 0.25}, "config": {"i": 1}}, cloudpickle.dumps({"acc": 0.25}))
    store.close()
    (segment,) = (root / "results" / "segments").glob("*.seg")
    original = segment.read_bytes()
    first = original.index(b'{"op":"put"')
    second = original.index(b'{"op":"put"', first + 1)
    for offset in range(first, second):
        damaged = bytearray(original)
        damaged[offset] ^= 0x04 if damaged[offset] in b"0123456789" else 0x20
        segment.write_bytes(bytes(damaged))
        problems: list[str] = []
        reader = ResultStore(root, on_problem=problems.append)
        entry = reader.get(K(0))
        if entry is not None:
            assert entry.metrics == {"acc": 0.5}, offset
            assert reader.load_result(entry) == {"acc": 0.5}, offset
        else:
            assert problems, f"byte {offset}: a miss without a warning"
        other = reader.get(K(1))  # the next record survives the damage
        assert other is not None, offset
        assert reader.load_result(other) == {"acc": 0.25}, offset


def test_changed_metric_deleted_blob_and_flipped_checkpoint_byte_run_again(
    pytester: pytest.Pytester, run_plain
) -> None:
    pytester.makepyfile(
        test_grid="""
        import os
        import pytest_memento as memento

        @memento.matrix(parameters={"x": [1, 2, 3]})
        def exp(config, checkpoint):
            start = checkpoint.load(default=0)
            checkpoint.save(start + 1)
            with open("calls.log", "a") as log:
                log.write(f"{config.x}:{start}\\n")
            if config.x == 3 and not os.path.exists("second-run"):
                raise RuntimeError("fails once, keeps its checkpoint")
            return {"y": config.x * 10, "blob": b"x" * (2 << 20) if config.x == 2 else b""}
        """
    )
    assert outcomes(run_plain()) == {"passed": 2, "failed": 1}
    segment = next((pytester.path / ".memento" / "results" / "segments").glob("*.seg"))
    data = segment.read_bytes()
    assert data.count(b'"m":{"y":10}') == 1
    segment.write_bytes(data.replace(b'"m":{"y":10}', b'"m":{"y":90}'))  # a changed digit
    (blob,) = (pytester.path / ".memento" / "results" / "blobs").rglob("*.pkl")
    blob.unlink()  # a deleted payload
    (ckpt,) = (pytester.path / ".memento" / "checkpoints").rglob("*.ckpt")
    raw = bytearray(ckpt.read_bytes())
    raw[-20] ^= 0x01  # a flipped byte in the checkpoint's state
    ckpt.write_bytes(bytes(raw))
    (pytester.path / "calls.log").unlink()
    (pytester.path / "second-run").touch()
    result = run_plain()
    assert outcomes(result) == {"passed": 3}  # none of them used
    assert sorted(calls(pytester.path)) == ["1:0", "2:0", "3:0"]  # x=3 did not resume the damaged state
    text = result.stdout.str()
    assert "damaged" in text
    assert "missing" in text
    assert "90" not in " ".join(line for line in result.outlines if "ran" in line)


# -- 4. a full disk, with and without xdist -----------------------------------------


@contextlib.contextmanager
def small_disk(path: Path, size_kib: int) -> Iterator[dict[str, Any]]:
    """A real full disk at ``path``: a tmpfs as root, else RLIMIT_FSIZE
    (returned as the subprocess options that apply it)."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = (
        os.geteuid() == 0
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(path)], capture_output=True
        ).returncode
        == 0
    )
    try:
        if mounted:
            yield {}
        else:

            def limit() -> None:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (size_kib * 1024, size_kib * 1024))

            yield {"preexec_fn": limit}
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], check=False)


FILLER = """
import pytest_memento as memento

@memento.matrix(parameters={"x": range(40)})
def exp(config):
    return {"v": config.x, "pad": b"p" * 20000}
"""


@pytest.mark.parametrize("mode", [["-p", "no:xdist"], ["-n", "2"]], ids=["no-xdist", "n2"])
def test_a_full_disk_is_reported_and_fails_the_run(pytester: pytest.Pytester, mode: list[str]) -> None:
    pytester.makepyfile(test_fill=FILLER)
    disk = pytester.path / "disk"
    with small_disk(disk, 256) as options:
        completed = subprocess.run(
            [sys.executable, "-m", "pytest", *mode, "-p", "no:randomly", "--memento-dir", str(disk / "store")],
            cwd=pytester.path,
            capture_output=True,
            text=True,
            timeout=300,
            **options,
        )
        kept = len(ResultStore(disk / "store"))
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0, output
    assert "INTERNALERROR" not in output
    assert kept < 40
    assert f"{40 - kept} result(s) could not be stored" in output or "could not store the result" in output, output
    assert "No space left" in output or "File too large" in output


# -- 5. gc racing writers ----------------------------------------------------------


def test_gc_running_during_a_parallel_run_loses_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_many="""
        import time
        import pytest_memento as memento

        @memento.matrix(parameters={"x": range(300)})
        def exp(config):
            time.sleep(0.01)
            return {"v": config.x}
        """
    )
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:randomly"],
        cwd=pytester.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    rounds = 0
    root = pytester.path / ".memento"
    while run.poll() is None:  # gc as fast as it goes, now and then through the command
        if (root / "CACHEDIR.TAG").exists():
            if rounds % 20 == 0:
                gc = memento_cli(pytester.path, "gc", "--older-than", "0")
                assert gc.returncode == 0, gc.stderr
            else:
                compact(ResultStore(root), older_than=0)
            rounds += 1
    output = run.communicate()[0]
    assert run.returncode == 0, output
    assert rounds >= 20
    assert memento_cli(pytester.path, "gc", "--older-than", "0").returncode == 0
    assert len(stored(pytester.path)) == 300
    assert outcomes(pytester.runpytest_subprocess("-p", "no:xdist", "-p", "no:randomly")) == {"cached": 300}


APPENDER = """
import hashlib, sys
from pathlib import Path
from pytest_memento.store import ResultStore
store = ResultStore(Path(sys.argv[1]))
for i in range(int(sys.argv[2])):
    store.put(hashlib.sha256(str(i).encode()).hexdigest(), {"metrics": {"i": i}}, b"x" * 100)
store.close()
"""


def test_gc_in_a_loop_against_a_writer_that_appends_without_pause(tmp_path: Path) -> None:
    root = tmp_path / "store"
    finished = ResultStore(root).create()  # a finished segment: there is always something to merge
    finished.put(K(-1), {"metrics": {}}, b"done")
    finished.close()
    writer = subprocess.Popen([sys.executable, "-c", APPENDER, str(root), "3000"])
    while writer.poll() is None:
        compact(ResultStore(root), older_than=0)
    assert writer.returncode == 0
    compact(ResultStore(root), older_than=0)
    assert len(ResultStore(root)) == 3001


# -- 6. files that are not what they seem -------------------------------------------


def test_fifo_symlink_and_sparse_files_are_warnings_never_hangs(pytester: pytest.Pytester, run_plain) -> None:
    pytester.makepyfile(test_grid=GRID)
    assert outcomes(run_plain()) == {"passed": 3}
    root = pytester.path / ".memento"
    key = keys_by_x(pytester.path)[2]
    segments_dir = root / "results" / "segments"
    os.mkfifo(segments_dir / "fifo.seg")
    (segments_dir / "zero.seg").symlink_to("/dev/zero")
    with open(segments_dir / "sparse.seg", "wb") as handle:
        handle.truncate(3 << 30)  # 3 GB of nothing
    path = checkpoint_path(root, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    for command in (["list"], ["export", "--format", "csv", "-"], ["checkpoints"], ["gc", "--older-than", "0"]):
        completed = subprocess.run(
            [sys.executable, "-m", "pytest_memento", *command],
            cwd=pytester.path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        no_traceback(completed)
        assert "MemoryError" not in completed.stderr
        assert "fifo.seg: is a FIFO, not a regular file" in completed.stderr or command == ["checkpoints"]
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:randomly", "--memento-rerun", "-k", "2"],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout
    assert "INTERNALERROR" not in completed.stdout
    assert "is a FIFO" in completed.stdout


# -- 7. the command never prints a traceback -----------------------------------------


def test_damaged_metadata_line_is_one_line_and_gc_drops_it(pytester: pytest.Pytester, run_plain) -> None:
    pytester.makepyfile(test_grid=GRID)
    assert outcomes(run_plain()) == {"passed": 3}
    segment = next((pytester.path / ".memento" / "results" / "segments").glob("*.seg"))
    data = segment.read_bytes()
    position = data.index(b'"experiment"')
    segment.write_bytes(data[:position] + b"XX" + data[position + 2 :])  # same length, not JSON
    for command in (["list"], ["export", "--format", "md", "-"]):
        result = memento_cli(pytester.path, *command)
        no_traceback(result)
        assert result.returncode == 1
        assert str(segment) in result.stderr
        assert "damaged record" in result.stderr
    assert "2 result(s)" in memento_cli(pytester.path, "list").stdout
    assert memento_cli(pytester.path, "gc", "--older-than", "0").returncode == 1  # it reports the damage...
    for compacted in (pytester.path / ".memento" / "results" / "segments").glob("*.seg"):
        assert b"XX" not in compacted.read_bytes()  # ...and does not copy it
    clean = memento_cli(pytester.path, "list")
    assert clean.returncode == 0, clean.stderr
    assert "2 result(s)" in clean.stdout


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` read-only: a read-only bind mount as root, else permissions."""
    if os.geteuid() == 0:
        subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
        try:
            subprocess.run(["mount", "-o", "remount,ro,bind", str(path)], check=True)
            yield
        finally:
            subprocess.run(["umount", "-l", str(path)], check=False)
    else:
        modes = {p: p.stat().st_mode for p in [path, *path.rglob("*")] if p.is_dir()}
        for directory in modes:
            directory.chmod(0o555)
        try:
            yield
        finally:
            for directory, mode in modes.items():
                directory.chmod(mode)


def test_read_only_store_gc_and_clear_say_so_and_keep_everything(pytester: pytest.Pytester, run_plain) -> None:
    pytester.makepyfile(test_grid=GRID)
    assert outcomes(run_plain()) == {"passed": 3}
    assert outcomes(run_plain("--memento-rerun")) == {"passed": 3}  # two segments: something gc would merge
    root = pytester.path / ".memento"
    with read_only(root):
        for command in (["gc", "--older-than", "0"], ["clear", "--experiment", "exp"], ["clear", "--yes"]):
            result = memento_cli(pytester.path, *command)
            no_traceback(result)
            assert result.returncode == 1, result.stdout
            assert "removed 3" not in result.stdout
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1, lines
            assert str(root) in lines[0], lines
            assert "Read-only" in lines[0] or "denied" in lines[0], lines
        assert "3 result(s)" in memento_cli(pytester.path, "list").stdout
    assert outcomes(run_plain()) == {"cached": 3}


# -- 8. values at the edges -------------------------------------------------------------


def test_huge_nan_and_surrogate_values(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        test_edge="""
        import math, os
        import pytest_memento as memento

        @memento.matrix(parameters={"s": ["a", "\\udc80"]})
        def edge(config):
            return {"huge": 10**400, "nan": float(os.environ.get("NAN_VALUE", "nan")), "inf": math.inf}
        """
    )
    result = run("--memento-save-baseline", "base.json")
    assert outcomes(result) == {"passed": 2}
    assert "1.000e+400" in result.stdout.str()
    result = run("--memento-baseline", "base.json")
    assert outcomes(result) == {"cached": 2}
    os.environ["NAN_VALUE"] = "0.5"
    try:
        result = run("--memento-verify")
    finally:
        del os.environ["NAN_VALUE"]
    assert outcomes(result) == {"failed": 2}  # a stored NaN does not "verify" against 0.5
    result.stdout.fnmatch_lines(["*nan: stored nan, now 0.5*"])
    assert "INTERNALERROR" not in result.stdout.str()


def test_stacked_matrices_share_the_grid_limit(pytester: pytest.Pytester, run_plain) -> None:
    pytester.makepyfile(
        test_big="""
        import pytest_memento as memento

        @memento.matrix(parameters={"a": range(1999), "b": range(1000)})
        @memento.matrix(parameters={"a": range(1999), "c": range(1000)})
        def big(config):
            pass
        """
    )
    started = time.monotonic()
    result = run_plain("--collect-only", "-q")
    assert time.monotonic() - started < 120
    result.stdout.fnmatch_lines(["*the stacked matrices give 3998000 configurations, more than 2000000*"])
    assert "MemoryError" not in result.stdout.str()


# -- 9. installed but idle ----------------------------------------------------------


def test_a_plain_project_runs_as_without_the_plugin(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_plain=textwrap.dedent(
            """
            import os, signal

            def test_handler_untouched():
                assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL

            def test_sigterm_own_worker():
                os.kill(os.getpid(), signal.SIGTERM)
            """
        )
    )
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:randomly")
    assert result.ret == 1  # a crashed worker, not an interrupted run (2)
    result.stdout.fnmatch_lines(["*worker 'gw*' crashed while running*test_sigterm_own_worker*"])
    result.stdout.no_fnmatch_line("*- memento -*")
    result.stdout.no_fnmatch_line("*configurations*")
    result.stdout.no_fnmatch_line("*keyboard-interrupt*")
    assert outcomes(result) == {"passed": 1, "failed": 1}
    assert not (pytester.path / ".memento").exists()
    plain = pytester.runpytest_subprocess("-p", "no:xdist", "-p", "no:randomly", "-k", "untouched", "-W", "error")
    assert plain.ret == 0
    plain.stdout.no_fnmatch_line("*- memento -*")
    assert not (pytester.path / ".memento").exists()
