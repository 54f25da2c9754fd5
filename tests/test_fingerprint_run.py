"""End to end: an edit to code an experiment runs reruns exactly the
configurations it affects, with the reason naming what changed; an
unrelated edit reruns nothing. Each scenario runs without xdist, with -n 0
and with -n 2 (the ``run`` fixture)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import calls, memento_cli, outcomes

CONFTEST = """\
import pytest


def load():
    return [1, 2, 3]


@pytest.fixture
def raw():
    return load()


@pytest.fixture
def data(raw):
    return [x * 2 for x in raw]
"""

MODELS = '''\
class Base:
    def prepare(self, x):
        return x


class MyNet(Base):
    """A net."""

    def predict(self, x):
        return self.prepare(x) * 2


class MyForest(Base):
    def predict(self, x):
        return self.prepare(x) + 1


def unused():
    return 0
'''

TRACKING = """\
def log(tag):
    with open("calls.log", "a") as handle:
        handle.write(tag + "\\n")
"""

EXPERIMENTS = """\
import functools
import types

import pytest
import pytest_memento as memento
from models import MyForest, MyNet
from tracking import log


def timed(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)

    return wrapper


def fa(x):
    return x + 1


def fb(x):
    return x - 1


MODELS = {"a": fa, "b": fb}
SQUARE = lambda x: x * x  # noqa: E731
SCALED = functools.partial(fa, 10)
SETTINGS = types.SimpleNamespace(factor=2, act=fb)


@timed
@memento.matrix(parameters={"i": [0, 1]})
def test_decorated(config):
    log(f"decorated-{config.i}")
    return {"v": config.i}


@memento.matrix(parameters={"i": [0, 1]})
def test_fixture(config, data):
    log(f"fixture-{config.i}")
    return {"v": sum(data)}


@memento.matrix(parameters={"name": ["a", "b"]})
def test_registry(config):
    log(f"registry-{config.name}")
    return {"v": MODELS[config.name](1)}


@memento.matrix(parameters={"i": [0]})
def test_lambda(config):
    log("lambda")
    return {"v": SQUARE(3)}


@memento.matrix(parameters={"i": [0]})
def test_partial(config):
    log("partial")
    return {"v": SCALED()}


@memento.matrix(parameters={"i": [0]})
def test_namespace(config):
    log("namespace")
    return {"v": SETTINGS.act(SETTINGS.factor)}


@memento.matrix(parameters={"model": [MyNet, MyForest]})
def test_model(config):
    log(f"model-{config.model.__name__}")
    return {"v": config.model().predict(2)}


@memento.matrix(parameters={"i": [0]}, depends=["data/train.csv", "data/more"])
def test_depends(config):
    log("depends")
    return {"v": 1}


class TestGroup:
    @memento.matrix(parameters={"i": [0]})
    def test_method(self, config):
        log("method")
        return {"v": self.helper(config.i)}

    def helper(self, x):
        return x + 1

    def test_other(self):
        assert True
