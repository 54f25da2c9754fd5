"""End to end: what each xdist worker sees of the machine, observed from
inside the experiments (each writes what it saw to a marker file of its
worker): thread variables and loaded BLAS pools, ``CUDA_VISIBLE_DEVICES``,
and what the stored records say."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from conftest import outcomes, stored

from pytest_memento.workers import THREAD_VARIABLES

PROBE = f"""
import json, os, pathlib
import pytest_memento as memento

HERE = pathlib.Path(__file__).parent
VARIABLES = {THREAD_VARIABLES!r}

@memento.matrix(parameters={{"run": list(range(12))}})
def probe(config):
    from threadpoolctl import threadpool_info
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    seen = {{
        "threads": {{name: os.environ.get(name) for name in VARIABLES}},
        "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "pools": sorted({{pool["num_threads"] for pool in threadpool_info()}}),
    }}
    (HERE / f"seen-{{worker}}-{{config.run}}.json").write_text(json.dumps(seen))
    return {{"ok": 1}}
"""

#: Loads numpy's BLAS before pytest_configure: only threadpoolctl can limit it then.
CONFTEST = "import numpy  # noqa: F401\n"

SMI = """#!/bin/sh
echo "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-00000000-1111-2222-3333-444444444444)"
echo "GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-55555555-6666-7777-8888-999999999999)"
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in (*THREAD_VARIABLES, "CUDA_VISIBLE_DEVICES", "MEMENTO_THREADS", "MEMENTO_GPUS"):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(test_probe=PROBE)
    pytester.makeconftest(CONFTEST)
    return pytester


def seen(path: Path) -> dict[str, list[dict[str, Any]]]:
    """What each worker saw, by worker id."""
    found: dict[str, list[dict[str, Any]]] = {}
    for marker in sorted(path.glob("seen-*.json")):
        found.setdefault(marker.name.split("-")[1], []).append(json.loads(marker.read_text()))
    return found


def run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    result = project.runpytest_subprocess("-p", "no:randomly", *args)
    assert outcomes(result) == {"passed": 12}, result.stdout.str()
    return result


def test_each_worker_is_limited_to_its_share_of_the_cpus(project: pytest.Pytester) -> None:
    run(project, "-n", "2")
    expected = max(1, len(os.sched_getaffinity(0)) // 2) if hasattr(os, "sched_getaffinity") else 1
    by_worker = seen(project.path)
    assert set(by_worker) <= {"gw0", "gw1"}
    assert by_worker
    for saw in [s for views in by_worker.values() for s in views]:
        assert saw["threads"] == dict.fromkeys(THREAD_VARIABLES, str(expected))
        assert saw["pools"] == [expected]  # numpy loaded by the conftest, limited through threadpoolctl
    assert {record["threads"] for record in stored(project.path)} == {expected}


def test_an_explicit_thread_count_and_off(project: pytest.Pytester) -> None:
    run(project, "-n", "2", "--memento-threads", "3")
    views = [s for v in seen(project.path).values() for s in v]
    assert all(s["threads"] == dict.fromkeys(THREAD_VARIABLES, "3") and s["pools"] == [3] for s in views)
    assert {record["threads"] for record in stored(project.path)} == {3}
    for marker in project.path.glob("seen-*.json"):
        marker.unlink()
    run(project, "-n", "2", "--memento-threads", "off", "--memento-rerun")
    views = [s for v in seen(project.path).values() for s in v]
    assert views
    assert all(s["threads"] == dict.fromkeys(THREAD_VARIABLES) for s in views)
    assert {record["threads"] for record in stored(project.path)} == {None}


def test_without_xdist_nothing_changes(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # set when this suite itself runs under xdist
    run(project, "-p", "no:xdist")
    views = seen(project.path)["main"]
    assert all(s["threads"] == dict.fromkeys(THREAD_VARIABLES) and s["cuda"] == "0,1" for s in views)
    assert {(r["threads"], r["gpu"]) for r in stored(project.path)} == {(None, None)}


@pytest.mark.parametrize("workers", [2, 4])
def test_each_worker_sees_exactly_its_gpu(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    run(project, "-n", str(workers))
    by_worker = seen(project.path)
    assert len(by_worker) >= 2  # the grid was spread
    for worker, views in by_worker.items():
        assert {s["cuda"] for s in views} == {str(int(worker[2:]) % 2)}
    records = stored(project.path)
    assert {(r["worker"], r["gpu"]["index"]) for r in records} == {(w, str(int(w[2:]) % 2)) for w in by_worker}


def test_an_explicit_gpu_list_and_off(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    run(project, "-n", "2", "--memento-gpus", "3,5")
    for worker, views in seen(project.path).items():
        assert {s["cuda"] for s in views} == {"35"[int(worker[2:]) % 2]}
    for marker in project.path.glob("seen-*.json"):
        marker.unlink()
    run(project, "-n", "2", "--memento-gpus", "off", "--memento-rerun")
    assert {s["cuda"] for v in seen(project.path).values() for s in v} == {"0,1"}
    assert {r["gpu"] for r in stored(project.path)} == {None}


def test_gpus_from_nvidia_smi_are_recorded_with_name_and_uuid(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = project.path / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text(SMI)
    smi.chmod(smi.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    run(project, "-n", "2")
    for worker, views in seen(project.path).items():
        assert {s["cuda"] for s in views} == {worker[2:]}
    gpus = {r["worker"]: r["gpu"] for r in stored(project.path)}
    assert gpus
    for worker, gpu in gpus.items():
        assert gpu["name"] == "NVIDIA H100 80GB HBM3"
        assert gpu["index"] == worker[2:]
        assert (
            gpu["uuid"]
            == ("GPU-00000000-1111-2222-3333-444444444444", "GPU-55555555-6666-7777-8888-999999999999")[int(worker[2:])]
        )


def test_a_bad_value_is_a_usage_error(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("-n", "2", "--memento-threads", "lots")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--memento-threads: expected auto, off or a number of threads >= 1, got 'lots'"])
    assert "Traceback" not in result.stderr.str()
