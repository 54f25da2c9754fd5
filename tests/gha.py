"""A small stand-in for a GitHub Actions runner, enough to run the shipped
workflows' steps in order on this machine (tests/test_workflow.py).

Each job gets a fresh checkout of the project; ``run:`` steps run in bash
with ``-eo pipefail`` and the variables a runner sets (``GITHUB_*``,
``RUNNER_TEMP``, ``CI``), ``${{ matrix.* }}`` and ``${{ github.* }}``
expanded; ``if: always()`` steps run after a failure, others are skipped.
The actions the workflows use are emulated by what they do: checkout copies
the project, setup-python puts a virtual environment's ``bin`` first on
``PATH``, cache restores by key then by ``restore-keys`` prefix and saves
after a successful job, upload/download-artifact copy folders.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXPRESSION = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


@dataclass
class StepResult:
    name: str
    returncode: int
    output: str
    skipped: bool = False


@dataclass
class Runner:
    """Runs the jobs of workflow files against a copy of ``project``."""

    project: Path
    root: Path
    venv: Path
    sha: str = "0123456789abcdef0123456789abcdef01234567"
    ref_name: str = "main"
    caches: Path = field(init=False)
    artifacts: Path = field(init=False)

    def __post_init__(self) -> None:
        self.caches = self.root / "caches"
        self.artifacts = self.root / "artifacts"
        self.caches.mkdir(parents=True, exist_ok=True)
        self.artifacts.mkdir(parents=True, exist_ok=True)

    def run_workflow(self, path: Path) -> dict[str, list[StepResult]]:
        """Every job (and matrix combination) in ``needs`` order; returns the
        steps of each, keyed ``job`` or ``job (shard=1)``."""
        workflow = yaml.safe_load(path.read_text())
        jobs: Mapping[str, Any] = workflow["jobs"]
        done: dict[str, list[StepResult]] = {}
        order: list[str] = []
        while len(order) < len(jobs):
            for name, job in jobs.items():
                needs = job.get("needs", [])
                needs = [needs] if isinstance(needs, str) else needs
                if name not in order and all(n in order for n in needs):
                    order.append(name)
        for name in order:
            job = jobs[name]
            for matrix in self._combinations(job):
                label = name + (f" ({', '.join(f'{k}={v}' for k, v in matrix.items())})" if matrix else "")
                done[label] = self.run_job(label, job, matrix)
        return done

    @staticmethod
    def _combinations(job: Mapping[str, Any]) -> list[dict[str, Any]]:
        matrix = (job.get("strategy") or {}).get("matrix") or {}
        combos: list[dict[str, Any]] = [{}]
        for key, values in matrix.items():
            combos = [{**combo, key: value} for combo in combos for value in values]
        return combos

    def _expand(self, text: str, matrix: Mapping[str, Any]) -> str:
        def value(match: re.Match[str]) -> str:
            expression = match.group(1)
            scope, _, name = expression.partition(".")
            if scope == "matrix":
                return str(matrix[name])
            if scope == "github":
                return {"sha": self.sha, "ref_name": self.ref_name, "workspace": str(self.workspace)}[name]
            raise AssertionError(f"the emulated runner does not know ${{{{ {expression} }}}}")

        return EXPRESSION.sub(value, text)

    def run_job(self, label: str, job: Mapping[str, Any], matrix: Mapping[str, Any]) -> list[StepResult]:
        slug = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-")
        self.workspace = self.root / "work" / slug
        temp = self.root / "temp" / slug
        shutil.rmtree(self.workspace, ignore_errors=True)
        temp.mkdir(parents=True, exist_ok=True)
        summary = temp / "step_summary.md"
        env = {
            **os.environ,
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_SHA": self.sha,
            "GITHUB_REF_NAME": self.ref_name,
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_STEP_SUMMARY": str(summary),
            "RUNNER_TEMP": str(temp),
        }
        for name in ("VIRTUAL_ENV", "PYTHONPATH", "PYTEST_ADDOPTS", "MEMENTO_DIR"):
            env.pop(name, None)
        results: list[StepResult] = []
        failed = False
        saves: list[tuple[Path, str]] = []
        for step in job["steps"]:
            name = self._expand(str(step.get("name") or step.get("uses") or step.get("run", ""))[:60], matrix)
            condition = str(step.get("if", "success()"))
            if failed and "always()" not in condition:
                results.append(StepResult(name, 0, "", skipped=True))
                continue
            code, output = self._step(step, matrix, env, saves)
            results.append(StepResult(name, code, output))
            failed = failed or code != 0
        if not failed:
            for path, key in saves:
                target = self.caches / key
                if not target.exists() and path.exists():
                    shutil.copytree(path, target, symlinks=True)
        return results

    def _step(
        self, step: Mapping[str, Any], matrix: Mapping[str, Any], env: dict[str, str], saves: list[tuple[Path, str]]
    ) -> tuple[int, str]:
        inputs = {k: self._expand(str(v), matrix) for k, v in (step.get("with") or {}).items()}
        uses = str(step.get("uses", ""))
        if uses.startswith("actions/checkout@"):
            ignore = shutil.ignore_patterns(".git", ".venv", ".memento", "_work", "__pycache__", ".pytest_cache")
            shutil.copytree(self.project, self.workspace, ignore=ignore)
            return 0, "checked out"
        if uses.startswith("actions/setup-python@"):
            env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env['PATH']}"
            return 0, f"python from {self.venv}"
        if uses.startswith("actions/cache@"):
            path = self.workspace / inputs["path"]
            key = inputs["key"]
            prefixes = [line.strip() for line in inputs.get("restore-keys", "").splitlines() if line.strip()]
            hit = self.caches / key if (self.caches / key).exists() else None
            if hit is None:
                for prefix in prefixes:
                    found = sorted(
                        (p for p in self.caches.iterdir() if p.name.startswith(prefix)), key=os.path.getmtime
                    )
                    if found:
                        hit = found[-1]
                        break
            if hit is not None:
                shutil.copytree(hit, path, symlinks=True, dirs_exist_ok=True)
            saves.append((path, key))
            return 0, f"cache {'restored from ' + hit.name if hit else 'missed'}"
        if uses.startswith("actions/upload-artifact@"):
            source = self.workspace / inputs["path"]
            target = self.artifacts / inputs["name"]
            shutil.rmtree(target, ignore_errors=True)
            if source.is_dir():
                shutil.copytree(source, target, symlinks=True)
            elif source.exists():
                target.mkdir(parents=True)
                shutil.copy2(source, target / source.name)
            else:
                return 1, f"upload-artifact: {source} does not exist"
            return 0, f"uploaded {inputs['name']}"
        if uses.startswith("actions/download-artifact@"):
            into = self.workspace / inputs.get("path", ".")
            for artifact in sorted(self.artifacts.iterdir()):
                if fnmatch.fnmatch(artifact.name, inputs.get("pattern", "*")):
                    shutil.copytree(artifact, into / artifact.name, symlinks=True, dirs_exist_ok=True)
            return 0, "downloaded"
        if uses:
            raise AssertionError(f"the emulated runner does not know the action {uses}")
        script = self._expand(str(step["run"]), matrix)
        completed = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=self.workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        return completed.returncode, completed.stdout + completed.stderr
