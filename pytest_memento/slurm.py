"""Submit a grid as a Slurm job array and wait for it (``memento slurm``).

Each array task runs ``pytest ... --memento-shard auto`` against one shared
store; ``--requeue`` and ``--signal=B:TERM@<grace>`` make a preempted or
timed-out task stop cleanly (results written, checkpoints kept) and come
back, skipping what is finished. Standard library only: it drives
``sbatch`` and ``squeue``.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ArrayJob", "SlurmError", "submit", "wait"]


class SlurmError(Exception):
    """Slurm refused the job or cannot be reached."""


@dataclass(frozen=True)
class ArrayJob:
    """What to submit: pytest arguments, the store, the array size."""

    pytest_args: tuple[str, ...]
    store: Path
    tasks: int
    workdir: Path
    python: str = sys.executable
    job_name: str = "memento"
    time_limit: str | None = None
    partition: str | None = None
    grace: int = 120
    extra_sbatch: tuple[str, ...] = field(default_factory=tuple)

    def script(self) -> str:
        """The sbatch script (also kept in ``<store>/slurm/`` for the record)."""
        logs = self.store / "slurm"
        directives = [
            f"--job-name={self.job_name}",
            f"--array=1-{self.tasks}",
            "--requeue",
            # SIGTERM to the task (python, via exec) before the time limit:
            # pytest-memento stops like Ctrl-C and keeps checkpoints.
            f"--signal=B:TERM@{self.grace}",
            f"--output={logs}/%A_%a.out",
            "--ntasks=1",
        ]
        if self.time_limit:
            directives.append(f"--time={self.time_limit}")
        if self.partition:
            directives.append(f"--partition={self.partition}")
        directives += list(self.extra_sbatch)
        command = [
            self.python,
            "-m",
            "pytest",
            *self.pytest_args,
            "--memento-dir",
            str(self.store),
            "--memento-shard",
            "auto",
        ]
        lines = [
            "#!/bin/bash",
            *(f"#SBATCH {directive}" for directive in directives),
            f"cd {shlex.quote(str(self.workdir))}",
        ]
        lines.append("exec " + " ".join(shlex.quote(part) for part in command))
        return "\n".join(lines) + "\n"


def _run(command: list[str]) -> str:
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except FileNotFoundError:
        raise SlurmError(f"{command[0]} not found: is this a Slurm login node?") from None
    except subprocess.TimeoutExpired:
        raise SlurmError(f"{' '.join(command)} did not answer within 60 s") from None
    if completed.returncode != 0:
        raise SlurmError(f"{' '.join(command)} failed: {completed.stderr.strip() or completed.stdout.strip()}")
    return completed.stdout


def submit(job: ArrayJob) -> str:
    """Write the script beside the store's other Slurm files, submit it,
    and return the job id."""
    if job.tasks < 1:
        raise SlurmError(f"--tasks must be 1 or more, got {job.tasks}")
    folder = job.store / "slurm"
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / f"{job.job_name}-{time.strftime('%Y%m%d-%H%M%S')}.sbatch"
    script.write_text(job.script())
    output = _run(["sbatch", "--parsable", str(script)])
    return output.strip().split(";")[0]


def wait(job_id: str, *, poll: float = 0.5, timeout: float | None = None) -> None:
    """Return once no task of ``job_id`` is pending or running (polls
    ``squeue``: ``sbatch --wait`` polls far less often)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while _run(["squeue", "-h", "-j", job_id, "-o", "%i"]).strip():
        if deadline is not None and time.monotonic() > deadline:
            raise SlurmError(f"job {job_id} still runs after {timeout:.0f} s")
        time.sleep(poll)
