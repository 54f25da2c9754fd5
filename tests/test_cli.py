"""The ``memento`` command, run as a real process on a store made by pytest."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import memento_cli, outcomes

GRID = """
import pytest_memento as memento

@memento.matrix(parameters={"model": ["a", "b"], "seed": [0, 1]}, settings={"note": "x"})
def alpha(config):
    return {"score": config.seed + (10 if config.model == "b" else 0), "tag": config.model}

@memento.matrix(parameters={"n": [1]})
def beta(config):
    return {"n": config.n}
"""


@pytest.fixture
def project(pytester: pytest.Pytester, run_plain) -> Path:
    pytester.makepyfile(test_grid=GRID)
    assert outcomes(run_plain()) == {"passed": 5}
    return pytester.path


def test_list_finds_the_store_upwards(project: Path) -> None:
    sub = project / "deeper" / "still"
    sub.mkdir(parents=True)
    result = memento_cli(sub, "list")
    assert result.returncode == 0, result.stderr
    assert "test_grid.py::alpha[b-1]" in result.stdout
    assert "score=11" in result.stdout
    assert "5 result(s)" in result.stdout


def test_list_json_and_filter(project: Path) -> None:
    result = memento_cli(project, "list", "--json", "--experiment", "beta")
    records = json.loads(result.stdout)
    assert [r["experiment"] for r in records] == ["test_grid.py::beta"]
    assert records[0]["metrics"] == {"n": 1}
    assert records[0]["environment"]["python"]


def test_show_by_prefix_and_result(project: Path) -> None:
    records = json.loads(memento_cli(project, "list", "--json", "--experiment", "beta").stdout)
    key = records[0]["key"]
    shown = memento_cli(project, "show", key[:10])
    assert json.loads(shown.stdout)["config"] == {"n": 1}
    with_result = memento_cli(project, "show", key[:10], "--result")
    assert with_result.stdout.rstrip().endswith("{'n': 1}")


def test_show_errors(project: Path) -> None:
    missing = memento_cli(project, "show", "ffffffffffff")
    assert missing.returncode == 2
    assert "no stored result has a key starting with 'ffffffffffff'" in missing.stderr
    ambiguous = memento_cli(project, "show", "")
    assert ambiguous.returncode == 2
    not_hex = memento_cli(project, "show", "../../etc/passwd")
    assert not_hex.returncode == 2


def test_no_store_is_a_clear_error(tmp_path: Path) -> None:
    result = memento_cli(tmp_path, "list")
    assert result.returncode == 2
    assert "no .memento store here or in a parent directory" in result.stderr
    result = memento_cli(tmp_path, "--dir", str(tmp_path), "list")
    assert "is not a pytest-memento store" in result.stderr


def test_export_formats_read_by_pandas(project: Path) -> None:
    result = memento_cli(project, "export", "out.csv", "out.json", "out.md")
    assert result.returncode == 0, result.stderr
    csv = pd.read_csv(project / "out.csv")
    records = pd.read_json(project / "out.json")
    assert len(csv) == len(records) == 5
    assert set(csv.columns) >= {"experiment", "id", "status", "key", "duration", "model", "seed", "note", "score", "n"}
    alpha = csv[csv.experiment == "test_grid.py::alpha"].sort_values("score")
    assert alpha.score.tolist() == [0, 1, 10, 11]
    markdown = (project / "out.md").read_text().splitlines()
    # Compact: one table per experiment, shared values in its heading.
    assert markdown[0].startswith("**test_grid.py::alpha**: 4 configuration(s) (4 stored)")
    assert sum(line.startswith("| ") for line in markdown) == 7  # two headers, five rows


def test_export_to_stdout_and_bad_paths(project: Path) -> None:
    shown = memento_cli(project, "export", "--format", "md", "-")
    assert shown.stdout.startswith("**test_grid.py::alpha**")
    assert memento_cli(project, "export", "-").returncode == 2
    bad = memento_cli(project, "export", "out.xlsx")
    assert bad.returncode == 2
    assert "out.xlsx" in bad.stderr
    assert "one of .csv, .json, .md" in bad.stderr
    missing_dir = memento_cli(project, "export", "nope/out.csv")
    assert "does not exist" in missing_dir.stderr


def test_clear_some_then_all(project: Path, run_plain) -> None:
    cleared = memento_cli(project, "clear", "--experiment", "beta")
    assert "removed 1 result(s)" in cleared.stdout
    assert outcomes(run_plain()) == {"passed": 1, "cached": 4}
    refused = memento_cli(project, "clear")
    assert refused.returncode == 2
    assert "--yes" in refused.stderr
    assert "removed 5 result(s)" in memento_cli(project, "clear", "--yes").stdout
    assert outcomes(run_plain()) == {"passed": 5}


def test_gc_compacts_without_losing_results(project: Path, run_plain) -> None:
    run_plain("--memento-rerun")  # a second segment that supersedes the first
    segments = list((project / ".memento" / "results" / "segments").glob("*.seg"))
    assert len(segments) == 2
    dry = memento_cli(project, "gc", "--older-than", "0", "--dry-run")
    assert "would remove 2 file(s)" in dry.stdout
    done = memento_cli(project, "gc", "--older-than", "0")
    assert "removed 2 file(s); 5 result(s) kept" in done.stdout
    assert len(list((project / ".memento" / "results" / "segments").glob("*.seg"))) == 1
    assert outcomes(run_plain()) == {"cached": 5}
    # What the fingerprints are made of survives compaction.
    records = json.loads(memento_cli(project, "list", "--json").stdout)
    assert all(
        "test_grid.py::alpha" in r["fingerprint_parts"] or "test_grid.py::beta" in r["fingerprint_parts"]
        for r in records
    )
    # Finished (sealed) segments are merged whatever their age; then nothing is left to do.
    assert "5 result(s) kept" in memento_cli(project, "gc").stdout
    assert "removed 0 file(s)" in memento_cli(project, "gc").stdout


def test_where_stale_and_gc_of_stale_results_and_orphaned_checkpoints(project: Path, run_plain) -> None:
    listed = memento_cli(project, "list", "--where", "model=b", "--where", "seed=1")
    assert "test_grid.py::alpha[b-1]  current" in listed.stdout
    assert "1 result(s)" in listed.stdout
    assert memento_cli(project, "list", "--where", "nonsense").returncode == 2
    # Change alpha's code and run only part of it: the rest is stale now.
    source = (project / "test_grid.py").read_text().replace("config.seed + (10", "config.seed + (20")
    (project / "test_grid.py").write_text(source)
    run_plain("-k", "alpha and a-0")
    stale = memento_cli(project, "list", "--stale").stdout
    assert stale.count("  stale  ") == 3
    assert "beta" not in stale
    records = {
        r["test_id"]: r["status"]
        for r in json.loads(memento_cli(project, "list", "--json", "--experiment", "alpha").stdout)
    }
    assert records == {"a-0": "current", "a-1": "stale", "b-0": "stale", "b-1": "stale"}
    # An orphaned checkpoint: its configuration has a result already.
    from pytest_memento.checkpoint import Checkpoint, checkpoint_path

    key = json.loads(memento_cli(project, "list", "--json", "--experiment", "beta").stdout)[0]["key"]
    path = checkpoint_path(project / ".memento", key)
    Checkpoint(path, key=key).save({"step": 1})
    assert key not in memento_cli(project, "gc", "--older-than", "0").stdout  # saved moments ago: kept
    an_hour_ago = time.time() - 3600
    os.utime(path, (an_hour_ago, an_hour_ago))
    done = memento_cli(project, "gc", "--stale", "--older-than", "0")
    assert "forgot 3 stale result(s)" in done.stdout
    assert key in done.stdout  # the checkpoint file was removed
    assert "2 result(s)" in memento_cli(project, "list").stdout
    assert "0 checkpoint(s)" in memento_cli(project, "checkpoints").stdout
