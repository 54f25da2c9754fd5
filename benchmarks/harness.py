"""What every workload of ``run.py`` shares: the virtual environments, running
and measuring one process, interleaving the systems over the repetitions, and
median/min/max of the samples.

- ``ensure_venv`` builds ``_work/venv-*`` once and records what it installed in
  a marker file (``.bench-ready``); added requirements extend the venv, any
  other change rebuilds it.
- ``measure`` runs one command in its own process group: wall time by the
  clock from start until the process is reaped, peak RSS from ``wait4`` (the
  largest single process of the tree), a time limit, an optional trigger that
  acts on the running process (the kill workload), and a check of its output.
  Each label's last output is kept in ``_work/logs/``.
- ``interleaved`` / ``cold_and_cached`` run every system once per repetition,
  so machine drift hits all of them alike.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

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

T = TypeVar("T")


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


def reset(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)


def grid(size: int) -> tuple[int, int]:
    """Rows and columns of a grid of ``size`` configurations (50 columns)."""
    return (size // 50, 50) if size >= 50 else (size, 1)


# --- systems, interleaved over the repetitions ----------------------------------------------


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


def interleaved(tag: str, repeat: int, items: Sequence[T]) -> Iterator[T]:
    """Every item once per repetition, in the same order each time."""
    for rep in range(repeat):
        print(f"{tag}: repetition {rep + 1}/{repeat}", flush=True)
        yield from items


def cold_and_cached(
    tag: str, systems: Sequence[System], repeat: int, timeout: float, *, cached: bool = True
) -> dict[str, dict[str, list[Sample]]]:
    """Per repetition and system: empty its store, a cold run, then (if it has
    a store and ``cached``) the same command again. Log labels are
    ``{tag}-{system}-cold`` and ``{tag}-{system}-cached``."""
    samples: dict[str, dict[str, list[Sample]]] = {system.name: {"cold": [], "cached": []} for system in systems}
    for system in interleaved(tag, repeat, systems):
        label = f"{tag}-{system.name}"
        if system.store is not None:
            reset(system.store)
        cold = measure(f"{label}-cold", system.command, system.cwd, timeout=timeout, expect=system.expect_cold)
        samples[system.name]["cold"].append(cold)
        if cached and system.store is not None:
            again = measure(f"{label}-cached", system.command, system.cwd, timeout=timeout, expect=system.expect_cached)
            samples[system.name]["cached"].append(again)
    return samples


def as_dicts(samples: dict[str, dict[str, list[Sample]]]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """The samples as JSON-ready dicts, same nesting."""
    return {
        name: {phase: [asdict(s) for s in runs] for phase, runs in phases.items()} for name, phases in samples.items()
    }


# --- statistics of samples (as stored in results.json) ------------------------------------


def stats(values: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def walls(samples: list[dict[str, Any]]) -> list[float]:
    return [s["wall"] for s in samples]


def failed(samples: list[dict[str, Any]]) -> str | None:
    problems = [s["problem"] for s in samples if s["problem"]]
    return problems[0] if problems else None


def median_wall(samples: list[dict[str, Any]]) -> float:
    return statistics.median(walls(samples)) if samples and not failed(samples) else float("nan")


def median_rss(samples: list[dict[str, Any]]) -> float:
    return statistics.median(s["rss"] for s in samples)


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


def ensure_env(base_python: str) -> Env:
    return Env(*(ensure_venv(name, requirements, base_python) for name, requirements in VENV_SPECS.items()))


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
