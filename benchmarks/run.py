"""Benchmark suite: pytest-memento against memento-ml, joblib.Memory, plain pytest
and a plain Python loop, all on the same work, measured in the same run.

    python benchmarks/run.py --quick     # small sizes; under 10 minutes on 2 cores
    python benchmarks/run.py --full      # more sizes and worker counts
    python benchmarks/run.py --quick --only dispatch,kill --repeat 5

It creates two virtual environments under ``benchmarks/_work/`` (reused on
later runs; a marker file records what was installed):

- ``venv-memento``: this checkout (``pip install -e``), pytest-xdist and scikit-learn;
- ``venv-memento-ml``: memento-ml 1.2.0 (which needs numpy<2 and joblib<1.6 to
  import), joblib for ``joblib.Memory`` and scikit-learn.

When requirements are only added, the missing ones are installed into the
existing venv; any other change rebuilds it.

Workloads (each a whole process per measurement; wall time by the clock,
peak RSS from ``wait4``, i.e. of the largest single process of the tree):

1. dispatch: a grid of trivial configurations, cold run and fully cached rerun;
2. parallel: 16 configurations sleeping 1 s each, efficiency = ideal / wall;
3. kill: a 40-configuration grid with a checkpoint after each of 10 steps,
   SIGKILLed (whole process group) after 20 configurations, then rerun; plus a
   one-off probe that kills a single worker process;
4. scale: ``pytest --collect-only`` time and memory against grid size;
5. ml-grid: a real scikit-learn grid (2 classifiers x 2 datasets x 2 seeds, mean
   3-fold cross-validated accuracy) as a pytest-memento matrix, a memento-ml
   run and a plain loop: first run, cached rerun, and whether all three give
   the same accuracies;
6. checkpoint: save/load of a small dict and of an 8 MB float64 array (and
   64 MB with ``--full``) with each system's checkpoint API, against a raw
   ``open().write()`` + ``os.replace`` of the same pickled bytes.

Systems are interleaved within every repetition so machine drift hits all
alike; tables give the median with min and max. Targets are reported as
pass/MISS, never asserted. Results go to ``benchmarks/results.md`` and
``benchmarks/results.json``; the output of each process's last run is kept in
``benchmarks/_work/logs/``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from string import Template
from typing import Any

import workloads as w

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / "_work"
LOGS = WORK / "logs"
VENV_SPECS = {
    "venv-memento": ["-e", str(REPO), "pytest-xdist", "scikit-learn"],
    "venv-memento-ml": ["memento-ml==1.2.0", "numpy<2", "joblib<1.6", "scikit-learn"],
}
PACKAGES = [
    "pytest",
    "pytest-xdist",
    "pytest-memento",
    "memento-ml",
    "joblib",
    "numpy",
    "pandas",
    "cloudpickle",
    "scikit-learn",
]
PYTEST = ["-m", "pytest", "-q", "-p", "no:randomly"]
SERIAL, XDIST2 = ["-p", "no:xdist"], ["-n", "2"]


# --- measuring one process ---------------------------------------------------------------


@dataclass
class Sample:
    """One whole-process measurement."""

    wall: float  # seconds, from start until the process is reaped
    rss: int  # bytes: peak RSS of the largest process of the tree (wait4)
    status: int  # exit status (negative: killed by that signal)
    timed_out: bool = False
    problem: str | None = None  # set when the run did not do what was expected


@dataclass
class Trigger:
    """While the process runs, once ``when()`` is true call ``action(pid)``."""

    when: Callable[[], bool]
    action: Callable[[int], None]
    fired_at: float | None = None


def kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def clean_env() -> dict[str, str]:
    drop = (
        "VIRTUAL_ENV",
        "PYTHONPATH",
        "PYTEST_ADDOPTS",
        "PYTEST_PLUGINS",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD",
        "MEMENTO_",
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith(drop)}
    env["COLUMNS"] = "120"
    return env


def measure(
    label: str,
    command: Sequence[str],
    cwd: Path,
    *,
    timeout: float,
    expect: str | None = None,
    trigger: Trigger | None = None,
) -> Sample:
    """Run ``command`` in its own process group and measure it. ``expect`` is
    a string its output must contain (checked only if it exited by itself)."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = log_path(label)
    timed_out = False
    with open(log, "wb") as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=cwd, stdout=output, stderr=subprocess.STDOUT, env=clean_env(), start_new_session=True
        )
        if trigger is None:
            expired = threading.Event()

            def expire() -> None:
                expired.set()
                kill_group(process.pid)

            timer = threading.Timer(timeout, expire)
            timer.start()
            _, status, usage = os.wait4(process.pid, 0)
            wall = time.perf_counter() - started
            timer.cancel()
            timed_out = expired.is_set()
        else:
            while True:
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
                if pid:
                    wall = time.perf_counter() - started
                    break
                if time.perf_counter() - started > timeout:
                    kill_group(process.pid)
                    timed_out = True
                elif trigger.fired_at is None and trigger.when():
                    trigger.action(process.pid)
                    trigger.fired_at = time.perf_counter() - started
                time.sleep(0.01)
    kill_group(process.pid)  # stragglers of this run's own process group, if any
    process.returncode = exit_status = os.waitstatus_to_exitcode(status)
    sample = Sample(wall=wall, rss=usage.ru_maxrss * 1024, status=exit_status, timed_out=timed_out)
    text = log.read_text(errors="replace")
    if timed_out:
        sample.problem = f"no exit after {timeout:.0f} s (killed); see {log}"
    elif trigger is not None and trigger.fired_at is None:
        sample.problem = f"ended (exit status {exit_status}) before it could be interrupted; see {log}"
    elif trigger is None and exit_status != 0:
        sample.problem = f"exit status {exit_status}; see {log}"
    elif expect is not None and trigger is None and expect not in text:
        sample.problem = f"output lacks {expect!r}; see {log}"
    if sample.problem:
        print(f"  ! {label}: {sample.problem}\n{text[-1500:]}", file=sys.stderr)
    return sample


