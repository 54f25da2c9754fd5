"""The README's examples run as written."""

from __future__ import annotations

import importlib.util
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
