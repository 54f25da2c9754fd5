"""Unit tests of code fingerprints (pytest_memento.fingerprint).

Every test builds a small project in ``tmp_path`` (the project root), imports
it, and fingerprints one of its functions. "Before and after an edit" is two
copies of the project in two directories with the same file and module names,
imported one after the other, so only the code differs.
"""

from __future__ import annotations

import ast
import copy
import functools
import importlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import pytest_memento
from pytest_memento.fingerprint import Fingerprint, FingerprintCache, canonical_tree, fingerprint_of

#: Every module these tests import starts with this (they are removed after each use).
PREFIX = "fpx_"

HEX64 = "0123456789abcdef"


def _forget_project_modules() -> None:
    for name in [name for name in sys.modules if name.startswith(PREFIX)]:
        del sys.modules[name]


def write_project(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def fingerprint_project(
    root: Path,
    files: dict[str, str] | None = None,
    pick: Callable[[ModuleType], Any] = lambda module: module.run,
    *,
    module: str = "fpx_exp",
    extra_paths: tuple[Path, ...] = (),
) -> Fingerprint:
    """Write ``files`` under ``root``, import ``module`` from there and
    fingerprint ``pick(module)`` with ``root`` as the project root."""
    if files is not None:
        write_project(root, files)
    _forget_project_modules()
    paths = [str(root), *map(str, extra_paths)]
    sys.path[:0] = paths
    importlib.invalidate_caches()
    try:
        return FingerprintCache(root).of(pick(importlib.import_module(module)))
    finally:
        for path in paths:
            sys.path.remove(path)
        _forget_project_modules()


@pytest.fixture(autouse=True)
def _clean_modules() -> Iterator[None]:
    yield
    _forget_project_modules()


def edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} must occur exactly once"
    return text.replace(old, new)


def is_hex(text: str, length: int) -> bool:
    return len(text) == length and all(char in HEX64 for char in text)


# -- the base project of the edit tests -------------------------------------

HELPERS = '''\
OFFSET = 1


def inner(x):
    return x + OFFSET


def f(x):
    """Helper in another module."""
    return inner(x) * 2


def g(x):
    return -x
'''

EXP = '''\
import json
import os.path

import fpx_helpers
from fpx_helpers import f

SCALE = 3


def deco(*args, **kwargs):
    def wrap(func):
        return func

    return wrap


class Model:
    def __init__(self, depth):
        self.depth = depth

    def predict(self, x):
        return x * self.depth


def helper(x):
    """Local helper."""
    return x + 1


def unrelated():
    return "not used"


@deco(1)
def run(config):
    """The experiment."""
    model = Model(2)
    value = helper(config["x"]) * SCALE + f(1) + fpx_helpers.g(2)
    return {"value": model.predict(value), "text": json.dumps({"a": 1}), "path": os.path.join("a", "b")}
'''

BASE_PARTS = {
    "fpx_exp.py::run",
    "fpx_exp.py::deco",
    "fpx_exp.py::Model",
    "fpx_exp.py::Model.__init__",
    "fpx_exp.py::Model.predict",
    "fpx_exp.py::helper",
    "fpx_exp.SCALE",
    "fpx_helpers.py::f",
    "fpx_helpers.py::g",
    "fpx_helpers.py::inner",
    "fpx_helpers.OFFSET",
}


def base_files() -> dict[str, str]:
    return {"fpx_exp.py": EXP, "fpx_helpers.py": HELPERS}


def edited(file: str, old: str, new: str) -> dict[str, str]:
    files = base_files()
    files[file] = edit(files[file], old, new)
    return files


UNCHANGED = {
    "comments": edited(
        "fpx_exp.py",
        "    model = Model(2)\n",
        "    # build the model\n    model = Model(2)  # depth two\n    # end of comment\n",
    ),
    "comment-in-helper-module": edited("fpx_helpers.py", "def g(x):\n", "# negation\ndef g(x):  # yes\n"),
    "reformatted": edited(
        "fpx_exp.py",
        '    return {"value": model.predict(value), "text": json.dumps({"a": 1}), "path": os.path.join("a", "b")}\n',
        "\n\n    return {\n        'value': model.predict(\n            value\n        ),\n"
        "        'text': json.dumps({'a': 1}),\n        'path': os.path.join('a', \"b\"),\n    }\n",
    ),
    "blank-lines-and-parentheses": edited(
        "fpx_exp.py",
        'value = helper(config["x"]) * SCALE + f(1) + fpx_helpers.g(2)',
        "value = (\n        helper(config['x']) * SCALE\n\n        + f(1)\n        + fpx_helpers.g(2)\n    )",
    ),
    "docstring-of-experiment": edited(
        "fpx_exp.py", '"""The experiment."""', '"""Another description,\n\n    over several lines."""'
    ),
    "docstring-removed": edited("fpx_exp.py", '    """The experiment."""\n', ""),
    "docstring-of-local-helper": edited("fpx_exp.py", '"""Local helper."""', '"""Adds one (documented)."""'),
    "docstring-of-other-module-helper": edited("fpx_helpers.py", '"""Helper in another module."""', "'''Changed.'''"),
    "docstring-added-to-method": edited(
        "fpx_exp.py", "    def predict(self, x):\n", '    def predict(self, x):\n        """Predict."""\n'
    ),
    "unrelated-function": edited("fpx_exp.py", 'return "not used"', 'return "edited, still not used"'),
    "comment-in-decorator": edited("fpx_exp.py", "    def wrap(func):\n", "    # the wrapper\n    def wrap(func):\n"),
}

