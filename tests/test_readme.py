"""The README's examples run as written."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
from conftest import outcomes

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_first_example_runs_then_is_cached(pytester: pytest.Pytester) -> None:
    if importlib.util.find_spec("sklearn") is None:
        pytest.skip("scikit-learn is not installed")
    source = python_blocks()[0]
    first_line = source.splitlines()[0]
    assert first_line.startswith("# experiments/")
    target = pytester.path / first_line[2:].strip()
    target.parent.mkdir(parents=True)
    target.write_text(source)
    first = pytester.runpytest_subprocess("experiments", "-n", "2")
    assert outcomes(first) == {"passed": 9}
    first.stdout.fnmatch_lines(["*9 configurations: 9 ran; store: .memento*", "*ran because: new configuration (9)*"])
    second = pytester.runpytest_subprocess("experiments", "-n", "2")
    assert outcomes(second) == {"cached": 9}
    second.stdout.fnmatch_lines(["ccccccccc*", "*9 configurations: 9 cached; store: .memento*"])
    listed = pytester.runpytest_subprocess("experiments", "--collect-only", "-q", "-k", "SVC and load_iris")
    listed.stdout.fnmatch_lines(["experiments/test_classifiers.py::test_classifier[[]SVC-load_iris-0[]]"])


def test_checkpoint_example_runs_and_resumes(pytester: pytest.Pytester) -> None:
    source = next(block for block in python_blocks() if "checkpoint" in block)
    target = pytester.path / source.splitlines()[0][2:].strip()
    target.parent.mkdir(parents=True)
    # Make the second configuration die once after a few epochs, as a node would.
    crashing = source.replace(
        "        checkpoint.save(state, every=30)",
        "        checkpoint.save(state)\n"
        "        if config.lr == 0.01 and config.seed == 1 and epoch == 4 and checkpoint.resumed_from is None:\n"
        "            raise RuntimeError('preempted')",
    )
    assert crashing != source
    target.write_text(crashing)
    first = pytester.runpytest_subprocess("experiments", "-p", "no:xdist")
    assert outcomes(first) == {"passed": 3, "failed": 1}
    first.stdout.fnmatch_lines(["*the next run resumes from the checkpoint (save #5 at*"])
    second = pytester.runpytest_subprocess(
        "experiments", "-p", "no:xdist", "--json-report", "--json-report-file=r.json"
    )
    assert outcomes(second) == {"passed": 1, "cached": 3}
    report = json.loads((pytester.path / "r.json").read_text())
    resumed = [t["metadata"]["memento"].get("resumed", "") for t in report["tests"]]
    assert sum(1 for text in resumed if text.startswith("save #5")) == 1


def _section(title: str) -> str:
    text = README.read_text()
    start = text.index(title)
    return text[start : text.index("\n## ", start + 1)]


def test_kubernetes_manifest_parses_and_agrees_with_itself() -> None:
    yaml = pytest.importorskip("yaml", reason="pyyaml is in the test extra")
    section = _section("## Sharing a store without a shared filesystem")
    (block,) = re.findall(r"```yaml\n(.*?)```", section, flags=re.DOTALL)
    job = yaml.safe_load(block)
    assert job["apiVersion"] == "batch/v1"
    assert job["kind"] == "Job"
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["parallelism"] <= spec["completions"]
    (container,) = spec["template"]["spec"]["containers"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert int(env["MEMENTO_SHARD_COUNT"]) == spec["completions"]
    command = container["command"]
    assert command[0] == "pytest"
    assert command[command.index("--memento-shard") + 1] == "auto"
    assert command[command.index("--memento-dir") + 1].startswith("s3://")
    assert spec["template"]["spec"]["restartPolicy"] == "Never"  # required with per-index backoff


def test_storage_options_examples_are_json_objects() -> None:
    section = _section("## Sharing a store without a shared filesystem")
    ini = re.search(r"memento_storage_options = (.*)", section)
    env = re.search(r"MEMENTO_STORAGE_OPTIONS='(.*)'", section)
    assert ini is not None
    assert env is not None
    for text in (ini.group(1), env.group(1)):
        assert isinstance(json.loads(text), dict)
