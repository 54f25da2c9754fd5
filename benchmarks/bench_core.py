"""Dispatch overhead of pytest-memento against plain ``pytest.mark.parametrize``.

Builds a trivial grid of N configurations and times, in one run, whole
pytest processes:

  (a) cold     the matrix grid with an empty store (every item runs and is stored)
  (b) cached   the same grid again (every item is reported from the store)
  (c) plain    the same grid written as @pytest.mark.parametrize

The test files are ``workloads.TRIVIAL_GRID_FILES``, the same matrix and
plain grid as ``run.py``'s dispatch and scale workloads (here shaped
sqrt(N) x sqrt(N) rather than 50 columns). Prints medians (and min/max) of
--repeat runs and the ratios a/c and b/c.
Targets: a/c <= 1.10, b/c <= 0.50. Usage:

    python benchmarks/bench_core.py [--size 10000] [--repeat 3] [-n 2]
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import workloads as w


def run(directory: Path, test_file: str, extra: list[str]) -> float:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", test_file, *extra]
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=directory, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}")
    return elapsed


def describe(name: str, samples: list[float], size: int) -> str:
    median = statistics.median(samples)
    return (
        f"{name:<8} median {median:7.3f} s  (min {min(samples):.3f}, max {max(samples):.3f})"
        f"  {1000 * median / size:6.3f} ms/config"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("-n", dest="workers", default=None, help="pass -n to pytest (xdist)")
    args = parser.parse_args()
    rows = int(math.sqrt(args.size))
    cols = args.size // rows
    size = rows * cols
    extra = ["-n", args.workers] if args.workers else ["-p", "no:xdist"]
    samples: dict[str, list[float]] = {"cold": [], "cached": [], "plain": []}
    with tempfile.TemporaryDirectory(prefix="memento-bench-") as tmp:
        root = Path(tmp)
        w.write_sources(root, w.TRIVIAL_GRID_FILES, rows=rows, cols=cols)  # the files of run.py's dispatch
        plain = [*extra, "-p", "no:memento"]
        run(root, "test_plain.py", plain)  # warm the file system cache and bytecode
        for _ in range(args.repeat):
            # Interleave the systems so machine drift hits all of them alike.
            shutil.rmtree(root / ".memento", ignore_errors=True)
            samples["cold"].append(run(root, "test_matrix.py", extra))
            samples["cached"].append(run(root, "test_matrix.py", extra))
            samples["plain"].append(run(root, "test_plain.py", plain))
    print(f"grid of {size} trivial configurations, {args.repeat} runs each, pytest {' '.join(extra)}")
    for name, values in samples.items():
        print(describe(name, values, size))
    plain = statistics.median(samples["plain"])
    cold = statistics.median(samples["cold"]) / plain
    cached = statistics.median(samples["cached"]) / plain
    print(f"cold / plain   = {cold:.2f}  (target <= 1.10: {'pass' if cold <= 1.10 else 'MISS'})")
    print(f"cached / plain = {cached:.2f}  (target <= 0.50: {'pass' if cached <= 0.50 else 'MISS'})")


if __name__ == "__main__":
    main()