CHANGED = {
    "experiment-body": (edited("fpx_exp.py", "Model(2)", "Model(3)"), ["fpx_exp.py::run"]),
    "local-helper": (edited("fpx_exp.py", "return x + 1", "return x + 2"), ["fpx_exp.py::helper"]),
    "from-import-helper": (edited("fpx_helpers.py", "* 2", "* 3"), ["fpx_helpers.py::f"]),
    "module-attribute-helper": (edited("fpx_helpers.py", "return -x", "return -x - 1"), ["fpx_helpers.py::g"]),
    "class-method": (
        edited("fpx_exp.py", "return x * self.depth", "return x * self.depth + 1"),
        ["fpx_exp.py::Model.predict"],
    ),
    "decorator-arguments": (edited("fpx_exp.py", "@deco(1)", '@deco(2, grid={"a": [1, 2]})'), ["fpx_exp.py::run"]),
    "decorator-body": (
        edited("fpx_exp.py", "        return func\n", "        return func or None\n"),
        ["fpx_exp.py::deco"],
    ),
    "module-constant": (edited("fpx_exp.py", "SCALE = 3", "SCALE = 4"), ["fpx_exp.SCALE"]),
    "helper-of-helper": (edited("fpx_helpers.py", "return x + OFFSET", "return x - OFFSET"), ["fpx_helpers.py::inner"]),
    "constant-of-helper": (edited("fpx_helpers.py", "OFFSET = 1", "OFFSET = 2"), ["fpx_helpers.OFFSET"]),
}


@pytest.fixture
def base(tmp_path: Path) -> Fingerprint:
    return fingerprint_project(tmp_path / "before", base_files())


def test_parts_are_exactly_the_project_code_and_constants_it_names(base: Fingerprint) -> None:
    # json.dumps, os.path.join, the decorator and unrelated() are not followed.
    assert set(base.parts) == BASE_PARTS
    assert is_hex(base.value, 64)
    assert all(is_hex(digest, 64) for digest in base.parts.values())


def test_same_project_in_the_same_place_gives_the_same_fingerprint(tmp_path: Path, base: Fingerprint) -> None:
    again = fingerprint_project(tmp_path / "before")
    assert again == base


@pytest.mark.parametrize("files", UNCHANGED.values(), ids=UNCHANGED.keys())
def test_fingerprint_is_unchanged_by(tmp_path: Path, base: Fingerprint, files: dict[str, str]) -> None:
    after = fingerprint_project(tmp_path / "after", files)
    assert after.changed_parts(base.parts) == []
    assert after.value == base.value


@pytest.mark.parametrize(("files", "changed"), CHANGED.values(), ids=CHANGED.keys())
def test_fingerprint_is_changed_by(
    tmp_path: Path, base: Fingerprint, files: dict[str, str], changed: list[str]
) -> None:
    after = fingerprint_project(tmp_path / "after", files)
    assert after.value != base.value
    # changed_parts names exactly the edited function, class or constant.
    assert after.changed_parts(base.parts) == changed
    assert set(after.parts) == BASE_PARTS


def test_a_moved_project_keeps_its_fingerprint(tmp_path: Path, base: Fingerprint) -> None:
    shutil.copytree(tmp_path / "before", tmp_path / "elsewhere" / "deeper")
    assert fingerprint_project(tmp_path / "elsewhere" / "deeper") == base


def test_fingerprint_of_is_the_cached_computation(tmp_path: Path) -> None:
    root = write_project(tmp_path, base_files())
    sys.path.insert(0, str(root))
    try:
        module = importlib.import_module("fpx_exp")
        cache = FingerprintCache(root)
        first = cache.of(module.run)
        assert cache.of(module.run) is first
        assert fingerprint_of(module.run, root) == first
    finally:
        sys.path.remove(str(root))


