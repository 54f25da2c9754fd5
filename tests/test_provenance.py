"""Unit tests of provenance: git state, environment, package versions and
seeding (pytest_memento.provenance)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import platform
import random
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy
import pytest

from pytest_memento.provenance import environment, git_state, packages_of, seed_everything, seed_for

HEX = set("0123456789abcdef")

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def is_hex(text: Any, length: int) -> bool:
    return isinstance(text, str) and len(text) == length and set(text) <= HEX


# -- git --------------------------------------------------------------------


@pytest.fixture
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No repository above tmp_path is found, and no user or system git
    configuration (signing, hooks, aliases) takes part."""
    for name in list(os.environ):
        if name.startswith("GIT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)


def git(cwd: Path, *args: str) -> str:
    completed = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return completed.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, isolated_git: None) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "tests@example.invalid")
    git(root, "config", "user.name", "Tests")
    git(root, "config", "commit.gpgsign", "false")
    (root / "data.txt").write_text("one\n")
    git(root, "add", "data.txt")
    git(root, "commit", "-q", "-m", "first")
    return root


@needs_git
def test_clean_repository(repo: Path) -> None:
    state = git_state(repo)
    assert state == {"commit": git(repo, "rev-parse", "HEAD"), "branch": "main", "dirty": False}
    assert is_hex(state["commit"], 40)


@needs_git
def test_subdirectory_of_a_repository(repo: Path) -> None:
    (repo / "sub").mkdir()
    assert git_state(repo / "sub") == git_state(repo)


@needs_git
def test_modified_tracked_file_makes_it_dirty_with_a_diff_hash(repo: Path) -> None:
    (repo / "data.txt").write_text("two\n")
    first = git_state(repo)
    assert first["dirty"] is True
    assert is_hex(first["diff_sha256"], 64)
    assert first["commit"] == git(repo, "rev-parse", "HEAD")
    assert git_state(repo) == first  # the same diff, the same hash

    (repo / "data.txt").write_text("three\n")
    second = git_state(repo)
    assert second["dirty"] is True
    assert is_hex(second["diff_sha256"], 64)
    assert second["diff_sha256"] != first["diff_sha256"]

    (repo / "data.txt").write_text("one\n")
    assert git_state(repo) == {"commit": first["commit"], "branch": "main", "dirty": False}


@needs_git
def test_staged_change_is_dirty(repo: Path) -> None:
    (repo / "new.txt").write_text("new\n")
    git(repo, "add", "new.txt")
    state = git_state(repo)
    assert state["dirty"] is True
    assert is_hex(state["diff_sha256"], 64)


@needs_git
def test_untracked_files_do_not_make_it_dirty(repo: Path) -> None:
    (repo / "untracked.txt").write_text("x\n")
    state = git_state(repo)
    assert state["dirty"] is False
    assert "diff_sha256" not in state


