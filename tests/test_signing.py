"""Signed stores: nothing the secret did not sign is ever unpickled."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from conftest import memento_cli, outcomes, stored

from pytest_memento.checkpoint import Checkpoint, checkpoint_path
from pytest_memento.signing import Signer, signer_from
from pytest_memento.store import ResultStore

GRID = """
import pytest_memento as memento

@memento.matrix(parameters={"x": [1, 2]})
def exp(config, checkpoint):
    state = checkpoint.load(default=0)
    return {"y": config.x, "resumed": state}
"""


class Planted:
    """Unpickling this creates a file: proof that something was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (Path.write_text, (Path(self.marker), "pwned"))  # type: ignore[return-value]


def test_signer() -> None:
    signer = Signer(b"secret")
    signature = signer.sign("a", "b")
    assert signer.verify(signature, "a", "b")
    assert not signer.verify(signature, "a", "c")
    assert not Signer(b"other").verify(signature, "a", "b")
    assert not signer.verify(None, "a", "b")
    assert signer_from({}) is None
    assert signer_from({"MEMENTO_SECRET": ""}) is None
    assert signer_from({"TEAM_KEY": "k"}, "TEAM_KEY") is not None


def test_planted_pickles_are_never_loaded(
    pytester: pytest.Pytester, run_plain, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMENTO_SECRET", "team-secret")
    pytester.makepyfile(test_grid=GRID)
    assert outcomes(run_plain()) == {"passed": 2}
    records = {r["config"]["x"]: r for r in stored(pytester.path)}
    key = records[1]["key"]
    marker = pytester.path / "pwned.txt"

    # Someone without the secret writes a newer entry for the same key,
    # with a payload that runs code when unpickled...
    attacker = ResultStore(pytester.path / ".memento")
    attacker.put(key, {"config": {"x": 1}, "metrics": {"y": 1}, "duration": 0.0}, pickle.dumps(Planted(marker)))
    attacker.close()
    # ... and a checkpoint for the other configuration.
    other = records[2]["key"]
    Checkpoint(checkpoint_path(pytester.path / ".memento", other), key=other).save(Planted(marker))

    # The refused record neither shadows the valid one nor is unpickled.
    shown = memento_cli(pytester.path, "show", key[:12], "--result")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.rstrip().endswith("{'y': 1, 'resumed': 0}")
    assert "not signed with this store's secret" in memento_cli(pytester.path, "list").stderr

    result = run_plain("--memento-rerun", "-k", "2")  # resumes from the planted checkpoint if it trusted it
    assert outcomes(result) == {"passed": 1, "deselected": 1}
    result = run_plain("-rA")
    assert outcomes(result) == {"cached": 2}
    assert not marker.exists(), "a planted pickle was unpickled"

    # A key that only the attacker wrote: refused, reported, run again.
    only = records[1]["key"]
    memento_cli(pytester.path, "clear", "--where", "x=1")
    attacker = ResultStore(pytester.path / ".memento")
    attacker.put(only, {"config": {"x": 1}, "metrics": {"y": 1}, "duration": 0.0}, pickle.dumps(Planted(marker)))
    attacker.close()
    refused = memento_cli(pytester.path, "show", only[:12], "--result")
    assert refused.returncode == 2
    assert "does not verify; it is not unpickled" in refused.stderr
    result = run_plain("-rA")
    assert outcomes(result) == {"passed": 1, "cached": 1}
    result.stdout.fnmatch_lines(
        [
            "*ran because: signature refused (1)*",
            "*warning: test_grid.py::exp[[]1[]]: stored result * is not signed with this store's secret*",
        ]
    )
    assert not marker.exists(), "a planted pickle was unpickled"


def test_unsigned_store_is_refused_once_a_secret_is_set(
    pytester: pytest.Pytester, run_plain, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_grid=GRID)
    assert outcomes(run_plain()) == {"passed": 2}
    monkeypatch.setenv("MEMENTO_SECRET", "now-signed")
    result = run_plain()
    assert outcomes(result) == {"passed": 2}
    result.stdout.fnmatch_lines(["*ran because: signature refused (2)*"])
    assert outcomes(run_plain()) == {"cached": 2}
    # Listing and exporting never unpickle, signed or not.
    assert memento_cli(pytester.path, "export", "--format", "json", "-").returncode == 0
    monkeypatch.delenv("MEMENTO_SECRET")
    listed = json.loads(memento_cli(pytester.path, "list", "--json").stdout)
    assert len(listed) == 2


def test_ini_names_the_secret_variable(pytester: pytest.Pytester, run_plain, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeini("[pytest]\nmemento_secret_env = LAB_SECRET\n")
    pytester.makepyfile(test_grid=GRID)
    monkeypatch.setenv("LAB_SECRET", "lab")
    run_plain()
    monkeypatch.setenv("LAB_SECRET", "another")
    result = run_plain()
    result.stdout.fnmatch_lines(["*signature refused (2)*"])