# -- changed_parts ----------------------------------------------------------


def test_changed_parts_lists_differing_new_and_gone_names() -> None:
    current = Fingerprint("v", {"a.py::f": "1", "a.py::g": "2", "a.py::new": "3"})
    stored = {"a.py::f": "1", "a.py::g": "changed", "a.py::gone": "4"}
    assert current.changed_parts(stored) == ["a.py::g", "a.py::gone", "a.py::new"]
    assert current.changed_parts(dict(current.parts)) == []


# -- what is followed and what is not ---------------------------------------


def test_stdlib_and_installed_packages_are_not_followed(tmp_path: Path) -> None:
    fingerprint = fingerprint_project(
        tmp_path,
        {
            "fpx_exp.py": """\
            import json
            import os
            import os.path
            from pathlib import Path

            import pytest
            from pytest_memento.hashing import encode


            def run():
                text = json.dumps({"a": os.path.join("x", "y")})
                return encode(text), Path(text), pytest.approx(1), os.sep
            """
        },
    )
    assert list(fingerprint.parts) == ["fpx_exp.py::run"]


def test_code_outside_the_root_is_not_followed(tmp_path: Path) -> None:
    outside = write_project(tmp_path / "outside", {"fpx_outside.py": "def far():\n    return 1\n"})
    # A virtual environment inside the project (what ``python -m venv .venv`` makes: a pyvenv.cfg).
    write_project(tmp_path / "project" / ".venv", {"pyvenv.cfg": "home = /usr/bin\n"})
    vendored = write_project(
        tmp_path / "project" / ".venv" / "lib" / "python3.11" / "site-packages",
        {"fpx_vendored.py": "def near():\n    return 2\n"},
    )
    fingerprint = fingerprint_project(
        tmp_path / "project",
        {
            "fpx_exp.py": """\
            from fpx_outside import far
            from fpx_vendored import near


            def run():
                return far() + near()
            """
        },
        extra_paths=(outside, vendored),
    )
    assert list(fingerprint.parts) == ["fpx_exp.py::run"]


def test_part_names_of_packages_use_relative_posix_paths_and_module_names(tmp_path: Path) -> None:
    fingerprint = fingerprint_project(
        tmp_path,
        {
            "fpx_pkg/__init__.py": "",
            "fpx_pkg/sub/__init__.py": "",
            "fpx_pkg/sub/util.py": """\
            FACTOR = 2.5


            class Scaler:
                def scale(self, x):
                    return x * FACTOR


            def scaled(x):
                return Scaler().scale(x)
            """,
            "fpx_exp.py": """\
            from fpx_pkg.sub.util import scaled


            def run():
                return scaled(1)
            """,
        },
    )
    assert set(fingerprint.parts) == {
        "fpx_exp.py::run",
        "fpx_pkg/sub/util.py::scaled",
        "fpx_pkg/sub/util.py::Scaler",
        "fpx_pkg/sub/util.py::Scaler.scale",
        "fpx_pkg.sub.util.FACTOR",
    }


def test_from_imported_constant_counts_under_the_importing_module(tmp_path: Path) -> None:
    files = {
        "fpx_helpers.py": "SCALE = 3\n",
        "fpx_exp.py": "from fpx_helpers import SCALE\n\n\ndef run():\n    return SCALE\n",
    }
    before = fingerprint_project(tmp_path / "a", files)
    after = fingerprint_project(tmp_path / "b", {**files, "fpx_helpers.py": "SCALE = 4\n"})
    assert after.changed_parts(before.parts) == ["fpx_exp.SCALE"]


def test_constant_read_through_a_project_module_attribute_counts(tmp_path: Path) -> None:
    files = {
        "fpx_helpers.py": "SCALE = 3\n",
        "fpx_exp.py": "import fpx_helpers\n\n\ndef run():\n    return 2 * fpx_helpers.SCALE\n",
    }
    before = fingerprint_project(tmp_path / "a", files)
    after = fingerprint_project(tmp_path / "b", {**files, "fpx_helpers.py": "SCALE = 4\n"})
    assert after.value != before.value


def test_the_definition_that_runs_is_fingerprinted(tmp_path: Path) -> None:
    source = """\
    try:
        def helper():
            return 1
    except ImportError:
        pass


    def helper():
        return 2


    def run():
        return helper()
    """
    before = fingerprint_project(tmp_path / "a", {"fpx_exp.py": source})
    after = fingerprint_project(tmp_path / "b", {"fpx_exp.py": edit(source, "return 2", "return 3")})
    assert after.value != before.value


