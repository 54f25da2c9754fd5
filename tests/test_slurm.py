"""A real single-node Slurm cluster runs a grid as a job array.

The fixture starts munged, slurmctld and slurmd on localhost from Debian's
packages (``.ci/run`` installs them), with every state, pid and log file in
a temporary folder, and stops the daemons by the PIDs in their pid files.
Where the packages are missing or the daemons cannot start (not root, no
packages), the test is skipped and says why.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import outcomes, stored

pytestmark = pytest.mark.slurm

BINARIES = ("slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "sinfo", "munged", "munge")


def _run(*command: str, env: dict[str, str] | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, check=False)


def _munge_running() -> bool:
    encoded = _run("munge", "-n")
    return (
        encoded.returncode == 0
        and subprocess.run(["unmunge"], input=encoded.stdout, capture_output=True, text=True).returncode == 0
    )


def _start_munge() -> str | None:
    if _munge_running():
        return None
    Path("/run/munge").mkdir(parents=True, exist_ok=True)
    shutil.chown("/run/munge", "munge", "munge")
    started = _run("setpriv", "--reuid=munge", "--regid=munge", "--init-groups", "/usr/sbin/munged")
    if started.returncode != 0:
        return f"munged did not start: {started.stderr.strip()}"
    for _ in range(50):
        if _munge_running():
            return None
        time.sleep(0.1)
    return "munged started but does not answer"


def _node_line() -> str:
    probe = _run("slurmd", "-C").stdout
    cpus = re.search(r"CPUs=(\d+)", probe)
    memory = re.search(r"RealMemory=(\d+)", probe)
    # Advertise 4 CPUs so four array tasks run at once on 2 cores (no cgroups enforce it).
    count = max(4, int(cpus.group(1)) if cpus else 1)
    real = int(int(memory.group(1)) * 0.95) if memory else 1000
    return (
        f"NodeName=localhost NodeAddr=127.0.0.1 CPUs={count} Boards=1 SocketsPerBoard=1 CoresPerSocket={count} "
        f"ThreadsPerCore=1 RealMemory={real} State=UNKNOWN"
    )


@pytest.fixture(scope="module")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment (``SLURM_CONF``) of a running one-node cluster."""
    missing = [name for name in BINARIES if shutil.which(name) is None]
    if missing:
        pytest.skip(
            f"Slurm is not installed here (missing {', '.join(missing)}); .ci/run installs slurmctld slurmd slurm-client munge"
        )
    if os.geteuid() != 0:
        pytest.skip("starting slurmctld and slurmd needs root")
    problem = _start_munge()
    if problem:
        pytest.skip(problem)
    base = tmp_path_factory.mktemp("slurm")
    for name in ("state", "spool"):
        (base / name).mkdir()
    conf = base / "slurm.conf"
    conf.write_text(
        "\n".join(
            [
                "ClusterName=memento",
                "SlurmctldHost=localhost",
                "SlurmUser=root",
                "SlurmdUser=root",
                f"StateSaveLocation={base / 'state'}",
                f"SlurmdSpoolDir={base / 'spool'}",
                f"SlurmctldPidFile={base / 'slurmctld.pid'}",
                f"SlurmdPidFile={base / 'slurmd.pid'}",
                f"SlurmctldLogFile={base / 'slurmctld.log'}",
                f"SlurmdLogFile={base / 'slurmd.log'}",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_CPU",
                "AccountingStorageType=accounting_storage/none",
                "JobCompType=jobcomp/none",
                "JobAcctGatherType=jobacct_gather/none",
                "MailProg=/bin/true",
                "MinJobAge=2",
                "ReturnToService=2",
                # The node advertises more CPUs than it has (see _node_line).
                "SlurmdParameters=config_overrides",
                _node_line(),
                "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP",
                "",
            ]
        )
    )
    env = {**os.environ, "SLURM_CONF": str(conf)}
    started = [
        _run("slurmctld", "-f", str(conf), "-i", env=env),
        _run("slurmd", "-f", str(conf), "-N", "localhost", env=env),
    ]
    try:
        for result in started:
            if result.returncode != 0:
                pytest.skip(f"a Slurm daemon did not start: {result.stderr.strip() or result.stdout.strip()}")
        deadline = time.monotonic() + 60
        while True:
            ping = _run("scontrol", "ping", env=env).stdout
            state = _run("sinfo", "-h", "-o", "%T", env=env).stdout.strip()
            if "UP" in ping and state == "idle":
                break
            if time.monotonic() > deadline:
                logs = "".join(
                    (base / name).read_text()[-800:]
                    for name in ("slurmctld.log", "slurmd.log")
                    if (base / name).exists()
                )
                pytest.skip(f"the cluster did not become idle (ping {ping.strip()!r}, state {state!r}): {logs}")
            time.sleep(0.2)
        yield env
    finally:
        for name in ("slurmd.pid", "slurmctld.pid"):
            pid_file = base / name
            if pid_file.exists():
                with contextlib.suppress(ValueError, ProcessLookupError):
                    os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)


GRID = """
import os, time
import pytest_memento as memento

@memento.matrix(parameters={"model": ["a", "b"], "seed": range(4)})
def train(config, checkpoint):
    step = checkpoint.load(default=0)
    while step < 3:
        time.sleep(0.1)
        step += 1
        checkpoint.save(step)
    return {"score": config.seed + (10 if config.model == "b" else 0), "task": int(os.environ["SLURM_ARRAY_TASK_ID"])}
"""


def test_memento_slurm_runs_a_job_array_on_one_store(pytester: pytest.Pytester, slurm: dict[str, str]) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_grid=GRID)
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_memento",
            "--dir",
            str(pytester.path / ".memento"),
            "slurm",
            "--tasks",
            "4",
            "--timeout",
            "240",
            "test_grid.py",
            "--",
            "-p",
            "no:cacheprovider",
        ],
        cwd=pytester.path,
        env=slurm,
        capture_output=True,
        text=True,
        timeout=300,
    )
    logs = "".join(path.read_text() for path in sorted((pytester.path / ".memento" / "slurm").glob("*.out")))
    assert completed.returncode == 0, completed.stderr + logs
    assert "submitted job array" in completed.stderr
    # The merged table of every shard, printed from the store.
    # (compact Markdown: one heading per experiment, then one row per configuration)
    assert "**test_grid.py::train**: 8 configuration(s) (8 stored)" in completed.stdout, completed.stdout + logs
    rows = [line for line in completed.stdout.splitlines() if line.startswith(("| a |", "| b |"))]
    assert len(rows) == 8, completed.stdout + logs
    records = stored(pytester.path)
    assert len(records) == 8
    # Four array tasks, two configurations each (sorted by key, dealt round-robin).
    tasks = sorted(record["metrics"]["task"] for record in records)
    assert tasks == [1, 1, 2, 2, 3, 3, 4, 4]
    # Afterwards a plain run has nothing left to do.
    assert outcomes(pytester.runpytest_subprocess("-p", "no:xdist")) == {"cached": 8}
