"""The speed targets of issue 16 (workers, cached items on the controller).

Measured side by side in one run, whole pytest processes, the systems
interleaved over --repeat repetitions (medians):

1. The trivial grid of ``bench_core.py`` (N configurations), without xdist
   (``-p no:xdist``) and with ``-n 2``: cold (empty store), cached (the same
   command again) and plain ``@pytest.mark.parametrize`` (``-p no:memento``),
   each mode against its own plain run.
   Targets: cached / plain <= 0.35 in both modes; cold / plain <= 1.10
   without xdist and <= 1.15 with ``-n 2``.
2. A cached rerun of ``example_experiments/`` (scikit-learn) with ``-n 2``
   against ``-p no:xdist``: with cached items decided and reported on the
   controller they should be equal within 10 % (xdist's start-up of two
   workers is what remains).

Usage::

    python benchmarks/bench_workers.py [--size 10000] [--repeat 3] [--profile]

The grid also times a floor without xdist: the plain grid reported by a
short plugin (``FLOOR_PLUGIN`` below) that reports every item passed
without setting it up or calling it, with the two collection-time savings
pytest-memento's own items get (no cyclic GC while collecting, then the
items frozen; one source look-up per function for the item's location).
That is what pytest itself costs for start-up, collection and one report
per item, the part a cached rerun cannot avoid while it reports each
configuration as pytest would; ``floor / plain`` says where that lies
against the 0.35 target. It is run twice per repetition (it is the
noisiest figure).

``--profile`` also prints the top of a cProfile of one cached run without
xdist (where the time goes when a target is missed).
"""

from __future__ import annotations

import argparse
import io
import math
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import workloads as w
from bench_core import describe, run

ROOT = Path(__file__).resolve().parent.parent
MODES = {"no-xdist": ["-p", "no:xdist"], "n2": ["-n", "2"]}
TARGETS = {("cached", "no-xdist"): 0.35, ("cached", "n2"): 0.35, ("cold", "no-xdist"): 1.10, ("cold", "n2"): 1.15}


FLOOR_PLUGIN = """\\
import gc
import time

import pytest

PLACES = {}


@pytest.hookimpl(wrapper=True)
def pytest_collection(session):
    # As pytest-memento does (lifecycle.quiet_gc): no cyclic GC while
    # collecting, the collected items frozen out of later collections.
    gc.disable()
    try:
        return (yield)
    finally:
        gc.enable()
        gc.freeze()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    # One source look-up per function, as pytest-memento's items get.
    place = PLACES.get(item.function)
    if place is None:
        place = PLACES[item.function] = item.location[:2]
    location = (*place, item.getmodpath())
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=location)
    now = time.time()
    keywords = dict.fromkeys(item.keywords, 1)
    report = pytest.TestReport(item.nodeid, location, keywords, "passed", None, "call", start=now, stop=now)
    item.ihook.pytest_runtest_logreport(report=report)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=location)
    return True
"""


def verdict(value: float, target: float) -> str:
    return f"(target <= {target:.2f}: {'pass' if value <= target else 'MISS'})"


def trivial_grid(size: int, repeat: int) -> None:
    rows = int(math.sqrt(size))
    cols = size // rows
    size = rows * cols
    samples: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="memento-bench-") as tmp:
        root = Path(tmp)
        w.write_sources(root, w.TRIVIAL_GRID_FILES, rows=rows, cols=cols)
        (root / "floor_plugin.py").write_text(FLOOR_PLUGIN)
        run(root, "test_plain.py", ["-p", "no:xdist", "-p", "no:memento"])  # warm caches and bytecode
        for _ in range(repeat):
            for mode, extra in MODES.items():
                shutil.rmtree(root / ".memento", ignore_errors=True)
                samples.setdefault(("cold", mode), []).append(run(root, "test_matrix.py", extra))
                samples.setdefault(("cached", mode), []).append(run(root, "test_matrix.py", extra))
                samples.setdefault(("plain", mode), []).append(run(root, "test_plain.py", [*extra, "-p", "no:memento"]))
            floor = ["-p", "no:xdist", "-p", "no:memento", "-p", "floor_plugin"]
            for _ in range(2):
                samples.setdefault(("floor", "no-xdist"), []).append(run(root, "test_plain.py", floor))
    print(f"1. grid of {size} trivial configurations, {repeat} runs each")
    for mode in MODES:
        print(f"  pytest {' '.join(MODES[mode])}")
        kinds = [kind for kind in ("cold", "cached", "plain", "floor") if (kind, mode) in samples]
        for kind in kinds:
            print("    " + describe(kind, samples[(kind, mode)], size))
        plain = statistics.median(samples[("plain", mode)])
        for kind in kinds:
            ratio = statistics.median(samples[(kind, mode)]) / plain
            if (kind, mode) in TARGETS:
                print(f"    {kind} / plain = {ratio:.2f}  {verdict(ratio, TARGETS[(kind, mode)])}")
            elif kind == "floor":
                print(f"    floor / plain = {ratio:.2f}  (pytest's own start-up, collection and reporting)")


def example_grid(repeat: int) -> None:
    samples: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="memento-bench-") as tmp:
        root = Path(tmp) / "example_experiments"
        shutil.copytree(ROOT / "example_experiments", root, ignore=shutil.ignore_patterns(".memento", "__pycache__"))
        run(root, ".", ["-p", "no:xdist"])  # fill the store
        for _ in range(repeat):
            for mode, extra in MODES.items():
                samples.setdefault(mode, []).append(run(root, ".", extra))
    print(f"2. cached rerun of example_experiments/, {repeat} runs each")
    for mode in MODES:
        print("    " + describe(mode, samples[mode], 1))
    ratio = statistics.median(samples["n2"]) / statistics.median(samples["no-xdist"])
    print(f"    -n 2 / no xdist = {ratio:.2f}  (target within 10 %: {'pass' if abs(ratio - 1) <= 0.10 else 'MISS'})")


def profile(size: int) -> None:
    rows = int(math.sqrt(size))
    with tempfile.TemporaryDirectory(prefix="memento-bench-") as tmp:
        root = Path(tmp)
        w.write_sources(root, w.TRIVIAL_GRID_FILES, rows=rows, cols=size // rows)
        run(root, "test_matrix.py", ["-p", "no:xdist"])
        out = root / "cached.prof"
        command = ["-m", "cProfile", "-o", str(out), "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:randomly"]
        subprocess.run([sys.executable, *command, "test_matrix.py"], cwd=root, capture_output=True, check=True)
        text = io.StringIO()
        pstats.Stats(str(out), stream=text).sort_stats("cumulative").print_stats(25)
        print("3. profile of one cached run without xdist (cumulative, top 25)")
        print(text.getvalue())


def main() -> None:
    # Users' Python writes bytecode; with PYTHONDONTWRITEBYTECODE (set on some
    # CI machines) every process would compile the plugin's modules again
    # (with pytest's assertion rewriting), a cost the plain runs never pay.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--only", choices=["grid", "example"], default=None)
    args = parser.parse_args()
    if args.only in (None, "grid"):
        trivial_grid(args.size, args.repeat)
    if args.only in (None, "example"):
        example_grid(args.repeat)
    if args.profile:
        profile(args.size)


if __name__ == "__main__":
    main()