def log_path(label: str) -> Path:
    return LOGS / (re.sub(r"[^\w.=-]+", "_", label).strip("_") + ".log")


def printed_results(label: str) -> Any:
    """The JSON a script printed on its ``RESULTS`` line in its last run's log."""
    for line in log_path(label).read_text(errors="replace").splitlines():
        if line.startswith("RESULTS "):
            return json.loads(line[len("RESULTS ") :])
    return None


def stats(values: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def reset(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)


def write_sources(directory: Path, files: dict[str, str], **values: object) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, source in files.items():
        (directory / name).write_text(Template(source).substitute(values))


def grid(size: int) -> tuple[int, int]:
    """Rows and columns of a grid of ``size`` configurations (50 columns)."""
    return (size // 50, 50) if size >= 50 else (size, 1)


# --- environment ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Env:
    memento: str  # python of venv-memento
    ml: str  # python of venv-memento-ml


def ensure_venv(name: str, requirements: list[str], base_python: str) -> str:
    venv = WORK / name
    python = venv / "bin" / "python"
    marker = venv / ".bench-ready"
    wanted = json.dumps({"python": base_python, "requirements": requirements})
    if marker.exists() and python.exists() and marker.read_text() == wanted:
        return str(python)
    with contextlib.suppress(ValueError, KeyError, TypeError):
        old = json.loads(marker.read_text()) if marker.exists() and python.exists() else None
        if old is not None and old["python"] == base_python and set(old["requirements"]) <= set(requirements):
            extra = [r for r in requirements if r not in old["requirements"]]
            print(f"extending {venv} ({' '.join(extra)})", flush=True)
            subprocess.run([str(python), "-m", "pip", "install", "-q", *extra], check=True)
            marker.write_text(wanted)
            return str(python)
    print(f"creating {venv} ({' '.join(requirements)})", flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([base_python, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *requirements], check=True)
    marker.write_text(wanted)
    return str(python)


def describe_machine(env: Env) -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError, IndexError):
        memory = f"{int(Path('/proc/meminfo').read_text().split()[1]) / 1024**2:.1f} GiB"
    os_name = platform.platform()
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    probe = (
        "import importlib.metadata as m, json, sys\n"
        f"names = {PACKAGES!r}\n"
        "found = {}\n"
        "for name in names:\n"
        "    try: found[name] = m.version(name)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps({'python': sys.version.split()[0], 'packages': found}))\n"
    )
    venvs = {
        name: json.loads(subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True).stdout)
        for name, python in (("venv-memento", env.memento), ("venv-memento-ml", env.ml))
    }
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": memory,
        "os": os_name,
        "runner_python": platform.python_version(),
        "venvs": venvs,
    }


# --- 1. dispatch overhead ------------------------------------------------------------------


@dataclass(frozen=True)
class System:
    """A way to run a workload. ``store`` is emptied before each cold run;
    without one the system caches nothing and runs once per repetition."""

    name: str
    command: list[str]
    cwd: Path
    store: Path | None = None
    expect_cold: str | None = None
    expect_cached: str | None = None


def dispatch_systems(env: Env, directory: Path, size: int, full: bool) -> list[System]:
    memento = [env.memento, *PYTEST, "test_matrix.py"]
    plain = [env.memento, *PYTEST, "test_plain.py", "-p", "no:memento"]
    systems = [
        System(
            "pytest-memento (-p no:xdist)",
            [*memento, *SERIAL, "--memento-dir", "store-serial"],
            directory,
            directory / "store-serial",
            f"{size} passed",
            f"{size} cached",
        ),
        System(
            "pytest-memento (-n 2)",
            [*memento, *XDIST2, "--memento-dir", "store-xdist"],
            directory,
            directory / "store-xdist",
            f"{size} passed",
            f"{size} cached",
        ),
        System("plain parametrize (-p no:xdist)", [*plain, *SERIAL], directory, None, f"{size} passed"),
        System("plain parametrize (-n 2)", [*plain, *XDIST2], directory, None, f"{size} passed"),
        System(
            "memento-ml (num_workers=1)",
            [env.ml, str(directory / "ml.py"), "1"],
            directory / "ml-1",
            directory / "ml-1",
            f"ran={size}",
            "ran=0",
        ),
    ]
    if full:
        systems.append(
            System(
                "memento-ml (num_workers=2)",
                [env.ml, str(directory / "ml.py"), "2"],
                directory / "ml-2",
                directory / "ml-2",
                f"ran={size}",
                "ran=0",
            )
        )
    systems += [
        System(
            "joblib.Memory", [env.ml, "joblib_grid.py"], directory, directory / "joblib-cache", f"ran={size}", "ran=0"
        ),
        System("plain Python loop (floor)", [env.memento, "loop.py"], directory, None, f"ran={size}"),
    ]
    return systems


