"""Cost of ``checkpoint.save`` / ``load`` against a raw write of the same bytes.

For a small dict, an 8 MB and a 256 MB float64 array, measured in the same
run: median latency of a checkpoint save, a raw ``open().write()`` +
``os.replace`` of the array's bytes, a checkpoint load and a raw read; and the
extra peak memory of one save, in copies of the array (each measurement runs
in its own process so ``ru_maxrss`` starts from the array alone).

Targets: small dict save <= 1 ms; large array save <= 1.5 x raw write; at most
one extra copy in memory. Usage:

    python benchmarks/bench_checkpoint.py [--repeat 5] [--sizes 8,256]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def child(kind: str, megabytes: int, repeat: int, directory: Path) -> dict[str, float]:
    import numpy as np

    from pytest_memento.checkpoint import Checkpoint

    if megabytes == 0:
        state: object = {"epoch": 3, "loss": 0.25, "history": list(range(20))}
        raw_bytes = json.dumps(state).encode()
    else:
        array = np.random.default_rng(0).random(megabytes * 1024 * 1024 // 8)
        state = {"epoch": 3, "weights": array}
        raw_bytes = array.data  # type: ignore[assignment]
    key = hashlib.sha256(b"bench").hexdigest()
    checkpoint = Checkpoint(directory / "c.ckpt", key=key)
    before = peak_rss()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        if kind == "save":
            checkpoint.save(state)
        elif kind == "raw-write":
            tmp = directory / "raw.tmp"
            with open(tmp, "wb") as handle:
                handle.write(raw_bytes)
            os.replace(tmp, directory / "raw.bin")
        elif kind == "load":
            checkpoint.load()
        elif kind == "raw-read":
            (directory / "raw.bin").read_bytes()
        times.append(time.perf_counter() - started)
    size = max(1, megabytes * 1024 * 1024)
    return {
        "median": statistics.median(times),
        "min": min(times),
        "max": max(times),
        "extra_copies": (peak_rss() - before) / size,
    }


def measure(kind: str, megabytes: int, repeat: int, directory: Path) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", kind, str(megabytes), str(repeat), str(directory)]
    completed = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(completed.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sizes", default="8,256", help="array sizes in MB (a small dict is always measured)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, megabytes, repeat, directory = args.child
        print(json.dumps(child(kind, int(megabytes), int(repeat), Path(directory))))
        return
    sizes = [0, *(int(size) for size in args.sizes.split(","))]
    print(f"checkpoint save/load vs raw write/read, median of {args.repeat} (own process per line)")
    with tempfile.TemporaryDirectory(prefix="memento-ckpt-bench-") as tmp:
        for megabytes in sizes:
            directory = Path(tmp) / str(megabytes)
            directory.mkdir()
            # Interleaved, in the same run: raw first so the file exists to read.
            raw_write = measure("raw-write", megabytes, args.repeat, directory)
            save = measure("save", megabytes, args.repeat, directory)
            load = measure("load", megabytes, args.repeat, directory)
            raw_read = measure("raw-read", megabytes, args.repeat, directory)
            label = "small dict" if megabytes == 0 else f"{megabytes} MB array"
            print(
                f"{label:<13} save {1000 * save['median']:8.2f} ms  raw write {1000 * raw_write['median']:8.2f} ms"
                f"  ratio {save['median'] / raw_write['median']:5.2f}"
                f"  | load {1000 * load['median']:8.2f} ms  raw read {1000 * raw_read['median']:8.2f} ms"
                + (f"  | extra memory on save: {save['extra_copies']:.2f} copies" if megabytes else "")
            )
            if megabytes == 0:
                verdict = "pass" if save["median"] <= 0.001 else "MISS"
                print(f"  target small dict save <= 1 ms: {verdict}")
            else:
                ratio_ok = save["median"] <= 1.5 * raw_write["median"]
                memory_ok = save["extra_copies"] <= 1.0
                print(
                    f"  target save <= 1.5 x raw write: {'pass' if ratio_ok else 'MISS'}; <= 1 extra copy: {'pass' if memory_ok else 'MISS'}"
                )


if __name__ == "__main__":
    main()
