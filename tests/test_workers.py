"""workers.py: CPUs from affinity and cgroup quotas, thread limits, GPU lists
and their split among workers, and what a worker applies; the settings that
choose them (command line, then environment, then ini)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pytest_memento.settings import resolve
from pytest_memento.sources import SettingsError, Sources
from pytest_memento.workers import (
    THREAD_VARIABLES,
    Gpu,
    Shares,
    apply_limits,
    cgroup_cpu_limit,
    gpu_for,
    list_gpus,
    parse_nvidia_smi,
    thread_limit,
    usable_cpus,
    worker_index,
)

SMI = """GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1b2c3d4e-0000-1111-2222-333344445555)
GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-9f8e7d6c-0000-1111-2222-333344445555)
  MIG 1g.10gb     Device  0: (UUID: MIG-aaaa)
"""


def test_usable_cpus_takes_the_affinity_then_caps_by_the_quota() -> None:
    assert usable_cpus(affinity=lambda: {0, 3, 5}, quota=lambda: None, count=lambda: 64) == 3
    assert usable_cpus(affinity=lambda: set(range(16)), quota=lambda: 4, count=lambda: 64) == 4
    assert usable_cpus(affinity=lambda: set(), quota=lambda: None, count=lambda: 8) == 8
    assert usable_cpus(affinity=lambda: set(), quota=lambda: None, count=lambda: None) == 1


def test_usable_cpus_of_this_process_is_its_affinity() -> None:
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("this platform has no sched_getaffinity")
    assert usable_cpus(quota=lambda: None) == len(os.sched_getaffinity(0))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_cgroup_v2_quota_smallest_up_the_tree(tmp_path: Path) -> None:
    root, proc = tmp_path / "cg", tmp_path / "cgroup"
    proc.write_text("0::/slurm/job_7/step_0\n")
    _write(root / "slurm" / "cpu.max", "max 100000\n")
    _write(root / "slurm" / "job_7" / "cpu.max", "600000 100000\n")
    _write(root / "slurm" / "job_7" / "step_0" / "cpu.max", "250000 100000\n")
    assert cgroup_cpu_limit(root, proc) == 2  # 2.5 CPUs: 2 whole ones
    _write(root / "slurm" / "job_7" / "step_0" / "cpu.max", "max 100000\n")
    assert cgroup_cpu_limit(root, proc) == 6
    _write(root / "slurm" / "job_7" / "cpu.max", "50000 100000\n")
    assert cgroup_cpu_limit(root, proc) == 1  # half a CPU still gets one thread


def test_cgroup_v1_quota_and_none_without_one(tmp_path: Path) -> None:
    root, proc = tmp_path / "cg", tmp_path / "cgroup"
    proc.write_text("4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n")
    _write(root / "cpu,cpuacct" / "docker" / "abc" / "cpu.cfs_quota_us", "300000\n")
    _write(root / "cpu,cpuacct" / "docker" / "abc" / "cpu.cfs_period_us", "100000\n")
    assert cgroup_cpu_limit(root, proc) == 3
    _write(root / "cpu,cpuacct" / "docker" / "abc" / "cpu.cfs_quota_us", "-1\n")
    assert cgroup_cpu_limit(root, proc) is None
    assert cgroup_cpu_limit(tmp_path / "nowhere", tmp_path / "missing") is None


@pytest.mark.parametrize(
    ("setting", "cpus", "workers", "expected"),
    [("auto", 16, 8, 2), ("auto", 2, 8, 1), ("auto", 7, 2, 3), (5, 2, 8, 5), ("off", 16, 8, None)],
)
def test_thread_limit(setting: Any, cpus: int, workers: int, expected: int | None) -> None:
    assert thread_limit(setting, cpus, workers) == expected


def test_parse_nvidia_smi_reads_gpus_and_skips_mig_lines() -> None:
    assert parse_nvidia_smi(SMI) == [
        Gpu("0", "NVIDIA H100 80GB HBM3", "GPU-1b2c3d4e-0000-1111-2222-333344445555"),
        Gpu("1", "NVIDIA H100 80GB HBM3", "GPU-9f8e7d6c-0000-1111-2222-333344445555"),
    ]
    assert parse_nvidia_smi("NVIDIA-SMI has failed because it couldn't communicate with the driver") == []


def test_list_gpus_order_of_sources() -> None:
    def smi() -> str:
        return SMI

    assert [g.device for g in list_gpus("auto", {}, smi)] == ["0", "1"]
    # CUDA_VISIBLE_DEVICES wins, named where nvidia-smi knows the index or UUID.
    visible = list_gpus("auto", {"CUDA_VISIBLE_DEVICES": "1, GPU-1b2c3d4e-0000-1111-2222-333344445555,7"}, smi)
    assert [(g.device, g.name is not None) for g in visible] == [
        ("1", True),
        ("GPU-1b2c3d4e-0000-1111-2222-333344445555", True),
        ("7", False),
    ]
    assert visible[0].uuid == "GPU-9f8e7d6c-0000-1111-2222-333344445555"
    assert list_gpus("auto", {"CUDA_VISIBLE_DEVICES": ""}, smi) == []  # set empty: no GPU at all
    assert list_gpus("auto", {"CUDA_VISIBLE_DEVICES": "-1"}, smi) == []  # hidden, as CUDA reads it
    assert [g.device for g in list_gpus("auto", {"CUDA_VISIBLE_DEVICES": "1,-1,0"}, smi)] == ["1"]
    assert [g.device for g in list_gpus(("3", "5"), {"CUDA_VISIBLE_DEVICES": "0"}, lambda: "")] == ["3", "5"]
    assert list_gpus("off", {"CUDA_VISIBLE_DEVICES": "0,1"}, smi) == []
    assert list_gpus("auto", {}, lambda: "") == []  # no nvidia-smi


def test_workers_take_gpus_round_robin() -> None:
    gpus = [Gpu("0"), Gpu("1")]
    assert [gpu_for(f"gw{k}", gpus) for k in range(4)] == [gpus[0], gpus[1], gpus[0], gpus[1]]
    assert gpu_for("gw3", []) is None
    assert worker_index("gw12") == 12
    assert worker_index("main") == 0


def test_shares_count_once_and_split() -> None:
    shares = Shares(2, ("3", "5"), {})
    assert shares.for_worker("gw0", 8) == {
        "memento_threads": 2,
        "memento_gpu": {"index": "3", "name": None, "uuid": None},
    }
    assert shares.for_worker("gw3", 8)["memento_gpu"]["index"] == "5"
    assert Shares("off", "off", {}).for_worker("gw1", 2) == {"memento_threads": None, "memento_gpu": None}


def test_apply_limits_sets_the_variables_and_the_loaded_pools() -> None:
    env: dict[str, str] = {"CUDA_VISIBLE_DEVICES": "0,1"}
    limited: list[int] = []
    apply_limits({"memento_threads": 3, "memento_gpu": {"index": "1"}}, env, limited.append)
    assert {name: env[name] for name in THREAD_VARIABLES} == dict.fromkeys(THREAD_VARIABLES, "3")
    assert env["CUDA_VISIBLE_DEVICES"] == "1"
    assert limited == [3]
    untouched: dict[str, str] = {"OMP_NUM_THREADS": "9"}
    apply_limits({"memento_threads": None, "memento_gpu": None}, untouched, limited.append)
    apply_limits({}, untouched, limited.append)  # not a worker of this plugin
    assert untouched == {"OMP_NUM_THREADS": "9"}
    assert limited == [3]


def _settings(
    tmp_path: Path,
    cli: dict[str, Any] | None = None,
    ini: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> Any:
    return resolve(Sources(cli or {}, ini or {}, env or {}, tmp_path, tmp_path))


def test_settings_precedence(tmp_path: Path) -> None:
    assert (_settings(tmp_path).threads, _settings(tmp_path).gpus) == ("auto", "auto")
    ini = {"memento_threads": "4", "memento_gpus": "off"}
    assert (_settings(tmp_path, ini=ini).threads, _settings(tmp_path, ini=ini).gpus) == (4, "off")
    env = {"MEMENTO_THREADS": "off", "MEMENTO_GPUS": "2,3"}
    assert (_settings(tmp_path, ini=ini, env=env).threads, _settings(tmp_path, ini=ini, env=env).gpus) == (
        "off",
        ("2", "3"),
    )
    cli = {"memento_threads": "AUTO", "memento_gpus": "GPU-abc, 1"}
    both = _settings(tmp_path, cli, ini, env)
    assert (both.threads, both.gpus) == ("auto", ("GPU-abc", "1"))


@pytest.mark.parametrize(
    ("cli", "ini", "env", "message"),
    [
        (
            {"memento_threads": "0"},
            {},
            {},
            "--memento-threads: expected auto, off or a number of threads >= 1, got '0'",
        ),
        ({}, {"memento_threads": "many"}, {}, "memento_threads (ini): expected auto, off or a number"),
        ({}, {}, {"MEMENTO_THREADS": "-2"}, "MEMENTO_THREADS: expected auto"),
        ({"memento_gpus": "0,,1"}, {}, {}, "--memento-gpus: expected auto, off or a comma-separated list"),
        ({}, {"memento_gpus": "0;1"}, {}, "memento_gpus (ini): expected auto, off or a comma-separated list"),
    ],
)
def test_bad_values_name_their_source(
    tmp_path: Path, cli: dict[str, Any], ini: dict[str, Any], env: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        _settings(tmp_path, cli, ini, env)
