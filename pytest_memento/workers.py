"""What each xdist worker gets of the machine: its BLAS/OpenMP thread limit
and its GPU.

The controller counts the CPUs it may use (affinity, then a cgroup CPU
quota) and the GPUs (``CUDA_VISIBLE_DEVICES``, else ``nvidia-smi -L``), and
hands every worker its share through ``workerinput``; the worker applies it
to its own environment (and, through threadpoolctl, to thread pools already
loaded) before experiment code runs. Pure apart from reading ``/proc``,
``/sys/fs/cgroup`` and running ``nvidia-smi``: no pytest.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "THREAD_VARIABLES",
    "Gpu",
    "apply_limits",
    "cgroup_cpu_limit",
    "gpu_for",
    "list_gpus",
    "parse_nvidia_smi",
    "thread_limit",
    "usable_cpus",
    "worker_index",
]

#: The variables BLAS and OpenMP libraries read for their pool size when they load.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)

ThreadSetting = int | Literal["auto", "off"]
GpuSetting = tuple[str, ...] | Literal["auto", "off"]

_CGROUP = Path("/sys/fs/cgroup")
_NVIDIA_LINE = re.compile(r"^GPU (\d+): (.*?)(?: \(UUID: ([^)\s]+)\))?\s*$")


def _quota_v2(directory: Path) -> int | None:
    try:
        quota, period = (directory / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    try:
        return max(1, int(quota) // int(period))
    except (ValueError, ZeroDivisionError):
        return None


def _quota_v1(directory: Path) -> int | None:
    try:
        quota = int((directory / "cpu.cfs_quota_us").read_text())
        period = int((directory / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    if quota <= 0 or period <= 0:
        return None
    return max(1, quota // period)


def _own_cgroups(proc_cgroup: Path) -> list[tuple[str, str]]:
    """(controllers, path) of this process's cgroups; v2's controllers are ''."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) == 3:
            found.append((parts[1], parts[2]))
    return found


def cgroup_cpu_limit(root: Path = _CGROUP, proc_cgroup: Path = Path("/proc/self/cgroup")) -> int | None:
    """Whole CPUs the cgroup quota allows (at least 1), or None without a quota.

    cgroup v2: ``cpu.max`` of this process's cgroup and of each parent, the
    smallest wins; cgroup v1: ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``
    of the ``cpu`` hierarchy (likewise up to its root)."""
    limits: list[int] = []
    for controllers, path in _own_cgroups(proc_cgroup):
        relative = Path(path.lstrip("/"))
        if controllers == "":
            bases, read = [root], _quota_v2
        elif "cpu" in controllers.split(","):
            bases = [root / name for name in ("cpu", "cpu,cpuacct", "cpuacct,cpu")]
            read = _quota_v1
        else:
            continue
        for base in bases:
            directory = base / relative
            while True:
                value = read(directory)
                if value is not None:
                    limits.append(value)
                if directory == base or base not in directory.parents:
                    break
                directory = directory.parent
    return min(limits) if limits else None


def usable_cpus(
    affinity: Callable[[], Sequence[int] | set[int]] | None = None,
    quota: Callable[[], int | None] = cgroup_cpu_limit,
    count: Callable[[], int | None] = os.cpu_count,
) -> int:
    """The CPUs this process may use: its affinity mask (what Slurm's
    ``--cpus-per-task`` and ``taskset`` set) where the platform has one,
    else ``os.cpu_count()``, capped by a cgroup CPU quota (containers)."""
    if affinity is None and hasattr(os, "sched_getaffinity"):

        def affinity() -> set[int]:
            return os.sched_getaffinity(0)

    cpus = len(affinity()) if affinity is not None else 0
    cpus = cpus or count() or 1
    limit = quota()
    return max(1, min(cpus, limit) if limit is not None else cpus)


