"""Workload 4, scale: how collection time and memory grow with the grid.

``pytest --collect-only -q -p no:xdist`` of the dispatch grid
(``workloads.SCALE_FILES``, the same files as ``bench_core.py``) as a
pytest-memento matrix and as plain parametrize, at 1 configuration (the fixed
cost) and 1,000 and 10,000 (``--full``: also 100,000). The per-configuration
cost is marginal, (wall at N - wall at 1) / (N - 1), and likewise for peak
RSS. Target: linear, i.e. the marginal cost at the largest size at most 1.5 x
that at the smallest; plain parametrize's ratio shows what pytest itself does.
"""

from __future__ import annotations

import math
from typing import Any

import workloads as w
from harness import PYTEST, SERIAL, WORK, Env, Sample, as_dicts, grid, interleaved, measure, median_rss, median_wall
from report import Report, fmt_rss, fmt_time

NAME = "scale"
COMMANDS = {
    "pytest-memento matrix": ["test_matrix.py"],
    "plain parametrize": ["test_plain.py", "-p", "no:memento"],
}


def sizes(full: bool) -> list[int]:
    return [1_000, 10_000, 100_000] if full else [1_000, 10_000]


def run(env: Env, repeat: int, full: bool) -> dict[str, Any]:
    """Runs are short and the marginal cost at 1,000 configurations is small
    against their noise, so at least 5 repetitions."""
    all_sizes = [1, *sizes(full)]
    for size in all_sizes:
        rows, cols = grid(size)
        w.write_sources(WORK / f"scale-{size}", w.SCALE_FILES, rows=rows, cols=cols)
    samples: dict[str, dict[str, list[Sample]]] = {name: {str(size): [] for size in all_sizes} for name in COMMANDS}
    pairs = [(size, name) for size in all_sizes for name in COMMANDS]
    for size, name in interleaved("scale", max(repeat, 5), pairs):
        command = [env.memento, *PYTEST, "--collect-only", *SERIAL, *COMMANDS[name]]
        expect = f"{size} test{'s' if size != 1 else ''} collected"
        samples[name][str(size)].append(
            measure(f"scale-{size}-{name}", command, WORK / f"scale-{size}", timeout=600, expect=expect)
        )
    return {NAME: as_dicts(samples)}


def section(report: Report, results: dict[str, Any], full: bool) -> None:
    report.add("## 4. Scale of collection", "")
    report.add(
        "`pytest --collect-only -q -p no:xdist` of the dispatch grid. Per-config cost is marginal: "
        "(wall at N - wall at 1 configuration) / (N - 1), so the fixed start-up cost is left out; "
        "memory likewise (peak RSS at N - at 1) / (N - 1).",
        "",
    )
    rows = []
    per_config: dict[str, dict[int, float]] = {}
    for name, by_size in results[NAME].items():
        base_wall, base_rss = median_wall(by_size["1"]), median_rss(by_size["1"])
        for size, samples in by_size.items():
            n = int(size)
            marginal = (median_wall(samples) - base_wall) / (n - 1) if n > 1 else math.nan
            memory = (median_rss(samples) - base_rss) / (n - 1) if n > 1 else math.nan
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
    header = ["system", "configurations", "collect wall", "peak RSS"]
    report.table([*header, "ms/config (marginal)", "KiB/config (marginal)"], rows)
    for name, costs in per_config.items():
        ratio = costs[max(costs)] / costs[min(costs)]
        flag = " (super-linear)" if ratio > 1.5 else ""
        target = report.target(f"collection linear ({name})", f"{ratio:.2f}", ratio <= 1.5)
        report.add(
            f"- {name}: per-config cost at {max(costs):,} / at {min(costs):,} = {ratio:.2f}{flag} "
            f"(target linear, <= 1.5: {target})"
        )
    report.add(
        "",
        "The marginal cost at the smallest size is a difference of two short runs, so the ratio is noisy; "
        "plain parametrize's own ratio is the reference for what pytest itself does.",
        "",
    )