def run_dispatch(env: Env, sizes: list[int], repeat: int, full: bool) -> dict[str, Any]:
    results: dict[str, Any] = {}
    files = {
        "pytest.ini": w.PYTEST_INI,
        "test_matrix.py": w.DISPATCH_MATRIX,
        "test_plain.py": w.DISPATCH_PLAIN,
        "loop.py": w.DISPATCH_LOOP,
        "ml.py": w.DISPATCH_MEMENTO_ML,
        "joblib_grid.py": w.DISPATCH_JOBLIB,
    }
    for size in [50, *sizes]:  # 50: an untimed warm-up (bytecode, page cache)
        rows, cols = grid(size)
        directory = WORK / f"dispatch-{size}"
        write_sources(directory, files, rows=rows, cols=cols)
        systems = dispatch_systems(env, directory, size, full)
        samples: dict[str, dict[str, list[Sample]]] = {system.name: {"cold": [], "cached": []} for system in systems}
        timeout = 120 + 0.05 * size
        for rep in range(1 if size == 50 else repeat):
            print(f"dispatch {size}: repetition {rep + 1}/{repeat}", flush=True)
            for system in systems:  # interleaved: every system once per repetition
                tag = f"dispatch-{size}-{system.name}"
                if system.store is not None:
                    reset(system.store)
                samples[system.name]["cold"].append(
                    measure(f"{tag}-cold", system.command, system.cwd, timeout=timeout, expect=system.expect_cold)
                )
                if system.store is not None:
                    samples[system.name]["cached"].append(
                        measure(
                            f"{tag}-cached", system.command, system.cwd, timeout=timeout, expect=system.expect_cached
                        )
                    )
        if size != 50:
            results[str(size)] = {
                name: {phase: [asdict(s) for s in runs] for phase, runs in phases.items()}
                for name, phases in samples.items()
            }
    return results


# --- 2. parallel efficiency ----------------------------------------------------------------

SLEEP_COUNT, SLEEP_SECONDS = 16, 1.0


def run_parallel(env: Env, repeat: int, full: bool) -> dict[str, Any]:
    directory = WORK / "parallel"
    files = {
        "pytest.ini": w.PYTEST_INI,
        "test_sleep.py": w.SLEEP_MATRIX,
        "test_plain.py": w.SLEEP_PLAIN,
        "ml.py": w.SLEEP_MEMENTO_ML,
    }
    write_sources(directory, files, count=SLEEP_COUNT, seconds=SLEEP_SECONDS)
    systems: list[tuple[System, int]] = []
    for workers in [2, 8] if full else [2]:
        dists = [[], ["--dist", "worksteal"]] if full else [[]]
        for dist in dists:
            suffix = f"-n {workers}{' ' + ' '.join(dist) if dist else ''}"
            store = directory / f"store-{workers}{'-ws' if dist else ''}"
            command = [env.memento, *PYTEST, "test_sleep.py", "-n", str(workers), *dist, "--memento-dir", store.name]
            systems.append(
                (System(f"pytest-memento ({suffix})", command, directory, store, f"{SLEEP_COUNT} passed"), workers)
            )
        plain = [env.memento, *PYTEST, "test_plain.py", "-p", "no:memento", "-n", str(workers)]
        systems.append(
            (System(f"plain parametrize (-n {workers})", plain, directory, None, f"{SLEEP_COUNT} passed"), workers)
        )
        ml_dir = directory / f"ml-{workers}"
        systems.append(
            (
                System(
                    f"memento-ml (num_workers={workers})",
                    [env.ml, str(directory / "ml.py"), str(workers)],
                    ml_dir,
                    ml_dir,
                    f"ran={SLEEP_COUNT}",
                ),
                workers,
            )
        )
    samples: dict[str, list[Sample]] = {system.name: [] for system, _ in systems}
    for rep in range(repeat):
        print(f"parallel: repetition {rep + 1}/{repeat}", flush=True)
        for system, _ in systems:
            if system.store is not None:
                reset(system.store)
            samples[system.name].append(
                measure(f"parallel-{system.name}", system.command, system.cwd, timeout=120, expect=system.expect_cold)
            )
    return {
        system.name: {
            "workers": workers,
            "ideal": SLEEP_COUNT * SLEEP_SECONDS / workers,
            "samples": [asdict(s) for s in samples[system.name]],
        }
        for system, workers in systems
    }


# --- 3. kill and resume --------------------------------------------------------------------

KILL_COUNT, KILL_STEPS, KILL_STEP_SECONDS = 40, 10, 0.05
# Kill halfway, in the middle of a configuration: 20 done and 5 steps into the next.
KILL_AFTER_STEPS = KILL_COUNT // 2 * KILL_STEPS + KILL_STEPS // 2


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


def kill_systems(env: Env, directory: Path, full: bool) -> list[System]:
    memento = [env.memento, *PYTEST, "test_train.py"]
    systems = [
        System(
            "pytest-memento (-p no:xdist)",
            [*memento, *SERIAL, "--memento-dir", "store-serial"],
            directory / "serial",
            directory / "serial",
        ),
        System(
            "memento-ml (num_workers=1)",
            [env.ml, str(directory / "ml.py"), "1"],
            directory / "ml-1",
            directory / "ml-1",
        ),
    ]
    if full:
        systems += [
            System(
                "pytest-memento (-n 2)",
                [*memento, *XDIST2, "--memento-dir", "store-xdist"],
                directory / "xdist",
                directory / "xdist",
            ),
            System(
                "memento-ml (num_workers=2)",
                [env.ml, str(directory / "ml.py"), "2"],
                directory / "ml-2",
                directory / "ml-2",
            ),
        ]
    return systems


def prepare_kill_dir(system: System, directory: Path) -> None:
    reset(system.cwd)
    for name in ("pytest.ini", "test_train.py"):
        shutil.copy(directory / name, system.cwd / name)


def run_kill(env: Env, repeat: int, full: bool) -> dict[str, Any]:
    directory = WORK / "kill"
    files = {"pytest.ini": w.PYTEST_INI, "test_train.py": w.CHECKPOINT_MATRIX, "ml.py": w.CHECKPOINT_MEMENTO_ML}
    write_sources(directory, files, count=KILL_COUNT, steps=KILL_STEPS, step_seconds=KILL_STEP_SECONDS)
    systems = kill_systems(env, directory, full)
    results: dict[str, list[dict[str, Any]]] = {system.name: [] for system in systems}
    for rep in range(repeat):
        print(f"kill: repetition {rep + 1}/{repeat}", flush=True)
        for system in systems:
            prepare_kill_dir(system, directory)
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
    return results


PROBE_TIMEOUT = 30