def thread_limit(setting: ThreadSetting, cpus: int, workers: int) -> int | None:
    """Threads per worker: ``max(1, cpus // workers)`` for ``auto``, the
    number given, or None (``off``: nothing is limited)."""
    if setting == "off":
        return None
    if setting == "auto":
        return max(1, cpus // max(1, workers))
    return setting


@dataclass(frozen=True)
class Gpu:
    """One GPU: ``device`` is what goes into ``CUDA_VISIBLE_DEVICES`` (an
    index or a UUID); name and UUID when ``nvidia-smi`` lists it."""

    device: str
    name: str | None = None
    uuid: str | None = None

    def record(self) -> dict[str, Any]:
        return {"index": self.device, "name": self.name, "uuid": self.uuid}


def parse_nvidia_smi(text: str) -> list[Gpu]:
    """The GPUs of ``nvidia-smi -L`` output (``GPU 0: NVIDIA H100 (UUID: GPU-...)``);
    other lines (MIG devices) are ignored."""
    found = []
    for line in text.splitlines():
        match = _NVIDIA_LINE.match(line.strip())
        if match:
            found.append(Gpu(match[1], match[2].strip() or None, match[3]))
    return found


def _nvidia_smi() -> str:
    try:
        done = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout if done.returncode == 0 else ""


def list_gpus(setting: GpuSetting, env: Mapping[str, str], smi: Callable[[], str] = _nvidia_smi) -> list[Gpu]:
    """The GPUs to share among workers: the list given, else
    ``CUDA_VISIBLE_DEVICES`` when set (empty: none), else what ``nvidia-smi
    -L`` lists (absent or failing: none). Entries are named and given their
    UUID where ``nvidia-smi`` lists them (by index or UUID)."""
    if setting == "off":
        return []
    if setting != "auto":
        devices: list[str] | None = list(setting)
    elif "CUDA_VISIBLE_DEVICES" in env:
        devices = [part.strip() for part in env["CUDA_VISIBLE_DEVICES"].split(",") if part.strip()]
        # CUDA stops at the first invalid entry: "-1" (a common way to hide every GPU) and what follows it.
        negative = [i for i, device in enumerate(devices) if device.startswith("-")]
        devices = devices[: negative[0]] if negative else devices
        if not devices:
            return []
    else:
        devices = None
    listed = parse_nvidia_smi(smi())
    if devices is None:
        return listed
    known = {gpu.device: gpu for gpu in listed} | {gpu.uuid: gpu for gpu in listed if gpu.uuid}
    return [
        Gpu(device, known[device].name, known[device].uuid) if device in known else Gpu(device) for device in devices
    ]


def worker_index(workerid: str) -> int:
    """K of xdist's ``gwK`` (0 for anything else)."""
    digits = workerid[2:] if workerid.startswith("gw") else ""
    return int(digits) if digits.isdigit() else 0


def gpu_for(workerid: str, gpus: Sequence[Gpu]) -> Gpu | None:
    """Worker ``gwK``'s GPU: the ``K mod G``-th (None without GPUs)."""
    return gpus[worker_index(workerid) % len(gpus)] if gpus else None


def _limit_loaded_pools(threads: int) -> Any:
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
    except ImportError:  # nothing to limit beyond the variables
        return None
    return threadpool_limits(limits=threads)


def apply_limits(
    workerinput: Mapping[str, Any],
    env: MutableMapping[str, str],
    limit_loaded: Callable[[int], Any] = _limit_loaded_pools,
) -> None:
    """On a worker: set the thread variables and ``CUDA_VISIBLE_DEVICES``
    the controller chose (``memento_threads``, ``memento_gpu``), and limit
    the pools of libraries already loaded (a conftest that imported numpy)."""
    threads = workerinput.get("memento_threads")
    if isinstance(threads, int) and threads > 0:
        for name in THREAD_VARIABLES:
            env[name] = str(threads)
        limit_loaded(threads)
    gpu = workerinput.get("memento_gpu")
    if isinstance(gpu, dict) and gpu.get("index"):
        env["CUDA_VISIBLE_DEVICES"] = str(gpu["index"])


@dataclass
class Shares:
    """The controller's count of CPUs and GPUs, taken once (at the first
    worker), and each worker's part of them as ``workerinput`` entries."""

    threads: ThreadSetting
    gpus: GpuSetting
    env: Mapping[str, str]
    counted: tuple[int, list[Gpu]] | None = None

    def for_worker(self, workerid: str, workers: int) -> dict[str, Any]:
        if self.counted is None:
            cpus = usable_cpus() if self.threads == "auto" else 1
            self.counted = (cpus, list_gpus(self.gpus, self.env))
        cpus, gpus = self.counted
        gpu = gpu_for(workerid, gpus)
        return {
            "memento_threads": thread_limit(self.threads, cpus, workers),
            "memento_gpu": gpu.record() if gpu is not None else None,
        }
