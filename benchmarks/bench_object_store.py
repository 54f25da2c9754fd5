"""A store in S3 against the local store, measured in the same run.

Starts moto's S3 server (``moto[server]``) on a free 127.0.0.1 port, then:

- a trivial grid of ``--size`` configurations (default 2,000) run with
  ``-p no:xdist``: cold (empty store), cached (same store, same cache), and
  for S3 also cached on a "new machine" (the cache directory emptied, so
  every segment is downloaded), against the same runs on a local store; the
  systems interleaved over ``--repeat`` repetitions, wall time, medians;
- checkpoint save and load of an 8 MB numpy array (``--mb``), local against
  S3 (each save uploads the whole checkpoint, each load of a fresh machine
  downloads it), medians of ``--saves`` of each.

Usage (from the repository root, with ``pip install -e '.[test]'``)::

    python benchmarks/bench_object_store.py [--size 2000] [--repeat 3] [--saves 10] [--mb 8]

Prints the medians and the ratios S3 / local. No targets are asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

GRID = """
import pytest_memento as memento

@memento.matrix(parameters={{"i": list(range({size}))}})
def exp(config):
    return {{"v": config.i * 2}}
"""


@contextmanager
def moto_server() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise SystemExit("the moto server did not start (pip install 'moto[server]')")
        yield endpoint
    finally:
        os.kill(server.pid, signal.SIGTERM)
        server.wait(timeout=10)


def run_grid(project: Path, store: str, env: dict[str, str], expect: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:xdist", f"--memento-dir={store}"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or expect not in done.stdout:
        raise SystemExit(f"unexpected run ({expect!r} not found):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return elapsed


def grid_figures(args: argparse.Namespace, env: dict[str, str], bucket: str, tmp: Path) -> None:
    project = tmp / "project"
    project.mkdir()
    (project / "test_grid.py").write_text(GRID.format(size=args.size))
    (project / "pytest.ini").write_text("[pytest]\n")
    samples: dict[str, list[float]] = {}
    cache = tmp / "cache"
    for repetition in range(args.repeat):
        local = project / f".memento-{repetition}"
        url = f"{bucket}/grid-{repetition}"
        run_env = {**env, "MEMENTO_CACHE_DIR": str(cache)}
        for name, store in (("local", str(local)), ("s3", url)):
            samples.setdefault(f"{name} cold", []).append(run_grid(project, store, run_env, f"{args.size} passed"))
        for name, store in (("local", str(local)), ("s3", url)):
            samples.setdefault(f"{name} cached", []).append(run_grid(project, store, run_env, f"{args.size} cached"))
        shutil.rmtree(cache)
        samples.setdefault("s3 cached, new machine", []).append(run_grid(project, url, run_env, f"{args.size} cached"))
    print(
        f"\ntrivial grid of {args.size} configurations, -p no:xdist, {args.repeat} interleaved repetitions, wall time"
    )
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"  {name:<24} median {median:6.2f} s  ({1e3 * median / args.size:.2f} ms/config)  min {min(values):.2f}")
    for what in ("cold", "cached"):
        ratio = statistics.median(samples[f"s3 {what}"]) / statistics.median(samples[f"local {what}"])
        print(f"  s3 / local, {what}: {ratio:.2f}")
    ratio = statistics.median(samples["s3 cached, new machine"]) / statistics.median(samples["local cached"])
    print(f"  s3 cached on a new machine / local cached: {ratio:.2f}")


def checkpoint_figures(args: argparse.Namespace, bucket: str, tmp: Path) -> None:
    import numpy

    from pytest_memento.checkpoint import Checkpoint, checkpoint_path
    from pytest_memento.remote_store import MirroredStore, StoreLocation

    state = {"weights": numpy.random.default_rng(0).random(args.mb * (1 << 20) // 8)}
    key = "c" * 64
    local_root = tmp / "ckpt-local"
    results: dict[str, list[float]] = {"local save": [], "s3 save": [], "local load": [], "s3 load, new machine": []}
    remote = MirroredStore(StoreLocation(tmp / "ckpt-cache-0", f"{bucket}/checkpoints"))
    remote.create()
    for index in range(args.saves):
        local = Checkpoint(checkpoint_path(local_root, key), key=key)
        started = time.perf_counter()
        local.save(state)
        results["local save"].append(time.perf_counter() - started)
        uploader = remote.open_checkpoint(key, label={}, fingerprint=None, fresh=True, signer=None)
        started = time.perf_counter()
        uploader.save(state)
        results["s3 save"].append(time.perf_counter() - started)
        started = time.perf_counter()
        loaded = Checkpoint(checkpoint_path(local_root, key), key=key).load()
        results["local load"].append(time.perf_counter() - started)
        assert loaded is not None
        assert loaded["weights"].nbytes == state["weights"].nbytes
        fresh = MirroredStore(StoreLocation(tmp / f"ckpt-cache-{index + 1}", f"{bucket}/checkpoints"))
        started = time.perf_counter()
        resumed = fresh.open_checkpoint(key, label={}, fingerprint=None, fresh=False, signer=None).load()
        results["s3 load, new machine"].append(time.perf_counter() - started)
        assert resumed is not None
        assert (resumed["weights"] == state["weights"]).all()
    print(f"\ncheckpoint of a {args.mb} MB numpy array, {args.saves} of each, wall time")
    for name, values in results.items():
        print(f"  {name:<22} median {1e3 * statistics.median(values):7.1f} ms  min {1e3 * min(values):7.1f}")
    save = statistics.median(results["s3 save"]) / statistics.median(results["local save"])
    load = statistics.median(results["s3 load, new machine"]) / statistics.median(results["local load"])
    print(f"  s3 / local: save {save:.1f}x, load {load:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--saves", type=int, default=10)
    parser.add_argument("--mb", type=int, default=8)
    args = parser.parse_args()
    with moto_server() as endpoint, tempfile.TemporaryDirectory(prefix="memento-bench-s3-") as tmp_text:
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint,
        }
        os.environ.update(
            {
                name: env[name]
                for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL")
            }
        )
        import s3fs

        s3fs.S3FileSystem().mkdir("memento-bench")
        print(f"moto S3 server at {endpoint}; python {sys.version.split()[0]}; {os.cpu_count()} CPUs")
        tmp = Path(tmp_text)
        grid_figures(args, env, "s3://memento-bench", tmp)
        checkpoint_figures(args, "s3://memento-bench", tmp)


if __name__ == "__main__":
    main()