def run_worker_probe(env: Env) -> dict[str, Any]:
    """Once: SIGKILL one worker process (not the whole run) after 4
    configurations are done, and see whether the run still ends."""
    directory = WORK / "kill"
    probes = [
        System(
            "pytest-memento (-n 2)",
            [env.memento, *PYTEST, "test_train.py", *XDIST2, "--memento-dir", "store"],
            directory / "probe-memento",
            directory / "probe-memento",
        ),
        System(
            "memento-ml (num_workers=2)",
            [env.ml, str(directory / "ml.py"), "2"],
            directory / "probe-ml",
            directory / "probe-ml",
        ),
    ]
    results: dict[str, Any] = {}
    for system in probes:
        print(f"worker-kill probe: {system.name}", flush=True)
        prepare_kill_dir(system, directory)
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


def busy_worker(log: Path) -> int | None:
    """The process of the newest configuration that is started but not done."""
    progress = Progress.read(log)
    return next((pid for config, pid in reversed(progress.pids.items()) if config not in progress.done), None)


# --- 4. scale of collection ----------------------------------------------------------------


def run_scale(env: Env, sizes: list[int], repeat: int) -> dict[str, Any]:
    """``pytest --collect-only`` of grids of each size; size 1 measures the
    fixed cost. Runs are short and the marginal cost at 1,000 configurations
    is small against their noise, so at least 5 repetitions."""
    repeat = max(repeat, 5)
    all_sizes = [1, *sizes]
    commands = {
        "pytest-memento matrix": ["test_matrix.py"],
        "plain parametrize": ["test_plain.py", "-p", "no:memento"],
    }
    for size in all_sizes:
        rows, cols = grid(size)
        write_sources(
            WORK / f"scale-{size}",
            {"pytest.ini": w.PYTEST_INI, "test_matrix.py": w.SCALE_MATRIX, "test_plain.py": w.SCALE_PLAIN},
            rows=rows,
            cols=cols,
        )
    samples: dict[str, dict[str, list[Sample]]] = {name: {str(size): [] for size in all_sizes} for name in commands}
    for rep in range(repeat):
        print(f"scale: repetition {rep + 1}/{repeat}", flush=True)
        for size in all_sizes:
            for name, args in commands.items():
                command = [env.memento, *PYTEST, "--collect-only", *SERIAL, *args]
                expect = f"{size} test{'s' if size != 1 else ''} collected"
                samples[name][str(size)].append(
                    measure(f"scale-{size}-{name}", command, WORK / f"scale-{size}", timeout=600, expect=expect)
                )
    return {
        name: {size: [asdict(s) for s in runs] for size, runs in by_size.items()} for name, by_size in samples.items()
    }


# --- 5. real ML grid -----------------------------------------------------------------------

ML_SEEDS = 2
ML_COUNT = 2 * 2 * ML_SEEDS  # classifiers x datasets x seeds
ML_TOLERANCE = 1e-9


def memento_accuracies(env: Env, store: Path) -> dict[str, float]:
    """Accuracy per configuration, read back with ``python -m pytest_memento list --json``."""
    listing = subprocess.run(
        [env.memento, "-m", "pytest_memento", "--dir", str(store), "list", "--json"],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
    )
    if listing.returncode != 0:
        return {}
    return {
        config_name(record["config"]): float(record["metrics"]["accuracy"]) for record in json.loads(listing.stdout)
    }


def config_name(config: dict[str, Any]) -> str:
    return f"{config['classifier']}/{config['dataset']}/seed={config['seed']}"


def printed_accuracies(label: str) -> dict[str, float]:
    rows = printed_results(label) or []
    return {config_name(row): float(row["accuracy"]) for row in rows}


def run_ml_grid(env: Env, repeat: int) -> dict[str, Any]:
    directory = WORK / "ml-grid"
    files = {
        "pytest.ini": w.PYTEST_INI,
        "test_grid.py": w.ML_GRID_MATRIX,
        "ml.py": w.ML_GRID_MEMENTO_ML,
        "loop.py": w.ML_GRID_LOOP,
    }
    write_sources(directory, files, seeds=ML_SEEDS)
    memento = [env.memento, *PYTEST, "test_grid.py"]
    n = ML_COUNT
    systems = [
        System(
            "pytest-memento (-p no:xdist)",
            [*memento, *SERIAL, "--memento-dir", "store-serial"],
            directory,
            directory / "store-serial",
            f"{n} passed",
            f"{n} cached",
        ),
        System(
            "pytest-memento (-n 2)",
            [*memento, *XDIST2, "--memento-dir", "store-xdist"],
            directory,
            directory / "store-xdist",
            f"{n} passed",
            f"{n} cached",
        ),
        System(
            "memento-ml (num_workers=1)",
            [env.ml, str(directory / "ml.py"), "1"],
            directory / "ml-1",
            directory / "ml-1",
            f"ran={n}",
            "ran=0",
        ),
        System("plain Python loop", [env.memento, "loop.py"], directory, None, f"ran={n}"),
    ]
    samples: dict[str, dict[str, list[Sample]]] = {system.name: {"cold": [], "cached": []} for system in systems}
    accuracies: dict[str, dict[str, dict[str, float]]] = {system.name: {} for system in systems}
    for rep in range(repeat):
        print(f"ml-grid: repetition {rep + 1}/{repeat}", flush=True)
        for system in systems:
            tag = f"ml-grid-{system.name}"
            if system.store is not None:
                reset(system.store)
            samples[system.name]["cold"].append(
                measure(f"{tag}-cold", system.command, system.cwd, timeout=300, expect=system.expect_cold)
            )
            phases = ["cold"]
            if system.store is not None:
                samples[system.name]["cached"].append(
                    measure(f"{tag}-cached", system.command, system.cwd, timeout=300, expect=system.expect_cached)
                )
                phases.append("cached")
            for phase in phases:  # the results of the last repetition
                if system.name.startswith("pytest-memento"):
                    accuracies[system.name][phase] = memento_accuracies(env, system.store or directory)
                else:
                    accuracies[system.name][phase] = printed_accuracies(f"{tag}-{phase}")
    reference = accuracies["plain Python loop"]["cold"]
    comparison = {}
    for name, phases in accuracies.items():
        for phase, values in phases.items():
            differences = [abs(values[key] - reference[key]) for key in reference if key in values]
            comparison[f"{name} {phase}"] = {
                "configurations": len(values),
                "max_difference": max(differences) if differences else None,
                "equal": len(reference) == n
                and set(values) == set(reference)
                and all(d <= ML_TOLERANCE for d in differences),
            }
    return {
        "configurations": n,
        "samples": {
            name: {phase: [asdict(s) for s in runs] for phase, runs in phases.items()}
            for name, phases in samples.items()
        },
        "accuracies": accuracies,
        "comparison": comparison,
        "equal": all(entry["equal"] for entry in comparison.values()),
    }


