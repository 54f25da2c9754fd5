"""Workload 3, kill and resume: how much work a SIGKILL costs.

40 configurations of 10 steps of 0.05 s with a checkpoint after every step
(pytest-memento: the ``checkpoint`` fixture; memento-ml:
``context.checkpoint(step)`` / ``context.restore()``). Each step is logged to
``progress.log`` before its checkpoint is saved; once 205 steps are logged
(halfway, in the middle of a configuration) the whole process group gets
SIGKILL, and the same command then runs to completion. A step counts as
redone when the rerun computes a step the killed run had already computed.
Target: at most one step redone per interrupted configuration, every
repetition. Serial with ``--quick``; ``--full`` adds ``-n 2`` /
``num_workers=2``.

A one-off probe (``probe`` in results.json, not timed) kills a single worker
process of a two-worker run once 4 configurations are done and sees whether
the run still ends on its own, then runs the same command again.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import workloads as w
from harness import PYTEST, SERIAL, WORK, XDIST2, Env, System, Trigger, interleaved, kill_group, measure, reset
from report import Report, fmt_time

NAME = "kill"
KILL_COUNT, KILL_STEPS, KILL_STEP_SECONDS = 40, 10, 0.05
# Kill halfway, in the middle of a configuration: 20 done and 5 steps into the next.
KILL_AFTER_STEPS = KILL_COUNT // 2 * KILL_STEPS + KILL_STEPS // 2
PROBE_TIMEOUT = 30


@dataclass
class Progress:
    """What progress.log says a run did."""

    steps: set[tuple[int, int]] = field(default_factory=set)
    done: set[int] = field(default_factory=set)
    pids: dict[int, int] = field(default_factory=dict)  # config -> pid of its latest step line

    @classmethod
    def read(cls, path: Path) -> Progress:
        progress = cls()
        with contextlib.suppress(FileNotFoundError):
            for line in path.read_text().splitlines():
                parts = line.split()
                if len(parts) == 4 and parts[0] == "step":
                    progress.steps.add((int(parts[1]), int(parts[2])))
                    progress.pids[int(parts[1])] = int(parts[3])
                elif len(parts) == 3 and parts[0] == "done":
                    progress.done.add(int(parts[1]))
        return progress

    @property
    def started(self) -> set[int]:
        return {config for config, _ in self.steps} | self.done


def logged(path: Path, kind: str, count: int) -> bool:
    """Whether ``path`` holds at least ``count`` lines of ``kind`` (step, done)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return False
    return text.startswith(f"{kind} ") + text.count(f"\n{kind} ") >= count


def busy_worker(log: Path) -> int | None:
    """The process of the newest configuration that is started but not done."""
    progress = Progress.read(log)
    return next((pid for config, pid in reversed(progress.pids.items()) if config not in progress.done), None)


def systems(env: Env, directory: Path, full: bool) -> list[System]:
    memento = [env.memento, *PYTEST, "test_train.py"]
    serial = [*memento, *SERIAL, "--memento-dir", "store-serial"]
    found = [
        System("pytest-memento (-p no:xdist)", serial, directory / "serial"),
        System("memento-ml (num_workers=1)", [env.ml, str(directory / "ml.py"), "1"], directory / "ml-1"),
    ]
    if full:
        xdist = [*memento, *XDIST2, "--memento-dir", "store-xdist"]
        found += [
            System("pytest-memento (-n 2)", xdist, directory / "xdist"),
            System("memento-ml (num_workers=2)", [env.ml, str(directory / "ml.py"), "2"], directory / "ml-2"),
        ]
    return found


def prepare(system: System, directory: Path) -> None:
    """An empty working directory for ``system`` with the test files in it."""
    reset(system.cwd)
    for name in ("pytest.ini", "test_train.py"):
        shutil.copy(directory / name, system.cwd / name)


def run(env: Env, repeat: int, full: bool) -> dict[str, Any]:
    directory = WORK / "kill"
    w.write_sources(directory, w.KILL_FILES, count=KILL_COUNT, steps=KILL_STEPS, step_seconds=KILL_STEP_SECONDS)
    found = systems(env, directory, full)
    results: dict[str, list[dict[str, Any]]] = {system.name: [] for system in found}
    for system in interleaved("kill", repeat, found):
        prepare(system, directory)
        log = system.cwd / "progress.log"
        trigger = Trigger(functools.partial(logged, log, "step", KILL_AFTER_STEPS), kill_group)
        killed = measure(f"kill-{system.name}-killed", system.command, system.cwd, timeout=90, trigger=trigger)
        first_log = system.cwd / "run1.log"
        if log.exists():
            log.rename(first_log)
        rerun = measure(f"kill-{system.name}-rerun", system.command, system.cwd, timeout=90)
        first, second = Progress.read(first_log), Progress.read(log)
        interrupted = first.started - first.done
        results[system.name].append(
            {
                "killed_at": trigger.fired_at,
                "killed_run": asdict(killed),
                "rerun": asdict(rerun),
                "done_before_kill": len(first.done),
                "interrupted": len(interrupted),
                "configs_reexecuted": len(second.started & first.started),
                "done_configs_rerun": len(second.started & first.done),
                "steps_redone": len(second.steps & first.steps),
                "steps_after_kill": len(second.steps),
                "all_done": len(first.done | second.done) == KILL_COUNT and rerun.status == 0,
            }
        )
    return {NAME: results, "probe": run_worker_probe(env)}