# -- paths ------------------------------------------------------------------

PATHS = """\
import os
import pathlib

DATA = pathlib.Path(__file__).with_name("x.csv")
SYSTEM = pathlib.Path("/etc/hosts")
RELATIVE = pathlib.PurePosixPath("data/x.csv")
STR_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "x.csv")
LIST_DATA = [pathlib.Path(__file__).with_name("x.csv")]


def run():
    return DATA, SYSTEM, RELATIVE


def run_str():
    return STR_DATA


def run_list():
    return LIST_DATA
"""


def test_project_path_constants_count_relative_to_the_root(tmp_path: Path) -> None:
    first = fingerprint_project(tmp_path / "one", {"fpx_exp.py": PATHS})
    shutil.copytree(tmp_path / "one", tmp_path / "two" / "nested")
    second = fingerprint_project(tmp_path / "two" / "nested")
    assert second == first
    assert {"fpx_exp.DATA", "fpx_exp.RELATIVE"} <= set(first.parts)
    # ... and it does count: another file name is another fingerprint.
    renamed = fingerprint_project(
        tmp_path / "three", {"fpx_exp.py": edit(PATHS, '("x.csv")\nSYSTEM', '("y.csv")\nSYSTEM')}
    )
    assert renamed.changed_parts(first.parts) == ["fpx_exp.DATA"]


def test_path_constants_outside_the_root_do_not_count(tmp_path: Path) -> None:
    first = fingerprint_project(tmp_path / "one", {"fpx_exp.py": PATHS})
    assert "fpx_exp.SYSTEM" not in first.parts
    other = fingerprint_project(tmp_path / "two", {"fpx_exp.py": edit(PATHS, "/etc/hosts", "/etc/passwd")})
    assert other.value == first.value


@pytest.mark.parametrize("function", ["run_str", "run_list"])
def test_other_forms_of_project_paths_do_not_depend_on_the_checkout(tmp_path: Path, function: str) -> None:
    first = fingerprint_project(tmp_path / "one", {"fpx_exp.py": PATHS}, lambda module: getattr(module, function))
    shutil.copytree(tmp_path / "one", tmp_path / "two" / "nested")
    second = fingerprint_project(tmp_path / "two" / "nested", None, lambda module: getattr(module, function))
    assert second == first


# -- f-strings: Python 3.12.1 parses an extra empty Constant into nested
# format specs (CPython gh-110309); fingerprints must not see it.

FSTRING_SPEC = """\
def f(x, w):
    return f"{x:>{w}}"
"""


def _empty_constants_in_joined_strings(tree: ast.AST) -> int:
    return sum(
        1
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr)
        for value in node.values
        if isinstance(value, ast.Constant) and value.value == ""
    )


def test_canonical_tree_ignores_the_empty_format_spec_constant_of_python_312() -> None:
    plain = ast.parse(FSTRING_SPEC)
    quirky = copy.deepcopy(plain)
    for tree, add in ((plain, False), (quirky, True)):
        spec = next(
            node.format_spec for node in ast.walk(tree) if isinstance(node, ast.FormattedValue) and node.format_spec
        )
        assert isinstance(spec, ast.JoinedStr)
        spec.values = [value for value in spec.values if not (isinstance(value, ast.Constant) and value.value == "")]
        if add:
            spec.values.append(ast.Constant(""))  # what Python 3.12.1 parses
    assert _empty_constants_in_joined_strings(quirky) == 1
    assert canonical_tree(plain) == canonical_tree(quirky)


# -- golden values across processes and Python versions ---------------------

GOLDEN_SOURCE = '''\
"""Golden experiment: do not edit (its fingerprint is hard-coded below)."""

import math

SCALE = 3
WEIGHTS = (0.5, 1.5, None)


def helper(values, power=2):
    """Sum of powers."""
    return sum(v**power for v in values if v is not None)


class Model:
    def __init__(self, depth):
        self.depth = depth

    def predict(self, x):
        return [x * self.depth + i for i in range(self.depth)]


def deco(*args):
    return lambda func: func


@deco(1)
def experiment(config, *, seed: int = 0) -> dict:
    # a comment
    model = Model(config["depth"])
    total = helper(model.predict(SCALE), power=3) + math.sqrt(seed)
    label = f"{config['name']!r}:{total:.3f}"
    return {"score": total / len(WEIGHTS), "label": label, "ok": total > 0 or None}
'''

