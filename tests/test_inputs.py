"""Unit tests of inputs declared with ``depends=`` (pytest_memento.inputs)
and of how a matrix checks them."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import pytest

from pytest_memento.codetree import ModuleTrees
from pytest_memento.expand import expand
from pytest_memento.inputs import InputError, InputHasher, check_depends
from pytest_memento.matrix import MatrixError, matrix, specs_of


def parts(root: Path, *entries: object) -> dict[str, str]:
    return InputHasher(root, ModuleTrees()).parts(check_depends(list(entries)))


def test_a_file_counts_by_its_bytes(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("a,b\n")
    first = parts(tmp_path, "data/train.csv")
    assert list(first) == ["input:data/train.csv"]
    assert parts(tmp_path, Path("data") / "train.csv") == first
    os.utime(tmp_path / "data" / "train.csv", (1, 1))  # only the time changed
    assert parts(tmp_path, "data/train.csv") == first
    (tmp_path / "data" / "train.csv").write_text("a,c\n")
    assert parts(tmp_path, "data/train.csv") != first


def test_a_large_file_is_hashed_whole_in_chunks(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (3 << 20))
    first = parts(tmp_path, "big.bin")
    with open(big, "r+b") as handle:
        handle.seek((3 << 20) - 1)
        handle.write(b"\1")  # the last byte of the third chunk
    assert parts(tmp_path, "big.bin") != first


def test_a_directory_counts_by_names_and_contents_not_caches(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.txt").write_text("1")
    (data / "sub" / "b.txt").write_text("2")
    first = parts(tmp_path, "data")
    assert list(first) == ["input:data"]
    # Caches inside it do not count: __pycache__, .git, and anything with a CACHEDIR.TAG.
    (data / "__pycache__").mkdir()
    (data / "__pycache__" / "x.pyc").write_bytes(b"x")
    (data / ".memento").mkdir()
    (data / ".memento" / "CACHEDIR.TAG").write_text("Signature: 8a477f597d28d172789f06886806bc55")
    (data / ".memento" / "results.seg").write_text("changes every run")
    assert parts(tmp_path, "data") == first
    (data / "sub" / "b.txt").write_text("3")
    changed = parts(tmp_path, "data")
    assert changed != first
    (data / "sub" / "b.txt").write_text("2")
    (data / "sub" / "b.txt").rename(data / "sub" / "c.txt")  # a rename counts
    assert parts(tmp_path, "data") not in (first, changed)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_in_a_directory_is_never_opened(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    os.mkfifo(tmp_path / "data" / "pipe")
    (tmp_path / "data" / "a.txt").write_text("1")
    assert list(parts(tmp_path, "data")) == ["input:data"]  # would block forever if opened


def test_a_missing_input_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"depends: data/none.csv cannot be read \(No such file"):
        parts(tmp_path, "data/none.csv")


def test_a_module_counts_by_its_code_and_a_package_by_all_its_files(tmp_path: Path) -> None:
    (tmp_path / "fpx_pkg").mkdir()
    (tmp_path / "fpx_pkg" / "__init__.py").write_text("")
    (tmp_path / "fpx_pkg" / "inner.py").write_text("def f():\n    return 1\n")
    (tmp_path / "fpx_single.py").write_text("X = 1\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import fpx_pkg  # type: ignore[import-not-found]
        import fpx_single  # type: ignore[import-not-found]

        first = parts(tmp_path, fpx_pkg, fpx_single)
        assert set(first) == {"module:fpx_pkg", "module:fpx_single"}
        (tmp_path / "fpx_single.py").write_text("# a comment\nX = 1\n")
        assert parts(tmp_path, fpx_pkg, fpx_single) == first
        (tmp_path / "fpx_pkg" / "inner.py").write_text("def f():\n    return 2\n")
        changed = parts(tmp_path, fpx_pkg, fpx_single)
        assert changed["module:fpx_pkg"] != first["module:fpx_pkg"]
        assert changed["module:fpx_single"] == first["module:fpx_single"]
    finally:
        sys.path.remove(str(tmp_path))
        for name in ("fpx_pkg", "fpx_pkg.inner", "fpx_single"):
            sys.modules.pop(name, None)


def test_inputs_are_read_once_per_process(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("1")
    hasher = InputHasher(tmp_path, ModuleTrees())
    first = hasher.parts(["a.txt"])
    (tmp_path / "a.txt").write_text("2")
    assert hasher.parts(["a.txt"]) == first


@pytest.mark.parametrize(
    ("depends", "message"),
    [
        (3, "depends: must be a list of paths or modules, got int"),
        (["data.csv", 3], "depends[1]: expected a path (str or os.PathLike) or a module, got 3"),
        ([""], "depends[0]: expected a path (str or os.PathLike) or a module, got ''"),
        ([b"data.csv"], "depends[0]: expected a path (str or os.PathLike) or a module, got b'data.csv'"),
    ],
)
def test_bad_depends_is_a_matrix_error_naming_the_entry(depends: object, message: str) -> None:
    @matrix(parameters={"a": [1]}, depends=depends)  # type: ignore[arg-type]
    def exp(config: object) -> None: ...

    with pytest.raises(MatrixError) as raised:
        expand("exp.py::exp", specs_of(exp))
    assert str(raised.value) == f"exp.py::exp: {message}"


def test_depends_rides_on_every_case_of_its_matrix() -> None:
    module = types.ModuleType("fpx_virtual")

    @matrix(parameters={"a": [1, 2]}, depends=["data/x.csv", Path("data") / "y", module])
    @matrix(parameters={"a": [3]})
    def exp(config: object) -> None: ...

    cases = expand("exp.py::exp", specs_of(exp))
    assert [case.depends for case in cases] == [("data/x.csv", "data/y", module)] * 2 + [()]