# --- 6. checkpoint cost --------------------------------------------------------------------


def run_checkpoint_cost(env: Env, full: bool) -> dict[str, Any]:
    """One process per system; inside it, the median of CHECKPOINT_REPEAT
    saves and loads per size, each against a raw write/read of the same
    pickled bytes in the same process."""
    directory = WORK / "checkpoint"
    sizes = {"small dict": 0, "8 MB array": 2**20}
    if full:
        sizes["64 MB array"] = 2**23
    systems = [
        ("pytest-memento", env.memento, "bench_memento.py"),
        ("memento-ml", env.ml, "bench_ml.py"),
    ]
    files = {"bench_memento.py": w.CHECKPOINT_COST_MEMENTO, "bench_ml.py": w.CHECKPOINT_COST_MEMENTO_ML}
    write_sources(directory, files, sizes=json.dumps(sizes), repeat=CHECKPOINT_REPEAT)
    results: dict[str, Any] = {}
    for name, python, script in systems:
        print(f"checkpoint: {name}", flush=True)
        cwd = directory / name
        reset(cwd)
        label = f"checkpoint-{name}"
        sample = measure(label, [python, str(directory / script)], cwd, timeout=600, expect="RESULTS ")
        results[name] = {
            "sample": asdict(sample),
            "sizes": sizes,
            "times": printed_results(label) if not sample.problem else None,
        }
    return results


CHECKPOINT_REPEAT = 15


# --- report --------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "pass" if ok else "**MISS**"


def walls(samples: list[dict[str, Any]]) -> list[float]:
    return [s["wall"] for s in samples]


def failed(samples: list[dict[str, Any]]) -> str | None:
    problems = [s["problem"] for s in samples if s["problem"]]
    return problems[0] if problems else None


def fmt_time(samples: list[dict[str, Any]]) -> str:
    if not samples:
        return "-"
    if problem := failed(samples):
        return f"FAILED ({problem})"
    s = stats(walls(samples))
    return f"{s['median']:.2f} s ({s['min']:.2f}-{s['max']:.2f})"


def fmt_rss(samples: list[dict[str, Any]]) -> str:
    return f"{statistics.median(s['rss'] for s in samples) / 2**20:.0f} MB" if samples else "-"


def median_wall(samples: list[dict[str, Any]]) -> float:
    return statistics.median(walls(samples)) if samples and not failed(samples) else float("nan")


class Report:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.targets: list[tuple[str, str, str]] = []

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        self.add("| " + " | ".join(header) + " |", "|" + "---|" * len(header))
        self.add(*("| " + " | ".join(row) + " |" for row in rows), "")

    def target(self, name: str, measured: str, ok: bool) -> str:
        self.targets.append((name, measured, verdict(ok)))
        return verdict(ok)


def report_dispatch(report: Report, data: dict[str, Any]) -> None:
    report.add("## 1. Dispatch overhead", "")
    report.add(
        'A grid of trivial configurations (`a` x `b`, 50 columns; each returns `{"value": a * b}`). '
        "**cold**: empty cache (every configuration runs and is stored); **cached**: the same command again, "
        "every configuration served from the cache (each run's output is checked for it). Plain parametrize and the loop "
        "cache nothing, so they have no cached column. Whole-process wall time, median (min-max); "
        "peak RSS is the largest single process (with `-n 2`/`num_workers` there are more processes).",
        "",
    )
    for size, systems in data.items():
        n = int(size)
        report.add(f"### {n:,} configurations", "")
        rows = []
        for name, phases in systems.items():
            cold, cached = phases["cold"], phases["cached"]
            rows.append(
                [
                    name,
                    fmt_time(cold),
                    f"{1000 * median_wall(cold) / n:.3f}",
                    fmt_rss(cold),
                    fmt_time(cached),
                    f"{1000 * median_wall(cached) / n:.3f}" if cached else "-",
                    fmt_rss(cached),
                ]
            )
        report.table(
            [
                "system",
                "cold wall",
                "cold ms/config",
                "cold peak RSS",
                "cached wall",
                "cached ms/config",
                "cached peak RSS",
            ],
            rows,
        )
        checks = []
        for mode in ("-p no:xdist", "-n 2"):
            plain = median_wall(systems[f"plain parametrize ({mode})"]["cold"])
            memento = systems[f"pytest-memento ({mode})"]
            cold, cached = median_wall(memento["cold"]) / plain, median_wall(memento["cached"]) / plain
            checks.append(
                f"- `{mode}`: cold / plain = {cold:.2f} (target <= 1.10: {report.target(f'{n:,} cold / plain ({mode})', f'{cold:.2f}', cold <= 1.10)}); cached / plain = {cached:.2f} (target <= 0.50: {report.target(f'{n:,} cached / plain ({mode})', f'{cached:.2f}', cached <= 0.50)})"
            )
        ours = median_wall(systems["pytest-memento (-p no:xdist)"]["cached"]) / n
        theirs = median_wall(systems["memento-ml (num_workers=1)"]["cached"]) / n
        measured = f"{1000 * ours:.3f} vs {1000 * theirs:.3f} ms/config"
        checks.append(
            f"- cached rerun per config, pytest-memento (-p no:xdist) vs memento-ml: {measured} (target faster: {report.target(f'{n:,} cached per config vs memento-ml', measured, ours < theirs)})"
        )
        report.add(*checks, "")


