"""Workload 6, checkpoint: the cost of one checkpoint save and load.

In each venv, one process saves and loads a small dict and
``{"step": 12, "weights": <float64 array>}`` of 8 MB (``--full``: also 64 MB)
with its system's API: pytest-memento ``Checkpoint(path, key=...)``
``.save(state)`` / ``.load()``; memento-ml ``context.checkpoint(state)`` /
``context.restore()`` inside a one-configuration ``Memento(func).run(...)``
whose function times the calls itself. The baseline (**raw**) is
``open().write()`` of the same bytes pickled once up front + ``os.replace``,
and ``open().read()``, interleaved with the checkpoint calls in the same
process, 15 times each. Target: pytest-memento's save of the largest array
at most 1.5 x the raw write. ``bench_checkpoint.py`` measures the same API
alone, with up to 256 MB and the extra memory of a save.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict
from typing import Any

import workloads as w
from harness import WORK, Env, measure, printed_results, reset, stats
from report import Report

NAME = "checkpoint"
CHECKPOINT_REPEAT = 15


def run(env: Env, repeat: int, full: bool) -> dict[str, Any]:
    """One process per system; inside it, CHECKPOINT_REPEAT saves and loads
    per size, each against a raw write/read of the same pickled bytes in the
    same process (``repeat`` does not apply)."""
    directory = WORK / "checkpoint"
    sizes = {"small dict": 0, "8 MB array": 2**20}
    if full:
        sizes["64 MB array"] = 2**23
    systems = [
        ("pytest-memento", env.memento, "bench_memento.py"),
        ("memento-ml", env.ml, "bench_ml.py"),
    ]
    w.write_sources(directory, w.CHECKPOINT_COST_FILES, sizes=json.dumps(sizes), repeat=CHECKPOINT_REPEAT)
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
    return {NAME: results}


def ms(values: list[float]) -> str:
    s = stats(values)
    return f"{1000 * s['median']:.3f} ({1000 * s['min']:.3f}-{1000 * s['max']:.3f})"


def section(report: Report, results: dict[str, Any], full: bool) -> None:
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
    for name, entry in results[NAME].items():
        times = entry["times"]
        if not times:
            rows.append([name, "-", f"FAILED ({entry['sample']['problem']})", "", "", "", "", ""])
            continue
        for size, t in times.items():
            save_ratio = statistics.median(t["save"]) / statistics.median(t["raw_save"])
            load_ratio = statistics.median(t["load"]) / statistics.median(t["raw_load"])
            save = [ms(t["save"]), ms(t["raw_save"]), f"{save_ratio:.2f}"]
            rows.append([name, size, *save, ms(t["load"]), ms(t["raw_load"]), f"{load_ratio:.2f}"])
            if name == "pytest-memento":
                largest = (size, save_ratio)
    header = ["system", "state", "save ms", "raw save ms", "save / raw"]
    report.table([*header, "load ms", "raw load ms", "load / raw"], rows)
    if largest is not None:
        size, ratio = largest
        ok = report.target(f"checkpoint save {size} / raw write", f"{ratio:.2f}", ratio <= 1.5)
        report.add(f"- pytest-memento save of the {size}: {ratio:.2f}x raw write (target <= 1.5: {ok})")
    report.add(
        "",
        "Neither system nor the raw baseline calls `fsync`. The raw baseline does not include pickling (done once "
        "up front); both checkpoint APIs pickle on every save.",
        "",
    )