@needs_git
def test_detached_head_has_branch_head(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    state = git_state(repo)
    assert state["branch"] == "HEAD"
    assert is_hex(state["commit"], 40)


@needs_git
def test_outside_a_repository(tmp_path: Path, isolated_git: None) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert git_state(plain) == {}


def test_missing_directory(tmp_path: Path, isolated_git: None) -> None:
    assert git_state(tmp_path / "does-not-exist") == {}


@needs_git
def test_without_git_on_path(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert git_state(repo) == {}


# -- environment ------------------------------------------------------------


def test_environment_keys_and_json(tmp_path: Path, isolated_git: None) -> None:
    record = environment(tmp_path)
    assert set(record) == {"python", "implementation", "platform", "host", "user", "git"}
    assert record["python"] == platform.python_version()
    assert record["implementation"] == platform.python_implementation()
    assert all(isinstance(record[key], str) for key in ("python", "implementation", "platform", "host", "user"))
    assert record["git"] == {}
    assert json.loads(json.dumps(record)) == record


@needs_git
def test_environment_records_the_git_state(repo: Path) -> None:
    record = environment(repo)
    assert record["git"] == git_state(repo)
    assert json.loads(json.dumps(record)) == record


# -- packages ---------------------------------------------------------------


@pytest.fixture
def load_module(tmp_path: Path) -> Iterator[Any]:
    loaded: list[str] = []

    def load(source: str) -> ModuleType:
        name = f"prov_subject_{len(loaded)}"
        path = tmp_path / f"{name}.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        loaded.append(name)
        spec.loader.exec_module(module)
        return module

    yield load
    for name in loaded:
        sys.modules.pop(name, None)


def test_packages_of_a_module_lists_what_it_imported(load_module: Any) -> None:
    module = load_module("import json\nimport pytest\nimport numpy as np\n")
    found = packages_of(module)
    assert found["pytest"] == importlib.metadata.version("pytest")
    assert found["numpy"] == importlib.metadata.version("numpy")
    assert "json" not in found  # the standard library is no distribution


def test_packages_of_sees_names_imported_from_a_package(load_module: Any) -> None:
    module = load_module("from _pytest.outcomes import fail\n")
    assert packages_of(module)["pytest"] == importlib.metadata.version("pytest")


def test_packages_of_none_has_the_notable_loaded_packages() -> None:
    assert "numpy" in sys.modules
    found = packages_of(None)
    assert found["numpy"] == importlib.metadata.version("numpy")
    assert "pytest" not in found  # loaded, but neither notable nor imported by a module


def test_packages_of_a_module_without_imports_still_has_numpy(load_module: Any) -> None:
    found = packages_of(load_module("X = 1\n"))
    assert found == packages_of(None)
    assert "numpy" in found


def test_packages_are_json_serialisable(load_module: Any) -> None:
    found = packages_of(load_module("import pytest\n"))
    assert all(isinstance(name, str) and isinstance(version, str) for name, version in found.items())
    assert json.loads(json.dumps(found)) == found


# -- seeds ------------------------------------------------------------------

KEY = "0badc0de" + "f" * 56
FROM_KEY = int("0badc0de", 16)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"seed": 7}, 7),
        ({"seed": 0}, 0),
        ({"seed": -3}, -3),
        ({"seed": 2**40}, 2**40),
        ({"seed": True}, FROM_KEY),
        ({"seed": False}, FROM_KEY),
        ({"seed": "5"}, FROM_KEY),
        ({"seed": 5.0}, FROM_KEY),
        ({"seed": None}, FROM_KEY),
        ({}, FROM_KEY),
        ({"other": 3}, FROM_KEY),
    ],
    ids=["int", "zero", "negative", "large", "true", "false", "str", "float", "none", "absent", "other-name"],
)
def test_seed_for(config: dict[str, Any], expected: int) -> None:
    assert seed_for(config, KEY) == expected


def test_seed_for_derives_from_the_first_eight_hex_digits() -> None:
    assert seed_for({}, "ffffffff" + "0" * 56) == 0xFFFFFFFF
    assert seed_for({}, "00000001" + "a" * 56) == 1


@pytest.fixture
def restore_random_state() -> Iterator[None]:
    python_state = random.getstate()
    numpy_state = numpy.random.get_state()
    yield
    random.setstate(python_state)
    numpy.random.set_state(numpy_state)


def draws() -> tuple[float, float]:
    return random.random(), float(numpy.random.rand())


@pytest.mark.usefixtures("restore_random_state")
def test_seed_everything_makes_draws_reproducible() -> None:
    expected = ["random", "numpy"]
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "manual_seed"):
        expected.append("torch")
    assert seed_everything(42) == expected
    first = draws()
    assert seed_everything(42) == expected
    assert draws() == first
    seed_everything(43)
    assert draws() != first


@pytest.mark.usefixtures("restore_random_state")
def test_seed_everything_matches_the_generators_own_seeding() -> None:
    seed_everything(42)
    ours = draws()
    random.seed(42)
    numpy.random.seed(42)
    assert draws() == ours


@pytest.mark.usefixtures("restore_random_state")
@pytest.mark.parametrize("seed", [2**40 + 5, -1, FROM_KEY])
def test_seed_everything_accepts_any_int(seed: int) -> None:
    seed_everything(seed)
    first = draws()
    seed_everything(seed)
    assert draws() == first