# Scheme 2 (issue 11): decorators, per-method parts of classes. Changing either golden value invalidates every user's stored results
# (every fingerprint or every key changes): only ever do it together with a
# bump of fingerprint.SCHEME or hashing.KEY_SCHEME, on purpose.
GOLDEN_FINGERPRINT = "c41862e65ed21cf403efdc36b9c0e796600fa6932c7db2a0f29994cb641a41e3"
GOLDEN_KEY = "fbfb884f33d5ef64be6764fc2de62f74146f776bc9be273b44a28c009de003cd"
GOLDEN_PARTS = {
    "golden_exp.py::experiment",
    "golden_exp.py::helper",
    "golden_exp.py::Model",
    "golden_exp.py::Model.__init__",
    "golden_exp.py::Model.predict",
    "golden_exp.py::deco",
    "golden_exp.SCALE",
    "golden_exp.WEIGHTS",
}

PROBE = """\
import ast, importlib.util, json, platform, sys
from pathlib import Path
from pytest_memento.fingerprint import FingerprintCache, canonical_tree
from pytest_memento.hashing import config_key, encode, encode_config

root = Path(sys.argv[1])
spec = importlib.util.spec_from_file_location("golden_exp", root / "golden_exp.py")
module = importlib.util.module_from_spec(spec)
sys.modules["golden_exp"] = module
spec.loader.exec_module(module)
fingerprint = FingerprintCache(root).of(module.experiment)
key = config_key("exp.py::f", encode_config({"a": encode(1), "b": encode("x"), "c": encode((1.5, None))}), 0)
fstring = ast.parse(sys.argv[2])
quirk = any(
    isinstance(value, ast.Constant) and value.value == ""
    for node in ast.walk(fstring) if isinstance(node, ast.JoinedStr) for value in node.values
)
print(json.dumps({
    "python": platform.python_version(),
    "fingerprint": fingerprint.value,
    "parts": fingerprint.parts,
    "key": key,
    "fstring": canonical_tree(fstring),
    "fstring_quirk": quirk,
}))
"""


def _interpreters() -> list[Path]:
    versions = Path.home() / ".pyenv" / "versions"
    found: list[Path] = []
    for minor in ("3.10", "3.11", "3.12", "3.13"):
        found.extend(path for path in sorted(versions.glob(f"{minor}*/bin/python")) if os.access(path, os.X_OK))
    return found


INTERPRETERS = _interpreters()
needs_interpreters = pytest.mark.skipif(
    len(INTERPRETERS) < 2, reason="fewer than 2 of Python 3.10-3.13 found under ~/.pyenv/versions"
)


