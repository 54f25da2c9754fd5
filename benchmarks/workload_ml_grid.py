"""Workload 5, ml-grid: a real scikit-learn grid, and whether every system
computes the same results.

2 classifiers (logistic regression behind a ``StandardScaler``, a 10-tree
random forest) x 2 datasets (iris, wine) x 2 seeds; each configuration is the
mean accuracy of a 3-fold stratified cross-validation, built by the same code
on every side (``workloads.ML_COMMON``). Run as a pytest-memento matrix
(serial and ``-n 2``), a memento-ml run and a plain loop: first run (empty
cache) and cached rerun, whole-process wall time. Each system's accuracies of
the last repetition are compared with the loop's (tolerance 1e-9):
pytest-memento's read back with ``python -m pytest_memento list --json``,
memento-ml's and the loop's from the ``RESULTS`` line they print. Target:
results equal across systems; the timings have none.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import workloads as w
from harness import (
    PYTEST,
    SERIAL,
    WORK,
    XDIST2,
    Env,
    System,
    as_dicts,
    clean_env,
    cold_and_cached,
    median_wall,
    printed_results,
)
from report import Report, fmt_rss, fmt_time

NAME = "ml-grid"
ML_SEEDS = 2
ML_COUNT = 2 * 2 * ML_SEEDS  # classifiers x datasets x seeds
ML_TOLERANCE = 1e-9
LOOP = "plain Python loop"


def config_name(config: dict[str, Any]) -> str:
    return f"{config['classifier']}/{config['dataset']}/seed={config['seed']}"


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


def printed_accuracies(label: str) -> dict[str, float]:
    rows = printed_results(label) or []
    return {config_name(row): float(row["accuracy"]) for row in rows}


def systems(env: Env, directory: Path) -> list[System]:
    memento = [env.memento, *PYTEST, "test_grid.py"]
    passed, cached, ran = f"{ML_COUNT} passed", f"{ML_COUNT} cached", f"ran={ML_COUNT}"
    serial = [*memento, *SERIAL, "--memento-dir", "store-serial"]
    xdist = [*memento, *XDIST2, "--memento-dir", "store-xdist"]
    ml = [env.ml, str(directory / "ml.py"), "1"]
    return [
        System("pytest-memento (-p no:xdist)", serial, directory, directory / "store-serial", passed, cached),
        System("pytest-memento (-n 2)", xdist, directory, directory / "store-xdist", passed, cached),
        System("memento-ml (num_workers=1)", ml, directory / "ml-1", directory / "ml-1", ran, "ran=0"),
        System(LOOP, [env.memento, "loop.py"], directory, None, ran),
    ]


def run(env: Env, repeat: int, full: bool) -> dict[str, Any]:
    directory = WORK / "ml-grid"
    w.write_sources(directory, w.ML_GRID_FILES, seeds=ML_SEEDS)
    found = systems(env, directory)
    samples = cold_and_cached("ml-grid", found, repeat, timeout=300)
    # The results of the last repetition: pytest-memento's store as it was left, the others' logs.
    accuracies: dict[str, dict[str, dict[str, float]]] = {}
    for system in found:
        phases = ["cold", "cached"] if system.store is not None else ["cold"]
        if system.name.startswith("pytest-memento"):
            stored = memento_accuracies(env, system.store or directory)
            accuracies[system.name] = {phase: stored for phase in phases}
        else:
            accuracies[system.name] = {phase: printed_accuracies(f"ml-grid-{system.name}-{phase}") for phase in phases}
    reference = accuracies[LOOP]["cold"]
    comparison = {}
    for name, by_phase in accuracies.items():
        for phase, values in by_phase.items():
            differences = [abs(values[key] - reference[key]) for key in reference if key in values]
            comparison[f"{name} {phase}"] = {
                "configurations": len(values),
                "max_difference": max(differences) if differences else None,
                "equal": len(reference) == ML_COUNT
                and set(values) == set(reference)
                and all(d <= ML_TOLERANCE for d in differences),
            }
    return {
        NAME: {
            "configurations": ML_COUNT,
            "samples": as_dicts(samples),
            "accuracies": accuracies,
            "comparison": comparison,
            "equal": all(entry["equal"] for entry in comparison.values()),
        }
    }


def section(report: Report, results: dict[str, Any], full: bool) -> None:
    data = results[NAME]
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
        cold, cached = phases["cold"], phases["cached"]
        rows.append([name, fmt_time(cold), fmt_rss(cold), fmt_time(cached), fmt_rss(cached)])
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
    loop = data["accuracies"][LOOP]["cold"]
    report.table(["configuration", "accuracy"], [[key, f"{value:.4f}"] for key, value in sorted(loop.items())])
    ours = data["samples"]["pytest-memento (-p no:xdist)"]
    theirs = data["samples"]["memento-ml (num_workers=1)"]
    loop_wall = median_wall(data["samples"][LOOP]["cold"])
    same = report.target("ML grid: results equal across systems (1e-9)", equal, data["equal"])
    report.add(
        f"- results equal across systems: {same}",
        f"- cached rerun, pytest-memento (-p no:xdist) vs memento-ml: {median_wall(ours['cached']):.2f} vs "
        f"{median_wall(theirs['cached']):.2f} s (no target). Every process imports scikit-learn first; the loop, which "
        f"computes all {data['configurations']} configurations, takes {loop_wall:.2f} s, so at this size a cached rerun "
        "saves little besides the fitting itself.",
        "",
    )
