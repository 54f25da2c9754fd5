"""Benchmark suite: pytest-memento against memento-ml, joblib.Memory, plain pytest
and a plain Python loop, all on the same work, measured in the same run.

    python benchmarks/run.py --quick     # small sizes; under 10 minutes on 2 cores
    python benchmarks/run.py --full      # more sizes and worker counts
    python benchmarks/run.py --quick --only dispatch,kill --repeat 5

It creates two virtual environments under ``benchmarks/_work/`` (reused on
later runs; a marker file records what was installed):

- ``venv-memento``: this checkout (``pip install -e``), pytest-xdist and scikit-learn;
- ``venv-memento-ml``: memento-ml 1.2.0 (which needs numpy<2 and joblib<1.6 to
  import), joblib for ``joblib.Memory`` and scikit-learn.

When requirements are only added, the missing ones are installed into the
existing venv; any other change rebuilds it.

Workloads (each a whole process per measurement; wall time by the clock,
peak RSS from ``wait4``, i.e. of the largest single process of the tree),
one module each:

1. dispatch (``workload_dispatch.py``): a grid of trivial configurations,
   cold run and fully cached rerun;
2. parallel (``workload_parallel.py``): 16 configurations sleeping 1 s each,
   efficiency = ideal / wall;
3. kill (``workload_kill.py``): a 40-configuration grid with a checkpoint
   after each of 10 steps, SIGKILLed (whole process group) after 20
   configurations, then rerun; plus a one-off probe that kills a single
   worker process;
4. scale (``workload_scale.py``): ``pytest --collect-only`` time and memory
   against grid size;
5. ml-grid (``workload_ml_grid.py``): a real scikit-learn grid (2 classifiers
   x 2 datasets x 2 seeds, mean 3-fold cross-validated accuracy) as a
   pytest-memento matrix, a memento-ml run and a plain loop: first run,
   cached rerun, and whether all three give the same accuracies;
6. checkpoint (``workload_checkpoint.py``): save/load of a small dict and of
   an 8 MB float64 array (and 64 MB with ``--full``) with each system's
   checkpoint API, against a raw ``open().write()`` + ``os.replace`` of the
   same pickled bytes.

The experiments themselves are templates in ``workloads.py`` (shared with
``bench_core.py``); ``harness.py`` builds the venvs and runs and measures the
processes; ``report.py`` writes the results. Systems are interleaved within
every repetition so machine drift hits all alike; tables give the median
with min and max. Targets are reported as pass/MISS, never asserted. Results
go to ``benchmarks/results.md`` and ``benchmarks/results.json``; the output
of each process's last run is kept in ``benchmarks/_work/logs/``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import report
import workload_checkpoint
import workload_dispatch
import workload_kill
import workload_ml_grid
import workload_parallel
import workload_scale
from harness import HERE, describe_machine, ensure_env

# In this order they run and appear in results.md.
WORKLOADS = [
    workload_dispatch,
    workload_parallel,
    workload_kill,
    workload_scale,
    workload_ml_grid,
    workload_checkpoint,
]


def main() -> None:
    names = [workload.NAME for workload in WORKLOADS]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--quick", action="store_true", help="small sizes (under 10 minutes on 2 cores)")
    size.add_argument("--full", action="store_true", help="more sizes and worker counts")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per measurement (at least 3)")
    parser.add_argument("--only", default=",".join(names), help="comma-separated workloads to run")
    parser.add_argument("--python", default=sys.executable, help="interpreter the virtual environments are made from")
    args = parser.parse_args()
    if args.repeat < 3:
        parser.error("--repeat must be at least 3 (a median of fewer is not worth reporting)")
    only = set(args.only.split(","))
    if unknown := only - set(names):
        parser.error(f"--only: unknown workloads {', '.join(sorted(unknown))}")

    started = time.perf_counter()
    env = ensure_env(args.python)
    results: dict[str, Any] = {}
    for workload in WORKLOADS:
        if workload.NAME in only:
            results.update(workload.run(env, args.repeat, args.full))
    results["meta"] = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(["python", os.path.relpath(__file__, Path.cwd()), *sys.argv[1:]]),
        "mode": "full" if args.full else "quick",
        "repeat": args.repeat,
        "seconds": time.perf_counter() - started,
        "machine": describe_machine(env),
    }
    report.write(HERE, results, args.full, WORKLOADS)
    print(f"wrote {HERE / 'results.md'} and results.json in {results['meta']['seconds'] / 60:.1f} min")


if __name__ == "__main__":
    main()
