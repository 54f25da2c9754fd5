"""``memento.results()``: the store as rows and as an aggregated DataFrame,
read from stores written without xdist, with -n 0 and with -n 2; nothing
unpickled."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest
from conftest import outcomes

import pytest_memento as memento

EXPERIMENT = """
import pytest_memento as memento

class Opaque:
    # Unpickling this result would fail loudly: results() must never try.
    def __reduce__(self):
        return (eval, ("1/0",))

@memento.matrix(
    parameters={"model": ["lin", "mlp"], "run": range(3), "seed": [7]},
    settings={"epochs": 2},
    replicates="run",
)
def train(config):
    return {"acc": {"lin": 0.5, "mlp": 0.8}[config.model] + config.run / 100, "blob": Opaque()}

@memento.matrix(parameters={"alpha": [1, 2]})
def other(config):
    return {"score": config.alpha * 10}
"""


def test_results_from_a_store_written_in_every_mode(pytester: pytest.Pytester, run: Any, monkeypatch: Any) -> None:
    pytester.makepyfile(test_grid=EXPERIMENT)
    assert outcomes(run()) == {"passed": 8}
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("results() unpickled something"))
    found = memento.results(pytester.path / ".memento")
    assert len(found) == 8
    assert "8 configuration(s) of 2 experiment(s)" in repr(found)
    first = found[0]
    assert list(first)[:6] == ["experiment", "id", "key", "status", "duration", "started"]
    assert first["experiment"] == "test_grid.py::other"
    assert (first["alpha"], first["score"], first["status"]) == (1, 10, "stored")
    assert len(first["key"]) == 64
    assert first["started"].endswith("+00:00")
    trains = memento.results(pytester.path / ".memento", experiment="train")
    assert {row["experiment"] for row in trains} == {"test_grid.py::train"}
    assert sorted(row["acc"] for row in trains) == pytest.approx([0.5, 0.51, 0.52, 0.8, 0.81, 0.82])

    frame = trains.to_pandas()
    assert len(frame) == 6
    assert {"model", "run", "seed", "epochs", "acc"} <= set(frame.columns)
    table = trains.aggregate()  # over "run", as the matrix declares
    assert list(table.model) == ["lin", "mlp"]
    assert list(table.acc_n) == [3, 3]
    assert list(table.acc_mean) == pytest.approx([0.51, 0.81])
    assert list(table.acc_std) == pytest.approx([0.01, 0.01])
    assert list(table.acc_sem) == pytest.approx([0.01 / 3**0.5] * 2)
    assert list(table.acc_ci95) == pytest.approx([4.302652730 * 0.01 / 3**0.5] * 2)
    assert list(table.members) == [3, 3]
    assert list(table.missing) == ["", ""]
    assert "run" not in table.columns
    # Overridden: seed is constant, so every configuration is its own group.
    assert len(trains.aggregate(over="seed")) == 6
    assert len(trains.aggregate(over=())) == 6
    assert [g.n for g in trains.groups()] == [3, 3]


def test_results_of_something_that_is_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"memento.results\(\): .* is not a pytest-memento store"):
        memento.results(tmp_path)


def test_importing_the_package_does_not_import_pandas_or_the_results_module() -> None:
    import subprocess
    import sys

    code = "import sys, pytest_memento; print('pandas' in sys.modules, 'pytest_memento.notebook' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]
