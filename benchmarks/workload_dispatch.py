"""Workload 1, dispatch: the overhead of running a grid of trivial configurations.

A grid of ``a`` x ``b`` (50 columns) whose every configuration returns
``{"value": a * b}``, run by pytest-memento (serial and ``-n 2``), plain
``@pytest.mark.parametrize`` (the same grid, plugin disabled), memento-ml,
``joblib.Memory`` and a plain Python loop (the floor). **cold**: empty cache,
every configuration runs and is stored; **cached**: the same command again,
every configuration served from the cache (checked in each run's output).
Targets: cold / plain <= 1.10, cached / plain <= 0.50, and a cached rerun
faster per configuration than memento-ml's. 2,000 configurations with
``--quick``, also 10,000 with ``--full``; a 50-configuration round first
(measured, not reported) warms bytecode and the page cache. ``bench_core.py``
runs the same matrix and plain files (``workloads.TRIVIAL_GRID_FILES``) on
its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import workloads as w
from harness import PYTEST, SERIAL, WORK, XDIST2, Env, System, as_dicts, cold_and_cached, grid, median_wall
from report import Report, fmt_rss, fmt_time

NAME = "dispatch"
WARM_UP = 50


def sizes(full: bool) -> list[int]:
    return [2_000, 10_000] if full else [2_000]


def systems(env: Env, directory: Path, size: int, full: bool) -> list[System]:
    memento = [env.memento, *PYTEST, "test_matrix.py"]
    plain = [env.memento, *PYTEST, "test_plain.py", "-p", "no:memento"]
    passed, cached, ran = f"{size} passed", f"{size} cached", f"ran={size}"
    found = [
        System(
            "pytest-memento (-p no:xdist)",
            [*memento, *SERIAL, "--memento-dir", "store-serial"],
            directory,
            directory / "store-serial",
            passed,
            cached,
        ),
        System(
            "pytest-memento (-n 2)",
            [*memento, *XDIST2, "--memento-dir", "store-xdist"],
            directory,
            directory / "store-xdist",
            passed,
            cached,
        ),
        System("plain parametrize (-p no:xdist)", [*plain, *SERIAL], directory, None, passed),
        System("plain parametrize (-n 2)", [*plain, *XDIST2], directory, None, passed),
    ]
    for workers in [1, 2] if full else [1]:
        ml_dir = directory / f"ml-{workers}"
        command = [env.ml, str(directory / "ml.py"), str(workers)]
        found.append(System(f"memento-ml (num_workers={workers})", command, ml_dir, ml_dir, ran, "ran=0"))
    found += [
        System("joblib.Memory", [env.ml, "joblib_grid.py"], directory, directory / "joblib-cache", ran, "ran=0"),
        System("plain Python loop (floor)", [env.memento, "loop.py"], directory, None, ran),
    ]
    return found


def run(env: Env, repeat: int, full: bool) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for size in [WARM_UP, *sizes(full)]:
        rows, cols = grid(size)
        directory = WORK / f"dispatch-{size}"
        w.write_sources(directory, w.DISPATCH_FILES, rows=rows, cols=cols)
        timeout = 120 + 0.05 * size
        samples = cold_and_cached(
            f"dispatch-{size}", systems(env, directory, size, full), 1 if size == WARM_UP else repeat, timeout
        )
        if size != WARM_UP:
            results[str(size)] = as_dicts(samples)
    return {NAME: results}


def section(report: Report, results: dict[str, Any], full: bool) -> None:
    report.add("## 1. Dispatch overhead", "")
    report.add(
        'A grid of trivial configurations (`a` x `b`, 50 columns; each returns `{"value": a * b}`). '
        "**cold**: empty cache (every configuration runs and is stored); **cached**: the same command again, "
        "every configuration served from the cache (each run's output is checked for it). Plain parametrize and the loop "
        "cache nothing, so they have no cached column. Whole-process wall time, median (min-max); "
        "peak RSS is the largest single process (with `-n 2`/`num_workers` there are more processes).",
        "",
    )
    for size, by_system in results[NAME].items():
        n = int(size)
        report.add(f"### {n:,} configurations", "")
        rows = []
        for name, phases in by_system.items():
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
        header = ["system", "cold wall", "cold ms/config", "cold peak RSS"]
        report.table([*header, "cached wall", "cached ms/config", "cached peak RSS"], rows)
        checks = []
        for mode in ("-p no:xdist", "-n 2"):
            plain = median_wall(by_system[f"plain parametrize ({mode})"]["cold"])
            memento = by_system[f"pytest-memento ({mode})"]
            cold, cached = median_wall(memento["cold"]) / plain, median_wall(memento["cached"]) / plain
            cold_ok = report.target(f"{n:,} cold / plain ({mode})", f"{cold:.2f}", cold <= 1.10)
            cached_ok = report.target(f"{n:,} cached / plain ({mode})", f"{cached:.2f}", cached <= 0.50)
            checks.append(
                f"- `{mode}`: cold / plain = {cold:.2f} (target <= 1.10: {cold_ok}); "
                f"cached / plain = {cached:.2f} (target <= 0.50: {cached_ok})"
            )
        ours = median_wall(by_system["pytest-memento (-p no:xdist)"]["cached"]) / n
        theirs = median_wall(by_system["memento-ml (num_workers=1)"]["cached"]) / n
        measured = f"{1000 * ours:.3f} vs {1000 * theirs:.3f} ms/config"
        faster = report.target(f"{n:,} cached per config vs memento-ml", measured, ours < theirs)
        checks.append(
            f"- cached rerun per config, pytest-memento (-p no:xdist) vs memento-ml: {measured} (target faster: {faster})"
        )
        report.add(*checks, "")