def run_worker_probe(env: Env) -> dict[str, Any]:
    """Once: SIGKILL one worker process (not the whole run) after 4
    configurations are done, and see whether the run still ends."""
    directory = WORK / "kill"
    xdist = [env.memento, *PYTEST, "test_train.py", *XDIST2, "--memento-dir", "store"]
    probes = [
        System("pytest-memento (-n 2)", xdist, directory / "probe-memento"),
        System("memento-ml (num_workers=2)", [env.ml, str(directory / "ml.py"), "2"], directory / "probe-ml"),
    ]
    results: dict[str, Any] = {}
    for system in probes:
        print(f"worker-kill probe: {system.name}", flush=True)
        prepare(system, directory)
        log = system.cwd / "progress.log"
        victim: list[int] = []

        def ready(log: Path = log) -> bool:
            return logged(log, "done", 4) and busy_worker(log) is not None

        def kill_one_worker(root: int, log: Path = log, victim: list[int] = victim) -> None:
            pid = busy_worker(log)
            if pid is not None and pid != root:
                victim.append(pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

        trigger = Trigger(ready, kill_one_worker)
        sample = measure(f"probe-{system.name}", system.command, system.cwd, timeout=PROBE_TIMEOUT, trigger=trigger)
        progress = Progress.read(log)
        log.rename(system.cwd / "run1.log")
        rerun = measure(f"probe-{system.name}-rerun", system.command, system.cwd, timeout=60)
        after = Progress.read(log)
        results[system.name] = {
            "sample": asdict(sample),
            "killed_at": trigger.fired_at if victim else None,
            "victim": victim[0] if victim else None,
            "configs_done": len(progress.done),
            "hung": sample.timed_out,
            "rerun": asdict(rerun),
            "rerun_configs": len(after.started),
            "rerun_steps": len(after.steps),
        }
    return results


def count(runs: list[dict[str, Any]], key: str) -> str:
    values = [run[key] for run in runs]
    return f"{statistics.median(values):g} ({min(values)}-{max(values)})"


def section(report: Report, results: dict[str, Any], full: bool) -> None:
    data, probe = results[NAME], results["probe"]
    report.add("## 3. Kill and resume", "")
    report.add(
        f"{KILL_COUNT} configurations of {KILL_STEPS} steps of {KILL_STEP_SECONDS} s, a checkpoint after every step "
        "(pytest-memento: the `checkpoint` fixture; memento-ml: `context.checkpoint(step)` / `context.restore()`). "
        f"The whole process group gets SIGKILL once {KILL_AFTER_STEPS} steps are logged (halfway, in the middle of a "
        "configuration; the parent polls the log every 10 ms); the same command "
        "then runs to completion. A step counts as redone when the rerun computes a step the killed run had already "
        "computed; one checkpoint interval is one step here. Each step is logged before its checkpoint is saved, and "
        "the kill follows the log line within ~10 ms, so it often lands before that step's checkpoint: the worst "
        "moment. Counts are median (min-max) over the repetitions.",
        "",
    )
    rows = []
    for name, runs in data.items():
        problems = [run["rerun"]["problem"] for run in runs if run["rerun"]["problem"]]
        completed = all(run["all_done"] for run in runs) and not problems
        counts = ["done_before_kill", "interrupted", "configs_reexecuted", "done_configs_rerun", "steps_redone"]
        rows.append(
            [
                name,
                *(count(runs, key) for key in counts),
                fmt_time([run["rerun"] for run in runs]),
                "yes" if completed else f"no ({problems[0] if problems else 'incomplete'})",
            ]
        )
    header = ["system", "done before kill", "interrupted", "configs re-entered on rerun", "finished configs rerun"]
    report.table([*header, "steps redone", "rerun wall", "completed"], rows)
    for name, runs in data.items():
        worst = max(run["steps_redone"] - run["interrupted"] + KILL_STEPS * run["done_configs_rerun"] for run in runs)
        ok = worst <= 0 and all(run["all_done"] for run in runs)
        redone = ", ".join(f"{run['steps_redone']} steps / {run['interrupted']} interrupted" for run in runs)
        verdict = report.target(f"redone work after kill, {name}", redone, ok)
        report.add(
            f"- {name}: redone {redone} (target <= 1 step per interrupted configuration, every repetition: {verdict})"
        )
    report.add("", "### Probe: SIGKILL of one worker process (once, not timed)", "")
    report.add(
        f"Not the whole run: one worker process, in the middle of a configuration, is killed once 4 configurations are "
        f"done, and the run is given {PROBE_TIMEOUT} s (it needs about 10 s) to end on its own; then the same command "
        "runs again (pytest-memento without `--memento-retries`, its default).",
        "",
    )
    rows = []
    for name, entry in probe.items():
        sample, rerun = entry["sample"], entry["rerun"]
        outcome = (
            f"hung: no exit after {sample['wall']:.0f} s, killed"
            if entry["hung"]
            else f"ended in {sample['wall']:.1f} s, exit status {sample['status']}"
        )
        rerun_text = (
            f"ran {entry['rerun_configs']} configurations ({entry['rerun_steps']} steps) in {rerun['wall']:.1f} s, "
            f"exit status {rerun['status']}"
        )
        killed_at = f"{entry['killed_at']:.1f} s" if entry["killed_at"] is not None else "never"
        rows.append([name, killed_at, outcome, str(entry["configs_done"]), rerun_text])
    header = ["system", "worker killed at", "outcome", f"configurations done (of {KILL_COUNT})"]
    report.table([*header, "then the same command again"], rows)