"""

ALL = {
    "decorated-0",
    "decorated-1",
    "fixture-0",
    "fixture-1",
    "registry-a",
    "registry-b",
    "lambda",
    "partial",
    "namespace",
    "model-MyNet",
    "model-MyForest",
    "depends",
    "method",
}

#: kind -> (file, old, new, configurations that rerun, the reason shown).
RERUNS = {
    "fixture-helper": ("conftest.py", "return [1, 2, 3]", "return [1, 2, 4]", {"fixture-0", "fixture-1"}, "load"),
    "fixture-body": ("conftest.py", "x * 2 for", "x * 3 for", {"fixture-0", "fixture-1"}, "data"),
    "decorator-wrapper": (
        "test_exps.py",
        "        return func(*args, **kwargs)\n",
        "        return func(*args, **kwargs) or None\n",
        {"decorated-0", "decorated-1"},
        "timed",
    ),
    "function-in-dict": ("test_exps.py", "    return x + 1\n\n\ndef fb", "    return x + 2\n\n\ndef fb", None, "fa"),
    "lambda": ("test_exps.py", "lambda x: x * x", "lambda x: x * x * 1", {"lambda"}, "test_exps.SQUARE"),
    "partial": ("test_exps.py", "partial(fa, 10)", "partial(fa, 11)", {"partial"}, "test_exps.SCALED"),
    "namespace": ("test_exps.py", "factor=2", "factor=3", {"namespace"}, "test_exps.SETTINGS"),
    "value-class-method": (
        "models.py",
        "return self.prepare(x) * 2",
        "return self.prepare(x) * 3",
        {"model-MyNet"},
        "MyNet.predict",
    ),
    "value-base-class": (
        "models.py",
        "        return x\n",
        "        return x + 0\n",
        {"model-MyNet", "model-MyForest"},
        "Base.prepare",
    ),
    "self-method": (
        "test_exps.py",
        "        return x + 1\n\n    def test_other",
        "        return x + 2\n\n    def test_other",
        {"method"},
        "TestGroup.helper",
    ),
    "input-file": ("data/train.csv", "a,b\n", "a,c\n", {"depends"}, "input changed (data/train.csv)"),
    "input-directory": ("data/more/part.txt", "1\n", "2\n", {"depends"}, "input changed (data/more)"),
}
# fa is in MODELS (both registry configurations read it) and in SCALED.
RERUNS["function-in-dict"] = (*RERUNS["function-in-dict"][:3], {"registry-a", "registry-b", "partial"}, "fa")

#: Edits nothing runs differently for: comments, docstrings, other functions and tests.
UNRELATED = [
    ("models.py", '"""A net."""', '"""A better net, documented."""'),
    ("models.py", "    return 0\n", "    return 1\n"),
    ("test_exps.py", "        assert True\n", "        assert 1 == 1\n"),
    ("test_exps.py", "def fb(x):\n", "# negation\ndef fb(x):  # edited comment\n"),
    ("conftest.py", "def load():\n", "def load():\n    # the data\n"),
    ("conftest.py", "import pytest\n", "import pytest\n\n\ndef another():\n    return 2\n"),
    ("tracking.py", "def log(tag):\n", 'def log(tag):\n    """Append one line."""\n'),
]


@pytest.fixture
def project(pytester: pytest.Pytester) -> Path:
    root = pytester.path
    for name, text in {
        "conftest.py": CONFTEST,
        "models.py": MODELS,
        "tracking.py": TRACKING,
        "test_exps.py": EXPERIMENTS,
        "data/train.csv": "a,b\n",
        "data/more/part.txt": "1\n",
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))
    return root


def edit(root: Path, name: str, old: str, new: str) -> None:
    text = (root / name).read_text()
    assert text.count(old) == 1, f"{old!r} must occur once in {name}"
    (root / name).write_text(text.replace(old, new))


def rerun(run: Callable[..., pytest.RunResult], root: Path) -> tuple[set[str], pytest.RunResult]:
    (root / "calls.log").unlink(missing_ok=True)
    result = run()
    assert result.ret == 0, result.stdout.str()
    return set(calls(root / "calls.log")), result


def test_a_first_run_runs_everything_and_a_second_nothing(run: Callable[..., pytest.RunResult], project: Path) -> None:
    ran, _ = rerun(run, project)
    assert ran == ALL
    ran, result = rerun(run, project)
    assert ran == set()
    assert outcomes(result)["cached"] == len(ALL)


@pytest.mark.parametrize("kind", RERUNS)
def test_an_edit_reruns_only_what_it_affects(run: Callable[..., pytest.RunResult], project: Path, kind: str) -> None:
    name, old, new, expected, reason = RERUNS[kind]
    rerun(run, project)
    edit(project, name, old, new)
    ran, result = rerun(run, project)
    assert ran == expected
    assert outcomes(result)["cached"] == len(ALL) - len(expected)
    because = [line for line in result.outlines if line.startswith("ran because:")]
    assert because, result.stdout.str()
    assert reason in because[0], because
    if not reason.startswith("input"):
        assert "code changed (" in because[0]


def test_unrelated_edits_rerun_nothing(run: Callable[..., pytest.RunResult], project: Path) -> None:
    rerun(run, project)
    for name, old, new in UNRELATED:
        edit(project, name, old, new)
    ran, result = rerun(run, project)
    assert ran == set()
    assert outcomes(result)["cached"] == len(ALL)


def test_a_missing_input_errors_its_configurations_only(run: Callable[..., pytest.RunResult], project: Path) -> None:
    (project / "data" / "train.csv").unlink()
    result = run()
    assert outcomes(result).get("errors") == 1
    assert "test_exps.py::test_depends[0]: depends: data/train.csv cannot be read" in result.stdout.str()
    assert "depends" not in calls(project / "calls.log")
    assert outcomes(result)["passed"] == len(ALL)  # the 12 others and test_other


def test_stale_listing_knows_every_fingerprint_of_an_experiment(
    run_plain: Callable[..., pytest.RunResult], project: Path
) -> None:
    """MyNet and MyForest configurations have different fingerprints: both
    are current after a run, even one that selected only one of them; an
    edit to MyNet makes only its result stale."""
    run_plain()
    run_plain("-k", "MyForest")
    listed = memento_cli(project, "--dir", str(project / ".memento"), "list", "--stale")
    assert listed.returncode == 0, listed.stderr
    assert "test_model" not in listed.stdout
    edit(project, "models.py", "return self.prepare(x) * 2", "return self.prepare(x) * 5")
    run_plain("-k", "MyForest")
    listed = memento_cli(project, "--dir", str(project / ".memento"), "list", "--stale")
    assert "test_model[MyNet]" in listed.stdout
    assert "test_model[MyForest]" not in listed.stdout