def _probe(python: str, root: Path, hash_seed: str) -> dict[str, Any]:
    package_parent = str(Path(pytest_memento.__file__).resolve().parent.parent)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env.update(PYTHONPATH=package_parent, PYTHONHASHSEED=hash_seed, PYTHONDONTWRITEBYTECODE="1")
    completed = subprocess.run(
        [python, "-c", PROBE, str(root), FSTRING_SPEC],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


@pytest.fixture(scope="module")
def golden_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("golden")
    (root / "golden_exp.py").write_text(GOLDEN_SOURCE, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def across_versions(golden_root: Path) -> dict[str, dict[str, Any]]:
    """The probe's output under every interpreter found (one process each,
    each with another hash seed)."""
    return {str(python): _probe(str(python), golden_root, str(index + 1)) for index, python in enumerate(INTERPRETERS)}


def test_golden_fingerprint_in_this_process(golden_root: Path) -> None:
    sys.path.insert(0, str(golden_root))
    try:
        module = importlib.import_module("golden_exp")
        fingerprint = FingerprintCache(golden_root).of(module.experiment)
    finally:
        sys.path.remove(str(golden_root))
        sys.modules.pop("golden_exp", None)
    assert set(fingerprint.parts) == GOLDEN_PARTS
    assert fingerprint.value == GOLDEN_FINGERPRINT


def test_fingerprint_and_key_are_the_same_across_processes(golden_root: Path) -> None:
    results = [_probe(sys.executable, golden_root, seed) for seed in ("0", "12345")]
    assert results[0] == results[1]
    assert results[0]["fingerprint"] == GOLDEN_FINGERPRINT
    assert results[0]["key"] == GOLDEN_KEY


@needs_interpreters
def test_golden_fingerprint_across_python_versions(across_versions: dict[str, dict[str, Any]]) -> None:
    fingerprints = {result["python"]: result["fingerprint"] for result in across_versions.values()}
    assert len(set(fingerprints.values())) == 1, fingerprints
    assert set(fingerprints.values()) == {GOLDEN_FINGERPRINT}
    assert all(set(result["parts"]) == GOLDEN_PARTS for result in across_versions.values())


@needs_interpreters
def test_golden_key_across_python_versions(across_versions: dict[str, dict[str, Any]]) -> None:
    keys = {result["python"]: result["key"] for result in across_versions.values()}
    assert set(keys.values()) == {GOLDEN_KEY}, keys


@needs_interpreters
def test_fstring_format_spec_across_python_versions(across_versions: dict[str, dict[str, Any]]) -> None:
    if not any(result["fstring_quirk"] for result in across_versions.values()):
        pytest.skip("no interpreter found that parses nested format specs with an empty Constant")
    trees = {result["python"]: result["fstring"] for result in across_versions.values()}
    assert len(set(trees.values())) == 1, trees


# -- shapes of functions ------------------------------------------------------

SHAPES = """\
import functools


def helper():
    return 1


class TestGroup:
    def test_method(self):
        return helper()


def outer():
    def inner():
        return helper()

    return inner


def deco(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)

    return wrapper


@deco
def wrapped():
    return helper()
"""


@pytest.mark.parametrize(
    ("pick", "name"),
    [
        (lambda module: module.TestGroup.test_method, "fpx_exp.py::TestGroup.test_method"),
        (lambda module: module.TestGroup().test_method, "fpx_exp.py::TestGroup.test_method"),
        (lambda module: module.outer(), "fpx_exp.py::outer.<locals>.inner"),
        (lambda module: module.wrapped, "fpx_exp.py::wrapped"),
    ],
    ids=["method", "bound-method", "nested", "functools-wraps"],
)
def test_methods_nested_and_wrapped_functions_are_found(
    tmp_path: Path, pick: Callable[[ModuleType], Any], name: str
) -> None:
    fingerprint = fingerprint_project(tmp_path, {"fpx_exp.py": SHAPES}, pick)
    assert name in fingerprint.parts
    assert "fpx_exp.py::helper" in fingerprint.parts


def test_function_without_source_has_no_parts_and_does_not_raise(tmp_path: Path) -> None:
    namespace: dict[str, Any] = {"__name__": "fpx_nowhere"}
    exec(compile("def ghost():\n    return 1\n", str(tmp_path / "missing.py"), "exec"), namespace)
    fingerprint = FingerprintCache(tmp_path).of(namespace["ghost"])
    assert fingerprint.parts == {}
    assert len(fingerprint.value) == 64


def test_canonical_tree_ignores_formatting_comments_and_docstrings() -> None:
    first = 'def f(x):\n    """Doc."""\n    # a comment\n    return g(x, "a")\n'
    second = "def f(x):\n    return g(\n        x,\n        'a',  # trailing\n    )\n"
    assert canonical_tree(ast.parse(first)) == canonical_tree(ast.parse(second))
    assert canonical_tree(ast.parse(first)) != canonical_tree(ast.parse(first.replace('"a"', '"b"')))


# -- issue 11: what else an experiment runs -----------------------------------

KINDS = """\
import functools
import types

import pytest
import pytest_memento as memento


def fa(x):
    return x + 1


def fb(x):
    return x - 1


def timed(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)

    return wrapper


MODELS = {"a": fa, "b": fb}
SQUARE = lambda x: x * x  # noqa: E731
SCALED = functools.partial(fa, 10)
SETTINGS = types.SimpleNamespace(factor=2, act=fb)


class Registry:
    LAYERS = [fa]


class Base:
    def prepare(self, x):
        return x


class MyNet(Base):
    def predict(self, x):
        return self.prepare(x) * 2

    def helper(self):
        return super().prepare(1)


class TestGroup:
    def test_method(self):
        return self.helper()

    def helper(self):
        return 1

    def other(self):
        return 2


@pytest.mark.skipif(False, reason="a")
@timed
@memento.matrix(parameters={"i": [1]})
def decorated(config):
    return config


def uses_registry():
    return MODELS["a"](1)


def uses_lambda():
    return SQUARE(2)


def uses_partial():
    return SCALED()


def uses_namespace():
    return SETTINGS.act(SETTINGS.factor)


def uses_class_attribute():
    return Registry.LAYERS[0](1)


def uses_instance():
    return MyNet().helper()
"""


def kinds(root: Path, old: str = "", new: str = "", pick: str = "uses_registry") -> Fingerprint:
    source = edit(KINDS, old, new) if old else KINDS
    return fingerprint_project(root, {"fpx_exp.py": source}, lambda module: getattr(module, pick))


@pytest.mark.parametrize(
    ("pick", "old", "new", "changed"),
    [
        ("uses_registry", "return x + 1", "return x + 2", ["fpx_exp.py::fa"]),
        ("uses_lambda", "x * x", "x * x * 1", ["fpx_exp.SQUARE"]),
        ("uses_partial", "partial(fa, 10)", "partial(fa, 11)", ["fpx_exp.SCALED"]),
        ("uses_partial", "return x + 1", "return x + 2", ["fpx_exp.py::fa"]),
        ("uses_namespace", "factor=2", "factor=3", ["fpx_exp.SETTINGS"]),
        ("uses_namespace", "return x - 1", "return x - 2", ["fpx_exp.py::fb"]),
        (
            "uses_class_attribute",
            "LAYERS = [fa]",
            "LAYERS = [fb]",
            ["fpx_exp.py::Registry", "fpx_exp.py::fa", "fpx_exp.py::fb"],
        ),
        ("uses_class_attribute", "return x + 1", "return x + 2", ["fpx_exp.py::fa"]),
        ("uses_instance", "        return x\n", "        return x + 0\n", ["fpx_exp.py::Base.prepare"]),
        (
            "decorated",
            "return func(*args, **kwargs)",
            "return func(*args)",
            ["fpx_exp.py::timed", "fpx_exp.py::timed.<locals>.wrapper"],
        ),
    ],
    ids=[
        "dict-of-functions",
        "lambda",
        "partial-arguments",
        "partial-function",
        "namespace-attribute",
        "namespace-function",
        "class-attribute",
        "class-attribute-function",
        "super-and-base-class",
        "decorator-wrapper",
    ],
)
def test_values_holding_code_and_decorators_are_followed(
    tmp_path: Path, pick: str, old: str, new: str, changed: list[str]
) -> None:
    before = kinds(tmp_path / "a", pick=pick)
    after = kinds(tmp_path / "b", old, new, pick)
    assert after.changed_parts(before.parts) == changed


def test_matrix_decorator_and_marks_are_left_out_other_decorators_count(tmp_path: Path) -> None:
    before = kinds(tmp_path / "a", pick="decorated")
    assert "fpx_exp.py::timed" in before.parts
    for index, (old, new) in enumerate(
        [('reason="a"', 'reason="b"'), ('parameters={"i": [1]}', 'parameters={"i": [1, 2]}')]
    ):
        after = kinds(tmp_path / f"same{index}", old, new, "decorated")
        assert after == before
    after = kinds(tmp_path / "other", "@timed\n", "@timed\n@timed\n", "decorated")
    assert after.changed_parts(before.parts) == ["fpx_exp.py::decorated"]


def test_self_reaches_only_the_methods_it_names(tmp_path: Path) -> None:
    pick = "TestGroup"
    before = fingerprint_project(tmp_path / "a", {"fpx_exp.py": KINDS}, lambda m: m.TestGroup.test_method)
    assert "fpx_exp.py::TestGroup.helper" in before.parts
    assert "fpx_exp.py::TestGroup.other" not in before.parts
    assert pick not in before.parts
    other = edit(KINDS, "        return 2\n", "        return 3\n")
    after = fingerprint_project(tmp_path / "b", {"fpx_exp.py": other}, lambda m: m.TestGroup.test_method)
    assert after == before
    helper = edit(KINDS, "    def helper(self):\n        return 1\n", "    def helper(self):\n        return 4\n")
    changed = fingerprint_project(tmp_path / "c", {"fpx_exp.py": helper}, lambda m: m.TestGroup.test_method)
    assert changed.changed_parts(before.parts) == ["fpx_exp.py::TestGroup.helper"]


FIXTURES = """\
def load():
    return [1, 2, 3]


def data_fixture(raw):
    return [x * 2 for x in raw]
"""


def test_fixture_functions_count_with_what_they_call(tmp_path: Path) -> None:
    def fingerprint(root: Path, source: str) -> Fingerprint:
        def pick(module: ModuleType) -> Any:
            fixtures = importlib.import_module("fpx_conf")
            return module.run, [fixtures.data_fixture, fixtures.load]

        write_project(root, {"fpx_conf.py": source, "fpx_exp.py": "def run(data):\n    return data\n"})
        _forget_project_modules()
        sys.path.insert(0, str(root))
        try:
            func, fixtures = pick(importlib.import_module("fpx_exp"))
            return FingerprintCache(root).of(func, fixtures)
        finally:
            sys.path.remove(str(root))
            _forget_project_modules()

    before = fingerprint(tmp_path / "a", FIXTURES)
    assert {"fpx_conf.py::data_fixture", "fpx_conf.py::load"} <= set(before.parts)
    after = fingerprint(tmp_path / "b", edit(FIXTURES, "[1, 2, 3]", "[1, 2, 4]"))
    assert after.changed_parts(before.parts) == ["fpx_conf.py::load"]
    comment = fingerprint(tmp_path / "c", edit(FIXTURES, "def load():\n", "# loads\ndef load():\n"))
    assert comment == before


VALUES = """\
class MyNet:
    def forward(self, x):
        return x * 2


class MyForest:
    def forward(self, x):
        return x + 1


def run(config):
    return config["model"]().forward(1)
"""


def _cases(root: Path, source: str) -> dict[str, Fingerprint]:
    write_project(root, {"fpx_exp.py": source})
    _forget_project_modules()
    sys.path.insert(0, str(root))
    try:
        module = importlib.import_module("fpx_exp")
        cache = FingerprintCache(root)
        base = cache.of(module.run)
        return {
            "net": cache.for_case(base, {"model": module.MyNet, "seed": 1}),
            "net-again": cache.for_case(base, {"model": module.MyNet, "seed": 2}),
            "forest": cache.for_case(base, {"model": module.MyForest, "seed": 1}),
            "plain": cache.for_case(base, {"seed": 1}),
            "partial": cache.for_case(base, {"model": functools.partial(module.MyNet)}),
        }
    finally:
        sys.path.remove(str(root))
        _forget_project_modules()


def test_project_classes_passed_as_values_count_per_value(tmp_path: Path) -> None:
    before = _cases(tmp_path / "a", VALUES)
    assert before["net"] is before["net-again"]  # computed once per distinct value
    assert before["net"].value != before["forest"].value
    assert "fpx_exp.py::MyNet.forward" in before["net"].parts
    assert "fpx_exp.py::MyNet.forward" not in before["forest"].parts
    assert "fpx_exp.py::MyNet.forward" in before["partial"].parts
    after = _cases(tmp_path / "b", edit(VALUES, "x * 2", "x * 3"))
    assert after["net"].changed_parts(before["net"].parts) == ["fpx_exp.py::MyNet.forward"]
    assert after["partial"].value != before["partial"].value
    assert after["forest"] == before["forest"]
    assert after["plain"] == before["plain"]


def test_a_lambda_value_counts_as_config_part(tmp_path: Path) -> None:
    cache = FingerprintCache(tmp_path)
    source = "SCORE = lambda x: x + 1\nOTHER = lambda x: x + 2\n"
    write_project(tmp_path, {"fpx_lam.py": source})
    sys.path.insert(0, str(tmp_path))
    try:
        module = importlib.import_module("fpx_lam")
        base = Fingerprint.of_parts({})
        first = cache.for_case(base, {"score": module.SCORE})
        second = cache.for_case(base, {"score": module.OTHER})
    finally:
        sys.path.remove(str(tmp_path))
    assert set(first.parts) == {"config.score"}
    assert first.value != second.value


def test_a_project_under_a_path_named_site_packages_is_seen(tmp_path: Path, base: Fingerprint) -> None:
    root = tmp_path / "lib" / "site-packages" / "project"
    shutil.copytree(tmp_path / "before", root)
    assert fingerprint_project(root) == base


def test_a_conda_environment_inside_the_project_is_not_project_code(tmp_path: Path) -> None:
    env = write_project(tmp_path / "project" / "env" / "conda-meta", {"history": ""}).parent
    vendored = write_project(env / "lib", {"fpx_vendored.py": "def near():\n    return 2\n"})
    fingerprint = fingerprint_project(
        tmp_path / "project",
        {"fpx_exp.py": "from fpx_vendored import near\n\n\ndef run():\n    return near()\n"},
        extra_paths=(vendored,),
    )
    assert list(fingerprint.parts) == ["fpx_exp.py::run"]


def test_values_without_code_keep_the_plain_fingerprint(tmp_path: Path) -> None:
    cache = FingerprintCache(tmp_path)
    base = Fingerprint.of_parts({"a.py::f": "1"})
    assert cache.for_case(base, {"a": 1, "b": "x", "c": (1, 2.5), "d": None}) is base


def test_values_whose_identity_raises_do_not_break_the_fingerprint(tmp_path: Path) -> None:
    source = """\
class Broken:
    def __memento_key__(self):
        raise RuntimeError("no key")


class Lazy:
    def __getattr__(self, name):
        raise RuntimeError(name)


BROKEN = Broken()
LAZY = Lazy()
LOOP = []
LOOP.append(LOOP)


def run():
    return BROKEN, LAZY, LOOP
"""
    fingerprint = fingerprint_project(tmp_path, {"fpx_exp.py": source})
    assert {"fpx_exp.py::run", "fpx_exp.BROKEN", "fpx_exp.LAZY", "fpx_exp.LOOP"} <= set(fingerprint.parts)
