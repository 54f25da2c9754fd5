"""What the fingerprints of issue 11 cost: collection and runs, before and after.

Runs the same commands against several checkouts of pytest-memento (each
imported through ``PYTHONPATH``, nothing installed), interleaved within
every repetition so machine noise hits all alike, and prints medians and
the ratio of each checkout to the first:

  collect-10k   ``pytest --collect-only`` of the 10,000-configuration
                dispatch grid (``workloads.DISPATCH_MATRIX``, 100 x 100)
  collect-1k    ``pytest --collect-only`` of a 1,000-configuration grid whose
                experiment uses five fixtures (two in conftest.py, one
                requesting another) and a parameter of five project classes
                (5 classes x 200 seeds)
  cold-1k       that grid run with an empty store (fingerprints computed,
                every result stored)
  cached-1k     that grid run again (fingerprints computed, every result cached)

Usage (from the repository root; the first --tree is the baseline)::

    git worktree add /tmp/before <commit before the change>
    python benchmarks/bench_fingerprint.py --tree before=/tmp/before --tree after=. --repeat 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import workloads as w

FIXTURE_CONFTEST = """\
import pytest


def load_rows():
    return list(range(20))


@pytest.fixture(scope="session")
def rows():
    return load_rows()


@pytest.fixture
def scaler():
    return 2.0
"""

FIXTURE_MODELS = """\
class Base:
    def prepare(self, rows, scale):
        return [r * scale for r in rows]


class ModelA(Base):
    def score(self, rows, scale):
        return sum(self.prepare(rows, scale)) + 1


class ModelB(Base):
    def score(self, rows, scale):
        return sum(self.prepare(rows, scale)) + 2


class ModelC(Base):
    def score(self, rows, scale):
        return sum(self.prepare(rows, scale)) + 3


class ModelD(Base):
    def score(self, rows, scale):
        return sum(self.prepare(rows, scale)) + 4


class ModelE(Base):
    def score(self, rows, scale):
        return sum(self.prepare(rows, scale)) + 5
"""

FIXTURE_EXPERIMENT = """\
import pytest

import pytest_memento as memento
from models import ModelA, ModelB, ModelC, ModelD, ModelE


@pytest.fixture
def split(rows):
    return rows[:10], rows[10:]


@pytest.fixture
def offset():
    return 1


@pytest.fixture
def budget(offset):
    return 10 + offset


@memento.matrix(parameters={"model": [ModelA, ModelB, ModelC, ModelD, ModelE], "seed": range(200)})
def test_models(config, rows, scaler, split, offset, budget):
    train, test = split
    return {"score": config.model().score(train, scaler) + offset + budget}
"""

GRID_10K = {"pytest.ini": w.PYTEST_INI, "test_matrix.py": w.DISPATCH_MATRIX}
GRID_1K = {
    "pytest.ini": w.PYTEST_INI,
    "conftest.py": FIXTURE_CONFTEST,
    "models.py": FIXTURE_MODELS,
    "test_models.py": FIXTURE_EXPERIMENT,
}
BASE = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:xdist", "-p", "no:cacheprovider"]


def timed(command: list[str], cwd: Path, tree: Path, expect: str) -> tuple[float, float]:
    """Wall-clock and CPU (user + system) seconds of one pytest process. CPU
    time is the figure to compare on a shared machine: waiting for a core
    inflates wall time, not CPU time."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.TemporaryFile("w+") as output:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read()
    if process.returncode != 0 or expect not in text:
        sys.exit(f"{' '.join(command)} in {cwd} failed:\n{text[-3000:]}")
    return elapsed, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", action="append", required=True, help="NAME=PATH of a checkout (first: baseline)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    trees = {name: Path(path).resolve() for name, path in (item.split("=", 1) for item in args.tree)}
    work = Path(tempfile.mkdtemp(prefix="bench-fingerprint-"))
    try:
        w.write_sources(work / "grid-10k", GRID_10K, rows=100, cols=100)
        for name in trees:
            w.write_sources(work / f"grid-1k-{name}", GRID_1K)
        samples: dict[str, dict[str, list[tuple[float, float]]]] = {}
        for repeat in range(args.repeat):
            for name, tree in trees.items():
                grid = work / f"grid-1k-{name}"
                shutil.rmtree(grid / ".memento", ignore_errors=True)
                measured = {
                    "collect-10k": timed(
                        [*BASE, "--collect-only", "test_matrix.py"], work / "grid-10k", tree, "10000 tests collected"
                    ),
                    "collect-1k": timed([*BASE, "--collect-only"], grid, tree, "1000 tests collected"),
                    "cold-1k": timed(BASE, grid, tree, "1000 passed"),
                    "cached-1k": timed(BASE, grid, tree, "1000 cached"),
                }
                for workload, seconds in measured.items():
                    samples.setdefault(workload, {}).setdefault(name, []).append(seconds)
            print(f"repetition {repeat + 1}/{args.repeat} done", file=sys.stderr)
        baseline = next(iter(trees))
        print(f"{args.repeat} repetitions, trees interleaved; ratios of medians against {baseline!r}")
        for workload, by_tree in samples.items():
            base_wall = statistics.median(wall for wall, _ in by_tree[baseline])
            base_cpu = statistics.median(cpu for _, cpu in by_tree[baseline])
            for name, values in by_tree.items():
                wall = statistics.median(w for w, _ in values)
                cpu = statistics.median(c for _, c in values)
                print(
                    f"{workload:<12} {name:<8} cpu {cpu:6.3f} s (min {min(c for _, c in values):.3f})"
                    f"  {cpu / base_cpu:5.3f} x {baseline}"
                    f"   wall {wall:6.3f} s (min {min(w for w, _ in values):.3f})  {wall / base_wall:5.3f} x"
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