def report_parallel(report: Report, data: dict[str, Any], full: bool) -> None:
    report.add("## 2. Parallel efficiency", "")
    report.add(
        f"{SLEEP_COUNT} configurations that each sleep {SLEEP_SECONDS:g} s, cold (empty cache every repetition). "
        f"Efficiency = ideal wall ({SLEEP_COUNT} x {SLEEP_SECONDS:g} s / workers) / measured whole-process wall, "
        "so start-up of the workers counts against it.",
        "",
    )
    rows = []
    for name, entry in data.items():
        samples = entry["samples"]
        wall = median_wall(samples)
        efficiencies = sorted(entry["ideal"] / x for x in walls(samples))
        rows.append(
            [
                name,
                str(entry["workers"]),
                fmt_time(samples),
                f"{entry['ideal']:.1f} s",
                f"{entry['ideal'] / wall:.2f} ({efficiencies[0]:.2f}-{efficiencies[-1]:.2f})",
                fmt_rss(samples),
            ]
        )
    report.table(["system", "workers", "wall", "ideal", "efficiency", "peak RSS"], rows)
    workers = 8 if full else 2
    for name, entry in data.items():
        if name.startswith("pytest-memento") and entry["workers"] == workers:
            efficiency = entry["ideal"] / median_wall(entry["samples"])
            report.add(
                f"- {name}: efficiency {efficiency:.2f} (target >= 0.85 at -n {workers}: {report.target(f'parallel efficiency {name}', f'{efficiency:.2f}', efficiency >= 0.85)})"
            )
    report.add("")


def count(runs: list[dict[str, Any]], key: str) -> str:
    values = [run[key] for run in runs]
    return f"{statistics.median(values):g} ({min(values)}-{max(values)})"


