"""The HTML report at scale: file size, time to write it, time to open it in
headless Chromium, and what sorting and filtering cost there.

A grid of model (10) x dataset (10) x lr (20) x seed (5) = 10,000
configurations, 2,000 replicate groups, 3 metrics, with the provenance a
stored result carries; records are built in memory (what ``memento report``
holds after reading the store's metadata). Baseline, in the same run and the
same browser: a static HTML ``<table>`` of the same rows without any script
(what a plain export would give). Figures are medians over ``--repeat``
fresh page loads. Usage:

    python benchmarks/bench_report.py [--size 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import html
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from chromium import Browser, find_chromium

from pytest_memento.html_report import render_report
from pytest_memento.records import Record


def grid(size: int) -> list[Record]:
    rng = random.Random(0)
    seeds = 5
    lrs = max(1, size // (100 * seeds))
    records = []
    for m in range(10):
        for d in range(10):
            for lr_index in range(lrs):
                for seed in range(seeds):
                    if len(records) >= size:
                        return records
                    lr = round(10 ** (-4 + 3 * lr_index / max(lrs - 1, 1)), 6)
                    acc = 0.6 + m / 40 + d / 100 - abs(lr_index - lrs / 2) / (4 * lrs) + rng.gauss(0, 0.01)
                    key = f"{rng.getrandbits(256):064x}"
                    records.append(
                        Record(
                            experiment="experiments/test_grid.py::train",
                            test_id=f"model{m}-dataset{d}-{lr}-{seed}",
                            key=key,
                            status="stored",
                            config={
                                "model": f"models.Model{m}",
                                "dataset": f"datasets.load_{d}",
                                "lr": lr,
                                "seed": seed,
                                "epochs": 10,
                            },
                            parameters=("model", "dataset", "lr", "seed"),
                            metrics={
                                "accuracy": acc,
                                "loss": 1 - acc + rng.gauss(0, 0.01),
                                "seconds": rng.uniform(1, 60),
                            },
                            duration=rng.uniform(1, 60),
                            replicates=("seed",),
                            group_size=seeds,
                            goals={"accuracy": "max", "loss": "min", "seconds": "min"},
                            started="2026-12-02T05:00:00.000+00:00",
                            provenance={
                                "commit": "3f" * 20,
                                "dirty": False,
                                "fingerprint": "ab" * 32,
                                "host": "node07",
                                "python": "3.11.7",
                                "seed": seed,
                                "worker": f"gw{rng.randrange(8)}",
                                "started": "2026-12-02T05:00:00.000+00:00",
                            },
                        )
                    )
    return records


def static_table(records: list[Record]) -> str:
    head = ["id", "model", "dataset", "lr", "seed", "accuracy", "loss", "seconds", "status", "duration", "key"]
    rows = []
    for r in records:
        cells = [r.test_id, *(str(r.config[n]) for n in ("model", "dataset", "lr", "seed"))]
        cells += [f"{r.metrics[n]:.4g}" for n in ("accuracy", "loss", "seconds")]
        cells += [r.status, f"{r.duration:.2f}s", r.key[:12]]
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>static</title></head><body><table><thead><tr>'
        + "".join(f"<th>{h}</th>" for h in head)
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table><script>document.body.dataset.ready='1'</script></body></html>"
    )


def wait_ready(browser: Browser) -> None:
    deadline = time.monotonic() + 120
    while browser.evaluate("document.body && document.body.dataset.ready") != "1":
        if time.monotonic() > deadline:
            raise SystemExit("the page never finished")
        time.sleep(0.01)


def timed_open(browser: Browser, path: Path) -> float:
    start = time.perf_counter()
    browser.open(path)
    wait_ready(browser)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    binary = find_chromium()
    if binary is None:
        print("Chromium is not installed (Debian package chromium)")
        return 1
    records = grid(args.size)
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        start = time.perf_counter()
        page = render_report(records, title="bench", source="benchmarks/bench_report.py")
        write_seconds = time.perf_counter() - start
        report = folder / "report.html"
        report.write_text(page, encoding="utf-8")
        baseline = folder / "static.html"
        baseline.write_text(static_table(records), encoding="utf-8")
        opens, statics, renders, sorts, filters = [], [], [], [], []
        with Browser(binary, folder / "profile", width=1280, height=900) as browser:
            timed_open(browser, baseline)  # warm the browser up once
            for _ in range(args.repeat):
                statics.append(timed_open(browser, baseline))
                opens.append(timed_open(browser, report))
                renders.append(float(browser.evaluate("document.body.dataset.renderMs")) / 1000)
                rows = browser.evaluate("document.querySelectorAll('table.configs-table tbody tr.row').length")
                charts = browser.evaluate("document.querySelectorAll('svg.chart').length")
                sorts.append(
                    browser.evaluate(
                        "(() => { const th = document.querySelector('table.configs-table th:nth-child(6)');"
                        " const t = performance.now(); th.click(); return (performance.now() - t) / 1000; })()"
                    )
                )
                filters.append(
                    browser.evaluate(
                        "(() => { const f = document.querySelector('.tools input'); f.value = 'model3 dataset7';"
                        " const s = document.querySelector('.tools select'); const t = performance.now();"
                        " s.dispatchEvent(new Event('change')); return (performance.now() - t) / 1000; })()"
                    )
                )
        groups = len({(r.config["model"], r.config["dataset"], r.config["lr"]) for r in records})
        print(f"HTML report, {len(records):,} configurations, {groups:,} groups, 3 metrics, 3 x 3 charts")
        print(
            f"  file size           {report.stat().st_size / 1e6:.2f} MB (static table of the same rows: {baseline.stat().st_size / 1e6:.2f} MB)"
        )
        print(f"  write (render)      {write_seconds:.2f} s")
        print(
            f"  open in Chromium    {statistics.median(opens):.2f} s to ready (script {statistics.median(renders):.2f} s)"
        )
        print(f"  static table        {statistics.median(statics):.2f} s to load (baseline)")
        print(f"  ratio               {statistics.median(opens) / statistics.median(statics):.2f} x the static table")
        print(f"  sort 10k rows       {statistics.median(sorts) * 1000:.0f} ms (one header click)")
        print(f"  filter 10k rows     {statistics.median(filters) * 1000:.0f} ms")
        print(f"  rows shown {rows:,}, charts {charts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
