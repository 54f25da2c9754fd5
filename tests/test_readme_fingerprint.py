"""The README's fingerprint example (section "What makes a cached result
valid") runs as written and reruns what the README says it does."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import calls, outcomes

README = Path(__file__).resolve().parent.parent / "README.md"

MODELS = """\
class MyNet:
    def fit(self, rows, seed):
        with open("calls.log", "a") as log:
            log.write(f"MyNet-{seed}\\n")
        return sum(rows) * 2


class MyForest:
    def fit(self, rows, seed):
        with open("calls.log", "a") as log:
            log.write(f"MyForest-{seed}\\n")
        return sum(rows) + 1
"""

CONFTEST = """\
import pytest


def parse(text):
    return [int(x) for x in text.split(",")]


@pytest.fixture
def rows():
    with open("data/train.csv") as handle:
        return parse(handle.read())
"""


def example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    return next(block for block in blocks if block.startswith("# experiments/test_models.py"))


def test_the_fingerprint_example(pytester: pytest.Pytester, run: Callable[..., pytest.RunResult]) -> None:
    root = pytester.path
    (root / "experiments").mkdir()
    (root / "experiments" / "test_models.py").write_text(example())
    (root / "experiments" / "models.py").write_text(MODELS)
    (root / "experiments" / "conftest.py").write_text(CONFTEST)
    (root / "data").mkdir()
    (root / "data" / "train.csv").write_text("1,2,3")
    log = root / "calls.log"

    def again() -> tuple[list[str], pytest.RunResult]:
        log.unlink(missing_ok=True)
        result = run("experiments")
        assert result.ret == 0, result.stdout.str()
        return sorted(calls(log)), result

    assert again()[0] == ["MyForest-0", "MyForest-1", "MyNet-0", "MyNet-1"]
    models = root / "experiments" / "models.py"
    models.write_text(MODELS.replace("sum(rows) * 2", "sum(rows) * 3"))
    ran, result = again()
    assert ran == ["MyNet-0", "MyNet-1"]
    result.stdout.fnmatch_lines(["*ran because: code changed (MyNet.fit) (2)*"])
    (root / "data" / "train.csv").write_text("1,2,4")
    ran, result = again()
    assert len(ran) == 4
    result.stdout.fnmatch_lines(["*ran because: input changed (data/train.csv) (4)*"])
    conftest = root / "experiments" / "conftest.py"
    stripped = CONFTEST.replace("int(x) for", "int(x.strip()) for")
    conftest.write_text(stripped)
    ran, result = again()
    assert len(ran) == 4
    result.stdout.fnmatch_lines(["*ran because: code changed (parse) (4)*"])
    conftest.write_text(
        stripped.replace("def parse(text):\n", '# comma separated\ndef parse(text):\n    """Parse."""\n')
    )
    models.write_text(MODELS.replace("sum(rows) * 2", "sum(rows) * 3") + "\n\ndef test_other():\n    pass\n")
    ran, result = again()
    assert ran == []
    assert outcomes(result)["cached"] == 4