def report_kill(report: Report, data: dict[str, Any], probe: dict[str, Any]) -> None:
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
        rows.append(
            [
                name,
                count(runs, "done_before_kill"),
                count(runs, "interrupted"),
                count(runs, "configs_reexecuted"),
                count(runs, "done_configs_rerun"),
                count(runs, "steps_redone"),
                fmt_time([run["rerun"] for run in runs]),
                "yes"
                if all(run["all_done"] for run in runs) and not problems
                else f"no ({problems[0] if problems else 'incomplete'})",
            ]
        )
    report.table(
        [
            "system",
            "done before kill",
            "interrupted",
            "configs re-entered on rerun",
            "finished configs rerun",
            "steps redone",
            "rerun wall",
            "completed",
        ],
        rows,
    )
    for name, runs in data.items():
        worst = max(run["steps_redone"] - run["interrupted"] + KILL_STEPS * run["done_configs_rerun"] for run in runs)
        ok = worst <= 0 and all(run["all_done"] for run in runs)
        redone = ", ".join(f"{run['steps_redone']} steps / {run['interrupted']} interrupted" for run in runs)
        report.add(
            f"- {name}: redone {redone} (target <= 1 step per interrupted configuration, every repetition: {report.target(f'redone work after kill, {name}', redone, ok)})"
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
        sample = entry["sample"]
        outcome = (
            f"hung: no exit after {sample['wall']:.0f} s, killed"
            if entry["hung"]
            else f"ended in {sample['wall']:.1f} s, exit status {sample['status']}"
        )
        rerun = entry["rerun"]
        rerun_text = f"ran {entry['rerun_configs']} configurations ({entry['rerun_steps']} steps) in {rerun['wall']:.1f} s, exit status {rerun['status']}"
        killed_at = f"{entry['killed_at']:.1f} s" if entry["killed_at"] is not None else "never"
        rows.append([name, killed_at, outcome, str(entry["configs_done"]), rerun_text])
    report.table(
        [
            "system",
            "worker killed at",
            "outcome",
            f"configurations done (of {KILL_COUNT})",
            "then the same command again",
        ],
        rows,
    )


def report_scale(report: Report, data: dict[str, Any]) -> None:
    report.add("## 4. Scale of collection", "")
    report.add(
        "`pytest --collect-only -q -p no:xdist` of the dispatch grid. Per-config cost is marginal: "
        "(wall at N - wall at 1 configuration) / (N - 1), so the fixed start-up cost is left out; "
        "memory likewise (peak RSS at N - at 1) / (N - 1).",
        "",
    )
    rows = []
    per_config: dict[str, dict[int, float]] = {}
    for name, by_size in data.items():
        base_wall = median_wall(by_size["1"])
        base_rss = statistics.median(s["rss"] for s in by_size["1"])
        for size, samples in by_size.items():
            n = int(size)
            marginal = (median_wall(samples) - base_wall) / (n - 1) if n > 1 else float("nan")
            memory = (statistics.median(s["rss"] for s in samples) - base_rss) / (n - 1) if n > 1 else float("nan")
            if n > 1:
                per_config.setdefault(name, {})[n] = marginal
            rows.append(
                [
                    name,
                    f"{n:,}",
                    fmt_time(samples),
                    fmt_rss(samples),
                    f"{1000 * marginal:.3f}" if n > 1 else "-",
                    f"{memory / 1024:.1f}" if n > 1 else "-",
                ]
            )
    report.table(
        ["system", "configurations", "collect wall", "peak RSS", "ms/config (marginal)", "KiB/config (marginal)"], rows
    )
    ratios = {name: costs[max(costs)] / costs[min(costs)] for name, costs in per_config.items()}
    for name, ratio in ratios.items():
        costs = per_config[name]
        flag = " (super-linear)" if ratio > 1.5 else ""
        target = report.target(f"collection linear ({name})", f"{ratio:.2f}", ratio <= 1.5)
        report.add(
            f"- {name}: per-config cost at {max(costs):,} / at {min(costs):,} = {ratio:.2f}{flag} (target linear, <= 1.5: {target})"
        )
    report.add(
        "",
        "The marginal cost at the smallest size is a difference of two short runs, so the ratio is noisy; "
        "plain parametrize's own ratio is the reference for what pytest itself does.",
        "",
    )


def report_ml_grid(report: Report, data: dict[str, Any]) -> None:
    report.add("## 5. Real ML grid", "")
    report.add(
        f"{data['configurations']} scikit-learn configurations: classifier (logistic regression behind a "
        "`StandardScaler` pipeline, `max_iter=1000`; random forest, `n_estimators=10`) x dataset (`load_iris`, "
        f"`load_wine`) x seed (`range({ML_SEEDS})`); each is the mean accuracy of a 3-fold "
        "`StratifiedKFold(shuffle=True, random_state=seed)` cross-validation. The classifiers are named in the grid and "
        "built by a small class per model, the same code on every side; the forest also gets `random_state=seed`, "
        "without which its accuracy is not reproducible and no two systems could agree. **first run**: empty cache; "
        "**cached**: the same command again. Whole-process wall time, median (min-max).",
        "",
    )
    rows = []
    for name, phases in data["samples"].items():
        rows.append(
            [
                name,
                fmt_time(phases["cold"]),
                fmt_rss(phases["cold"]),
                fmt_time(phases["cached"]),
                fmt_rss(phases["cached"]),
            ]
        )
    report.table(["system", "first run", "peak RSS", "cached rerun", "cached peak RSS"], rows)
    equal = "yes" if data["equal"] else "**no**"
    report.add(
        f"Results equal: {equal} (every system's accuracy per configuration against the loop's, tolerance "
        f"{ML_TOLERANCE:g}; pytest-memento's read back with `python -m pytest_memento --dir STORE list --json`, "
        "memento-ml's from the results `run()` returns, the loop's as printed; last repetition, first run and cached).",
        "",
    )
    rows = []
    for name, entry in data["comparison"].items():
        difference = entry["max_difference"]
        rows.append(
            [
                name,
                str(entry["configurations"]),
                "-" if difference is None else f"{difference:.1e}",
                "yes" if entry["equal"] else "**no**",
            ]
        )
    report.table(["run", "configurations", "max abs difference", "equal"], rows)
    report.add("Accuracy per configuration (the loop's):", "")
    loop = data["accuracies"]["plain Python loop"]["cold"]
    report.table(["configuration", "accuracy"], [[key, f"{value:.4f}"] for key, value in sorted(loop.items())])
    ours = data["samples"]["pytest-memento (-p no:xdist)"]
    theirs = data["samples"]["memento-ml (num_workers=1)"]
    loop_wall = median_wall(data["samples"]["plain Python loop"]["cold"])
    report.add(
        f"- results equal across systems: {report.target('ML grid: results equal across systems (1e-9)', equal, data['equal'])}",
        f"- cached rerun, pytest-memento (-p no:xdist) vs memento-ml: {median_wall(ours['cached']):.2f} vs "
        f"{median_wall(theirs['cached']):.2f} s (no target). Every process imports scikit-learn first; the loop, which "
        f"computes all {data['configurations']} configurations, takes {loop_wall:.2f} s, so at this size a cached rerun "
        "saves little besides the fitting itself.",
        "",
    )


def report_checkpoint(report: Report, data: dict[str, Any]) -> None:
    report.add("## 6. Checkpoint cost", "")
    report.add(
        'Save and load, in each venv, of a small dict and of `{"step": 12, "weights": <float64 array>}`: '
        "pytest-memento `Checkpoint(path, key=...).save(state)` / `.load()`; memento-ml `context.checkpoint(state)` / "
        "`context.restore()` inside a one-configuration `Memento(func, num_workers=1).run(...)` whose function times "
        "the calls itself. Baseline (**raw**): `pickle.dumps(state, protocol=5)` once, then `open().write()` of those "
        "bytes to a temporary file + `os.replace` (save) and `open().read()` (load), in the same process, interleaved "
        "with the checkpoint calls (raw save, save, raw load, load, repeated). "
        f"Median (min-max) of {CHECKPOINT_REPEAT} calls each; ratio = median / raw median of the same process.",
        "",
    )
    rows = []
    largest = None
    for name, entry in data.items():
        times = entry["times"]
        if not times:
            rows.append([name, "-", f"FAILED ({entry['sample']['problem']})", "", "", "", "", ""])
            continue
        for size, t in times.items():

            def ms(values: list[float]) -> str:
                s = stats(values)
                return f"{1000 * s['median']:.3f} ({1000 * s['min']:.3f}-{1000 * s['max']:.3f})"

            save_ratio = statistics.median(t["save"]) / statistics.median(t["raw_save"])
            load_ratio = statistics.median(t["load"]) / statistics.median(t["raw_load"])
            rows.append(
                [
                    name,
                    size,
                    ms(t["save"]),
                    ms(t["raw_save"]),
                    f"{save_ratio:.2f}",
                    ms(t["load"]),
                    ms(t["raw_load"]),
                    f"{load_ratio:.2f}",
                ]
            )
            if name == "pytest-memento":
                largest = (size, save_ratio)
    report.table(
        ["system", "state", "save ms", "raw save ms", "save / raw", "load ms", "raw load ms", "load / raw"], rows
    )
    if largest is not None:
        size, ratio = largest
        report.add(
            f"- pytest-memento save of the {size}: {ratio:.2f}x raw write (target <= 1.5: {report.target(f'checkpoint save {size} / raw write', f'{ratio:.2f}', ratio <= 1.5)})"
        )
    report.add(
        "",
        "Neither system nor the raw baseline calls `fsync`. The raw baseline does not include pickling (done once "
        "up front); both checkpoint APIs pickle on every save.",
        "",
    )


MEMENTO_ML_NOTES = [
    "- It requires `pandas~=2.0.1`, whose wheels do not import with numpy 2 (`numpy.dtype size changed`), and "
    "does not pin numpy: the venv pins numpy<2 (and joblib<1.6, used only for `joblib.Memory`).",
    "- `num_workers` is an argument of `Memento(func, num_workers=...)`, not of `run()`; every `run()` starts a "
    "`multiprocessing.Pool` of that size, even when everything is cached.",
    "- `run(matrix, cache_path=...)` keeps its index in the SQLite file `cache_path`, but writes each result as a "
    "pickle under `./memento_cache/` relative to the current directory, whatever `cache_path` says; each system "
    "therefore runs in its own directory here. One SQLite connection and commit per result.",
    "- Checkpoints: `context.checkpoint(state)` stores into the same SQLite file (table `checkpoint_table`, keyed "
    "like the result), `context.checkpoint_exist()` / `context.restore()` read it back; after a configuration "
    "finishes the checkpoint is overwritten with its `Result`, and all checkpoints are deleted only when the whole "
    "run ends.",
    "- A cache lookup (`contains`) unpickles the stored result, and the results are unpickled once more to be returned.",
    "- When a worker process dies, `Pool.map` never returns: the run hangs (see the probe). Every memento-ml run "
    "here has a time limit.",
]


def write_report(results: dict[str, Any], full: bool) -> str:
    meta = results["meta"]
    report = Report()
    body = Report()
    if "dispatch" in results:
        report_dispatch(body, results["dispatch"])
    if "parallel" in results:
        report_parallel(body, results["parallel"], full)
    if "kill" in results:
        report_kill(body, results["kill"], results["probe"])
    if "scale" in results:
        report_scale(body, results["scale"])
    if "ml-grid" in results:
        report_ml_grid(body, results["ml-grid"])
    if "checkpoint" in results:
        report_checkpoint(body, results["checkpoint"])
    venvs = meta["machine"]["venvs"]
    report.add(
        "# pytest-memento benchmark results",
        "",
        f"- date: {meta['date']}",
        f"- command: `{meta['command']}` (took {meta['seconds'] / 60:.1f} min, {meta['repeat']} repetitions, systems interleaved within each)",
        f"- machine: {meta['machine']['nproc']} cores ({meta['machine']['cpu']}), {meta['machine']['memory']} RAM, {meta['machine']['os']}",
        f"- Python: runner {meta['machine']['runner_python']}; "
        + "; ".join(f"{name} {info['python']}" for name, info in venvs.items()),
        *(
            f"- {name}: " + ", ".join(f"{package} {version}" for package, version in info["packages"].items())
            for name, info in venvs.items()
        ),
        "",
        "Generated by `benchmarks/run.py`; raw samples are in `results.json`.",
        "",
        "## Targets",
        "",
    )
    report.table(["target", "measured", "verdict"], [list(row) for row in body.targets])
    report.add(*body.lines)
    report.add("## How memento-ml 1.2.0 was driven", "", *MEMENTO_ML_NOTES, "")
    return "\n".join(report.lines).rstrip() + "\n"


# --- main ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--quick", action="store_true", help="small sizes (under 10 minutes on 2 cores)")
    size.add_argument("--full", action="store_true", help="more sizes and worker counts")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per measurement (at least 3)")
    parser.add_argument(
        "--only", default="dispatch,parallel,kill,scale,ml-grid,checkpoint", help="comma-separated workloads to run"
    )
    parser.add_argument("--python", default=sys.executable, help="interpreter the virtual environments are made from")
    args = parser.parse_args()
    if args.repeat < 3:
        parser.error("--repeat must be at least 3 (a median of fewer is not worth reporting)")
    only = set(args.only.split(","))
    if unknown := only - {"dispatch", "parallel", "kill", "scale", "ml-grid", "checkpoint"}:
        parser.error(f"--only: unknown workloads {', '.join(sorted(unknown))}")

    started = time.perf_counter()
    env = Env(*(ensure_venv(name, requirements, args.python) for name, requirements in VENV_SPECS.items()))
    results: dict[str, Any] = {}
    if "dispatch" in only:
        results["dispatch"] = run_dispatch(env, [2_000, 10_000] if args.full else [2_000], args.repeat, args.full)
    if "parallel" in only:
        results["parallel"] = run_parallel(env, args.repeat, args.full)
    if "kill" in only:
        results["kill"] = run_kill(env, args.repeat, args.full)
        results["probe"] = run_worker_probe(env)
    if "scale" in only:
        results["scale"] = run_scale(env, [1_000, 10_000, 100_000] if args.full else [1_000, 10_000], args.repeat)
    if "ml-grid" in only:
        results["ml-grid"] = run_ml_grid(env, args.repeat)
    if "checkpoint" in only:
        results["checkpoint"] = run_checkpoint_cost(env, args.full)
    results["meta"] = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(["python", os.path.relpath(__file__, Path.cwd()), *sys.argv[1:]]),
        "mode": "full" if args.full else "quick",
        "repeat": args.repeat,
        "seconds": time.perf_counter() - started,
        "machine": describe_machine(env),
    }
    (HERE / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (HERE / "results.md").write_text(write_report(results, args.full))
    print(f"wrote {HERE / 'results.md'} and results.json in {results['meta']['seconds'] / 60:.1f} min")


if __name__ == "__main__":
    main()
