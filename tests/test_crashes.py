"""End to end: checkpoints survive exceptions, dead workers, SIGKILL and SIGTERM.

These tests really raise, really ``os._exit`` inside xdist workers and really
signal whole pytest process groups.
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

TRAIN = """
import os, pathlib, time
import numpy as np
import pytest_memento as memento

HERE = pathlib.Path(__file__).parent

@memento.matrix(parameters={"run": ["a", "b", "c"]}, settings={"epochs": 6})
def train(config, checkpoint):
    state = checkpoint.load(default={"epoch": 0, "weights": np.zeros(1000)})
    for epoch in range(state["epoch"], config.epochs):
        with open(HERE / f"steps-{config.run}.log", "a") as log:
            log.write(f"{epoch}\\n")
        if config.run == "b" and epoch == 3 and (HERE / "fail").exists():
            MODE = (HERE / "fail").read_text().strip()
            if MODE == "raise":
                raise RuntimeError("preempted")
            os._exit(9)
        time.sleep(float(os.environ.get("EPOCH_SECONDS", "0")))
        state = {"epoch": epoch + 1, "weights": state["weights"] + 1}
        checkpoint.save(state)
    return {"mean_weight": float(state["weights"].mean())}
"""


def steps(path: Path, run: str) -> list[int]:
    log = path / f"steps-{run}.log"
    return [int(line) for line in log.read_text().split()] if log.exists() else []


def test_exception_mid_loop_resumes_at_the_right_step(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(test_train=TRAIN)
    (pytester.path / "fail").write_text("raise")
    first = run()
    assert outcomes(first) == {"passed": 2, "failed": 1}
    first.stdout.fnmatch_lines(["*the next run resumes from the checkpoint (save #3 at *"])
    assert steps(pytester.path, "b") == [0, 1, 2, 3]
    (pytester.path / "fail").unlink()
    second = run()
    assert outcomes(second) == {"passed": 1, "cached": 2}
    # Epochs 0-2 were checkpointed: only 3, 4 and 5 run again.
    assert steps(pytester.path, "b") == [0, 1, 2, 3, 3, 4, 5]
    by_run = {r["config"]["run"]: r for r in stored(pytester.path)}
    assert by_run["b"]["metrics"] == {"mean_weight": 6.0}
    # Passed and stored: no checkpoint is left behind.
    assert "0 checkpoint(s)" in memento_cli(pytester.path, "checkpoints").stdout


def test_dead_worker_fails_only_its_item_and_the_next_run_resumes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_train=TRAIN)
    (pytester.path / "fail").write_text("exit")
    first = pytester.runpytest_subprocess("-n", "2")
    assert outcomes(first) == {"passed": 2, "failed": 1}
    first.stdout.fnmatch_lines(
        ["*crashed while running*train[[]b[]]*next run resumes it from its checkpoint (save #3 at*"]
    )
    listing = memento_cli(pytester.path, "checkpoints").stdout
    assert "test_train.py::train[b]  save #3" in listing
    (pytester.path / "fail").unlink()
    second = pytester.runpytest_subprocess("-n", "2")
    assert outcomes(second) == {"passed": 1, "cached": 2}
    assert steps(pytester.path, "b") == [0, 1, 2, 3, 3, 4, 5]


def test_retries_resume_a_dead_worker_within_the_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_retry="""
        import os, pathlib
        import pytest_memento as memento

        HERE = pathlib.Path(__file__).parent

        @memento.matrix(parameters={"x": [1, 2]})
        def exp(config, checkpoint):
            step = checkpoint.load(default=0)
            while step < 5:
                marker = HERE / f"died-{config.x}"
                if config.x == 2 and step == 2 and not marker.exists():
                    marker.touch()  # die once
                    os._exit(9)
                step += 1
                checkpoint.save(step)
            return {"resumed_at": checkpoint.resumed_from.saves if checkpoint.resumed_from else 0}
        """
    )
    result = pytester.runpytest_subprocess("-n", "2", "--memento-retries", "1")
    assert result.ret == 0, result.stdout.str()
    assert outcomes(result) == {"passed": 2, "rerun": 1}
    by_x = {r["config"]["x"]: r["metrics"] for r in stored(pytester.path)}
    assert by_x == {1: {"resumed_at": 0}, 2: {"resumed_at": 2}}


def test_bad_retries_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest_subprocess("-n", "2", "--memento-retries", "-1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--memento-retries: expected 0 or more, got -1*"])


def _start_group(cwd: Path, *args: str, env_extra: dict[str, str]) -> subprocess.Popen[str]:
    env = {**os.environ, **env_extra}
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, like a Slurm job step
    )


def _wait_for(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the run to make progress")
        time.sleep(0.05)


@pytest.mark.parametrize("mode", [["-p", "no:xdist"], ["-n", "2"]], ids=["no-xdist", "n2"])
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killing_the_process_group_mid_run(pytester: pytest.Pytester, mode: list[str], sig: signal.Signals) -> None:
    pytester.makepyfile(test_train=TRAIN)
    # "a" finishes quickly; "b" and "c" are slow, so the signal lands mid-run.
    process = _start_group(pytester.path, *mode, env_extra={"EPOCH_SECONDS": "0.3"})
    _wait_for(lambda: len(steps(pytester.path, "b")) >= 3)
    os.killpg(process.pid, sig)
    output, _ = process.communicate(timeout=60)
    if sig == signal.SIGTERM:
        # A clean stop: like Ctrl-C, finished results are written.
        assert process.returncode == pytest.ExitCode.INTERRUPTED, output
        assert "KeyboardInterrupt" in output
    else:
        assert process.returncode == -signal.SIGKILL
    interrupted_at = len(steps(pytester.path, "b"))

    result = pytester.runpytest_subprocess(*mode, "-rA")
    assert result.ret == 0, result.stdout.str()
    # No warning about a damaged store: whatever was half-written is ignored.
    result.stdout.no_fnmatch_line("*warning:*")
    resumed = steps(pytester.path, "b")[interrupted_at:]
    assert resumed, "b ran again"
    # It resumed from its last checkpoint: at most the epoch in flight is redone.
    assert resumed[0] >= interrupted_at - 2
    assert resumed[-1] == 5
    assert {r["config"]["run"] for r in stored(pytester.path)} == {"a", "b", "c"}
    final = pytester.runpytest_subprocess(*mode)
    assert outcomes(final) == {"cached": 3}


def test_rerun_ignores_old_checkpoints(pytester: pytest.Pytester, run_plain) -> None:
    pytester.makepyfile(test_train=TRAIN)
    (pytester.path / "fail").write_text("raise")
    run_plain()
    (pytester.path / "fail").unlink()
    run_plain("--memento-rerun")
    # b started again from epoch 0 instead of resuming at 3.
    assert steps(pytester.path, "b") == [0, 1, 2, 3, 0, 1, 2, 3, 4, 5]


def test_checkpoint_outside_a_matrix(pytester: pytest.Pytester, run_plain) -> None:
    pytester.makepyfile(
        test_plain="""
        import pathlib

        def test_long(checkpoint):
            done = checkpoint.load(default=[])
            for step in range(len(done), 4):
                if step == 2 and pathlib.Path(__file__).with_name("fail").exists():
                    raise RuntimeError("stop")
                done.append(step)
                checkpoint.save(done)
            assert done == [0, 1, 2, 3]
            pathlib.Path(__file__).with_name("resumed").write_text(str(checkpoint.resumed_from is not None))
        """
    )
    (pytester.path / "fail").touch()
    assert outcomes(run_plain()) == {"failed": 1}
    assert "test_plain.py::test_long  save #2" in memento_cli(pytester.path, "checkpoints").stdout
    (pytester.path / "fail").unlink()
    assert outcomes(run_plain()) == {"passed": 1}
    assert (pytester.path / "resumed").read_text() == "True"
    assert "0 checkpoint(s)" in memento_cli(pytester.path, "checkpoints").stdout
