"""Workload 2, parallel: how well N workers are used on slow configurations.

16 configurations that each sleep 1 s, cold (empty cache every repetition),
run by pytest-memento with ``-n 2`` (``--full``: also ``-n 8`` and
``--dist worksteal``), plain parametrize with the same ``-n`` and memento-ml
with the same ``num_workers``. Efficiency = ideal wall (16 x 1 s / workers) /
measured whole-process wall, so the start-up of the workers counts against it.
Target: >= 0.85 for pytest-memento at the largest worker count run.
"""

from __future__ import annotations

from typing import Any

import workloads as w
from harness import PYTEST, WORK, Env, System, as_dicts, cold_and_cached, median_wall, walls
from report import Report, fmt_rss, fmt_time

NAME = "parallel"
SLEEP_COUNT, SLEEP_SECONDS = 16, 1.0


def run(env: Env, repeat: int, full: bool) -> dict[str, Any]:
    directory = WORK / "parallel"
    w.write_sources(directory, w.PARALLEL_FILES, count=SLEEP_COUNT, seconds=SLEEP_SECONDS)
    systems: list[tuple[System, int]] = []  # and its number of workers
    for workers in [2, 8] if full else [2]:
        for dist in [[], ["--dist", "worksteal"]] if full else [[]]:
            suffix = f"-n {workers}{' ' + ' '.join(dist) if dist else ''}"
            store = directory / f"store-{workers}{'-ws' if dist else ''}"
            command = [env.memento, *PYTEST, "test_sleep.py", "-n", str(workers), *dist, "--memento-dir", store.name]
            memento = System(f"pytest-memento ({suffix})", command, directory, store, f"{SLEEP_COUNT} passed")
            systems.append((memento, workers))
        plain = [env.memento, *PYTEST, "test_plain.py", "-p", "no:memento", "-n", str(workers)]
        systems.append(
            (System(f"plain parametrize (-n {workers})", plain, directory, None, f"{SLEEP_COUNT} passed"), workers)
        )
        ml_dir = directory / f"ml-{workers}"
        ml = [env.ml, str(directory / "ml.py"), str(workers)]
        systems.append(
            (System(f"memento-ml (num_workers={workers})", ml, ml_dir, ml_dir, f"ran={SLEEP_COUNT}"), workers)
        )
    samples = as_dicts(cold_and_cached("parallel", [system for system, _ in systems], repeat, 120, cached=False))
    return {
        NAME: {
            system.name: {
                "workers": workers,
                "ideal": SLEEP_COUNT * SLEEP_SECONDS / workers,
                "samples": samples[system.name]["cold"],
            }
            for system, workers in systems
        }
    }


def section(report: Report, results: dict[str, Any], full: bool) -> None:
    data = results[NAME]
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
            ok = report.target(f"parallel efficiency {name}", f"{efficiency:.2f}", efficiency >= 0.85)
            report.add(f"- {name}: efficiency {efficiency:.2f} (target >= 0.85 at -n {workers}: {ok})")
    report.add("")
