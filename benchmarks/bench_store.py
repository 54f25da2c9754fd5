"""The store's share of the cached path, before and after a change.

What a fully cached run asks of the store: open it, read every segment
once, then ``get`` every key (with checksums and, since issue 12, the
payload hash checked). Two checkouts of pytest-memento are measured in one
run, each in its own process (``PYTHONPATH``), interleaved, by CPU time, so
machine drift hits both alike. Usage::

    git worktree add --detach /tmp/before <commit>
    python benchmarks/bench_store.py /tmp/before . [--size 10000] [--repeat 7]

Prints the median CPU time per configuration of each and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import hashlib, json, pickle, sys, time
from pathlib import Path
from pytest_memento.store import ResultStore

root, size, mode = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
keys = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(size)]
if mode == "write":
    store = ResultStore(root).create()
    for i, key in enumerate(keys):
        meta = {"experiment": "test_x.py::exp", "config": {"i": i, "name": f"c{i}"}, "metrics": {"v": i / 7},
                "duration": 0.001, "fingerprint": "f" * 64}
        store.put(key, meta, pickle.dumps({"v": i / 7}), defer=True)
    store.close()
else:
    started = time.process_time()
    store = ResultStore(root)
    found = sum(store.get(key) is not None for key in keys)
    print(json.dumps({"cpu": time.process_time() - started, "found": found}))
"""


def child(checkout: Path, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(checkout.resolve())}
    done = subprocess.run([sys.executable, "-c", CHILD, *args], env=env, capture_output=True, text=True, check=True)
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    samples: dict[str, list[float]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory(prefix="memento-bench-store-") as tmp:
        roots = {name: Path(tmp) / name for name in samples}
        for name, root in roots.items():
            child(getattr(args, name), str(root), str(args.size), "write")
        for _ in range(args.repeat):
            for name, root in roots.items():
                result = json.loads(child(getattr(args, name), str(root), str(args.size), "read"))
                assert result["found"] == args.size, result
                samples[name].append(result["cpu"])
    print(f"store open + get of {args.size} cached configurations, {args.repeat} interleaved runs, CPU time")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"{name:<7} median {median:.3f} s ({1e6 * median / args.size:.1f} us/config), min {min(values):.3f}")
    ratio = statistics.median(samples["after"]) / statistics.median(samples["before"])
    print(f"after / before = {ratio:.3f}")


if __name__ == "__main__":
    main()
